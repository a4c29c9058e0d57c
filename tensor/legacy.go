package tensor

import (
	"encoding/binary"
	"math"
)

// The 32-element block formats (ggml-common.h), little-endian:
//
//	Q4_0  fp16 d; u8 qs[16]                   x = d·(q−8)
//	Q4_1  fp16 d, m; u8 qs[16]                x = d·q + m
//	Q5_0  fp16 d; u8 qh[4]; u8 qs[16]         x = d·(q−16)
//	Q5_1  fp16 d, m; u8 qh[4]; u8 qs[16]      x = d·q + m
//	Q8_0  fp16 d; i8 qs[32]                   x = d·q
//	Q8_1  fp16 d, s; i8 qs[32]                x = d·q, s = d·Σq
//
// Nibble order: byte j holds element j (low nibble) and element j+16 (high).
// Bit j of qh is the fifth bit of element j.
//
// Expressions below keep ggml's evaluation order, and every float32 product
// that feeds an addition is wrapped in float32(…): Go may otherwise fuse it
// into an FMA (GOAMD64=v3), which ggml's reference code does not do.

const qk = 32 // elements per legacy block

func f16At(b []byte) float32 { return FP16ToFP32(binary.LittleEndian.Uint16(b)) }

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, FP32ToFP16(f)) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// absMax returns the largest |x| and the signed value that has it (the first
// one on ties), as ggml's quantizers search for it.
func absMax(x []float32) (amax, vmax float32) {
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, vmax = a, v
		}
	}
	return amax, vmax
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// ---- dequantization ----

func dequantizeQ4_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[18*i:18*i+18], dst[qk*i:qk*i+qk]
		d := f16At(b)
		for j, q := range b[2:18] {
			y[j] = float32(int(q&15)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

func dequantizeQ4_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[20*i:20*i+20], dst[qk*i:qk*i+qk]
		d, m := f16At(b), f16At(b[2:])
		for j, q := range b[4:20] {
			y[j] = float32(float32(q&15)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

func dequantizeQ5_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[22*i:22*i+22], dst[qk*i:qk*i+qk]
		d := f16At(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		for j, q := range b[6:22] {
			h0 := int(qh>>j&1) << 4
			h1 := int(qh>>(j+16)&1) << 4
			y[j] = float32(int(q&15)|h0-16) * d
			y[j+16] = float32(int(q>>4)|h1-16) * d
		}
	}
}

func dequantizeQ5_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[24*i:24*i+24], dst[qk*i:qk*i+qk]
		d, m := f16At(b), f16At(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		for j, q := range b[8:24] {
			h0 := uint8(qh>>j&1) << 4
			h1 := uint8(qh>>(j+16)&1) << 4
			y[j] = float32(float32(q&15|h0)*d) + m
			y[j+16] = float32(float32(q>>4|h1)*d) + m
		}
	}
}

func dequantizeQ8_0(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[34*i:34*i+34], dst[qk*i:qk*i+qk]
		d := f16At(b)
		for j, q := range b[2:34] {
			y[j] = float32(int8(q)) * d
		}
	}
}

// dequantizeQ8_1 has no ggml counterpart (Q8_1 only ever holds activations);
// it decodes d·q and ignores s.
func dequantizeQ8_1(dst []float32, src []byte) {
	for i := 0; i < len(dst)/qk; i++ {
		b, y := src[36*i:36*i+36], dst[qk*i:qk*i+qk]
		d := f16At(b)
		for j, q := range b[4:36] {
			y[j] = float32(int8(q)) * d
		}
	}
}

// ---- reference quantization (quantize_row_*_ref, as llama-quantize uses) ----

func quantizeQ4_0(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[18*i:18*i+18]
		_, vmax := absMax(x)
		d := vmax / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j := 0; j < 16; j++ {
			// C truncates x·id + 8.5 toward zero: round half up on [0, 16].
			q0 := min(15, int8(float32(x[j]*id)+8.5))
			q1 := min(15, int8(float32(x[j+16]*id)+8.5))
			b[2+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

func quantizeQ4_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[20*i:20*i+20]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		for j := 0; j < 16; j++ {
			q0 := min(15, int8(float32((x[j]-lo)*id)+0.5))
			q1 := min(15, int8(float32((x[j+16]-lo)*id)+0.5))
			b[4+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

func quantizeQ5_0(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[22*i:22*i+22]
		_, vmax := absMax(x)
		d := vmax / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := uint8(min(31, int8(float32(x[j]*id)+16.5)))
			q1 := uint8(min(31, int8(float32(x[j+16]*id)+16.5)))
			b[6+j] = q0&15 | (q1&15)<<4
			qh |= uint32(q0>>4) << j
			qh |= uint32(q1>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[2:], qh)
	}
}

func quantizeQ5_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[24*i:24*i+24]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := uint8(float32((x[j]-lo)*id) + 0.5)
			q1 := uint8(float32((x[j+16]-lo)*id) + 0.5)
			b[8+j] = q0&15 | (q1&15)<<4
			qh |= uint32(q0>>4&1) << j
			qh |= uint32(q1>>4&1) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[4:], qh)
	}
}

// quantizeQ8_0 is quantize_row_q8_0_ref: id = 1/d, round half away from zero.
func quantizeQ8_0(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[34*i:34*i+34]
		amax, _ := absMax(x)
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			b[2+j] = uint8(int8(math.Round(float64(v * id))))
		}
	}
}

