package tensor

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"
)

// kernelTypes are the weight types VecDot supports.
var kernelTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// dotReference is the exact (float64) dot product of the decoded operands.
// For Q8_1 activations ggml uses the stored s (d·Σq rounded to fp16) in the
// min term instead of d·Σq; the reference adds that same difference so the
// comparison checks the integer paths, not ggml's approximation.
func dotReference(typ Type, n int, w, a []byte) (dot, scale float64) {
	wf, af := dequantize(typ, w, n), dequantize(typ.VecDotType(), a, n)
	bs := typ.BlockSize()
	for b := 0; b < n/bs; b++ {
		var wmax float64
		for _, v := range wf[b*bs : (b+1)*bs] {
			wmax = math.Max(wmax, math.Abs(float64(v)))
		}
		for k := b * bs; k < (b+1)*bs; k++ {
			dot += float64(wf[k]) * float64(af[k])
			// Bounds the partial terms ggml rounds, mins included.
			scale += (math.Abs(float64(wf[k])) + wmax) * math.Abs(float64(af[k]))
		}
	}
	if typ.VecDotType() == Q8_1 {
		wb := typ.BlockBytes()
		for b := 0; b < n/32; b++ {
			m := float64(f16At(w[wb*b+2:]))
			ab := a[36*b : 36*b+36]
			sum := 0
			for _, q := range ab[4:] {
				sum += int(int8(q))
			}
			dy, sy := float64(f16At(ab)), float64(f16At(ab[2:]))
			dot += m * (sy - dy*float64(sum))
		}
	}
	return dot, scale
}

// TestVecDot compares VecDot with the exact dot product of the dequantized
// operands, relative to scale (Σ (|w|+max|w| of the block)·|a|). Measured
// errors are below 1.1e-7 of scale (float32 rounding, largest where mins
// cancel); getting a single weight wrong costs about 1/(2n) ≈ 1.2e-4.
func TestVecDot(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const n = 16 * QK_K
	for _, typ := range kernelTypes {
		t.Run(typ.String(), func(t *testing.T) {
			const tol = 4e-6
			var worst float64
			for trial := 0; trial < 20; trial++ {
				w := quantize(t, typ, randNormal(r, n, 0.02))
				a := make([]byte, rowBytes(typ.VecDotType(), n))
				x := randNormal(r, n, 1)
				if trial%4 == 1 {
					for i := range x {
						x[i] = abs32(x[i]) // all-positive activations make mins matter
					}
				}
				QuantizeActivations(typ.VecDotType(), a, x)
				got := VecDot(typ, n, w, a)
				want, scale := dotReference(typ, n, w, a)
				rel := math.Abs(float64(got)-want) / scale
				worst = math.Max(worst, rel)
				if rel > tol {
					t.Errorf("trial %d: VecDot = %.9g, want %.9g (error %.3g of scale, tolerance %.3g)", trial, got, want, rel, tol)
				}
			}
			t.Logf("worst error %.3g of scale (tolerance %.3g)", worst, tol)
		})
	}
}

// TestVecDotOrder pins that block results are accumulated in float32, in
// block order, as ggml's C code does: block 0 contributes 2²⁴ and blocks 1
// and 2 contribute 1 each; 2²⁴+1 rounds back to 2²⁴ (ties to even) twice,
// where a float64 accumulator would give 2²⁴+2.
func TestVecDotOrder(t *testing.T) {
	w := make([]byte, 3*34)
	a := make([]byte, 3*34)
	binary.LittleEndian.PutUint16(w[0:], FP32ToFP16(64))
	binary.LittleEndian.PutUint16(a[0:], FP32ToFP16(64))
	w[2], a[2] = 64, 64 // 64·64·(64·64) = 2²⁴
	for b := 1; b < 3; b++ {
		binary.LittleEndian.PutUint16(w[34*b:], FP32ToFP16(1))
		binary.LittleEndian.PutUint16(a[34*b:], FP32ToFP16(1))
		w[34*b+2], a[34*b+2] = 1, 1
	}
	if got, want := VecDot(Q8_0, 96, w, a), float32(1<<24); got != want {
		t.Errorf("VecDot(Q8_0) = %.1f, want %.1f", got, want)
	}
}

// TestVecDotLongSlices checks that only the first n elements are used.
func TestVecDotLongSlices(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, typ := range kernelTypes {
		w := quantize(t, typ, randNormal(r, 2*QK_K, 1))
		a := make([]byte, rowBytes(typ.VecDotType(), 2*QK_K))
		QuantizeActivations(typ.VecDotType(), a, randNormal(r, 2*QK_K, 1))
		half := rowBytes(typ, QK_K)
		if got, want := VecDot(typ, QK_K, w, a), VecDot(typ, QK_K, w[:half], a[:rowBytes(typ.VecDotType(), QK_K)]); got != want {
			t.Errorf("%s: VecDot over long slices = %g, over exact slices %g", typ, got, want)
		}
	}
}
