//go:build amd64 && !purego

package kernel

import (
	"unsafe"

	"zhiyan/tensor"
)

func init() {
	if !hasAVX2 {
		return
	}
	gemmKernels[tensor.F32] = gemmF32
	gemmKernels[tensor.F16] = gemmF16
	gemmKernels[tensor.BF16] = gemmBF16
}

// The assembly kernels of gemm_float_amd64.s: out[t*outStride+i] (plus its
// old value when acc is -1) = Σ_{j<k} w_i[j]·a_t[j] for the float32 weight
// rows w_i (4 for x4, 1 for x1; wStride bytes apart) and T activation rows
// a_t (actStride bytes apart, in the format of the name). k is a positive
// multiple of 8. Each (row, token) sums in one 8-lane FMA accumulator.
//
//go:noescape
func gemmF32x4AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

//go:noescape
func gemmF32x1AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

//go:noescape
func gemmF16x4AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

//go:noescape
func gemmF16x1AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

//go:noescape
func gemmBF16x4AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

//go:noescape
func gemmBF16x1AVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)

// f16ToF32AVX2 and bf16ToF32AVX2 widen n halves (a multiple of 8) at src to
// float32 at dst.
//
//go:noescape
func f16ToF32AVX2(dst *float32, src *byte, n int)

//go:noescape
func bf16ToF32AVX2(dst *float32, src *byte, n int)

// floatGemmKC is the most elements of a row one pass of the kernels takes,
// so a panel of 4 float32 rows (16 KiB) stays in L1 while tokens run over it.
// Longer rows are done in chunks whose sums are added to out.
const floatGemmKC = 1024

// floatGemmActBytes bounds the activation bytes (of one chunk) that the
// panels run over in turn, so they stay in L2 however many tokens there are:
// without it, 512 F32 tokens of 4864 columns ran at 60% of the speed of 128.
const floatGemmActBytes = 256 << 10

func gemmF32(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	gemmFloat(tensor.F32, out, outStride, w, rowBytes, rows, a, actStride, T, n)
}

func gemmF16(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	gemmFloat(tensor.F16, out, outStride, w, rowBytes, rows, a, actStride, T, n)
}

func gemmBF16(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	gemmFloat(tensor.BF16, out, outStride, w, rowBytes, rows, a, actStride, T, n)
}

// gemmFloat is the gemmFunc of the float types. For each chunk of columns
// and block of tokens it walks the weights in panels of 4 rows and runs the
// tokens over each panel with a 4-row × 3-token register tile. F16 and BF16
// panels are widened to float32 first (4·kc conversions reused by every
// token), leaving the inner loop one conversion per activation vector per 4
// rows: about 25% faster than converting the weights there too. Rows past a
// multiple of 4 take a 1-row kernel; the last n%8 elements are added in Go.
// Every (row, token) sums in the same order whatever the tile, so results do
// not depend on how callers split rows or tokens.
func gemmFloat(typ tensor.Type, out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	elem := 2
	if typ == tensor.F32 {
		elem = 4
	}
	checkFloatGemm(out, outStride, w, rowBytes, rows, a, actStride, T, n, elem)
	if rows == 0 || T == 0 {
		return
	}
	n8 := n &^ 7
	var panel [4 * floatGemmKC]float32 // widened F16/BF16 weights
	for k0 := 0; k0 < n8; k0 += floatGemmKC {
		kc := min(floatGemmKC, n8-k0)
		acc := 0
		if k0 > 0 {
			acc = -1
		}
		tb := max(3, floatGemmActBytes/(elem*kc)/3*3)
		for t0 := 0; t0 < T; t0 += tb {
			nt := min(tb, T-t0)
			ap, op := &a[t0*actStride+elem*k0], out[t0*outStride:]
			for r0 := 0; r0 < rows; r0 += 4 {
				nr := min(4, rows-r0)
				wp, ws := &w[r0*rowBytes+elem*k0], rowBytes
				if typ != tensor.F32 {
					for r := range nr {
						src := &w[(r0+r)*rowBytes+elem*k0]
						if typ == tensor.F16 {
							f16ToF32AVX2(&panel[r*kc], src, kc)
						} else {
							bf16ToF32AVX2(&panel[r*kc], src, kc)
						}
					}
					wp, ws = (*byte)(unsafe.Pointer(&panel[0])), 4*kc
				}
				if nr == 4 {
					gemmFloatTile4(typ, &op[r0], outStride, wp, ws, ap, actStride, nt, kc, acc)
					continue
				}
				for r := range nr {
					wr := (*byte)(unsafe.Add(unsafe.Pointer(wp), r*ws))
					gemmFloatTile1(typ, &op[r0+r], outStride, wr, ap, actStride, nt, kc, acc)
				}
			}
		}
	}
	if n8 < n || n8 == 0 {
		gemmFloatTail(typ, out, outStride, w, rowBytes, rows, a, actStride, T, n8, n)
	}
}

func gemmFloatTile4(typ tensor.Type, out *float32, outStride int, w *byte, ws int, a *byte, actStride, T, k, acc int) {
	switch typ {
	case tensor.F32:
		gemmF32x4AVX2(out, outStride, w, ws, a, actStride, T, k, acc)
	case tensor.F16:
		gemmF16x4AVX2(out, outStride, w, ws, a, actStride, T, k, acc)
	default:
		gemmBF16x4AVX2(out, outStride, w, ws, a, actStride, T, k, acc)
	}
}

func gemmFloatTile1(typ tensor.Type, out *float32, outStride int, w *byte, a *byte, actStride, T, k, acc int) {
	switch typ {
	case tensor.F32:
		gemmF32x1AVX2(out, outStride, w, 0, a, actStride, T, k, acc)
	case tensor.F16:
		gemmF16x1AVX2(out, outStride, w, 0, a, actStride, T, k, acc)
	default:
		gemmBF16x1AVX2(out, outStride, w, 0, a, actStride, T, k, acc)
	}
}

// gemmFloatTail adds the products of elements n8..n-1 (fewer than 8) to out,
// which holds the sums of the first n8 or, when n8 is 0, nothing yet.
func gemmFloatTail(typ tensor.Type, out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n8, n int) {
	elem := func(b []byte, j int) float32 {
		switch typ {
		case tensor.F32:
			return floatAt(b, j)
		case tensor.F16:
			return tensor.FP16ToFP32(halfAt(b, j))
		}
		return tensor.BF16ToFP32(halfAt(b, j))
	}
	for t := range T {
		at := a[t*actStride:]
		o := out[t*outStride : t*outStride+rows]
		for i := range o {
			wi := w[i*rowBytes:]
			var s float32
			if n8 > 0 {
				s = o[i]
			}
			for j := n8; j < n; j++ {
				s += elem(wi, j) * elem(at, j)
			}
			o[i] = s
		}
	}
}

// checkFloatGemm panics unless the slices hold what gemmFunc's arguments
// describe for elemBytes-byte elements: the assembly trusts these sizes.
func checkFloatGemm(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n, elemBytes int) {
	if rows < 0 || T < 0 || n < 0 || rowBytes < elemBytes*n || actStride < elemBytes*n || outStride < rows {
		panic("kernel: gemm: bad shape")
	}
	if rows == 0 || T == 0 {
		return
	}
	if len(w) < (rows-1)*rowBytes+elemBytes*n || len(a) < (T-1)*actStride+elemBytes*n ||
		len(out) < (T-1)*outStride+rows {
		panic("kernel: gemm: weight, activation or output slice too short")
	}
}
