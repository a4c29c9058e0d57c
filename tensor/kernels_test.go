package tensor

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// quantTypes are the types Quantize produces.
var quantTypes = []Type{F32, F16, BF16, Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K}

func randNormal(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * scale
	}
	return x
}

func quantize(t testing.TB, typ Type, x []float32) []byte {
	t.Helper()
	nb, err := typ.RowBytes(len(x))
	if err != nil {
		t.Fatal(err)
	}
	q := make([]byte, nb)
	if err := Quantize(typ, q, x); err != nil {
		t.Fatal(err)
	}
	return q
}

func dequantize(typ Type, q []byte, n int) []float32 {
	y := make([]float32, n)
	Dequantize(typ, y, q)
	return y
}

// maxRelRMSE bounds RMS(Dequantize(Quantize(x)) − x) / RMS(x) for Gaussian x.
// Measured values (seed 1) are 80% of these.
var maxRelRMSE = map[Type]float64{
	F32:  0,
	F16:  2.6e-4, // measured 2.1e-4
	BF16: 2.1e-3, // 1.7e-3
	Q8_0: 6.6e-3, // 5.3e-3
	Q8_1: 6.6e-3, // 5.3e-3
	Q8_K: 8.6e-3, // 6.9e-3
	Q6_K: 2.2e-2, // 1.75e-2
	Q5_0: 5.3e-2, // 4.2e-2
	Q5_1: 4.7e-2, // 3.8e-2
	Q5_K: 4.5e-2, // 3.6e-2
	Q4_0: 0.105,  // 0.085
	Q4_1: 0.097,  // 0.078
	Q4_K: 0.088,  // 0.071
	Q3_K: 0.19,   // 0.15
	Q2_K: 0.37,   // 0.30
}

func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := randNormal(r, 64*QK_K, 1)
	for _, typ := range quantTypes {
		t.Run(typ.String(), func(t *testing.T) {
			y := dequantize(typ, quantize(t, typ, x), len(x))
			var se, sx float64
			for i := range x {
				d := float64(y[i]) - float64(x[i])
				se += d * d
				sx += float64(x[i]) * float64(x[i])
			}
			rel := math.Sqrt(se / sx)
			t.Logf("relative RMSE %.3g", rel)
			if rel > maxRelRMSE[typ] {
				t.Errorf("relative RMSE %.3g, want ≤ %.3g", rel, maxRelRMSE[typ])
			}
		})
	}
}

