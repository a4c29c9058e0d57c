//go:build amd64 && !purego

package kernel

import (
	"fmt"

	"zhiyan/tensor"
)

func init() {
	if !hasAVX2 {
		return
	}
	gemvKernels[tensor.Q8_0] = legacyGemv(gemvQ8_0AVX2, tensor.Q8_0)
	gemvKernels[tensor.Q4_0] = legacyGemv(gemvQ4_0AVX2, tensor.Q4_0)
	gemvKernels[tensor.Q5_0] = legacyGemv(gemvQ5_0, tensor.Q5_0)
	gemvKernels[tensor.Q4_1] = legacyGemv(gemvQ4_1AVX2, tensor.Q4_1)
	gemvKernels[tensor.Q5_1] = legacyGemv(gemvQ5_1AVX2, tensor.Q5_1)
	actQuantizers[tensor.Q8_0] = quantizeActQ8_0
	actQuantizers[tensor.Q8_1] = quantizeActQ8_1
}

// The assembly kernels set out[i] = dot(weight row i, a) for rows rows of nb
// ≥ 1 blocks each, rowBytes apart. Like ggml's AVX2 ggml_vec_dot_*_q8_*,
// each block's integer dot product is exact; it is converted to float32 and
// added, times d_w·d_a, by FMA into float32 lanes: one for each half block,
// added together at the end (Q4_1 and Q5_1 sum m_w·s_a in a third lane).
// Results equal tensor.VecDot up to the order of the float32 additions, and a
// row's result does not depend on the other rows of the call.

//go:noescape
func gemvQ8_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

//go:noescape
func gemvQ4_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

//go:noescape
func gemvQ5_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

// gemvQ5_0TabAVX2 is gemvQ5_0AVX2 for rows of at most q5_0TabBlocks
// blocks: the activation's share of each block is worked out once per call,
// into a table in its frame, rather than once per four rows, Q5_0 being
// bound by its vector work rather than by memory.
//
//go:noescape
func gemvQ5_0TabAVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

// q5_0TabBlocks is the longest row, in blocks, gemvQ5_0TabAVX2's table
// holds (36 bytes a block of its frame).
const q5_0TabBlocks = 512

// gemvQ5_0 picks the Q5_0 kernel for the row length.
func gemvQ5_0(out *float32, w *byte, rowBytes int, a *byte, nb, rows int) {
	if nb <= q5_0TabBlocks {
		gemvQ5_0TabAVX2(out, w, rowBytes, a, nb, rows)
		return
	}
	gemvQ5_0AVX2(out, w, rowBytes, a, nb, rows)
}

//go:noescape
func gemvQ4_1AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

//go:noescape
func gemvQ5_1AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)

// The quantizers encode nb blocks of 32 floats exactly as
// tensor.QuantizeActivations does for finite input: amax over the block,
// d = amax/127 stored as fp16 (VCVTPS2PH, nearest even, as
// tensor.FP32ToFP16), quants round_even(x·(127/amax)), and for Q8_1
// s = fp16(d·Σq).

//go:noescape
func quantizeQ8_0AVX2(dst *byte, src *float32, nb int)

//go:noescape
func quantizeQ8_1AVX2(dst *byte, src *float32, nb int)

// legacyGemv wraps an assembly kernel for weight type t with the size checks
// the assembly relies on.
func legacyGemv(kernel func(*float32, *byte, int, *byte, int, int), t tensor.Type) gemvFunc {
	wb := t.BlockBytes()
	ab := t.VecDotType().BlockBytes()
	return func(out []float32, w []byte, rowBytes int, a []byte, n int) {
		if len(out) == 0 {
			return
		}
		nb := n / 32
		if n%32 != 0 || rowBytes < nb*wb || len(a) < nb*ab || len(w) < (len(out)-1)*rowBytes+nb*wb {
			panic(fmt.Sprintf("kernel: %s gemv of %d rows × %d: weight (%d B, stride %d) or activation (%d B) too short",
				t, len(out), n, len(w), rowBytes, len(a)))
		}
		if nb == 0 {
			clear(out)
			return
		}
		kernel(&out[0], &w[0], rowBytes, &a[0], nb, len(out))
	}
}

func quantizeActQ8_0(dst []byte, src []float32) {
	checkActQuant(tensor.Q8_0, dst, src)
	if len(src) > 0 {
		quantizeQ8_0AVX2(&dst[0], &src[0], len(src)/32)
	}
}

func quantizeActQ8_1(dst []byte, src []float32) {
	checkActQuant(tensor.Q8_1, dst, src)
	if len(src) > 0 {
		quantizeQ8_1AVX2(&dst[0], &src[0], len(src)/32)
	}
}

// checkActQuant panics unless src is whole blocks and dst holds exactly
// their encoding, as tensor.QuantizeActivations demands.
func checkActQuant(t tensor.Type, dst []byte, src []float32) {
	if len(src)%32 != 0 || len(dst) != len(src)/32*t.BlockBytes() {
		panic(fmt.Sprintf("kernel: quantize %d floats to %s: need a multiple of 32 and %d bytes, dst has %d",
			len(src), t, len(src)/32*t.BlockBytes(), len(dst)))
	}
}
