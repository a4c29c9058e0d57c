package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// BenchmarkGemmKQuant times one thread multiplying a Qwen2.5-0.5B-shaped
// weight (ffn_up/gate 4864×1024, ffn_down 1024×4864; K-quant rows hold
// whole 256-element super-blocks, so 896 becomes 1024) of each K-quant
// type by T = 128 tokens, reporting GFLOP/s (2·rows·n·T per op):
//
//	gemm   the batch kernel over the whole matrix in one call, as MatMul
//	       calls it on one thread;
//	gemv   what MatMul does without a batch kernel: per 16 KiB row tile,
//	       the gemv kernel once per token.
func BenchmarkGemmKQuant(b *testing.B) {
	const T = 128
	rng := rand.New(rand.NewPCG(23, 24))
	for _, typ := range []tensor.Type{tensor.Q4_K, tensor.Q6_K, tensor.Q5_K, tensor.Q3_K, tensor.Q2_K} {
		for _, shape := range [][2]int{{4864, 1024}, {1024, 4864}} {
			rows, n := shape[0], shape[1]
			rb, _ := typ.RowBytes(n)
			w := make([]byte, rows*rb)
			for r := range rows {
				if err := tensor.Quantize(typ, w[r*rb:(r+1)*rb], kqFloats(rng, n)); err != nil {
					b.Fatal(err)
				}
			}
			ab, _ := tensor.Q8_K.RowBytes(n)
			a := make([]byte, T*ab)
			for t := range T {
				tensor.QuantizeActivations(tensor.Q8_K, a[t*ab:(t+1)*ab], randFloats(rng, n, 1))
			}
			out := make([]float32, T*rows)
			tile := max(1, tileBytes/rb)
			gm, gv := gemm(typ), gemv(typ)
			runs := []struct {
				name string
				f    func()
				ok   bool
			}{
				{"gemm", func() { gm(out, rows, w, rb, rows, a, ab, T, n) }, gm != nil},
				{"gemv", func() {
					for r0 := 0; r0 < rows; r0 += tile {
						r1 := min(r0+tile, rows)
						for t := range T {
							gv(out[t*rows+r0:t*rows+r1], w[r0*rb:r1*rb], rb, a[t*ab:(t+1)*ab], n)
						}
					}
				}, true},
			}
			for _, r := range runs {
				if !r.ok {
					continue
				}
				b.Run(fmt.Sprintf("%s/%dx%d/T=%d/%s", typ, rows, n, T, r.name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						r.f()
					}
					flops := 2 * float64(rows) * float64(n) * T * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
