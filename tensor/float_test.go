package tensor

import (
	"math"
	"testing"
)

func TestFP32ToFP16(t *testing.T) {
	f := math.Float32frombits
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", f(0x80000000), 0x8000},
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"max half", 65504, 0x7bff},
		{"just below max+ulp/2", 65519.996, 0x7bff},
		{"tie above max rounds to inf", 65520, 0x7c00},
		{"huge", 1e10, 0x7c00},
		{"max float", math.MaxFloat32, 0x7c00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"-inf", float32(math.Inf(-1)), 0xfc00},
		{"tie 1+2^-11 to even", 1 + 1.0/2048, 0x3c00},
		{"tie 1+3·2^-11 to even", 1 + 3.0/2048, 0x3c02},
		{"above tie", f(0x3f801001), 0x3c01},
		{"smallest normal", 1.0 / 16384, 0x0400},
		{"largest subnormal", 1023.0 / (1 << 24), 0x03ff},
		{"smallest subnormal", 1.0 / (1 << 24), 0x0001},
		{"-smallest subnormal", -1.0 / (1 << 24), 0x8001},
		{"half of smallest subnormal ties to zero", 1.0 / (1 << 25), 0x0000},
		{"just above half of smallest subnormal", f(0x33000001), 0x0001},
		{"1.5 smallest subnormals tie to 2", 3.0 / (1 << 25), 0x0002},
		{"2.5 smallest subnormals tie to 2", 5.0 / (1 << 25), 0x0002},
		{"subnormal rounding up to smallest normal", f(0x387fffff), 0x0400},
		{"tiny", 1e-30, 0x0000},
		{"f32 subnormal", f(0x00000001), 0x0000},
		{"quiet nan", f(0x7fc00000), 0x7e00},
		{"signalling nan made quiet", f(0x7f800001), 0x7e00},
		{"nan payload kept", f(0x7fffe000), 0x7fff},
		{"negative nan", f(0xffc00000), 0xfe00},
	}
	for _, tt := range tests {
		if got := FP32ToFP16(tt.in); got != tt.want {
			t.Errorf("%s: FP32ToFP16(%g [%#08x]) = %#04x, want %#04x", tt.name, tt.in, math.Float32bits(tt.in), got, tt.want)
		}
	}
}

func TestFP16ToFP32(t *testing.T) {
	tests := []struct {
		in   uint16
		want uint32 // float32 bits
	}{
		{0x0000, 0x00000000},
		{0x8000, 0x80000000},
		{0x3c00, 0x3f800000},
		{0xc000, 0xc0000000},
		{0x7bff, 0x477fe000}, // 65504
		{0x0400, 0x38800000}, // 2^-14
		{0x0001, 0x33800000}, // 2^-24
		{0x8001, 0xb3800000},
		{0x03ff, 0x387fc000},
		{0x7c00, 0x7f800000},
		{0xfc00, 0xff800000},
		{0x7e00, 0x7fc00000},
		{0x7c01, 0x7fc02000}, // signalling nan comes out quiet, payload kept
		{0xffff, 0xffffe000},
	}
	for _, tt := range tests {
		if got := math.Float32bits(FP16ToFP32(tt.in)); got != tt.want {
			t.Errorf("FP16ToFP32(%#04x) = %#08x, want %#08x", tt.in, got, tt.want)
		}
	}
}

// halfValue decodes a finite half independently of FP16ToFP32.
func halfValue(h uint16) float64 {
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	v := math.Ldexp(m, -24)
	if e != 0 {
		v = math.Ldexp(1024+m, e-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// TestFP16Exhaustive checks every half: decoding agrees with the formula,
// encoding its value gives it back, and values between two neighbours round
// to the nearer one, ties to the even one.
func TestFP16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if h&0x7c00 == 0x7c00 {
			if h&0x3ff != 0 && !math.IsNaN(float64(FP16ToFP32(h))) {
				t.Errorf("FP16ToFP32(%#04x) is not NaN", h)
			}
			continue
		}
		v := FP16ToFP32(h)
		if float64(v) != halfValue(h) {
			t.Fatalf("FP16ToFP32(%#04x) = %g, want %g", h, v, halfValue(h))
		}
		if got := FP32ToFP16(v); got != h {
			t.Fatalf("FP32ToFP16(FP16ToFP32(%#04x)) = %#04x", h, got)
		}
		// Positive neighbours h, h+1 (h+1 may be infinity).
		if h >= 0x7c00 {
			continue
		}
		lo, hi := halfValue(h), math.Ldexp(1, 16)
		if h+1 < 0x7c00 {
			hi = halfValue(h + 1)
		}
		mid := float32((lo + hi) / 2) // exact: 12 significant bits
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		checks := []struct {
			in   float32
			want uint16
		}{
			{mid, even},
			{math.Nextafter32(mid, 0), h},
			{math.Nextafter32(mid, float32(math.Inf(1))), h + 1},
		}
		for _, c := range checks {
			if got := FP32ToFP16(c.in); got != c.want {
				t.Fatalf("FP32ToFP16(%g [%#08x]) = %#04x, want %#04x", c.in, math.Float32bits(c.in), got, c.want)
			}
			if got, want := FP32ToFP16(-c.in), c.want|0x8000; got != want {
				t.Fatalf("FP32ToFP16(%g) = %#04x, want %#04x", -c.in, got, want)
			}
		}
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie to even (down)", 0x3f808000, 0x3f80},
		{"tie to even (up)", 0x3f818000, 0x3f82},
		{"above tie", 0x3f808001, 0x3f81},
		{"below tie", 0x3f807fff, 0x3f80},
		{"negative", 0xc0490fdb, 0xc049}, // -π
		{"max float rounds to inf", 0x7f7fffff, 0x7f80},
		{"inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"signalling nan made quiet", 0x7f800001, 0x7fc0},
		{"quiet nan", 0x7fc00000, 0x7fc0},
		{"negative nan payload", 0xffa12345, 0xffe1},
		{"smallest subnormal rounds to zero", 0x00000001, 0x0000},
		{"subnormal tie to even", 0x00018000, 0x0002},
		{"subnormal kept", 0x00020000, 0x0002},
		{"negative zero", 0x80000000, 0x8000},
	}
	for _, tt := range tests {
		if got := FP32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("%s: FP32ToBF16(%#08x) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		v := BF16ToFP32(h)
		if math.Float32bits(v) != uint32(h)<<16 {
			t.Fatalf("BF16ToFP32(%#04x) = %#08x", h, math.Float32bits(v))
		}
		if math.IsNaN(float64(v)) {
			continue
		}
		if got := FP32ToBF16(v); got != h {
			t.Fatalf("FP32ToBF16(BF16ToFP32(%#04x)) = %#04x", h, got)
		}
	}
}
