package tensor

import (
	"encoding/binary"
	"math"
)

// The K-quant super-block formats (256 elements, ggml-common.h), little-endian:
//
//	Q2_K  u8 scales[16] (4-bit scale | 4-bit min << 4); u8 qs[64]; fp16 d, dmin      84 B
//	Q3_K  u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 × 6 bits); fp16 d                110 B
//	Q4_K  fp16 d, dmin; u8 scales[12] (8 scales + 8 mins, 6 bits); u8 qs[128]       144 B
//	Q5_K  fp16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]                          176 B
//	Q6_K  u8 ql[128]; u8 qh[64]; i8 scales[16]; fp16 d                                210 B
//	Q8_K  f32 d; i8 qs[256]; i16 bsums[16] (sums of 16 consecutive qs)                292 B
//
// Each format has an unpack function that yields the integer quants in
// element order; dequantization and the dot products share it.

// getScaleMinK4 reads the j-th 6-bit scale and min of Q4_K/Q5_K.
func getScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// q3KScale reads the j-th of the 16 6-bit Q3_K scales, minus its offset 32.
func q3KScale(j int, sc []byte) int32 {
	var lo uint8
	if j < 8 {
		lo = sc[j] & 0xF
	} else {
		lo = sc[j-8] >> 4
	}
	hi := (sc[8+j%4] >> (2 * (j / 4))) & 3
	return int32(lo|hi<<4) - 32
}

// unpackQ2K: 2-bit quants; within each 128 elements, element 32k+l is bits
// 2k..2k+1 of qs[l].
func unpackQ2K(b []byte, a *[QK_K]int8) {
	for n := 0; n < 2; n++ {
		qs := b[16+32*n : 16+32*n+32]
		for k := 0; k < 4; k++ {
			dst := a[128*n+32*k : 128*n+32*k+32]
			for l, q := range qs {
				dst[l] = int8(q >> (2 * k) & 3)
			}
		}
	}
}

// unpackQ3K: as Q2_K plus a high bit from hmask (bit 4n+k of hmask[l]); a
// clear high bit means −4.
func unpackQ3K(b []byte, a *[QK_K]int8) {
	hm := b[0:32]
	for n := 0; n < 2; n++ {
		qs := b[32+32*n : 32+32*n+32]
		for k := 0; k < 4; k++ {
			dst := a[128*n+32*k : 128*n+32*k+32]
			shift := 4*n + k
			for l, q := range qs {
				dst[l] = int8(q>>(2*k)&3) - int8(^hm[l]>>shift&1)<<2
			}
		}
	}
}

// unpackQ4K: within each 64 elements, the first 32 are low nibbles of 32
// bytes and the next 32 their high nibbles.
func unpackQ4K(b []byte, a *[QK_K]int8) {
	for n := 0; n < 4; n++ {
		qs := b[16+32*n : 16+32*n+32]
		lo, hi := a[64*n:64*n+32], a[64*n+32:64*n+64]
		for l, q := range qs {
			lo[l] = int8(q & 0xF)
			hi[l] = int8(q >> 4)
		}
	}
}

// unpackQ5K: as Q4_K plus a fifth bit: bit 2n (first 32) or 2n+1 (next 32) of qh[l].
func unpackQ5K(b []byte, a *[QK_K]int8) {
	qh := b[16:48]
	for n := 0; n < 4; n++ {
		qs := b[48+32*n : 48+32*n+32]
		lo, hi := a[64*n:64*n+32], a[64*n+32:64*n+64]
		for l, q := range qs {
			h := qh[l] >> (2 * n)
			lo[l] = int8(q&0xF | (h&1)<<4)
			hi[l] = int8(q>>4 | (h>>1&1)<<4)
		}
	}
}

// unpackQ6K: within each 128 elements, element 32k+l takes its low 4 bits from
// ql (byte l or l+32, low or high nibble) and 2 high bits from qh[l] bits 2k.
func unpackQ6K(b []byte, a *[QK_K]int8) {
	for n := 0; n < 2; n++ {
		ql, qh := b[64*n:64*n+64], b[128+32*n:128+32*n+32]
		y := a[128*n : 128*n+128]
		for l, h := range qh {
			y[l] = int8(ql[l]&0xF|(h>>0&3)<<4) - 32
			y[l+32] = int8(ql[l+32]&0xF|(h>>2&3)<<4) - 32
			y[l+64] = int8(ql[l]>>4|(h>>4&3)<<4) - 32
			y[l+96] = int8(ql[l+32]>>4|(h>>6&3)<<4) - 32
		}
	}
}

