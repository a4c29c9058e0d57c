package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// kqTypes are the K-quant weight types; their activations are Q8_K.
var kqTypes = []tensor.Type{tensor.Q2_K, tensor.Q3_K, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K}

// kqScaleOffsets gives, per K-quant type, the byte offsets in a super-block
// of its fp16 super-scale d and (for types with mins) dmin, or -1.
var kqScaleOffsets = map[tensor.Type][2]int{
	tensor.Q2_K: {80, 82},
	tensor.Q3_K: {108, -1},
	tensor.Q4_K: {0, 2},
	tensor.Q5_K: {0, 2},
	tensor.Q6_K: {208, -1},
}

// kqFloats makes n floats in 256-element blocks of varied kinds: normal at
// several scales, all zero, large, all negative, positive with an offset
// (Q4_K/Q5_K/Q2_K mins), and small noise with one outlier.
func kqFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for b := 0; b < n; b += tensor.QK_K {
		kind := rng.IntN(7)
		blk := x[b : b+tensor.QK_K]
		for j := range blk {
			v := float32(rng.NormFloat64())
			switch kind {
			case 0:
				v *= 0.02
			case 1:
				v = 0
			case 2:
				v *= 3000
			case 3:
				v = -float32(math.Abs(float64(v)))
			case 4:
				v = 5 + float32(math.Abs(float64(v)))
			case 5:
				v *= 1e-3
				if j == 77 {
					v = -40
				}
			}
			blk[j] = v
		}
	}
	return x
}

// kqWeights makes rows weight rows of type typ, rowBytes apart. Even rows are
// tensor.Quantize of kqFloats; odd rows are random bytes with finite fp16
// super-scales, which reach every scale and quant bit pattern (Q6_K scale
// −128, Q4_K 6-bit scales of 63, …) that the quantizer may not produce.
func kqWeights(rng *rand.Rand, typ tensor.Type, rows, n, rowBytes int) []byte {
	w := make([]byte, rows*rowBytes)
	nb, bb := n/tensor.QK_K, typ.BlockBytes()
	for r := range rows {
		row := w[r*rowBytes : r*rowBytes+nb*bb]
		if r%2 == 0 {
			if err := tensor.Quantize(typ, row, kqFloats(rng, n)); err != nil {
				panic(err)
			}
			continue
		}
		for i := range row {
			row[i] = byte(rng.Uint32())
		}
		for b := range nb {
			for _, off := range kqScaleOffsets[typ] {
				if off >= 0 {
					h := tensor.FP32ToFP16(float32(rng.NormFloat64()) * 0.01)
					binary.LittleEndian.PutUint16(row[b*bb+off:], h)
				}
			}
		}
	}
	return w
}

// kqMagnitude is Σ|w_i·a_i| over the row with the scale and the min part of
// each weight counted separately (w = d·sc·q − dmin·m): it bounds every
// partial sum either kernel rounds.
func kqMagnitude(typ tensor.Type, row, a []byte, n int) float64 {
	af := make([]float32, n)
	tensor.Dequantize(tensor.Q8_K, af, a[:n/tensor.QK_K*292])
	row = row[:n/tensor.QK_K*typ.BlockBytes()]
	var s float64
	for part := range 2 {
		offs := kqScaleOffsets[typ]
		if offs[1] < 0 && part == 1 {
			break
		}
		r := append([]byte(nil), row...)
		for b := 0; b < len(r); b += typ.BlockBytes() {
			if offs[1] >= 0 {
				// part 0 keeps d only, part 1 dmin only.
				binary.LittleEndian.PutUint16(r[b+offs[1-part]:], 0)
			}
		}
		wf := make([]float32, n)
		tensor.Dequantize(typ, wf, r)
		for i := range wf {
			s += math.Abs(float64(wf[i]) * float64(af[i]))
		}
	}
	return s
}

// TestGemvKQuant checks the registered gemv kernel of each K-quant type
// against tensor.VecDot. Both compute each super-block's integer sums
// exactly; they differ only in how float32 roundings happen: the int→float
// conversion of lane sums (|sum| may exceed 2²⁴), the product with d·y.d, and
// the accumulation over nb blocks and 8 lanes. Every rounded value is bounded
// by M = Σ|w·a| (scale and min parts counted apart, see kqMagnitude), so each
// side is within about (nb+6)·u·M of the exact value (u = 2⁻²⁴); the test
// allows twice that. A single wrong quant costs about M/n, far above it for
// the n used here.
func TestGemvKQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, typ := range kqTypes {
		for _, n := range []int{256, 512, 2048, 4864} {
			for _, rows := range []int{1, 2, 3, 5, 7, 9} {
				for _, pad := range []int{0, 7} {
					t.Run(fmt.Sprintf("%s/n=%d/rows=%d/pad=%d", typ, n, rows, pad), func(t *testing.T) {
						checkGemvKQuant(t, rng, typ, n, rows, pad)
					})
				}
			}
		}
	}
}

