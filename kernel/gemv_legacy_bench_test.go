package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// BenchmarkGemvLegacy times one thread's gemv over a whole weight matrix of
// each legacy type, fast kernel against the reference, reporting weight
// GB/s. The matrices fit in L3; the "dram" runs (one and two goroutines)
// cycle through enough copies that the weights stream from memory, as they
// do in decoding.
func BenchmarkGemvLegacy(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range legacyTypes {
		for _, shape := range [][2]int{{4864, 896}, {896, 4864}} {
			rows, cols := shape[0], shape[1]
			rb, _ := typ.RowBytes(cols)
			w := lgWeights(rng, typ, rows, cols, rb, false)
			at := typ.VecDotType()
			ab, _ := at.RowBytes(cols)
			a := make([]byte, ab)
			tensor.QuantizeActivations(at, a, lgFloats(rng, cols))
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

// BenchmarkQuantizeActivationsLegacy times the Q8_0 and Q8_1 conversion of a
// 4864-wide activation row, fast against tensor.QuantizeActivations.
func BenchmarkQuantizeActivationsLegacy(b *testing.B) {
	src := lgFloats(rand.New(rand.NewPCG(9, 10)), 4864)
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q8_1} {
		nb, _ := typ.RowBytes(len(src))
		dst := make([]byte, nb)
		b.Run(typ.String()+"/fast", func(b *testing.B) {
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				quantizeActivations(typ, dst, src)
			}
		})
		b.Run(typ.String()+"/ref", func(b *testing.B) {
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				tensor.QuantizeActivations(typ, dst, src)
			}
		})
	}
}
