package tensor

import (
	"encoding/binary"
	"math"
)

// FP16ToFP32 converts an IEEE half to float32 exactly. NaNs keep their
// payload and come out quiet, as the x86 F16C instruction (VCVTPH2PS) does.
func FP16ToFP32(h uint16) float32 { return fp16Table[h] }

// fp16Table holds every half's float32 value (256 KiB, as ggml keeps one):
// a load is several times faster than decoding the bits.
var fp16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = fp16ToFP32(uint16(h))
	}
	return &t
}()

func fp16ToFP32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		// Zero or subnormal: mant·2⁻²⁴ is exact in float32.
		return math.Float32frombits(sign | math.Float32bits(float32(mant)*(1.0/(1<<24))))
	case 0x1f:
		if mant == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// FP32ToFP16 converts float32 to an IEEE half, rounding to nearest, ties to
// even, with overflow to infinity and gradual underflow, as F16C (VCVTPS2PH,
// rounding mode 0) and ggml's reference conversion do. A NaN keeps the top
// bits of its payload and is made quiet (F16C; ggml's portable C code
// returns 0x7e00 for every NaN instead).
func FP32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff:
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp > 127+15: // |f| ≥ 2¹⁶
		return sign | 0x7c00
	case exp >= 127-14: // normal half before rounding
		h := uint32(exp-127+15)<<10 | mant>>13
		rest := mant & 0x1fff
		if rest > 0x1000 || rest == 0x1000 && h&1 == 1 {
			h++ // a carry out of the mantissa bumps the exponent, up to infinity
		}
		return sign | uint16(h)
	case exp >= 127-25: // half subnormal: f = m·2^(exp-150), in units of 2⁻²⁴
		m := mant | 0x800000
		shift := uint(126 - exp)
		k := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || rest == half && k&1 == 1 {
			k++ // may become 0x400, the smallest normal: still the right encoding
		}
		return sign | uint16(k)
	}
	return sign
}

// BF16ToFP32 converts a bfloat16 to float32 (exact).
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FP32ToBF16 converts float32 to bfloat16 as ggml_compute_fp32_to_bf16 does:
// round to nearest even; NaNs are truncated and forced quiet; subnormals kept.
func FP32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func dequantizeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantizeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantizeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeF32(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantizeF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
	}
}

func quantizeBF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}

// The float dot products follow ggml's portable C code (ggml_vec_dot_f32,
// _f16, _bf16 without SIMD): each product is rounded to float32, the sum is
// kept in float64 and rounded to float32 at the end. llama.cpp's AVX2 path
// instead accumulates in 32 float32 lanes with FMA; the two differ by float32
// rounding only.

func vecDotF32(n int, x, y []byte) float32 {
	x, y = x[:4*n], y[:4*n]
	var sum float64
	for i := 0; i < n; i++ {
		a := math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(y[4*i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}

func vecDotF16(n int, x, y []byte) float32 {
	x, y = x[:2*n], y[:2*n]
	var sum float64
	for i := 0; i < n; i++ {
		a := FP16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
		b := FP16ToFP32(binary.LittleEndian.Uint16(y[2*i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}

func vecDotBF16(n int, x, y []byte) float32 {
	x, y = x[:2*n], y[:2*n]
	var sum float64
	for i := 0; i < n; i++ {
		a := BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
		b := BF16ToFP32(binary.LittleEndian.Uint16(y[2*i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}
