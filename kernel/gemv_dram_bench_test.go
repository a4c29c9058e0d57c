package kernel

import (
	"fmt"
	"testing"

	"zhiyan/tensor"
)

// dramBytes is how much weight data the DRAM benchmarks cycle through: as
// much as bench.MemoryBandwidth reads, far more than a core's share of L3.
const dramBytes = 256 << 20

// gemvJob runs a gemv kernel over a row range, as MatMul's job does, for the
// two-goroutine DRAM benchmarks.
type gemvJob struct {
	f    gemvFunc
	out  []float32
	w    []byte
	rb   int
	a    []byte
	cols int
}

func (j *gemvJob) run(_, lo, hi int) {
	j.f(j.out[lo:hi], j.w[lo*j.rb:], j.rb, j.a, j.cols)
}

// benchGemvDRAM times the fast gemv kernel of typ over copies of w that
// total dramBytes, so that the weights stream from memory as in decoding,
// with one goroutine and with two (rows split as MatMul splits them).
// Reported GB/s are weight bytes.
func benchGemvDRAM(b *testing.B, typ tensor.Type, rows, cols int, w, a []byte) {
	rb, _ := typ.RowBytes(cols)
	var copies [][]byte // made on first use: filtered-out runs cost nothing
	out := make([]float32, rows)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("%s/%dx%d/dram-%dt", typ, rows, cols, threads), func(b *testing.B) {
			if copies == nil {
				copies = make([][]byte, dramBytes/len(w)+1)
				for i := range copies {
					copies[i] = append([]byte(nil), w...)
				}
			}
			p := NewPool(threads)
			defer p.Close()
			j := &gemvJob{f: gemv(typ), out: out, rb: rb, a: a, cols: cols}
			b.SetBytes(int64(len(w)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j.w = copies[i%len(copies)]
				p.parallel(j, rows, rowGrain)
				i++
			}
		})
	}
}
