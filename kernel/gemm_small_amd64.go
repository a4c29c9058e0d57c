//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"sync"

	"zhiyan/tensor"
)

// Multi-token gemv: the kernels for the 2…8 tokens of sequences decoding
// together. Decoding reads every weight from memory once per step, and the
// batch (gemm) kernels, built for long prompts, repack 8-row groups per call
// and cost nearly T gemvs at small T. These read each weight block once,
// decode it once (signs, scale, widening) and form every token's dot
// product from registers, one row at a time, so the weights stream in order
// and T tokens cost little more than one while memory is the limit.
//
// Each (row, token) sums in float32 lanes of its own, in element order, and
// is reduced at the end of the row: results match tensor.VecDot up to
// float32 summation order, and a row's result does not depend on the other
// rows of the call (it may on T, which picks the lane layout).

// smallMaxT is the most tokens the kernels take (the accumulators of 8
// tokens fill half the YMM registers); more go to the batch kernels.
const smallMaxT = 8

func init() {
	if !hasAVX2 {
		return
	}
	// Measured on 896×4864 and 4864×896 (weights in cache and streaming),
	// these beat the batch kernels at every T ≤ 8 (Q8_0 T=4: 2.7 against
	// 3.7 ns a row-block, F16 3.0 against 4.7). For Q4_0 and Q5_0 the same
	// scheme (unsigned nibbles, VPHADDW folds) lost to the batch kernels at
	// every T (Q4_0 T=4: 2.55 against 2.19); the two-row kernels of
	// gemm_few_amd64.go, with software prefetch, now take them for T ≤ 4.
	smallGemmKernels[tensor.Q8_0] = gemmSmallQ8_0
	smallGemmMaxT[tensor.Q8_0] = smallMaxT
	smallGemmKernels[tensor.F16] = gemmSmallF16
	smallGemmMaxT[tensor.F16] = smallMaxT
}

// gemmSmallQ8_0AVX2 (gemm_small_q8_amd64.s) sets out[t·outStride/4 + r] =
// dot(weight row r, token t) for r < rows ≥ 1, 2 ≤ T ≤ 8, rows of nb ≥ 1
// blocks; tab holds, per block, the activation scale of the token in each
// lane of the folded sums of its two token groups (smallLane).
//
//go:noescape
func gemmSmallQ8_0AVX2(out *float32, outStride int, w *byte, rowBytes, rows int, a *byte, actStride int, tab *float32, nb, T int)

// smallScratch is a call's table (or widened activations), pooled so that
// calls allocate nothing once warm.
type smallScratch struct{ f []float32 }

var smallScratchPool = sync.Pool{New: func() any { return new(smallScratch) }}

// smallLane is the token (within its group of g) whose sums lane l of the
// group's folded vector holds (see the .s file).
func smallLane(l, g int) int {
	if g == 2 {
		return l % 2
	}
	return min(l, g-1)
}

// checkGemm panics unless the slices hold what a gemmFunc call of rows × T
// reads and writes, for rows of nb blocks of wb weight bytes and ab
// activation bytes: the assembly trusts these sizes.
func checkGemm(t tensor.Type, out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, nb, wb, ab int) {
	if outStride < rows || rowBytes < nb*wb || actStride < nb*ab ||
		len(w) < (rows-1)*rowBytes+nb*wb || len(a) < (T-1)*actStride+nb*ab || len(out) < (T-1)*outStride+rows {
		panic(fmt.Sprintf("kernel: %s gemm of %d rows × %d blocks × %d tokens: weight (%d B, stride %d), activation (%d B, stride %d) or output (%d, stride %d) too short",
			t, rows, nb, T, len(w), rowBytes, len(a), actStride, len(out), outStride))
	}
}

