package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// BenchmarkGemmFloat times one thread multiplying a Qwen2.5-0.5B-sized float
// weight by a prompt of 128 tokens, reporting GFLOP/s (2·rows·cols·T per
// op). "gemm" hands the whole matrix to the batch kernel in one call;
// "gemm-tiles" calls it per tileBytes of rows as MatMul does; "gemv" runs the
// row-dot kernel once per token per tile, MatMul's path without a batch
// kernel.
func BenchmarkGemmFloat(b *testing.B) {
	const T = 128
	rng := rand.New(rand.NewPCG(9, 10))
	for _, typ := range []tensor.Type{tensor.F16, tensor.F32, tensor.BF16} {
		for _, shape := range [][2]int{{4864, 896}, {896, 4864}} {
			rows, cols := shape[0], shape[1]
			rb, _ := typ.RowBytes(cols)
			w := make([]byte, rows*rb)
			for r := range rows {
				_ = tensor.Quantize(typ, w[r*rb:(r+1)*rb], randFloats(rng, cols, 1))
			}
			a := make([]byte, T*rb)
			for t := range T {
				tensor.QuantizeActivations(typ, a[t*rb:(t+1)*rb], randFloats(rng, cols, 1))
			}
			out := make([]float32, T*rows)
			step := max(1, tileBytes/rb)
			f, gv := gemm(typ), gemv(typ)
			flops := 2 * float64(rows) * float64(cols) * T
			run := func(name string, body func()) {
				b.Run(fmt.Sprintf("%s/%dx%d/T=%d/%s", typ, rows, cols, T, name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						body()
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			if f != nil {
				run("gemm", func() { f(out, rows, w, rb, rows, a, rb, T, cols) })
				run("gemm-tiles", func() {
					for r0 := 0; r0 < rows; r0 += step {
						r1 := min(r0+step, rows)
						f(out[r0:], rows, w[r0*rb:r1*rb], rb, r1-r0, a, rb, T, cols)
					}
				})
			}
			run("gemv", func() {
				for r0 := 0; r0 < rows; r0 += step {
					r1 := min(r0+step, rows)
					for t := range T {
						gv(out[t*rows+r0:t*rows+r1], w[r0*rb:r1*rb], rb, a[t*rb:(t+1)*rb], cols)
					}
				}
			})
		}
	}
}