// TestQuantizeSpecialBlocks feeds blocks that take the quantizers' edge
// paths: all zero, constant, one outlier, tiny values, all negative.
func TestQuantizeSpecialBlocks(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	blocks := map[string]func(i int) float32{
		"zero":     func(int) float32 { return 0 },
		"constant": func(int) float32 { return 0.75 },
		"negative": func(int) float32 { return -0.5 - float32(r.Float64()) },
		"outlier": func(i int) float32 {
			if i == 77 {
				return 1000
			}
			return float32(r.NormFloat64())
		},
		"tiny": func(int) float32 { return float32(r.NormFloat64()) * 1e-20 },
	}
	for name, gen := range blocks {
		x := make([]float32, QK_K)
		for i := range x {
			x[i] = gen(i)
		}
		var amax float64
		for _, v := range x {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		for _, typ := range quantTypes {
			y := dequantize(typ, quantize(t, typ, x), len(x))
			for i, v := range y {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1.25*amax+1e-30 {
					t.Errorf("%s/%s: element %d dequantizes to %g (input %g)", name, typ, i, v, x[i])
					break
				}
			}
			if name == "zero" {
				for i, v := range y {
					if v != 0 {
						t.Errorf("zero/%s: element %d = %g, want 0", typ, i, v)
						break
					}
				}
			}
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	tests := []struct {
		typ  Type
		n    int
		want string
	}{
		{IQ2_XXS, QK_K, "cannot produce IQ2_XXS"},
		{TQ1_0, QK_K, "cannot produce TQ1_0"},
		{I32, 4, "cannot produce I32"},
		{Type(99), 32, "unknown tensor type 99"},
		{Q4_0, 33, "does not fit Q4_0 blocks of 32"},
		{Q4_K, 128, "does not fit Q4_K blocks of 256"},
	}
	for _, tt := range tests {
		dst := make([]byte, 1024)
		err := Quantize(tt.typ, dst, make([]float32, tt.n))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Quantize(%s, %d elements) = %v, want error containing %q", tt.typ, tt.n, err, tt.want)
		}
	}
}

func TestRowBytes(t *testing.T) {
	tests := []struct {
		typ     Type
		n       int
		want    int
		wantErr bool
	}{
		{F32, 7, 28, false},
		{F16, 3, 6, false},
		{Q4_0, 64, 36, false},
		{Q8_K, 512, 584, false},
		{Q6_K, 256, 210, false},
		{Q4_0, 0, 0, false},
		{Q4_0, 33, 0, true},
		{Q4_K, 255, 0, true},
		{Q8_0, -32, 0, true},
		{Type(5), 32, 0, true}, // ggml's removed Q4_2
		{Type(1000), 1, 0, true},
	}
	for _, tt := range tests {
		got, err := tt.typ.RowBytes(tt.n)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s.RowBytes(%d) = %d, %v; want %d, error %v", tt.typ, tt.n, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestVecDotTypeAndHasKernels(t *testing.T) {
	tests := []struct {
		typ     Type
		vecDot  Type
		kernels bool
	}{
		{F32, F32, true},
		{F16, F16, true},
		{BF16, BF16, true},
		{Q4_0, Q8_0, true},
		{Q5_0, Q8_0, true},
		{Q8_0, Q8_0, true},
		{Q4_1, Q8_1, true},
		{Q5_1, Q8_1, true},
		{Q2_K, Q8_K, true},
		{Q3_K, Q8_K, true},
		{Q4_K, Q8_K, true},
		{Q5_K, Q8_K, true},
		{Q6_K, Q8_K, true},
		{Q8_K, Q8_K, false},
		{Q8_1, Q8_1, false},
		{IQ4_NL, Q8_0, false},
		{IQ2_XXS, Q8_K, false},
		{I8, I8, false},
	}
	for _, tt := range tests {
		if got := tt.typ.VecDotType(); got != tt.vecDot {
			t.Errorf("%s.VecDotType() = %s, want %s", tt.typ, got, tt.vecDot)
		}
		if got := tt.typ.HasKernels(); got != tt.kernels {
			t.Errorf("%s.HasKernels() = %v, want %v", tt.typ, got, tt.kernels)
		}
	}
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	f()
}

func TestMisusePanics(t *testing.T) {
	mustPanic(t, "Dequantize with short src", func() { Dequantize(Q8_0, make([]float32, 32), make([]byte, 33)) })
	mustPanic(t, "Dequantize of partial block", func() { Dequantize(Q8_0, make([]float32, 16), make([]byte, 17)) })
	mustPanic(t, "Dequantize of IQ2_XXS", func() { Dequantize(IQ2_XXS, make([]float32, QK_K), make([]byte, 66)) })
	mustPanic(t, "Quantize with long dst", func() { _ = Quantize(Q8_0, make([]byte, 35), make([]float32, 32)) })
	mustPanic(t, "QuantizeActivations to Q4_0", func() { QuantizeActivations(Q4_0, make([]byte, 18), make([]float32, 32)) })
	mustPanic(t, "VecDot with short activations", func() { VecDot(Q8_0, 64, make([]byte, 68), make([]byte, 34)) })
	mustPanic(t, "VecDot of Q8_K", func() { VecDot(Q8_K, QK_K, make([]byte, 292), make([]byte, 292)) })
	mustPanic(t, "VecDot of partial block", func() { VecDot(Q4_K, 128, make([]byte, 144), make([]byte, 292)) })
}

// TestQuantizeActivationsQ8 pins the two ways x86 activation quantization
// differs from the reference: rounding half to even, and id = 127/amax.
func TestQuantizeActivationsQ8(t *testing.T) {
	x := make([]float32, 32)
	copy(x, []float32{127, 2.5, -3.5, 0.5, -0.5, 1.5, 100.4})
	wantAct := []int8{127, 2, -4, 0, 0, 2, 100}
	wantRef := []int8{127, 3, -4, 1, -1, 2, 100}
	for _, typ := range []Type{Q8_0, Q8_1} {
		off := typ.BlockBytes() - 32
		act := make([]byte, typ.BlockBytes())
		QuantizeActivations(typ, act, x)
		ref := quantize(t, typ, x)
		for i := range wantAct {
			if got := int8(act[off+i]); got != wantAct[i] {
				t.Errorf("%s activation q[%d] = %d, want %d", typ, i, got, wantAct[i])
			}
			if got := int8(ref[off+i]); got != wantRef[i] {
				t.Errorf("%s reference q[%d] = %d, want %d", typ, i, got, wantRef[i])
			}
		}
	}
	// A block where only the multiplier decides: v·(127/amax) = 61.499996
	// but v·(1/(amax/127)) = 61.500004 in float32 (found by search).
	x = make([]float32, 32)
	x[0], x[1] = math.Float32frombits(0x3f2a5f94), math.Float32frombits(0x3ea501dc)
	act := make([]byte, 34)
	QuantizeActivations(Q8_0, act, x)
	if got := int8(act[3]); got != 61 {
		t.Errorf("Q8_0 activation of %g with amax %g = %d, want 61 (id = 127/amax)", x[1], x[0], got)
	}
	// Every block of random data must match a direct evaluation of the rule.
	r := rand.New(rand.NewSource(3))
	x = randNormal(r, 32*256, 1)
	act = make([]byte, 34*256)
	QuantizeActivations(Q8_0, act, x)
	for b := 0; b < 256; b++ {
		xb := x[32*b : 32*b+32]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		id := 127 / amax
		if got, want := binary.LittleEndian.Uint16(act[34*b:]), FP32ToFP16(amax/127); got != want {
			t.Fatalf("block %d: d = %#04x, want %#04x", b, got, want)
		}
		for j, v := range xb {
			if got, want := int8(act[34*b+2+j]), int8(math.RoundToEven(float64(v*id))); got != want {
				t.Fatalf("block %d: q[%d] = %d, want %d", b, j, got, want)
			}
		}
	}
}

// TestQ8Sums checks the derived fields: Q8_1's s = d·Σq and Q8_K's bsums.
func TestQ8Sums(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	x := randNormal(r, 4*QK_K, 1)
	for _, q := range [][]byte{quantize(t, Q8_1, x), func() []byte {
		b := make([]byte, len(x)/32*36)
		QuantizeActivations(Q8_1, b, x)
		return b
	}()} {
		for b := 0; b < len(x)/32; b++ {
			blk := q[36*b : 36*b+36]
			sum := 0
			for _, v := range blk[4:] {
				sum += int(int8(v))
			}
			var amax float32 // s uses d = amax/127 before its rounding to fp16
			for _, v := range x[32*b : 32*b+32] {
				amax = max(amax, abs32(v))
			}
			if got, want := binary.LittleEndian.Uint16(blk[2:]), FP32ToFP16(float32(sum)*(amax/127)); got != want {
				t.Fatalf("Q8_1 block %d: s = %#04x, want %#04x", b, got, want)
			}
		}
	}
	q := quantize(t, Q8_K, x)
	for b := 0; b < len(x)/QK_K; b++ {
		blk := q[292*b : 292*b+292]
		for j := 0; j < 16; j++ {
			sum := 0
			for _, v := range blk[4+16*j : 4+16*j+16] {
				sum += int(int8(v))
			}
			if got := int(int16(binary.LittleEndian.Uint16(blk[260+2*j:]))); got != sum {
				t.Fatalf("Q8_K block %d: bsums[%d] = %d, want %d", b, j, got, sum)
			}
		}
	}
}