func checkGemvKQuant(t *testing.T, rng *rand.Rand, typ tensor.Type, n, rows, pad int) {
	rb, err := typ.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	rb += pad
	w := kqWeights(rng, typ, rows, n, rb)
	a := make([]byte, n/tensor.QK_K*292)
	quantizeActivations(tensor.Q8_K, a, kqFloats(rng, n))
	got := make([]float32, rows)
	gemv(typ)(got, w, rb, a, n)
	nb := float64(n / tensor.QK_K)
	for r := range rows {
		row := w[r*rb : (r+1)*rb]
		want := tensor.VecDot(typ, n, row, a)
		tol := 2 * (nb + 6) * 0x1p-24 * kqMagnitude(typ, row, a, n)
		if d := math.Abs(float64(got[r]) - float64(want)); !(d <= tol) {
			t.Errorf("row %d = %g, want %g (|diff| %g > tol %g)", r, got[r], want, d, tol)
		}
	}
}

// TestGemvKQuantRowIndependent checks that a row's result is bit-for-bit
// the same whether it is computed alone or among others (the kernels work
// on groups of rows), so MatMul's results do not depend on how rows are
// split across threads.
func TestGemvKQuantRowIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const rows, n = 11, 1024
	for _, typ := range kqTypes {
		rb, _ := typ.RowBytes(n)
		w := kqWeights(rng, typ, rows, n, rb)
		a := make([]byte, n/tensor.QK_K*292)
		quantizeActivations(tensor.Q8_K, a, kqFloats(rng, n))
		all := make([]float32, rows)
		gemv(typ)(all, w, rb, a, n)
		for i := range rows {
			var one [1]float32
			gemv(typ)(one[:], w[i*rb:(i+1)*rb], rb, a, n)
			if math.Float32bits(one[0]) != math.Float32bits(all[i]) {
				t.Errorf("%s row %d: alone %g, among %d rows %g", typ, i, one[0], rows, all[i])
			}
		}
	}
}

// TestQuantizeActivationsQ8K checks that the registered Q8_K activation
// quantizer writes the same bytes as tensor.QuantizeActivations, on blocks
// that probe each step: ties for the largest |x| in either order, NaNs and
// infinities, subnormals (whose −127/max overflows to −Inf), values that
// round at exactly .5, and all-zero blocks.
func TestQuantizeActivationsQ8K(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	special := []struct {
		name string
		set  func(x []float32)
	}{
		{"normal", func(x []float32) {}},
		{"zero", func(x []float32) { clear(x) }},
		{"negzero", func(x []float32) { clear(x); x[3] = float32(math.Copysign(0, -1)) }},
		{"tie+-", func(x []float32) { x[10], x[200] = 9, -9 }},
		{"tie-+", func(x []float32) { x[10], x[200] = -9, 9 }},
		{"tie same", func(x []float32) { x[31], x[32] = -9, -9 }},
		{"last", func(x []float32) { x[255] = -20 }},
		{"nan", func(x []float32) { x[5], x[100] = nan, -20 }},
		{"all nan", func(x []float32) {
			for i := range x {
				x[i] = nan
			}
		}},
		{"inf", func(x []float32) { x[7] = -inf }},
		{"inf nan", func(x []float32) { x[7], x[8] = inf, nan }},
		{"subnormal", func(x []float32) {
			for i := range x {
				x[i] *= 1e-40
			}
		}},
		{"halves", func(x []float32) {
			// iscale = −1, so x = k + 0.5 lands exactly on a rounding tie.
			for i := range x {
				x[i] = float32(rng.IntN(254)-127) + 0.5
			}
			x[0] = 127
		}},
		{"huge", func(x []float32) {
			for i := range x {
				x[i] *= 3e37
			}
		}},
	}
	for _, c := range special {
		for _, n := range []int{256, 512, 4864} {
			x := randFloats(rng, n, 1)
			for b := 0; b < n; b += tensor.QK_K {
				if b/tensor.QK_K%2 == 0 || n == 256 {
					c.set(x[b : b+tensor.QK_K])
				}
			}
			got := make([]byte, n/tensor.QK_K*292)
			want := make([]byte, len(got))
			for i := range got {
				got[i] = 0xAA // catch unwritten bytes
			}
			quantizeActivations(tensor.Q8_K, got, x)
			tensor.QuantizeActivations(tensor.Q8_K, want, x)
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s n=%d: byte %d (block %d offset %d) = %#x, want %#x", c.name, n, i, i/292, i%292, got[i], want[i])
					break
				}
			}
		}
	}
}

// TestGemvKQuantMisuse checks that sizes the assembly would overrun panic
// instead, as the reference does.
func TestGemvKQuantMisuse(t *testing.T) {
	const n = 512
	for _, typ := range kqTypes {
		rb, _ := typ.RowBytes(n)
		a := make([]byte, n/tensor.QK_K*292)
		cases := []struct {
			name string
			call func()
		}{
			{"short weights", func() { gemv(typ)(make([]float32, 2), make([]byte, 2*rb-1), rb, a, n) }},
			{"short activations", func() { gemv(typ)(make([]float32, 1), make([]byte, rb), rb, a[:len(a)-1], n) }},
			{"partial block", func() { gemv(typ)(make([]float32, 1), make([]byte, rb), rb, a, n-32) }},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", typ, c.name), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Error("no panic")
					}
				}()
				c.call()
			})
		}
	}
}
