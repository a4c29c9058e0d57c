//go:build amd64 && !purego

package kernel

import (
	"zhiyan/tensor"
)

func init() {
	if !hasAVX2 {
		return
	}
	gemvKernels[tensor.Q4_K] = gemvQ4K
	gemvKernels[tensor.Q5_K] = gemvQ5K
	gemvKernels[tensor.Q6_K] = gemvQ6K
	gemvKernels[tensor.Q3_K] = gemvQ3K
	gemvKernels[tensor.Q2_K] = gemvQ2K
	actQuantizers[tensor.Q8_K] = quantizeQ8K
}

// The assembly kernels set out[i] = dot(weight row i, a) for rows
// consecutive rows starting at w, rowBytes apart, each of nb super-blocks;
// a holds nb Q8_K blocks; rows and nb are at least 1. They follow ggml's AVX2
// kernels: a super-block's integer sums are exact (VPMADDUBSW's int16 pair
// sums cannot saturate with weights of at most 63 and Q8_K quants in
// −127…127), each of the eight int32 lanes holds a partial sum of products
// that tensor.VecDot also adds (the min terms of Q4_K, Q5_K and Q2_K, taken
// from the bsums as there, in lanes of their own), and the lanes are scaled
// by d·y.d and accumulated in float32. So results match tensor.VecDot up to
// float32 summation order. Q4_K, Q5_K and Q6_K go four rows at a time, so
// that decoding streams four rows from memory with software prefetch (rows
// of 2–4 KiB are too short for the hardware prefetchers: one at a time,
// they came at half the speed of the legacy types); a last one to three
// rows go one at a time through the same code, so a row's result does not
// depend on the rows around it. Q3_K and Q2_K go one row at a time.
//
//go:noescape
func gemvQ4KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)

//go:noescape
func gemvQ5KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)

//go:noescape
func gemvQ6KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)

//go:noescape
func gemvQ3KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)

//go:noescape
func gemvQ2KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)

// kquantBlocks checks the sizes the assembly trusts and returns the number
// of super-blocks per row; blockBytes is the weight type's super-block size.
// It returns 0 when there is nothing for the assembly to do (out is set).
func kquantBlocks(out []float32, w []byte, rowBytes int, a []byte, n, blockBytes int) int {
	if n < 0 || n%tensor.QK_K != 0 {
		panic("kernel: gemv: K-quant row length is not a multiple of 256")
	}
	nb := n / tensor.QK_K
	if rowBytes < nb*blockBytes || len(a) < nb*292 ||
		len(out) > 0 && len(w) < (len(out)-1)*rowBytes+nb*blockBytes {
		panic("kernel: gemv: weight or activation slice too short")
	}
	if nb == 0 {
		clear(out)
	}
	if len(out) == 0 {
		return 0
	}
	return nb
}

func gemvQ4K(out []float32, w []byte, rowBytes int, a []byte, n int) {
	if nb := kquantBlocks(out, w, rowBytes, a, n, 144); nb > 0 {
		gemvQ4KAVX2(&out[0], &w[0], &a[0], len(out), rowBytes, nb)
	}
}

func gemvQ5K(out []float32, w []byte, rowBytes int, a []byte, n int) {
	if nb := kquantBlocks(out, w, rowBytes, a, n, 176); nb > 0 {
		gemvQ5KAVX2(&out[0], &w[0], &a[0], len(out), rowBytes, nb)
	}
}

func gemvQ6K(out []float32, w []byte, rowBytes int, a []byte, n int) {
	if nb := kquantBlocks(out, w, rowBytes, a, n, 210); nb > 0 {
		gemvQ6KAVX2(&out[0], &w[0], &a[0], len(out), rowBytes, nb)
	}
}

func gemvQ3K(out []float32, w []byte, rowBytes int, a []byte, n int) {
	if nb := kquantBlocks(out, w, rowBytes, a, n, 110); nb > 0 {
		gemvQ3KAVX2(&out[0], &w[0], &a[0], len(out), rowBytes, nb)
	}
}

func gemvQ2K(out []float32, w []byte, rowBytes int, a []byte, n int) {
	if nb := kquantBlocks(out, w, rowBytes, a, n, 84); nb > 0 {
		gemvQ2KAVX2(&out[0], &w[0], &a[0], len(out), rowBytes, nb)
	}
}

// quantQ8KAVX2 quantizes nb ≥ 1 blocks of 256 floats from src to Q8_K at
// dst, exactly as tensor.QuantizeActivations.
//
//go:noescape
func quantQ8KAVX2(dst *byte, src *float32, nb int)

func quantizeQ8K(dst []byte, src []float32) {
	nb := len(src) / tensor.QK_K
	if len(src)%tensor.QK_K != 0 || len(dst) != nb*292 {
		// Misuse: let the reference panic with its message.
		tensor.QuantizeActivations(tensor.Q8_K, dst, src)
		return
	}
	if nb > 0 {
		quantQ8KAVX2(&dst[0], &src[0], nb)
	}
}