// ---- dequantization (dequantize_row_*) ----

func dequantizeQ2_K(dst []float32, src []byte) {
	var a [QK_K]int8
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[84*i:84*i+84], dst[QK_K*i:QK_K*i+QK_K]
		unpackQ2K(b, &a)
		d, dmin := f16At(b[80:]), f16At(b[82:])
		for j := 0; j < 16; j++ {
			sc := b[j]
			dl, ml := d*float32(sc&0xF), dmin*float32(sc>>4)
			for l := 16 * j; l < 16*j+16; l++ {
				y[l] = float32(dl*float32(a[l])) - ml
			}
		}
	}
}

func dequantizeQ3_K(dst []float32, src []byte) {
	var a [QK_K]int8
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[110*i:110*i+110], dst[QK_K*i:QK_K*i+QK_K]
		unpackQ3K(b, &a)
		d := f16At(b[108:])
		for j := 0; j < 16; j++ {
			dl := d * float32(q3KScale(j, b[96:108]))
			for l := 16 * j; l < 16*j+16; l++ {
				y[l] = dl * float32(a[l])
			}
		}
	}
}

func dequantizeQ4_K(dst []float32, src []byte) {
	var a [QK_K]int8
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[144*i:144*i+144], dst[QK_K*i:QK_K*i+QK_K]
		unpackQ4K(b, &a)
		dequantizeScaleMin(y, &a, f16At(b), f16At(b[2:]), b[4:16])
	}
}

func dequantizeQ5_K(dst []float32, src []byte) {
	var a [QK_K]int8
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[176*i:176*i+176], dst[QK_K*i:QK_K*i+QK_K]
		unpackQ5K(b, &a)
		dequantizeScaleMin(y, &a, f16At(b), f16At(b[2:]), b[4:16])
	}
}

// dequantizeScaleMin applies Q4_K/Q5_K's 8 (scale, min) pairs to 32 quants each.
func dequantizeScaleMin(y []float32, a *[QK_K]int8, d, dmin float32, scales []byte) {
	for j := 0; j < 8; j++ {
		sc, m := getScaleMinK4(j, scales)
		dl, ml := d*float32(sc), dmin*float32(m)
		for l := 32 * j; l < 32*j+32; l++ {
			y[l] = float32(dl*float32(a[l])) - ml
		}
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	var a [QK_K]int8
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[210*i:210*i+210], dst[QK_K*i:QK_K*i+QK_K]
		unpackQ6K(b, &a)
		d := f16At(b[208:])
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(b[192+j]))
			for l := 16 * j; l < 16*j+16; l++ {
				y[l] = dl * float32(a[l])
			}
		}
	}
}

func dequantizeQ8_K(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK_K; i++ {
		b, y := src[292*i:292*i+292], dst[QK_K*i:QK_K*i+QK_K]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		for j, q := range b[4:260] {
			y[j] = d * float32(int8(q))
		}
	}
}

// quantizeQ8_K is quantize_row_q8_K_ref, which ggml-cpu also uses for
// activations on x86. For an all-zero block ggml leaves bsums unwritten; here
// they are zero.
func quantizeQ8_K(dst []byte, src []float32) {
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[292*i:292*i+292]
		amax, vmax := absMax(x)
		if amax == 0 {
			clear(b)
			continue
		}
		iscale := -127 / vmax
		qs := b[4:260]
		for j, v := range x {
			qs[j] = uint8(int8(min(127, nearestInt(iscale*v))))
		}
		for j := 0; j < 16; j++ {
			var s int16
			for _, q := range qs[16*j : 16*j+16] {
				s += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(b[260+2*j:], uint16(s))
		}
		binary.LittleEndian.PutUint32(b, math.Float32bits(1/iscale))
	}
}

// ---- dot products with Q8_K (ggml_vec_dot_*_q8_K, portable C order) ----
//
// ggml's C code for Q3_K…Q6_K keeps 8 int32 lane sums per super-block (lane
// l holds the elements ≡ l mod 8), adds d·lane to 8 float32 sums, and adds
// those to the result at the very end; Q4_K/Q5_K subtract dmin·Σmin·bsum from
// the result per super-block first. That order is kept here.

func q8K(b []byte) (d float32, qs []byte) {
	return math.Float32frombits(binary.LittleEndian.Uint32(b)), b[4:260]
}

