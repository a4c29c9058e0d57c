package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkMatMulSmallT times MatMul with all cores for the few tokens of
// continuous batching (T = 1, 2, 4, 8 sequences decoding together), on the
// two Qwen2.5-0.5B FFN shapes, with the weights in cache ("l3": one matrix,
// called again and again) and streaming from memory ("dram": a new copy of
// the matrix each call, as in decoding, where every layer's weights are
// read once per step). Bytes are the weight bytes of one call, so GB/s at T
// = 4 close to T = 1 is the goal. Where a few-token kernel takes the call,
// ".../batch" runs the same call through the kernels MatMul used before them
// (the batch kernel, or one gemv per token), for comparison in one run.
func BenchmarkMatMulSmallT(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	p := NewPool(runtime.GOMAXPROCS(0))
	defer p.Close()
	for _, typ := range kernelTypes {
		for _, shape := range [][2]int{{896, 4864}, {4864, 896}} {
			rows, cols := shape[0], shape[1]
			if cols%typ.BlockSize() != 0 {
				continue // K-quants need rows of whole 256-element super-blocks
			}
			var copies []*Matrix // made on first use: filtered-out runs cost nothing
			matrices := func(n int) []*Matrix {
				for len(copies) < n {
					if len(copies) == 0 {
						copies = append(copies, randMatrix(b, r, typ, rows, cols))
						continue
					}
					c := *copies[0]
					c.Data = append([]byte(nil), c.Data...)
					copies = append(copies, &c)
				}
				return copies[:n]
			}
			for _, mem := range []string{"l3", "dram"} {
				for _, T := range []int{1, 2, 4, 8} {
					for _, batch := range []bool{false, true} {
						_, maxT := smallGemm(typ)
						if batch && (T == 1 || T > maxT) {
							continue
						}
						name := fmt.Sprintf("%s/%dx%d/%s/T=%d", typ, rows, cols, mem, T)
						if batch {
							name += "/batch"
						}
						b.Run(name, func(b *testing.B) {
							ms := matrices(1)
							if mem == "dram" {
								ms = matrices(dramBytes / 2 / len(ms[0].Data))
							}
							if batch {
								ms = append([]*Matrix(nil), ms...)
								for i, m := range ms {
									c := *m
									c.small, c.smallMax = nil, 0
									ms[i] = &c
								}
							}
							x := randFloats(r, T*cols, 1)
							out := make([]float32, T*rows)
							act := make([]byte, ActBytes(T, ms[0]))
							b.SetBytes(int64(len(ms[0].Data)))
							b.ReportAllocs()
							i := 0
							for b.Loop() {
								p.MatMul(out, ms[i%len(ms)], x, T, act)
								i++
							}
						})
					}
				}
			}
		}
	}
}
