package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomLogits is a flat distribution: no token stands out, so top-p needs
// thousands of tokens (the worst case for it).
func randomLogits(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * 3)
	}
	return out
}

// peakedLogits is shaped like a language model's output: a few dozen
// plausible tokens hold most of the mass.
func peakedLogits(n int, seed uint64) []float32 {
	out := randomLogits(n, seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for range 30 {
		out[r.IntN(n)] += 12 + float32(r.NormFloat64()*2)
	}
	return out
}

// reference is the chain written the obvious way, stage by stage in
// llama.cpp's order, with a full sort: the oracle for Sampler.distribution.
func reference(logits []float32, history []int32, p Params) map[int32]float64 {
	l := slices.Clone(logits)
	for id, d := range p.LogitBias {
		if id >= 0 && int(id) < len(l) {
			l[id] += d
		}
	}
	if p.RepeatLastN != 0 {
		w := history
		if p.RepeatLastN > 0 && len(w) > p.RepeatLastN {
			w = w[len(w)-p.RepeatLastN:]
		}
		count := map[int32]int{}
		for _, t := range w {
			count[t]++
		}
		for t, n := range count {
			if p.RepeatPenalty > 0 {
				if l[t] <= 0 {
					l[t] *= p.RepeatPenalty
				} else {
					l[t] /= p.RepeatPenalty
				}
			}
			l[t] -= float32(n)*p.FrequencyPenalty + p.PresencePenalty
		}
	}
	if p.Temperature <= 0 {
		return map[int32]float64{Greedy(l): 1}
	}
	var c []cand
	for i, x := range l {
		if x > negInf {
			c = append(c, cand{int32(i), x})
		}
	}
	sortDesc(c)
	if p.TopK > 0 && p.TopK < len(c) {
		c = c[:p.TopK]
	}
	if p.TopP < 1 {
		z := 0.0
		for _, x := range c {
			z += math.Exp(float64(x.logit - c[0].logit))
		}
		cum := 0.0
		for i, x := range c {
			cum += math.Exp(float64(x.logit-c[0].logit)) / z
			if cum >= float64(p.TopP) {
				c = c[:i+1]
				break
			}
		}
	}
	if p.MinP > 0 {
		thresh := c[0].logit + float32(math.Log(float64(min(p.MinP, 1))))
		for i, x := range c {
			if x.logit < thresh {
				c = c[:i]
				break
			}
		}
	}
	z := 0.0
	for _, x := range c {
		z += math.Exp(float64(x.logit-c[0].logit) / float64(p.Temperature))
	}
	out := map[int32]float64{}
	for _, x := range c {
		out[x.id] = math.Exp(float64(x.logit-c[0].logit)/float64(p.Temperature)) / z
	}
	return out
}

func TestDistributionMatchesReference(t *testing.T) {
	const V = 3000
	logits := randomLogits(V, 1)
	history := make([]int32, 300)
	r := rand.New(rand.NewPCG(2, 2))
	for i := range history {
		history[i] = int32(r.IntN(50)) // concentrated, so counts exceed 1
	}
	base := Params{Temperature: 1, TopP: 1, RepeatPenalty: 1, Seed: 1}
	with := func(f func(*Params)) Params { p := base; f(&p); return p }
	tests := []struct {
		name string
		p    Params
	}{
		{"no filters", base},
		{"greedy", with(func(p *Params) { p.Temperature = 0 })},
		{"top-k", with(func(p *Params) { p.TopK = 40 })},
		{"top-p", with(func(p *Params) { p.TopP = 0.9 })},
		{"min-p", with(func(p *Params) { p.MinP = 0.05 })},
		{"top-p then min-p, min-p binds", with(func(p *Params) { p.TopP = 0.99; p.MinP = 0.1 })},
		{"top-p then min-p, top-p binds", with(func(p *Params) { p.TopP = 0.3; p.MinP = 0.001 })},
		{"defaults", with(func(p *Params) { *p = DefaultParams(); p.Seed = 1 })},
		{"top-k above vocabulary", with(func(p *Params) { p.TopK = 5000; p.TopP = 0.8 })},
		{"hot, k and p", with(func(p *Params) { p.Temperature = 1.7; p.TopK = 100; p.TopP = 0.7 })},
		{"penalties, whole history", with(func(p *Params) {
			p.RepeatPenalty, p.FrequencyPenalty, p.PresencePenalty, p.RepeatLastN = 1.3, 0.2, 0.4, -1
			p.TopK = 50
		})},
		{"penalties, last 64", with(func(p *Params) {
			p.RepeatPenalty, p.FrequencyPenalty, p.RepeatLastN = 1.1, 0.5, 64
			p.MinP = 0.02
		})},
		{"bias", with(func(p *Params) {
			p.LogitBias = map[int32]float32{int32(Greedy(logits)): negInf, 7: 5, 8: -3, -1: 9, V: 9}
			p.TopP = 0.95
		})},
	}
	for _, tt := range tests {
		for _, shape := range []struct {
			name   string
			logits []float32
		}{{"flat", logits}, {"peaked", peakedLogits(V, 1)}} {
			t.Run(tt.name+"/"+shape.name, func(t *testing.T) {
				checkDistribution(t, tt.p, shape.logits, history)
			})
		}
	}
}

func checkDistribution(t *testing.T, p Params, logits []float32, history []int32) {
	t.Helper()
	s := New(p, len(logits))
	set, probs := s.distribution(logits, history)
	want := reference(logits, history, p)
	if len(set) != len(want) {
		t.Fatalf("%d survivors, want %d", len(set), len(want))
	}
	sum := 0.0
	for i, x := range set {
		w, ok := want[x.id]
		if !ok {
			t.Fatalf("token %d survived, reference dropped it", x.id)
		}
		if math.Abs(probs[i]-w) > 1e-9 {
			t.Errorf("p(%d) = %v, want %v", x.id, probs[i], w)
		}
		sum += probs[i]
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("probabilities sum to %v", sum)
	}
}

// TestTopPPartialSelection covers both ways topPUnsorted finds the nucleus on
// a large vocabulary: the partial selection (peaked) and the full sort (flat).
func TestTopPPartialSelection(t *testing.T) {
	const V = 40000
	history := []int32{1, 2, 3}
	for _, p := range []float32{0.5, 0.9, 0.95, 0.999} {
		params := Params{Temperature: 1, TopP: p, RepeatPenalty: 1}
		t.Run(fmt.Sprint("peaked/", p), func(t *testing.T) { checkDistribution(t, params, peakedLogits(V, 3), history) })
		t.Run(fmt.Sprint("flat/", p), func(t *testing.T) { checkDistribution(t, params, randomLogits(V, 3), history) })
	}
}

func TestPenaltyWindow(t *testing.T) {
	logits := []float32{2, 2, 2, 1}
	history := []int32{0, 1, 2}
	tests := []struct {
		lastN int
		want  int32 // greedy pick after a presence penalty of 1.5 on the window
	}{
		{0, 0},  // no penalties
		{1, 0},  // only token 2 penalized
		{2, 0},  // 1 and 2
		{3, 3},  // 0, 1 and 2 penalized: token 3 (1) beats 0.5
		{-1, 3}, // whole history
		{99, 3}, // window longer than history
	}
	for _, tt := range tests {
		s := New(Params{PresencePenalty: 1.5, RepeatPenalty: 1, RepeatLastN: tt.lastN}, len(logits))
		if got := s.Sample(logits, history); got != tt.want {
			t.Errorf("RepeatLastN %d: Sample = %d, want %d", tt.lastN, got, tt.want)
		}
	}
}

func TestBiasBansArgmax(t *testing.T) {
	logits := []float32{1, 9, 3, 2}
	p := Params{Temperature: 0, LogitBias: map[int32]float32{1: negInf}}
	if got := New(p, 4).Sample(logits, nil); got != 2 {
		t.Errorf("greedy with argmax banned = %d, want 2", got)
	}
	p = Params{Temperature: 5, TopP: 1, RepeatPenalty: 1, LogitBias: map[int32]float32{1: negInf, 2: negInf}, Seed: 3}
	s := New(p, 4)
	for range 1000 {
		if got := s.Sample(logits, nil); got == 1 || got == 2 {
			t.Fatalf("sampled banned token %d", got)
		}
	}
	// Everything banned: the chain falls back to token 0 rather than failing.
	p.LogitBias = map[int32]float32{0: negInf, 1: negInf, 2: negInf, 3: negInf}
	if got := New(p, 4).Sample(logits, nil); got != 0 {
		t.Errorf("all banned: Sample = %d, want 0", got)
	}
}

func TestGreedyTiesInChain(t *testing.T) {
	s := New(Params{Temperature: 0}, 5)
	if got := s.Sample([]float32{0, 4, 1, 4, 4}, nil); got != 1 {
		t.Errorf("greedy tie = %d, want 1 (lowest index)", got)
	}
	// Top-k 1 with temperature is greedy too, with the same tie rule.
	s = New(Params{Temperature: 1, TopK: 1, TopP: 1}, 5)
	if got := s.Sample([]float32{0, 4, 1, 4, 4}, nil); got != 1 {
		t.Errorf("top-k 1 tie = %d, want 1", got)
	}
}

// generate samples n tokens, feeding each back as history, penalties on.
func generate(s *Sampler, logits []float32, n int) []int32 {
	var hist []int32
	for range n {
		hist = append(hist, s.Sample(logits, hist))
	}
	return hist
}

func TestDeterminism(t *testing.T) {
	logits := randomLogits(2000, 5)
	p := DefaultParams()
	p.Temperature = 1.5 // spread the draws so sequences can differ
	p.RepeatPenalty = 1.1
	p.Seed = 42
	a := generate(New(p, len(logits)), logits, 1000)
	b := generate(New(p, len(logits)), logits, 1000)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(a)))); distinct < 10 {
		t.Fatalf("only %d distinct tokens in 1000 draws: test would not detect seed effects", distinct)
	}
	p.Seed = 43
	if c := generate(New(p, len(logits)), logits, 1000); slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same sequence")
	}
	// Reset replays the sequence.
	p.Seed = 42
	s := New(p, len(logits))
	generate(s, logits, 10)
	s.Reset()
	if again := generate(s, logits, 1000); !slices.Equal(a, again) {
		t.Error("Reset did not replay the sequence")
	}
}

