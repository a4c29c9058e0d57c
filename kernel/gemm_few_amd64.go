//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"

	"zhiyan/tensor"
)

// Two-row multi-token gemv (gemm_few_amd64.s): the one-row Q8_0 kernel of
// gemm_small_amd64.go taking rows two at a time, for 2 ≤ T ≤ 4 and the
// legacy quants Q8_0, Q4_0 and Q5_0 (Q8_0 by the sign trick, Q4_0 and Q5_0
// as unsigned quants, their offset's share subtracted per block: no sign
// work, 2 instead of 3 multiply steps per row and token). Each token's activations are loaded once for both rows and the
// rows' block sums share one conversion, scale multiply and FMA: about 40%
// fewer vector instructions a row-block at T = 4 than one row at a time,
// which matters because there these kernels are compute-bound. The next
// row pairs are prefetched in software: without it the memory stalls did
// not overlap the compute (896×4864 Q8_0 at T = 4, weights streaming:
// 365 µs without, 185 µs with, the same as with the weights in cache).
//
// fewMaxT is the most tokens they take: four tokens' sums fill one
// folded vector. More tokens go to the one-row kernel (Q8_0) or the batch
// kernels.
const fewMaxT = 4

// gemmFew…AVX2 set out[t·outStride/4 + r] = dot(weight row r, token t) for
// r < 2·pairs, 2 ≤ T ≤ 4, rows of nb ≥ 1 blocks; tab is the one-row Q8_0
// kernel's table (smallTable; its group 0 is read) and, for Q4_0 and Q5_0,
// the offsets' shares in the second half of each block's entry
// (offsetTable).
//
//go:noescape
func gemmFewQ8_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

//go:noescape
func gemmFewQ4_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

//go:noescape
func gemmFewQ5_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

// gemmFewQ4_0x4AVX2 and gemmFewQ5_0x4AVX2 are the kernels above over rows
// interleaved four at a time (interleave_amd64.go), pairs even: the same
// arithmetic in the same order, so the same results bit for bit.
//
//go:noescape
func gemmFewQ4_0x4AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

//go:noescape
func gemmFewQ5_0x4AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

type fewKernel func(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)

func init() {
	if !hasAVX2 {
		return
	}
	// Measured (qwen2.5-0.5b shapes) against the packed batch kernel the
	// scheduler uses otherwise; more than 4 tokens keep that.
	smallGemmKernels[tensor.Q4_0] = gemmFewFunc(tensor.Q4_0, 18, 8, gemmFewQ4_0AVX2)
	smallGemmMaxT[tensor.Q4_0] = fewMaxT
	smallGemmKernels[tensor.Q5_0] = gemmFewFunc(tensor.Q5_0, 22, 16, gemmFewQ5_0AVX2)
	smallGemmMaxT[tensor.Q5_0] = fewMaxT
}

// gemmFewFunc returns the gemmFunc, for 1 ≤ T ≤ fewMaxT, of the two-row
// kernel k for type t of wb-byte blocks (Q8_0 activations) whose quants are
// unsigned with offset off.
func gemmFewFunc(t tensor.Type, wb, off int, k fewKernel) gemmFunc {
	return func(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
		if rows <= 0 || T <= 0 {
			return
		}
		if T > fewMaxT || n%32 != 0 {
			panic(fmt.Sprintf("kernel: %s multi-token gemv of %d tokens × %d elements", t, T, n))
		}
		nb := n / 32
		checkGemm(t, out, outStride, w, rowBytes, rows, a, actStride, T, nb, wb, 34)
		pairs := rows / 2
		if T > 1 && nb > 0 && pairs > 0 {
			runFew(k, off, out, outStride, w, rowBytes, pairs, a, actStride, T, nb)
		} else {
			pairs = 0
		}
		// The odd last row (or every row, for one token) by gemv.
		if r := 2 * pairs; r < rows {
			for j := range T {
				gemv(t)(out[j*outStride+r:j*outStride+rows], w[r*rowBytes:], rowBytes, a[j*actStride:], n)
			}
		}
	}
}

// runFew makes the activation table of the few-token kernel k, for quants
// with offset off, and runs it over pairs row pairs.
func runFew(k fewKernel, off int, out []float32, outStride int, w []byte, rowBytes, pairs int, a []byte, actStride, T, nb int) {
	s := smallScratchPool.Get().(*smallScratch)
	tab := smallTable(s, a, actStride, T, nb)
	offsetTable(tab, a, actStride, T, nb, off)
	k(&out[0], 4*outStride, &w[0], rowBytes, pairs, &a[0], actStride, &tab[0], nb, T)
	smallScratchPool.Put(s)
}

// x4Few is gemmFewFunc over interleaved groups, for 2 ≤ T ≤ fewMaxT.
func x4Few(t tensor.Type, off int, k fewKernel) gemmFunc {
	return func(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
		if rows%4 != 0 || T < 2 || T > fewMaxT || n%32 != 0 {
			panic(fmt.Sprintf("kernel: interleaved %s multi-token gemv of %d rows × %d tokens × %d elements", t, rows, T, n))
		}
		nb := n / 32
		checkGemm(t, out, outStride, w, rowBytes, rows, a, actStride, T, nb, t.BlockBytes(), 34)
		if nb == 0 {
			for j := range T {
				clear(out[j*outStride : j*outStride+rows])
			}
			return
		}
		if rows > 0 {
			runFew(k, off, out, outStride, w, rowBytes, rows/2, a, actStride, T, nb)
		}
	}
}

// offsetTable puts in the unused second half of each block's entry in tab
// (T ≤ 4 fills only group 0) the int32 off·Σa of the token of each lane,
// the share of the quants' offset in the block sums.
func offsetTable(tab []float32, a []byte, actStride, T, nb, off int) {
	for l := range 4 {
		at := a[smallLane(l, T)*actStride:]
		for b := range nb {
			sum := 0
			for _, q := range at[34*b+2 : 34*b+34] {
				sum += int(int8(q))
			}
			v := math.Float32frombits(uint32(int32(off * sum)))
			tab[16*b+8+l], tab[16*b+12+l] = v, v
		}
	}
}
