package train

import (
	"fmt"
	"unsafe"

	"zhiyan/kernel"
	"zhiyan/tensor"
)

// gemm runs the matrix products of training. float32 products go through
// the kernel package's SIMD GEMM (the one inference uses) on a pool of
// threads; it computes out = x·Mᵀ only, so the two backward products are
// that product on transposed copies. float64 products (gradient checks)
// are plain loops.
//
// The kernel gives each output element one writer and sums in an order that
// does not depend on the thread count, so training is deterministic for a
// seed whatever the threads.
type gemm struct {
	pool *kernel.Pool
	// scratch of the float32 backward products, grown on demand
	wT, inT, doutT, tmp []float32
}

func newGemm(threads int) *gemm { return &gemm{pool: kernel.NewPool(threads)} }

func (g *gemm) close() { g.pool.Close() }

// parallelFor runs fn over [0, n) in ranges, possibly several at once;
// each index goes to exactly one call.
type parallelFor func(n int, fn func(lo, hi int))

// serial is the parallelFor of one thread.
func serial(n int, fn func(lo, hi int)) { fn(0, n) }

// parallel is the parallelFor of the gemm's threads.
func (g *gemm) parallel(n int, fn func(lo, hi int)) {
	g.pool.For(n, 1, func(_, lo, hi int) { fn(lo, hi) })
}

// matmulForward sets out (N, OC) = inp (N, IC) · wᵀ for w (OC, IC).
func matmulForward[F Float](g *gemm, out, inp, w []F, N, IC, OC int) {
	checkMatmul(len(out), len(inp), len(w), N, IC, OC)
	if o, ok := any(out).([]float32); ok {
		g.forward32(o, any(inp).([]float32), any(w).([]float32), N, IC, OC)
		return
	}
	for n := range N {
		x := inp[n*IC : (n+1)*IC]
		for o := range OC {
			wo := w[o*IC : (o+1)*IC]
			var s F
			for i, v := range x {
				s += v * wo[i]
			}
			out[n*OC+o] = s
		}
	}
}

// matmulBackward adds dinp (N, IC) += dout (N, OC) · w and dw (OC, IC) +=
// doutᵀ · inp.
func matmulBackward[F Float](g *gemm, dinp, dw, dout, inp, w []F, N, IC, OC int) {
	checkMatmul(len(dout), len(inp), len(w), N, IC, OC)
	if len(dinp) < N*IC || len(dw) < OC*IC {
		panic(fmt.Sprintf("train: matmulBackward: gradients %d, %d for %d×%d·%d", len(dinp), len(dw), N, IC, OC))
	}
	if d, ok := any(dinp).([]float32); ok {
		g.backward32(d, any(dw).([]float32), any(dout).([]float32), any(inp).([]float32), any(w).([]float32), N, IC, OC)
		return
	}
	for n := range N {
		dx, x, dy := dinp[n*IC:(n+1)*IC], inp[n*IC:(n+1)*IC], dout[n*OC:(n+1)*OC]
		for o, d := range dy {
			wo, dwo := w[o*IC:(o+1)*IC], dw[o*IC:(o+1)*IC]
			for i := range dx {
				dx[i] += d * wo[i]
				dwo[i] += d * x[i]
			}
		}
	}
}

func checkMatmul(out, inp, w, N, IC, OC int) {
	if out < N*OC || inp < N*IC || w < OC*IC {
		panic(fmt.Sprintf("train: matmul: out %d, inp %d, w %d for %d×%d·%d", out, inp, w, N, IC, OC))
	}
}

// f32Matrix views rows×cols float32s as a kernel matrix.
func f32Matrix(w []float32, rows, cols int) *kernel.Matrix {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), 4*rows*cols)
	m, err := kernel.NewMatrix(tensor.F32, rows, cols, b)
	if err != nil {
		panic(err) // shapes were checked by the caller
	}
	return m
}

func (g *gemm) forward32(out, inp, w []float32, N, IC, OC int) {
	g.pool.MatMul(out[:N*OC], f32Matrix(w, OC, IC), inp[:N*IC], N, nil)
}

func (g *gemm) backward32(dinp, dw, dout, inp, w []float32, N, IC, OC int) {
	// dinp += dout · w: the product with the rows of wᵀ.
	g.wT = grow(g.wT, IC*OC)
	transpose(g.parallel, g.wT, w, OC, IC)
	g.tmp = grow(g.tmp, max(N*IC, OC*IC))
	g.pool.MatMul(g.tmp[:N*IC], f32Matrix(g.wT, IC, OC), dout[:N*OC], N, nil)
	addInto(dinp[:N*IC], g.tmp)

	// dw += doutᵀ · inp: rows of doutᵀ against the rows of inpᵀ.
	g.inT = grow(g.inT, IC*N)
	g.doutT = grow(g.doutT, OC*N)
	transpose(g.parallel, g.inT, inp, N, IC)
	transpose(g.parallel, g.doutT, dout, N, OC)
	g.pool.MatMul(g.tmp[:OC*IC], f32Matrix(g.inT, IC, N), g.doutT, OC, nil)
	addInto(dw[:OC*IC], g.tmp)
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// transpose sets dst (cols, rows) = srcᵀ for src (rows, cols); bands of 32
// rows go to the threads.
func transpose(par parallelFor, dst, src []float32, rows, cols int) {
	const band = 32
	par((rows+band-1)/band, func(lo, hi int) { transposeRows(dst, src, rows, cols, lo*band, min(hi*band, rows)) })
}

// transposeRows does rows r0…r1-1 of transpose, in 32×32 tiles so both
// sides stay in cache.
func transposeRows(dst, src []float32, rows, cols, r0, r1 int) {
	const tile = 32
	for t0 := r0; t0 < r1; t0 += tile {
		t1 := min(t0+tile, r1)
		for c0 := 0; c0 < cols; c0 += tile {
			c1 := min(c0+tile, cols)
			for r := t0; r < t1; r++ {
				row := src[r*cols : r*cols+c1]
				for c := c0; c < c1; c++ {
					dst[c*rows+r] = row[c]
				}
			}
		}
	}
}