func TestRandomSeed(t *testing.T) {
	a, b := New(Params{}, 10), New(Params{}, 10)
	if a.Seed() == 0 || a.Seed() == b.Seed() {
		t.Errorf("Seed 0 gave seeds %d and %d, want distinct non-zero", a.Seed(), b.Seed())
	}
	if got := New(Params{Seed: 7}, 10).Seed(); got != 7 {
		t.Errorf("Seed() = %d, want 7", got)
	}
}

// TestFrequencies draws many tokens from a known distribution and checks the
// counts with Pearson's chi-square. The seed is fixed, so this cannot flake;
// the bound is the 99.9% quantile, so a correct sampler passes for almost
// every seed and a biased one fails.
func TestFrequencies(t *testing.T) {
	p := []float64{0.3, 0.25, 0.2, 0.15, 0.07, 0.03}
	tests := []struct {
		name   string
		params Params
		want   []float64
	}{
		{"temperature 1", Params{Temperature: 1, TopP: 1}, p},
		{"temperature 0.5", Params{Temperature: 0.5, TopP: 1}, normalize(0.09, 0.0625, 0.04, 0.0225, 0.0049, 0.0009)},
		{"top-k 3", Params{Temperature: 1, TopK: 3, TopP: 1}, normalize(0.3, 0.25, 0.2, 0, 0, 0)},
		{"top-p 0.7 then min-p 0.2", Params{Temperature: 1, TopP: 0.7, MinP: 0.2}, normalize(0.3, 0.25, 0.2, 0, 0, 0)},
	}
	// 99.9% quantiles of chi-square by degrees of freedom.
	crit := map[int]float64{2: 13.816, 5: 20.515}
	const N = 60000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.params.Seed = 2024
			s := New(tt.params, len(p))
			logits := logs(p...)
			counts := make([]int, len(p))
			for range N {
				counts[s.Sample(logits, nil)]++
			}
			chi2, df := 0.0, -1
			for i, w := range tt.want {
				if w == 0 {
					if counts[i] != 0 {
						t.Errorf("token %d drawn %d times, want never", i, counts[i])
					}
					continue
				}
				e := w * N
				chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
				df++
			}
			if chi2 > crit[df] {
				t.Errorf("chi-square %.2f > %.2f (df %d): counts %v, want proportions %v", chi2, crit[df], df, counts, tt.want)
			}
		})
	}
}

