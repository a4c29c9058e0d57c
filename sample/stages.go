package sample

import (
	"cmp"
	"math"
	"slices"
)

// The stages of the chain as plain functions over candidates, in chain order.

var negInf = float32(math.Inf(-1))

// penalize applies llama.cpp's penalties to the tokens in window: a repeated
// token's logit is divided by repeat when positive and multiplied by it when
// not (repeat <= 0 counts as off), then count*freq + presence is subtracted.
// counts must be all zero on entry (length len(c)) and is left all zero.
func penalize(c []cand, window []int32, counts []int32, repeat, freq, presence float32) {
	n := int32(len(c))
	for _, t := range window {
		if t >= 0 && t < n {
			counts[t]++
		}
	}
	for _, t := range window {
		if t < 0 || t >= n || counts[t] == 0 {
			continue // out of vocabulary, or already penalized
		}
		count := counts[t]
		counts[t] = 0
		l := c[t].logit
		if repeat > 0 && repeat != 1 {
			if l <= 0 {
				l *= repeat
			} else {
				l /= repeat
			}
		}
		c[t].logit = l - (float32(count)*freq + presence)
	}
}

// argmax returns the index of the largest logit; the lowest index wins ties,
// NaN never wins, and it is 0 when nothing beats -Inf.
func argmax(c []cand) int {
	best, bi := negInf, 0
	for i, x := range c {
		if x.logit > best {
			best, bi = x.logit, i
		}
	}
	return bi
}

// Greedy returns the index of the largest logit; the lowest index wins ties
// and NaN is skipped. It panics on an empty slice.
func Greedy(logits []float32) int32 {
	if len(logits) == 0 {
		panic("sample.Greedy: no logits")
	}
	best, bi := negInf, 0
	for i, x := range logits {
		if x > best {
			best, bi = x, i
		}
	}
	return int32(bi)
}

// before orders candidates by logit, descending; the lower id first on ties,
// so every stage is deterministic.
func before(a, b cand) int {
	switch {
	case a.logit > b.logit:
		return -1
	case a.logit < b.logit:
		return 1
	}
	return cmp.Compare(a.id, b.id)
}

func sortDesc(c []cand) { slices.SortFunc(c, before) }

// topK returns the k best candidates of c (fewer if fewer are not banned),
// sorted, in h's memory (cap >= k). It keeps a min-heap of the k best so far:
// O(V log k), and most tokens cost one comparison against the heap's root.
func topK(h []cand, c []cand, k int) []cand {
	h = h[:0]
	for _, x := range c {
		if !(x.logit > negInf) {
			continue // banned or NaN
		}
		if len(h) < k {
			h = append(h, x)
			siftUp(h, len(h)-1)
			continue
		}
		// c is in id order, so on equal logits the kept token has the lower id.
		if x.logit > h[0].logit {
			h[0] = x
			siftDown(h, 0)
		}
	}
	sortDesc(h)
	return h
}

// The heap's root is its worst candidate in before's order.
func worse(a, b cand) bool { return before(a, b) > 0 }

func siftUp(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []cand, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// dropBanned removes banned (-Inf) and NaN candidates in place, keeping order.
func dropBanned(c []cand) []cand {
	out := c[:0]
	for _, x := range c {
		if x.logit > negInf {
			out = append(out, x)
		}
	}
	return out
}

func maxLogit(c []cand) float32 {
	m := negInf
	for _, x := range c {
		m = max(m, x.logit)
	}
	return m
}

// minP keeps, in place and in order, the candidates with p >= minp*p_max,
// that is logit >= maxL + log(minp). minp >= 1 keeps only the ties for the
// maximum, so at least one candidate always survives.
func minP(c []cand, maxL, minp float32) []cand {
	thresh := maxL + float32(math.Log(float64(min(minp, 1))))
	out := c[:0]
	for _, x := range c {
		if x.logit >= thresh {
			out = append(out, x)
		}
	}
	return out
}

// topP returns the shortest prefix of the sorted candidates whose probability
// mass reaches p, where a candidate's probability is exp(logit-maxL)/z (z may
// cover more candidates than c holds: see Sampler.truncate). ok is false when
// c's whole mass stays below p; then it returns all of c.
func topP(c []cand, maxL float32, z float64, p float32) (prefix []cand, ok bool) {
	cum := 0.0
	for i, x := range c {
		cum += math.Exp(float64(x.logit-maxL)) / z
		if cum >= float64(p) {
			return c[:i+1], true
		}
	}
	return c, false
}

// softmax writes softmax(logit/temp) of c into probs (same length) and
// returns it.
func softmax(probs []float64, c []cand, temp float32) []float64 {
	maxL := maxLogit(c)
	t := float64(temp)
	sum := 0.0
	for i, x := range c {
		e := math.Exp(float64(x.logit-maxL) / t)
		probs[i] = e
		sum += e
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs
}