func q8KBsum(b []byte, j int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(b[260+2*j:])))
}

// laneSums returns Σ scale[k>>shift]·a[k]·q[k] over k ≡ l (mod 8), for each
// lane l; scales apply to groups of 1<<shift elements.
func laneSums(a *[QK_K]int8, q []byte, scale *[16]int32, shift uint) (lanes [8]int32) {
	q = q[:QK_K]
	for k := 0; k < QK_K; k += 8 {
		s := scale[k>>shift]
		for l := 0; l < 8; l++ {
			lanes[l] += s * int32(a[k+l]) * int32(int8(q[k+l]))
		}
	}
	return lanes
}

func vecDotQ2_K(n int, x, y []byte) float32 {
	var a [QK_K]int8
	var sum float32
	for i := 0; i < n/QK_K; i++ {
		bx, by := x[84*i:84*i+84], y[292*i:292*i+292]
		dy, qy := q8K(by)
		unpackQ2K(bx, &a)
		var summs, isum int32
		for j := 0; j < 16; j++ {
			summs += q8KBsum(by, j) * int32(bx[j]>>4)
			var s int32
			for l := 16 * j; l < 16*j+16; l++ {
				s += int32(a[l]) * int32(int8(qy[l]))
			}
			isum += int32(bx[j]&0xF) * s
		}
		dall := dy * f16At(bx[80:])
		dmin := dy * f16At(bx[82:])
		sum += float32(dall*float32(isum)) - float32(dmin*float32(summs))
	}
	return sum
}

func vecDotQ3_K(n int, x, y []byte) float32 {
	var a [QK_K]int8
	var scale [16]int32
	var sums [8]float32
	for i := 0; i < n/QK_K; i++ {
		bx, by := x[110*i:110*i+110], y[292*i:292*i+292]
		dy, qy := q8K(by)
		unpackQ3K(bx, &a)
		for j := range scale {
			scale[j] = q3KScale(j, bx[96:108])
		}
		lanes := laneSums(&a, qy, &scale, 4)
		d := f16At(bx[108:]) * dy
		for l := range sums {
			sums[l] += float32(d * float32(lanes[l]))
		}
	}
	var sum float32
	for _, s := range sums {
		sum += s
	}
	return sum
}

func vecDotQ4_K(n int, x, y []byte) float32 { return vecDotScaleMin(Q4_K, n, x, y) }
func vecDotQ5_K(n int, x, y []byte) float32 { return vecDotScaleMin(Q5_K, n, x, y) }

// vecDotScaleMin is the Q4_K/Q5_K dot product; the formats differ only in
// how the quants are stored.
func vecDotScaleMin(t Type, n int, x, y []byte) float32 {
	size := t.BlockBytes()
	var a [QK_K]int8
	var scale [16]int32
	var sums [8]float32
	var sum float32
	for i := 0; i < n/QK_K; i++ {
		bx, by := x[size*i:size*(i+1)], y[292*i:292*i+292]
		dy, qy := q8K(by)
		if t == Q4_K {
			unpackQ4K(bx, &a)
		} else {
			unpackQ5K(bx, &a)
		}
		var sumMins int32
		for j := 0; j < 8; j++ {
			sc, m := getScaleMinK4(j, bx[4:16])
			scale[j] = int32(sc)
			sumMins += (q8KBsum(by, 2*j) + q8KBsum(by, 2*j+1)) * int32(m)
		}
		lanes := laneSums(&a, qy, &scale, 5)
		d := f16At(bx) * dy
		for l := range sums {
			sums[l] += float32(d * float32(lanes[l]))
		}
		dmin := f16At(bx[2:]) * dy
		sum -= float32(dmin * float32(sumMins))
	}
	for _, s := range sums {
		sum += s
	}
	return sum
}

func vecDotQ6_K(n int, x, y []byte) float32 {
	var a [QK_K]int8
	var scale [16]int32
	var sums [8]float32
	for i := 0; i < n/QK_K; i++ {
		bx, by := x[210*i:210*i+210], y[292*i:292*i+292]
		dy, qy := q8K(by)
		unpackQ6K(bx, &a)
		for j := range scale {
			scale[j] = int32(int8(bx[192+j]))
		}
		lanes := laneSums(&a, qy, &scale, 4)
		d := f16At(bx[208:]) * dy
		for l := range sums {
			sums[l] += float32(d * float32(lanes[l]))
		}
	}
	var sum float32
	for _, s := range sums {
		sum += s
	}
	return sum
}