func TestSampleKeepsLogits(t *testing.T) {
	logits := randomLogits(500, 9)
	orig := slices.Clone(logits)
	p := DefaultParams()
	p.RepeatPenalty, p.LogitBias, p.Seed = 1.2, map[int32]float32{3: 2}, 1
	s := New(p, len(logits))
	generate(s, logits, 20)
	if !slices.Equal(logits, orig) {
		t.Error("Sample modified the caller's logits")
	}
}

func TestSamplePanicsOnLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for wrong logits length")
		}
	}()
	New(DefaultParams(), 10).Sample(make([]float32, 9), nil)
}

func TestZeroAllocs(t *testing.T) {
	const V = 5000
	logits := randomLogits(V, 11)
	history := make([]int32, 200)
	for i := range history {
		history[i] = int32(i * 7 % V)
	}
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"defaults", DefaultParams()},
		{"greedy", Params{}},
		{"top-p full sort", Params{Temperature: 1, TopP: 0.9}},
		{"no filters", Params{Temperature: 1, TopP: 1}},
		{"penalties and bias", Params{Temperature: 0.7, TopK: 20, TopP: 1, RepeatPenalty: 1.1,
			RepeatLastN: -1, FrequencyPenalty: 0.1, PresencePenalty: 0.1, LogitBias: map[int32]float32{1: 1, 2: negInf}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.p, V)
			s.Sample(logits, history)
			if n := testing.AllocsPerRun(50, func() { s.Sample(logits, history) }); n != 0 {
				t.Errorf("%v allocations per Sample, want 0", n)
			}
		})
	}
}

