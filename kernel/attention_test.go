package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// attendRef is causal attention in float64, written from the definition:
// query t (at position pos+t) of head h attends to positions 0..pos+t of KV
// head h/(Heads/KVHeads).
func attendRef(a Attention, q, k, v []float32, T, pos int) []float64 {
	qDim, kvDim := a.Heads*a.HeadDim, a.KVHeads*a.HeadDim
	out := make([]float64, T*qDim)
	for t := range T {
		for h := range a.Heads {
			kvh := h / (a.Heads / a.KVHeads)
			n := pos + t + 1
			w := make([]float64, n)
			maxw := math.Inf(-1)
			for p := range n {
				var s float64
				for d := range a.HeadDim {
					s += float64(q[t*qDim+h*a.HeadDim+d]) * float64(k[p*kvDim+kvh*a.HeadDim+d])
				}
				w[p] = s * float64(a.Scale)
				maxw = math.Max(maxw, w[p])
			}
			var sum float64
			for p := range w {
				w[p] = math.Exp(w[p] - maxw)
				sum += w[p]
			}
			for p := range w {
				for d := range a.HeadDim {
					out[t*qDim+h*a.HeadDim+d] += w[p] / sum * float64(v[p*kvDim+kvh*a.HeadDim+d])
				}
			}
		}
	}
	return out
}

func TestAttend(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	nan := float32(math.NaN())
	for _, tt := range []struct {
		heads, kvHeads, headDim int
		T, pos, ctx             int
	}{
		{4, 2, 8, 1, 0, 4},    // first token
		{4, 2, 8, 1, 5, 9},    // decode step
		{4, 2, 8, 4, 3, 12},   // prompt chunk after a cached prefix
		{6, 2, 16, 5, 0, 8},   // GQA 3:1, whole prompt
		{4, 4, 8, 3, 2, 6},    // MHA
		{8, 1, 4, 2, 6, 10},   // MQA
		{14, 2, 64, 3, 7, 16}, // Qwen2.5-0.5B heads
	} {
		a := Attention{Heads: tt.heads, KVHeads: tt.kvHeads, HeadDim: tt.headDim, Scale: float32(1 / math.Sqrt(float64(tt.headDim)))}
		name := fmt.Sprintf("H%d/KV%d/D%d/T%d/pos%d", tt.heads, tt.kvHeads, tt.headDim, tt.T, tt.pos)
		qDim, kvDim := tt.heads*tt.headDim, tt.kvHeads*tt.headDim
		q := randFloats(r, tt.T*qDim, 1)
		k := randFloats(r, tt.ctx*kvDim, 1)
		v := randFloats(r, tt.ctx*kvDim, 1)
		// Positions after the last query are not written yet: garbage that
		// must not be read.
		for i := (tt.pos + tt.T) * kvDim; i < len(k); i++ {
			k[i], v[i] = nan, nan
		}
		want := attendRef(a, q, k, v, tt.T, tt.pos)
		var first []float32
		for _, threads := range []int{1, 2, 3} {
			p := NewPool(threads)
			out := make([]float32, tt.T*qDim)
			scores := make([]float32, p.AttentionScratch(tt.ctx))
			for i := range scores {
				scores[i] = nan // scratch must be written before it is read
			}
			p.Attend(a, out, q, k, v, tt.T, tt.pos, tt.ctx, scores)
			p.Close()
			if first == nil {
				first = out
				checkSlice(t, name, out, want, 2e-6)
				continue
			}
			for i := range out {
				if math.Float32bits(out[i]) != math.Float32bits(first[i]) {
					t.Fatalf("%s: %d threads give out[%d] = %v, 1 thread %v", name, threads, i, out[i], first[i])
				}
			}
		}
	}
}

// TestAttendCausal: changing keys and values at positions a query must not
// see leaves its output unchanged; changing one it sees does not.
func TestAttendCausal(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	a := Attention{Heads: 2, KVHeads: 1, HeadDim: 4, Scale: 0.5}
	const T, pos, ctx = 3, 2, 5
	q := randFloats(r, T*8, 1)
	k := randFloats(r, ctx*4, 1)
	v := randFloats(r, ctx*4, 1)
	p := NewPool(2)
	defer p.Close()
	scores := make([]float32, p.AttentionScratch(ctx))
	base := make([]float32, T*8)
	p.Attend(a, base, q, k, v, T, pos, ctx, scores)
	// Position 4 is visible only to the last query (at position pos+2 = 4).
	for d := range 4 {
		v[4*4+d] += 10
	}
	out := make([]float32, T*8)
	p.Attend(a, out, q, k, v, T, pos, ctx, scores)
	for i := range out {
		changed := out[i] != base[i]
		if last := i >= 2*8; changed != last {
			t.Errorf("out[%d] changed = %v after editing position 4, want %v", i, changed, last)
		}
	}
}

func TestAttendPanicsOnBadShapes(t *testing.T) {
	p := NewPool(1)
	defer p.Close()
	buf := make([]float32, 1024)
	for _, tt := range []struct {
		name         string
		a            Attention
		T, pos, ctx  int
		scratchFloat int
	}{
		{"no KV heads", Attention{Heads: 2, KVHeads: 0, HeadDim: 4}, 1, 0, 4, 4},
		{"heads not a multiple", Attention{Heads: 3, KVHeads: 2, HeadDim: 4}, 1, 0, 4, 4},
		{"past the cache", Attention{Heads: 2, KVHeads: 1, HeadDim: 4}, 2, 3, 4, 4},
		{"short scratch", Attention{Heads: 2, KVHeads: 1, HeadDim: 4}, 1, 0, 4, 3},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Attend did not panic", tt.name)
				}
			}()
			p.Attend(tt.a, buf, buf, buf, buf, tt.T, tt.pos, tt.ctx, buf[:tt.scratchFloat])
		}()
	}
}