// quantizeQ8_1 is quantize_row_q8_1_ref.
func quantizeQ8_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[36*i:36*i+36]
		amax, _ := absMax(x)
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		sum := 0
		for j, v := range x {
			q := int8(math.Round(float64(v * id)))
			b[4+j] = uint8(q)
			sum += int(q)
		}
		putF16(b[2:], float32(sum)*d)
	}
}

// ---- activation quantization (ggml-cpu's quantize_row_q8_0/_q8_1 on x86 AVX/AVX2) ----
//
// These differ from the reference quantizers in two ways, both of which
// change some quants: the multiplier is id = 127/amax instead of 1/d, and
// rounding is to nearest even (_mm256_round_ps) instead of half away from zero.

func quantizeActQ8_0(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[34*i:34*i+34]
		amax, _ := absMax(x)
		putF16(b, amax/127)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		for j, v := range x {
			b[2+j] = uint8(int8(math.RoundToEven(float64(v * id))))
		}
	}
}

func quantizeActQ8_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/qk; i++ {
		x, b := src[qk*i:qk*i+qk], dst[36*i:36*i+36]
		amax, _ := absMax(x)
		d := amax / 127
		putF16(b, d)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		sum := 0
		for j, v := range x {
			q := int8(math.RoundToEven(float64(v * id)))
			b[4+j] = uint8(q)
			sum += int(q)
		}
		putF16(b[2:], d*float32(sum))
	}
}

// ---- dot products (ggml_vec_dot_*_q8_*, portable C order) ----
//
// Per block an exact integer sum, scaled and added in float32 in the order
// ggml's C code writes it. llama.cpp's AVX2 kernels scale partial sums in 8
// lanes with FMA instead; results differ by float32 rounding only.

func vecDotQ4_0(n int, x, y []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		bx, by := x[18*i:18*i+18], y[34*i:34*i+34]
		qy := by[2:34]
		var s int32
		for j, q := range bx[2:18] {
			s += (int32(q&15) - 8) * int32(int8(qy[j]))
			s += (int32(q>>4) - 8) * int32(int8(qy[j+16]))
		}
		sum += float32(float32(s) * f16At(bx) * f16At(by))
	}
	return sum
}

func vecDotQ4_1(n int, x, y []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		bx, by := x[20*i:20*i+20], y[36*i:36*i+36]
		qy := by[4:36]
		var s int32
		for j, q := range bx[4:20] {
			s += int32(q&15) * int32(int8(qy[j]))
			s += int32(q>>4) * int32(int8(qy[j+16]))
		}
		sum += float32(f16At(bx)*f16At(by)*float32(s)) + float32(f16At(bx[2:])*f16At(by[2:]))
	}
	return sum
}

func vecDotQ5_0(n int, x, y []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		bx, by := x[22*i:22*i+22], y[34*i:34*i+34]
		qh := binary.LittleEndian.Uint32(bx[2:])
		qy := by[2:34]
		var s int32
		for j, q := range bx[6:22] {
			h0 := int32(qh>>j&1) << 4
			h1 := int32(qh>>(j+16)&1) << 4
			s += (int32(q&15) | h0 - 16) * int32(int8(qy[j]))
			s += (int32(q>>4) | h1 - 16) * int32(int8(qy[j+16]))
		}
		sum += float32(f16At(bx) * f16At(by) * float32(s))
	}
	return sum
}

func vecDotQ5_1(n int, x, y []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		bx, by := x[24*i:24*i+24], y[36*i:36*i+36]
		qh := binary.LittleEndian.Uint32(bx[4:])
		qy := by[4:36]
		var s int32
		for j, q := range bx[8:24] {
			h0 := int32(qh>>j&1) << 4
			h1 := int32(qh>>(j+16)&1) << 4
			s += (int32(q&15) | h0) * int32(int8(qy[j]))
			s += (int32(q>>4) | h1) * int32(int8(qy[j+16]))
		}
		sum += float32(f16At(bx)*f16At(by)*float32(s)) + float32(f16At(bx[2:])*f16At(by[2:]))
	}
	return sum
}

func vecDotQ8_0(n int, x, y []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		bx, by := x[34*i:34*i+34], y[34*i:34*i+34]
		qy := by[2:34]
		var s int32
		for j, q := range bx[2:34] {
			s += int32(int8(q)) * int32(int8(qy[j]))
		}
		sum += float32(float32(s) * (f16At(bx) * f16At(by)))
	}
	return sum
}
