// Package sample picks the next token from a model's logits the way
// llama.cpp's default sampler chain does, reproducibly for a seed. It knows
// nothing about models, tokenizers or files: it sees logits and token ids.
package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Params configures a Sampler. Start from DefaultParams: a zero field does
// not always mean "off" (TopP 0, like llama.cpp, keeps only the best token).
type Params struct {
	Temperature      float32           // 0 (or less) = greedy
	TopK             int               // keep the K most likely tokens; 0 = off
	TopP             float32           // nucleus: keep the smallest prefix with mass >= TopP; 1 = off, 0 = best token only
	MinP             float32           // keep tokens with p >= MinP * p_max; 0 = off
	RepeatPenalty    float32           // divides positive logits, multiplies the others; 1 (or <= 0) = off
	RepeatLastN      int               // penalty window: last N tokens of history; 0 = no penalties, -1 = whole history
	PresencePenalty  float32           // subtracted once from tokens in the window (OpenAI semantics)
	FrequencyPenalty float32           // subtracted once per occurrence in the window
	LogitBias        map[int32]float32 // added to logits before anything else; finite, or -Inf to ban a token
	Seed             uint64            // 0 = pick a random seed in New (see Sampler.Seed)
}

// DefaultParams returns llama.cpp's defaults (common_params_sampling):
// temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties over a
// 64-token window, and a random seed.
func DefaultParams() Params {
	return Params{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1,
		RepeatLastN:   64,
	}
}

// maxPartialTopP bounds the partial selection top-p tries before a full sort.
const maxPartialTopP = 4096

// pcgStream is the fixed PCG increment; only Params.Seed varies.
const pcgStream = 0x9e3779b97f4a7c15

// Sampler draws tokens for one sequence. It owns its RNG and V-sized scratch
// buffers, so a Sample call allocates nothing; it is not safe for concurrent use.
type Sampler struct {
	p    Params
	seed uint64
	rng  *rand.PCG
	bias []biasEntry // LogitBias as a slice: iterated every call

	cands  []cand    // (V) every token with its adjusted logit
	top    []cand    // (min(TopK, V), or min(maxPartialTopP, V) without top-k) the selection heap
	counts []int32   // (V) occurrences in the penalty window; all zero between calls
	probs  []float64 // (V) the final distribution over the surviving set
}

type cand struct {
	id    int32
	logit float32
}

type biasEntry struct {
	id    int32
	delta float32
}

// New returns a Sampler for a vocabulary of vocabSize tokens. LogitBias
// entries outside [0, vocabSize) are ignored. It panics if vocabSize < 1.
func New(p Params, vocabSize int) *Sampler {
	if vocabSize < 1 {
		panic(fmt.Sprintf("sample.New: vocabSize %d < 1", vocabSize))
	}
	s := &Sampler{
		p:     p,
		seed:  p.Seed,
		cands: make([]cand, vocabSize),
		probs: make([]float64, vocabSize),
	}
	for s.seed == 0 {
		s.seed = rand.Uint64()
	}
	s.rng = rand.NewPCG(s.seed, pcgStream)
	for id, d := range p.LogitBias {
		if id >= 0 && int(id) < vocabSize {
			s.bias = append(s.bias, biasEntry{id, d})
		}
	}
	// The heap serves top-k, or top-p's partial selection (see topPUnsorted).
	if p.TopK > 0 {
		s.top = make([]cand, 0, min(p.TopK, vocabSize))
	} else if p.TopP < 1 {
		s.top = make([]cand, 0, min(maxPartialTopP, vocabSize))
	}
	if s.penalties() {
		s.counts = make([]int32, vocabSize)
	}
	return s
}

// Seed returns the seed in use: Params.Seed, or the random one New chose.
func (s *Sampler) Seed() uint64 { return s.seed }

// Reset re-seeds the RNG with the initial seed, so the same logits and
// history give the same tokens again.
func (s *Sampler) Reset() { s.rng.Seed(s.seed, pcgStream) }

