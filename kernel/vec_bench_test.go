package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The element-wise benchmarks compare each fast kernel ("fast") with the
// pure-Go code of ops.go it would replace ("ref"), in the same run.

var vecSink float32

func BenchmarkDotF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{64, 128, 896, 4864} {
		x, y := vecRand(rng, n, 1), vecRand(rng, n, 1)
		b.Run(fmt.Sprintf("n=%d/fast", n), func(b *testing.B) {
			for b.Loop() {
				vecSink += dotF32(x, y)
			}
		})
		b.Run(fmt.Sprintf("n=%d/ref", n), func(b *testing.B) {
			for b.Loop() {
				vecSink += Dot(x, y)
			}
		})
	}
}

func BenchmarkAxpyF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{64, 128, 896, 4864} {
		x, y := vecRand(rng, n, 1), vecRand(rng, n, 1)
		b.Run(fmt.Sprintf("n=%d/fast", n), func(b *testing.B) {
			for b.Loop() {
				axpyF32(y, 1e-9, x)
			}
		})
		b.Run(fmt.Sprintf("n=%d/ref", n), func(b *testing.B) {
			for b.Loop() {
				AXPY(y, 1e-9, x)
			}
		})
	}
}

func BenchmarkAddF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(35, 36))
	x, y := vecRand(rng, 896, 1e-9), vecRand(rng, 896, 1)
	b.Run("n=896/fast", func(b *testing.B) {
		for b.Loop() {
			addF32(y, x)
		}
	})
	b.Run("n=896/ref", func(b *testing.B) {
		for b.Loop() {
			Add(y, x)
		}
	})
}

// BenchmarkRMSNormF32 times RMSNorm built from sumSquaresF32 and scaleMulF32
// against RMSNorm.
func BenchmarkRMSNormF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, n := range []int{128, 896, 4096} {
		x, w, dst := vecRand(rng, n, 1), vecRand(rng, n, 1), make([]float32, n)
		b.Run(fmt.Sprintf("n=%d/fast", n), func(b *testing.B) {
			for b.Loop() {
				mean := float32(sumSquaresF32(x) / float64(n))
				scale := 1 / float32(math.Sqrt(float64(mean+1e-6)))
				scaleMulF32(dst, x, scale, w)
			}
		})
		b.Run(fmt.Sprintf("n=%d/ref", n), func(b *testing.B) {
			for b.Loop() {
				RMSNorm(dst, x, w, 1e-6)
			}
		})
	}
}

// BenchmarkAttentionF32 times one head's attention work at decode over a
// cache of ctx positions laid out as Qwen2.5-0.5B's (2 KV heads of 64):
// the scores q·k for every position, then the weighted sum of values.
func BenchmarkAttentionF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(39, 40))
	const d, kvDim = 64, 128
	for _, ctx := range []int{128, 1024} {
		q := vecRand(rng, d, 1)
		k, v := vecRand(rng, ctx*kvDim, 1), vecRand(rng, ctx*kvDim, 1)
		att, out := make([]float32, ctx), make([]float32, d)
		b.Run(fmt.Sprintf("scores/ctx=%d/fast", ctx), func(b *testing.B) {
			for b.Loop() {
				dotsF32(att, q, k, kvDim)
			}
		})
		b.Run(fmt.Sprintf("scores/ctx=%d/dotF32", ctx), func(b *testing.B) {
			for b.Loop() {
				for p := range att {
					att[p] = dotF32(q, k[p*kvDim:p*kvDim+d])
				}
			}
		})
		b.Run(fmt.Sprintf("scores/ctx=%d/ref", ctx), func(b *testing.B) {
			for b.Loop() {
				for p := range att {
					att[p] = Dot(q, k[p*kvDim:p*kvDim+d])
				}
			}
		})
		for p := range att {
			att[p] = 1 / float32(ctx)
		}
		b.Run(fmt.Sprintf("values/ctx=%d/fast", ctx), func(b *testing.B) {
			for b.Loop() {
				weightedSumF32(out, att, v, kvDim)
			}
		})
		b.Run(fmt.Sprintf("values/ctx=%d/axpyF32", ctx), func(b *testing.B) {
			for b.Loop() {
				clear(out)
				for p, w := range att {
					axpyF32(out, w, v[p*kvDim:p*kvDim+d])
				}
			}
		})
		b.Run(fmt.Sprintf("values/ctx=%d/ref", ctx), func(b *testing.B) {
			for b.Loop() {
				clear(out)
				for p, w := range att {
					AXPY(out, w, v[p*kvDim:p*kvDim+d])
				}
			}
		})
	}
}
