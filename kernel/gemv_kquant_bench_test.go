package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// BenchmarkGemvKQuant times one thread's gemv over a whole weight matrix of
// each K-quant type, fast kernel against the reference, reporting weight
// GB/s, and from memory with one and two goroutines (see benchGemvDRAM).
// K-quant rows hold whole 256-element super-blocks, so the 896-wide shape of
// Qwen2.5-0.5B is replaced by 1024.
func BenchmarkGemvKQuant(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range kqTypes {
		for _, shape := range [][2]int{{4864, 1024}, {896, 4864}} {
			rows, cols := shape[0], shape[1]
			rb, _ := typ.RowBytes(cols)
			w := make([]byte, rows*rb)
			for r := range rows {
				_ = tensor.Quantize(typ, w[r*rb:(r+1)*rb], randFloats(rng, cols, 0.02))
			}
			a := make([]byte, cols/tensor.QK_K*292)
			tensor.QuantizeActivations(tensor.Q8_K, a, randFloats(rng, cols, 1))
			out := make([]float32, rows)
			benchGemvDRAM(b, typ, rows, cols, w, a)
			for _, k := range []struct {
				name string
				f    gemvFunc
			}{{"fast", gemv(typ)}, {"ref", gemvRef(typ)}} {
				b.Run(fmt.Sprintf("%s/%dx%d/%s", typ, rows, cols, k.name), func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					b.ReportAllocs()
					for b.Loop() {
						k.f(out, w, rb, a, cols)
					}
				})
			}
		}
	}
}

// BenchmarkQuantizeActivationsQ8K times the Q8_K activation quantization of
// a 4864-wide row, fast against tensor.QuantizeActivations.
func BenchmarkQuantizeActivationsQ8K(b *testing.B) {
	src := randFloats(rand.New(rand.NewPCG(7, 8)), 4864, 1)
	dst := make([]byte, len(src)/tensor.QK_K*292)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			quantizeActivations(tensor.Q8_K, dst, src)
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			tensor.QuantizeActivations(tensor.Q8_K, dst, src)
		}
	})
}
