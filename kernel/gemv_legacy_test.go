package kernel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

var legacyTypes = []tensor.Type{tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1}

// lgFloats makes n floats whose 32-element blocks vary in kind: N(0,1), all
// zeros, large, all negative, tiny (fp16 subnormal scales), one spike among
// small values, and mixed magnitudes.
func lgFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for b := 0; b < n/32; b++ {
		blk := x[32*b : 32*b+32]
		kind := rng.IntN(8)
		for j := range blk {
			v := float32(rng.NormFloat64())
			switch kind {
			case 1:
				v = 0
			case 2:
				v *= 3000
			case 3:
				v = -float32(math.Abs(float64(v)))
			case 4:
				v *= 1e-5
			case 5:
				if j == 7 {
					v = 50
				} else {
					v *= 0.01
				}
			case 6:
				v *= float32(math.Pow(10, float64(rng.IntN(7)-3)))
			}
			blk[j] = v
		}
	}
	return x
}

// lgWeights makes rows weight rows of n elements, rowBytes apart. With raw
// set, the quant bytes are uniformly random (Q8_0 then includes −128, which
// no reference quantizer writes but a file may hold) under random finite
// fp16 scales; otherwise rows are tensor.Quantize of lgFloats.
func lgWeights(rng *rand.Rand, typ tensor.Type, rows, n, rowBytes int, raw bool) []byte {
	w := make([]byte, rows*rowBytes)
	rb, _ := typ.RowBytes(n)
	for r := range rows {
		row := w[r*rowBytes : r*rowBytes+rb]
		if !raw {
			if err := tensor.Quantize(typ, row, lgFloats(rng, n)); err != nil {
				panic(err)
			}
			continue
		}
		for i := range row {
			row[i] = byte(rng.Uint32())
		}
		bb := typ.BlockBytes()
		for b := 0; b < n/32; b++ {
			scales := 1 // d
			if typ == tensor.Q4_1 || typ == tensor.Q5_1 {
				scales = 2 // d, m
			}
			for s := range scales {
				f := float32(rng.NormFloat64() * 0.05)
				binary.LittleEndian.PutUint16(row[b*bb+2*s:], tensor.FP32ToFP16(f))
			}
		}
	}
	return w
}

// lgBlockParts returns a legacy block's scale d, offset m (Q4_1, Q5_1; else 0)
// and signed quants as the dot product uses them, decoding a copy of the
// block whose d is set to 1 and m to 0.
func lgBlockParts(typ tensor.Type, blk []byte) (d, m float64, q [32]float64) {
	c := append([]byte(nil), blk...)
	d = float64(tensor.FP16ToFP32(binary.LittleEndian.Uint16(c)))
	binary.LittleEndian.PutUint16(c, 0x3c00)
	if typ == tensor.Q4_1 || typ == tensor.Q5_1 {
		m = float64(tensor.FP16ToFP32(binary.LittleEndian.Uint16(c[2:])))
		binary.LittleEndian.PutUint16(c[2:], 0)
	}
	var f [32]float32
	tensor.Dequantize(typ, f[:], c)
	for j, v := range f {
		q[j] = float64(v)
	}
	return d, m, q
}

// lgMagnitude is Σ over blocks of |d_w·d_a|·Σ|q_w·q_a| + |m_w·s_a|: the sum
// of the magnitudes of every term either implementation adds.
func lgMagnitude(typ tensor.Type, w, a []byte, n int) float64 {
	at := typ.VecDotType()
	wb, ab := typ.BlockBytes(), at.BlockBytes()
	var sum float64
	for b := 0; b < n/32; b++ {
		dw, mw, qw := lgBlockParts(typ, w[b*wb:(b+1)*wb])
		_, _, qa := lgBlockParts(at, a[b*ab:(b+1)*ab])
		da := float64(tensor.FP16ToFP32(binary.LittleEndian.Uint16(a[b*ab:])))
		var s float64
		for j := range qw {
			s += math.Abs(qw[j] * qa[j])
		}
		sum += math.Abs(dw*da) * s
		if at == tensor.Q8_1 {
			sum += math.Abs(mw * float64(tensor.FP16ToFP32(binary.LittleEndian.Uint16(a[b*ab+2:]))))
		}
	}
	return sum
}