// BenchmarkSample runs the chain over a Qwen2-sized vocabulary.
func BenchmarkSample(b *testing.B) {
	const V = 151936
	logits := peakedLogits(V, 13)
	history := make([]int32, 64)
	for i := range history {
		history[i] = int32(i * 997 % V)
	}
	pen := DefaultParams()
	pen.RepeatPenalty = 1.1
	for _, bc := range []struct {
		name string
		p    Params
	}{
		{"greedy", Params{}},
		{"defaults", DefaultParams()},
		{"defaults+repeat", pen},
		{"topk=off,topp=0.95,minp=0.05", Params{Temperature: 0.8, TopP: 0.95, MinP: 0.05}},
		{"topk=off,topp=0.95", Params{Temperature: 0.8, TopP: 0.95}},
		{"temperature only", Params{Temperature: 0.8, TopP: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.p.Seed = 1
			s := New(bc.p, V)
			b.ReportAllocs()
			for b.Loop() {
				s.Sample(logits, history)
			}
		})
	}
	// Worst case for top-p without top-k: a flat distribution forces the full sort.
	b.Run("flat,topk=off,topp=0.95", func(b *testing.B) {
		flat := randomLogits(V, 13)
		s := New(Params{Temperature: 0.8, TopP: 0.95, Seed: 1}, V)
		b.ReportAllocs()
		for b.Loop() {
			s.Sample(flat, history)
		}
	})
}
