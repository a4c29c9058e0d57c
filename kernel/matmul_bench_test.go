package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkMatMul times MatMul on a Qwen2.5-0.5B ffn_down-like matrix (896
// rows of 4864: the one shape every type can hold) with all cores, for one
// token (decode, memory-bound) and 64 (prompt, compute-bound). Bytes are the
// weight bytes read per call.
func BenchmarkMatMul(b *testing.B) {
	const rows, cols = 896, 4864
	r := rand.New(rand.NewPCG(11, 12))
	p := NewPool(runtime.GOMAXPROCS(0))
	defer p.Close()
	for _, typ := range kernelTypes {
		m := randMatrix(b, r, typ, rows, cols)
		for _, T := range []int{1, 64} {
			x := randFloats(r, T*cols, 1)
			out := make([]float32, T*rows)
			act := make([]byte, ActBytes(T, m))
			b.Run(fmt.Sprintf("%s/T=%d", typ, T), func(b *testing.B) {
				b.SetBytes(int64(len(m.Data)))
				b.ReportAllocs()
				for b.Loop() {
					p.MatMul(out, m, x, T, act)
				}
			})
		}
	}
}
