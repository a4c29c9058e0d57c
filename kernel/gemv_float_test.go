package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// floatRows makes rows×n weights whose rows exercise different ranges: plain
// N(0,1), all zeros, large, negative, tiny (F16 subnormals) and mixed signs
// of very different magnitudes.
func floatRows(rng *rand.Rand, rows, n int) []float32 {
	w := make([]float32, rows*n)
	for r := range rows {
		row := w[r*n : (r+1)*n]
		for j := range row {
			v := float32(rng.NormFloat64())
			switch r % 6 {
			case 1:
				v = 0
			case 2:
				v *= 1000
			case 3:
				v = -float32(math.Abs(float64(v)))
			case 4:
				v *= 1e-6 // F16 subnormal range
			case 5:
				v *= float32(math.Pow(10, float64(rng.IntN(7)-3)))
			}
			row[j] = v
		}
	}
	return w
}

// TestGemvFloat checks the registered gemv kernel of each float type against
// tensor.VecDot. The fast kernels sum in float32 lanes with FMA while VecDot
// sums float32 products in float64, so they may differ by float32 rounding:
// with chains of about n/16 additions per lane, 4 levels of pairwise lane
// reduction and at most 7 tail additions, the standard bound for recursive
// summation gives |got − exact| ≤ (n/16+12)·u·Σ|w·a| (u = 2⁻²⁴), and VecDot
// is within 2u·Σ|w·a| of exact. A wrong element, row or lane costs far more.
func TestGemvFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		for _, n := range []int{1, 7, 8, 9, 16, 24, 31, 40, 896, 2048, 4864, 4867} {
			for _, rows := range []int{1, 2, 3, 4, 5, 7, 9} {
				for _, pad := range []int{0, 6} {
					t.Run(fmt.Sprintf("%s/n=%d/rows=%d/pad=%d", typ, n, rows, pad), func(t *testing.T) {
						checkGemvFloat(t, rng, typ, n, rows, pad)
					})
				}
			}
		}
	}
}

func checkGemvFloat(t *testing.T, rng *rand.Rand, typ tensor.Type, n, rows, pad int) {
	rowBytes, err := typ.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	stride := rowBytes + pad
	wf := floatRows(rng, rows, n)
	w := make([]byte, (rows-1)*stride+rowBytes)
	for r := range rows {
		if err := tensor.Quantize(typ, w[r*stride:r*stride+rowBytes], wf[r*n:(r+1)*n]); err != nil {
			t.Fatal(err)
		}
	}
	x := make([]float32, n)
	for j := range x {
		x[j] = float32(rng.NormFloat64())
	}
	a := make([]byte, rowBytes)
	tensor.QuantizeActivations(typ, a, x)
	wd, ad := make([]float32, n), make([]float32, n)
	tensor.Dequantize(typ, ad, a)

	out := make([]float32, rows)
	for i := range out {
		out[i] = float32(math.NaN()) // the kernel must overwrite, not add
	}
	gemv(typ)(out, w, stride, a, n)
	for r := range rows {
		row := w[r*stride : r*stride+rowBytes]
		tensor.Dequantize(typ, wd, row)
		var abs float64
		for j := range wd {
			abs += math.Abs(float64(wd[j]) * float64(ad[j]))
		}
		want := tensor.VecDot(typ, n, row, a)
		tol := float64(n/16+14) * 0x1p-24 * abs
		if diff := math.Abs(float64(out[r]) - float64(want)); !(diff <= tol) {
			t.Errorf("row %d = %g, want %g (diff %.3g > tol %.3g)", r, out[r], want, diff, tol)
		}
	}
}

// TestQuantizeActivationsF16 checks the registered F16 activation converter
// bit for bit against tensor.QuantizeActivations on special values, every
// sign/exponent/top-mantissa pattern with the rounding-relevant low bits set
// to ties and near-ties, and a strided sweep of all float32 bit patterns.
func TestQuantizeActivationsF16(t *testing.T) {
	var bits []uint32
	for _, f := range []float32{0, float32(math.Copysign(0, -1)), 1, -1, 65504, 65519.996, 65520, -65520, 1e-8, 2.98e-8, 2.99e-8, 5.96e-8, 6.1e-5, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		bits = append(bits, math.Float32bits(f))
	}
	bits = append(bits, 0x7f800001, 0xffc00001, 0x7fbfffff, 0x00000001, 0x807fffff)
	rng := rand.New(rand.NewPCG(3, 4))
	for hi := uint32(0); hi < 1<<19; hi++ {
		for _, lo := range []uint32{0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, rng.Uint32() & 0x1fff} {
			bits = append(bits, hi<<13|lo)
		}
	}
	for b := uint64(12345); b < 1<<32; b += 1021 {
		bits = append(bits, uint32(b))
	}
	bits = append(bits, 0x3f800000, 0xbf800000, 0x7f7fffff) // a tail that is not a multiple of 8
	src := make([]float32, len(bits))
	for i, b := range bits {
		src[i] = math.Float32frombits(b)
	}
	got, want := make([]byte, 2*len(src)), make([]byte, 2*len(src))
	quantizeActivations(tensor.F16, got, src)
	tensor.QuantizeActivations(tensor.F16, want, src)
	bad := 0
	for i := range src {
		g, w := binary.LittleEndian.Uint16(got[2*i:]), binary.LittleEndian.Uint16(want[2*i:])
		if g != w {
			if bad++; bad <= 10 {
				t.Errorf("F16(%#08x) = %#04x, want %#04x", bits[i], g, w)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d of %d conversions differ", bad, len(src))
	}
}