// Sample returns the next token. logits (length vocabSize; else it panics) is
// read, never modified. history is the sequence so far (prompt and generated
// tokens, oldest first); only its last RepeatLastN tokens matter, and ids
// outside the vocabulary are ignored. If every token is banned, it returns the
// argmax of the adjusted logits (token 0 when all are -Inf).
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	set, probs := s.distribution(logits, history)
	if len(set) == 1 {
		return set[0].id
	}
	// Inverse CDF over the surviving set, in its order.
	u := float64(s.rng.Uint64()>>11) * 0x1p-53
	cum := 0.0
	for i, p := range probs {
		cum += p
		if u < cum {
			return set[i].id
		}
	}
	return set[len(set)-1].id // rounding left cum just under 1
}

// distribution runs the chain up to the draw: the surviving candidates and
// their probabilities (summing to 1), both views into the Sampler's buffers.
func (s *Sampler) distribution(logits []float32, history []int32) ([]cand, []float64) {
	c := s.cands
	if len(logits) != len(c) {
		panic(fmt.Sprintf("sample: %d logits for a vocabulary of %d", len(logits), len(c)))
	}
	for i, x := range logits {
		c[i] = cand{int32(i), x}
	}
	for _, b := range s.bias {
		c[b.id].logit += b.delta
	}
	if s.penalties() {
		penalize(c, s.window(history), s.counts, s.p.RepeatPenalty, s.p.FrequencyPenalty, s.p.PresencePenalty)
	}
	set := c[:0]
	if s.p.Temperature > 0 {
		set = s.truncate(c)
	}
	if len(set) == 0 { // greedy, or every token banned
		c[0] = c[argmax(c)]
		s.probs[0] = 1
		return c[:1], s.probs[:1]
	}
	return set, softmax(s.probs[:len(set)], set, s.p.Temperature)
}

// penalties reports whether any penalty is on.
func (s *Sampler) penalties() bool {
	p := s.p
	return p.RepeatLastN != 0 &&
		(p.RepeatPenalty > 0 && p.RepeatPenalty != 1 || p.FrequencyPenalty != 0 || p.PresencePenalty != 0)
}

// window returns the tail of history the penalties look at.
func (s *Sampler) window(history []int32) []int32 {
	if n := s.p.RepeatLastN; n > 0 && len(history) > n {
		return history[len(history)-n:]
	}
	return history
}

// truncate applies top-k, top-p and min-p to c and returns the survivors
// (no banned or NaN logits), reusing c's or the heap's memory.
//
// llama.cpp runs top-p before min-p, both on the distribution top-k left.
// Both keep a prefix of the sorted candidates and min-p's threshold depends
// only on the maximum, which top-p always keeps, so the result is the shorter
// prefix. That lets min-p prune before the sort that top-p needs, while top-p
// still normalizes over the whole top-k set.
func (s *Sampler) truncate(c []cand) []cand {
	var set []cand
	sorted := false
	if k := s.p.TopK; k > 0 && k < len(c) {
		set = topK(s.top[:0], c, k)
		sorted = true
	} else {
		set = dropBanned(c)
	}
	useP, useMin := s.p.TopP < 1, s.p.MinP > 0
	if len(set) == 0 || !useP && !useMin {
		return set
	}
	maxL := maxLogit(set)
	z := 0.0
	if useP {
		for _, x := range set {
			z += math.Exp(float64(x.logit - maxL))
		}
	}
	if useMin {
		set = minP(set, maxL, s.p.MinP)
	}
	if useP {
		if sorted {
			set, _ = topP(set, maxL, z, s.p.TopP)
		} else {
			set = s.topPUnsorted(set, maxL, z)
		}
	}
	return set
}

// topPUnsorted is top-p over candidates in id order. Like llama.cpp, it first
// tries the best few hundred by partial selection, which holds the nucleus
// for any peaked distribution, and sorts everything only when they do not.
func (s *Sampler) topPUnsorted(c []cand, maxL float32, z float64) []cand {
	for m := 256; m <= cap(s.top) && m < len(c)/4; m *= 4 {
		// The prefix of the m best is the prefix of the full sort, and topP
		// sums it in the same order: the cut found here is the same.
		if set, ok := topP(topK(s.top[:0], c, m), maxL, z, s.p.TopP); ok {
			return set
		}
	}
	sortDesc(c)
	set, _ := topP(c, maxL, z, s.p.TopP)
	return set
}
