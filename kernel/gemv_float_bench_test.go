package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// BenchmarkGemvFloat times one thread's gemv over a whole weight matrix of
// each float type, fast kernel against the reference, reporting weight GB/s.
// The matrices fit in this machine's 32 MiB L3; "fast-dram" cycles through
// enough copies (≥ 128 MiB) that the weights stream from memory, as they do
// in decoding.
func BenchmarkGemvFloat(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		for _, shape := range [][2]int{{4864, 896}, {896, 4864}} {
			rows, cols := shape[0], shape[1]
			rb, _ := typ.RowBytes(cols)
			w := make([]byte, rows*rb)
			wf := make([]float32, cols)
			for r := range rows {
				for j := range wf {
					wf[j] = float32(rng.NormFloat64())
				}
				_ = tensor.Quantize(typ, w[r*rb:(r+1)*rb], wf)
			}
			a := make([]byte, rb)
			tensor.QuantizeActivations(typ, a, wf)
			out := make([]float32, rows)
			b.Run(fmt.Sprintf("%s/%dx%d/fast-dram", typ, rows, cols), func(b *testing.B) {
				copies := make([][]byte, (128<<20)/len(w)+1)
				for i := range copies {
					copies[i] = append([]byte(nil), w...)
				}
				f := gemv(typ)
				b.SetBytes(int64(len(w)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					f(out, copies[i%len(copies)], rb, a, cols)
					i++
				}
			})
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

// BenchmarkQuantizeActivationsF16 times the F16 activation conversion of a
// 4864-wide row, fast against tensor.QuantizeActivations.
func BenchmarkQuantizeActivationsF16(b *testing.B) {
	src := vecRand(rand.New(rand.NewPCG(7, 8)), 4864, 1)
	dst := make([]byte, 2*len(src))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			quantizeActivations(tensor.F16, dst, src)
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			tensor.QuantizeActivations(tensor.F16, dst, src)
		}
	})
}