// smallTable fills s with the activation-scale table of the Q8_0 kernels
// (see gemmSmallQ8_0AVX2) for T tokens of nb blocks and returns it.
func smallTable(s *smallScratch, a []byte, actStride, T, nb int) []float32 {
	if cap(s.f) < 16*nb {
		s.f = make([]float32, 16*nb)
	}
	tab := s.f[:16*nb]
	// Per block, 8 floats for each group of (up to) 4 tokens.
	for g0 := 0; g0 < T; g0 += 4 {
		g := min(4, T-g0)
		for l := range 8 {
			at := a[(g0+smallLane(l%4, g))*actStride:]
			for b := range nb {
				tab[16*b+2*g0+l] = tensor.FP16ToFP32(uint16(at[34*b]) | uint16(at[34*b+1])<<8)
			}
		}
	}
	return tab
}

// gemmSmallQ8_0 implements gemmFunc for Q8_0 weights and 1 ≤ T ≤ smallMaxT.
func gemmSmallQ8_0(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	if rows <= 0 || T <= 0 {
		return
	}
	if T > smallMaxT || n%32 != 0 {
		panic(fmt.Sprintf("kernel: Q8_0 multi-token gemv of %d tokens × %d elements", T, n))
	}
	nb := n / 32
	checkGemm(tensor.Q8_0, out, outStride, w, rowBytes, rows, a, actStride, T, nb, 34, 34)
	if T == 1 || nb == 0 {
		// Not worth an unrolled copy: the gemv does one token.
		for t := range T {
			gemv(tensor.Q8_0)(out[t*outStride:t*outStride+rows], w, rowBytes, a[t*actStride:], n)
		}
		return
	}
	s := smallScratchPool.Get().(*smallScratch)
	defer smallScratchPool.Put(s)
	tab := smallTable(s, a, actStride, T, nb)
	if pairs := rows / 2; T <= fewMaxT && pairs > 0 {
		gemmFewQ8_0AVX2(&out[0], 4*outStride, &w[0], rowBytes, pairs, &a[0], actStride, &tab[0], nb, T)
		if rows%2 == 0 {
			return
		}
		r := rows - 1
		gemmSmallQ8_0AVX2(&out[r], 4*outStride, &w[r*rowBytes], rowBytes, 1, &a[0], actStride, &tab[0], nb, T)
		return
	}
	gemmSmallQ8_0AVX2(&out[0], 4*outStride, &w[0], rowBytes, rows, &a[0], actStride, &tab[0], nb, T)
}

//go:noescape
func gemmSmallF16AVX2(out *float32, outStride int, w *byte, rowBytes, rows int, a *float32, actStride, n, T int)

// gemmSmallF16 implements gemmFunc for F16 weights and 1 ≤ T ≤ smallMaxT:
// the tokens' F16 activations are widened to float32 once per call, the
// assembly takes the first n&^7 elements of each row and Go adds the rest.
func gemmSmallF16(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	checkFloatGemm(out, outStride, w, rowBytes, rows, a, actStride, T, n, 2)
	if rows == 0 || T == 0 {
		return
	}
	if T > smallMaxT {
		panic(fmt.Sprintf("kernel: F16 multi-token gemv of %d tokens", T))
	}
	n8 := n &^ 7
	if T == 1 || n8 == 0 {
		for t := range T {
			gemv(tensor.F16)(out[t*outStride:t*outStride+rows], w, rowBytes, a[t*actStride:], n)
		}
		return
	}
	s := smallScratchPool.Get().(*smallScratch)
	defer smallScratchPool.Put(s)
	if cap(s.f) < T*n8 {
		s.f = make([]float32, T*n8)
	}
	af := s.f[:T*n8]
	for t := range T {
		f16ToF32AVX2(&af[t*n8], &a[t*actStride], n8)
	}
	gemmSmallF16AVX2(&out[0], 4*outStride, &w[0], rowBytes, rows, &af[0], 4*n8, n8, T)
	if n8 == n {
		return
	}
	for t := range T {
		at := a[t*actStride:]
		for i := range rows {
			row, s := w[i*rowBytes:], out[t*outStride+i]
			for j := n8; j < n; j++ {
				s += f16Kernel.at(row, j) * f16Kernel.at(at, j)
			}
			out[t*outStride+i] = s
		}
	}
}