// TestGemvLegacy checks the registered gemv kernel of each legacy type
// against tensor.VecDot. Both compute each block's integer dot product
// exactly; they differ only in how the float32 terms are added. VecDot adds
// nb (Q4_1, Q5_1: 2·nb) terms, each within 2u of exact, one after another;
// the kernel adds nb terms (each half of a block's sum times d_w·d_a, within
// 2u) by FMA in each of two lanes, Q4_1 and Q5_1 nb offset terms in a third,
// and adds the lanes. By the standard bound for recursive summation both lie
// within (2·nb+4)·u·M of the exact value, M being the sum of the terms'
// magnitudes (lgMagnitude), so |got − want| ≤ (4·nb+16)·u·M with u = 2⁻²⁴.
// One wrong element, block or row is far larger.
func TestGemvLegacy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, typ := range legacyTypes {
		if gemvKernels[typ] == nil {
			t.Logf("%s: no fast kernel registered", typ)
			continue
		}
		// 32·513 columns is one block more than the Q5_0 table kernel takes.
		for _, n := range []int{32, 64, 96, 896, 2048, 4864, 32 * 513} {
			for _, rows := range []int{1, 2, 3, 4, 5, 7, 9} {
				for _, pad := range []int{0, 10} {
					for _, raw := range []bool{false, true} {
						name := fmt.Sprintf("%s/n=%d/rows=%d/pad=%d/raw=%v", typ, n, rows, pad, raw)
						t.Run(name, func(t *testing.T) {
							checkGemvLegacy(t, rng, typ, n, rows, pad, raw)
						})
					}
				}
			}
		}
	}
}

func checkGemvLegacy(t *testing.T, rng *rand.Rand, typ tensor.Type, n, rows, pad int, raw bool) {
	rb, _ := typ.RowBytes(n)
	stride := rb + pad
	w := lgWeights(rng, typ, rows, n, stride, raw)
	at := typ.VecDotType()
	ab, _ := at.RowBytes(n)
	a := make([]byte, ab)
	tensor.QuantizeActivations(at, a, lgFloats(rng, n))

	out := make([]float32, rows)
	for i := range out {
		out[i] = float32(math.NaN()) // must be overwritten
	}
	gemvKernels[typ](out, w[:(rows-1)*stride+rb], stride, a, n)

	const u = 1.0 / (1 << 24)
	for i, got := range out {
		row := w[i*stride : i*stride+rb]
		want := tensor.VecDot(typ, n, row, a)
		tol := float64(4*(n/32)+16) * u * lgMagnitude(typ, row, a, n)
		if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
			t.Errorf("row %d: got %g, want %g (diff %g > tol %g)", i, got, want, d, tol)
		}
	}
}

// TestGemvLegacyRowIndependent checks that a row's result is bit-for-bit the
// same whether it is computed alone or among others, so MatMul's results do
// not depend on how rows are split across threads.
func TestGemvLegacyRowIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, n = 11, 896
	for _, typ := range legacyTypes {
		f := gemvKernels[typ]
		if f == nil {
			continue
		}
		rb, _ := typ.RowBytes(n)
		w := lgWeights(rng, typ, rows, n, rb, false)
		ab, _ := typ.VecDotType().RowBytes(n)
		a := make([]byte, ab)
		tensor.QuantizeActivations(typ.VecDotType(), a, lgFloats(rng, n))
		all := make([]float32, rows)
		f(all, w, rb, a, n)
		for i := range rows {
			var one [1]float32
			f(one[:], w[i*rb:(i+1)*rb], rb, a, n)
			if math.Float32bits(one[0]) != math.Float32bits(all[i]) {
				t.Errorf("%s row %d: alone %g, among %d rows %g", typ, i, one[0], rows, all[i])
			}
		}
	}
}

func TestGemvLegacyZeroLength(t *testing.T) {
	for _, typ := range legacyTypes {
		f := gemvKernels[typ]
		if f == nil {
			continue
		}
		out := []float32{1, 2, 3}
		f(out, nil, 0, nil, 0)
		if out[0] != 0 || out[1] != 0 || out[2] != 0 {
			t.Errorf("%s: n=0 gave %v, want zeros", typ, out)
		}
		f(nil, nil, 0, nil, 64) // no rows: nothing to do
	}
}

