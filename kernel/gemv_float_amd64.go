//go:build amd64 && !purego

package kernel

import (
	"encoding/binary"
	"math"

	"zhiyan/tensor"
)

func init() {
	if !hasAVX2 {
		return
	}
	gemvKernels[tensor.F32] = gemvF32
	gemvKernels[tensor.F16] = gemvF16
	gemvKernels[tensor.BF16] = gemvBF16
	actQuantizers[tensor.F16] = quantizeActF16
}

// The assembly kernels compute out[i] = Σ_{j<n} w_i[j]·a[j] for rows
// consecutive weight rows w_i starting at w, rowBytes apart. n must be a
// multiple of 8; the Go wrappers add the last n%8 products. Each row sums in
// 16 float32 lanes (two 8-lane FMA accumulators, as ggml's AVX2 kernels do)
// that are added pairwise at the end; four rows are done together so that
// every activation load and conversion serves four weight rows.
//
//go:noescape
func gemvF32AVX2(out *float32, w *byte, rowBytes int, a *byte, rows, n int)

//go:noescape
func gemvF16AVX2(out *float32, w *byte, rowBytes int, a *byte, rows, n int)

//go:noescape
func gemvBF16AVX2(out *float32, w *byte, rowBytes int, a *byte, rows, n int)

// f16FromF32AVX2 converts n floats (a multiple of 8) to IEEE halves with
// VCVTPS2PH, rounding to nearest even.
//
//go:noescape
func f16FromF32AVX2(dst *byte, src *float32, n int)

// checkFloatGemv panics unless w holds len(out) rows of at least elemBytes·n bytes
// rowBytes apart and a holds n elements: the assembly trusts these sizes.
func checkFloatGemv(out []float32, w []byte, rowBytes int, a []byte, n, elemBytes int) {
	if n < 0 || rowBytes < elemBytes*n || len(a) < elemBytes*n ||
		len(out) > 0 && len(w) < (len(out)-1)*rowBytes+elemBytes*n {
		panic("kernel: gemv: weight or activation slice too short")
	}
}

// floatKernel is one float type's gemv: the assembly for the first n&^7
// elements of each row, and the element decoder for the rest.
type floatKernel struct {
	elemBytes int
	asm       func(out *float32, w *byte, rowBytes int, a *byte, rows, n int)
	at        func(b []byte, j int) float32
}

var (
	f32Kernel  = floatKernel{4, gemvF32AVX2, floatAt}
	f16Kernel  = floatKernel{2, gemvF16AVX2, func(b []byte, j int) float32 { return tensor.FP16ToFP32(halfAt(b, j)) }}
	bf16Kernel = floatKernel{2, gemvBF16AVX2, func(b []byte, j int) float32 { return tensor.BF16ToFP32(halfAt(b, j)) }}
)

func gemvF32(out []float32, w []byte, rowBytes int, a []byte, n int) {
	f32Kernel.gemv(out, w, rowBytes, a, n)
}

func gemvF16(out []float32, w []byte, rowBytes int, a []byte, n int) {
	f16Kernel.gemv(out, w, rowBytes, a, n)
}

func gemvBF16(out []float32, w []byte, rowBytes int, a []byte, n int) {
	bf16Kernel.gemv(out, w, rowBytes, a, n)
}

func (k *floatKernel) gemv(out []float32, w []byte, rowBytes int, a []byte, n int) {
	checkFloatGemv(out, w, rowBytes, a, n, k.elemBytes)
	if len(out) == 0 {
		return
	}
	n8 := n &^ 7
	if n8 == 0 {
		clear(out)
	} else {
		k.asm(&out[0], &w[0], rowBytes, &a[0], len(out), n8)
	}
	if n8 == n {
		return
	}
	for i := range out {
		row, s := w[i*rowBytes:], out[i]
		for j := n8; j < n; j++ {
			s += k.at(row, j) * k.at(a, j)
		}
		out[i] = s
	}
}

// quantizeActF16 is tensor.QuantizeActivations(tensor.F16, dst, src): F16C's
// round-to-nearest-even conversion gives the same bits as tensor.FP32ToFP16.
func quantizeActF16(dst []byte, src []float32) {
	if len(dst) != 2*len(src) {
		panic("kernel: quantizeActF16: dst must hold 2 bytes per element")
	}
	n8 := len(src) &^ 7
	if n8 > 0 {
		f16FromF32AVX2(&dst[0], &src[0], n8)
	}
	for j := n8; j < len(src); j++ {
		binary.LittleEndian.PutUint16(dst[2*j:], tensor.FP32ToFP16(src[j]))
	}
}

func floatAt(b []byte, j int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
}
func halfAt(b []byte, j int) uint16 { return binary.LittleEndian.Uint16(b[2*j:]) }
