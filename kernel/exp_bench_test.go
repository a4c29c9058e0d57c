package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The exp kernel benchmarks compare the vectorized kernels ("fast") with the
// Go loops SwiGLU and Softmax ran before them ("ref"), in the same run. In
// the pure-Go build both run the Go loops.

func BenchmarkSwiGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, n := range []int{896, 4864} {
		gate, up := randFloats(rng, n, 3), randFloats(rng, n, 1)
		x := make([]float32, n)
		for _, k := range []struct {
			name string
			f    func(gate, up []float32)
		}{{"fast", swigluF32}, {"ref", swigluF32Go}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, k.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(8 * n))
				for b.Loop() {
					copy(x, gate) // SwiGLU works in place
					k.f(x, up)
				}
			})
		}
	}
}

// softmaxRef is Softmax as the Go loops compute it.
func softmaxRef(x []float32, scale float32) {
	maxv := scaleMaxF32Go(x, scale)
	sum := softmaxExpF32Go(x, maxv)
	scaleF32Go(x, float32(1/sum))
}

func BenchmarkSoftmax(b *testing.B) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, n := range []int{128, 4096} {
		scores := randFloats(rng, n, 8) // attention scores before scaling by 1/√64
		x := make([]float32, n)
		for _, k := range []struct {
			name string
			f    func(x []float32, scale float32)
		}{{"fast", softmaxKernels}, {"ref", softmaxRef}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, k.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					copy(x, scores) // Softmax works in place
					k.f(x, 0.125)
				}
			})
		}
	}
}

// BenchmarkSoftmaxExp times the exp pass alone (the vector exp plus the
// float64 sum) against the Go loop.
func BenchmarkSoftmaxExp(b *testing.B) {
	rng := rand.New(rand.NewPCG(49, 50))
	const n = 4096
	scores := randFloats(rng, n, 1)
	x := make([]float32, n)
	for _, k := range []struct {
		name string
		f    func(x []float32, maxv float32) float64
	}{{"fast", softmaxExpF32}, {"ref", softmaxExpF32Go}} {
		b.Run(fmt.Sprintf("n=%d/%s", n, k.name), func(b *testing.B) {
			b.SetBytes(4 * n)
			var sum float64
			for b.Loop() {
				copy(x, scores)
				sum += k.f(x, 4)
			}
			if math.IsNaN(sum) {
				b.Fatal("NaN sum")
			}
		})
	}
}