func TestGemvLegacyPanicsOnShortSlices(t *testing.T) {
	for _, typ := range legacyTypes {
		f := gemvKernels[typ]
		if f == nil {
			continue
		}
		rb, _ := typ.RowBytes(64)
		ab, _ := typ.VecDotType().RowBytes(64)
		cases := []struct {
			name      string
			w, a      []byte
			rowBytes  int
			rows, n   int
			wantPanic bool
		}{
			{"ok", make([]byte, 3*rb), make([]byte, ab), rb, 3, 64, false},
			{"short weights", make([]byte, 3*rb-1), make([]byte, ab), rb, 3, 64, true},
			{"short activations", make([]byte, 3*rb), make([]byte, ab-1), rb, 3, 64, true},
			{"stride below row size", make([]byte, 3*rb), make([]byte, ab), rb - 1, 3, 64, true},
			{"partial block", make([]byte, 3*rb), make([]byte, ab), rb, 3, 48, true},
		}
		for _, c := range cases {
			func() {
				defer func() {
					if got := recover() != nil; got != c.wantPanic {
						t.Errorf("%s %s: panicked = %v, want %v", typ, c.name, got, c.wantPanic)
					}
				}()
				f(make([]float32, c.rows), c.w, c.rowBytes, c.a, c.n)
			}()
		}
	}
}

// lgQuantInputs are activation rows for the quantizer tests: the lgFloats
// mix plus blocks made to hit rounding ties (amax = 127 gives id = 1, so
// k+0.5 must round to even), amax near fp16 overflow and underflow, and
// amax so small that 127/amax overflows to +Inf.
func lgQuantInputs(rng *rand.Rand) map[string][]float32 {
	ties := make([]float32, 64)
	for j := range ties {
		ties[j] = float32(j%32-16) + 0.5
	}
	ties[0], ties[32] = 127, -127
	scaled := func(s float32) []float32 {
		x := lgFloats(rng, 96)
		for j := range x {
			x[j] *= s
		}
		return x
	}
	return map[string][]float32{
		"one block":   lgFloats(rng, 32),
		"896":         lgFloats(rng, 896),
		"4864":        lgFloats(rng, 4864),
		"ties":        ties,
		"zeros":       make([]float32, 64),
		"huge":        scaled(1e6),  // d overflows fp16 to +Inf
		"fp16 limit":  scaled(2000), // d near the largest half
		"small":       scaled(1e-9), // d an fp16 subnormal or 0
		"inf id":      scaled(1e-38),
		"denormals":   scaled(1e-42),
		"single tiny": {1e-40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -3e-41},
	}
}

// TestQuantizeActivationsLegacy demands bit-identical output to
// tensor.QuantizeActivations for Q8_0 and Q8_1.
func TestQuantizeActivationsLegacy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q8_1} {
		f := actQuantizers[typ]
		if f == nil {
			t.Logf("%s: no fast quantizer registered", typ)
			continue
		}
		for name, src := range lgQuantInputs(rng) {
			t.Run(fmt.Sprintf("%s/%s", typ, name), func(t *testing.T) {
				nb, _ := typ.RowBytes(len(src))
				want := make([]byte, nb)
				tensor.QuantizeActivations(typ, want, src)
				got := make([]byte, nb)
				f(got, src)
				if !bytes.Equal(got, want) {
					bb := typ.BlockBytes()
					for b := 0; b < len(src)/32; b++ {
						if g, w := got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb]; !bytes.Equal(g, w) {
							t.Fatalf("block %d of %v\ngot  % x\nwant % x", b, src[32*b:32*b+32], g, w)
						}
					}
				}
			})
		}
	}
}

func TestQuantizeActivationsLegacyPanics(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q8_1} {
		f := actQuantizers[typ]
		if f == nil {
			continue
		}
		for _, c := range []struct {
			name     string
			dst, src int
		}{{"partial block", 2 * typ.BlockBytes(), 48}, {"short dst", typ.BlockBytes() - 1, 32}, {"long dst", typ.BlockBytes() + 1, 32}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s %s: no panic", typ, c.name)
					}
				}()
				f(make([]byte, c.dst), make([]float32, c.src))
			}()
		}
	}
}
