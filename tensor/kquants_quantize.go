package tensor

import "math"

// The K-quant reference quantizers (quantize_row_q*_K_ref in ggml-quants.c),
// which llama-quantize runs when no importance matrix is given. They search
// for scales iteratively, so the output depends on every float32 rounding:
// the code keeps ggml's operation order, and products that feed additions are
// wrapped in float32(…) to keep Go from fusing them into FMAs (ggml-base is
// built without FMA, so the C code never fuses either).

// groupMaxEps is GROUP_MAX_EPS: below it a group counts as all zero.
const groupMaxEps = 1e-15

// nearestInt rounds to nearest, ties to even, by ggml's magic-number trick
// (valid for |f| ≤ 2²²).
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912 // 1.5·2²³; float32(f) stops fusion with a caller's product
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }

// makeQXQuants is make_qx_quants with rmse_type 1 and no weights (the only
// use: Q6_K). It picks a scale for len(x) quants in [−nmax, nmax) by trying
// 19 candidate scales and keeping the best weighted least-squares fit; L gets
// the quants offset by nmax.
func makeQXQuants(x []float32, L []int8, nmax int32) float32 {
	amax, vmax := absMax(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	clampQ := func(l int32) int32 { return max(-nmax, min(nmax-1, l)) }
	iscale := float32(-nmax) / vmax
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampQ(nearestInt(iscale * v))
		L[i] = int8(l + nmax)
		w := v * v
		sumlx += float32(w * v * float32(l))
		suml2 += float32(w * float32(l) * float32(l))
	}
	scale := float32(0)
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := int32(-9); is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(0.1*float32(is))) / vmax
		sumlx, suml2 = 0, 0
		for _, v := range x {
			l := clampQ(nearestInt(iscale * v))
			w := v * v
			sumlx += float32(w * v * float32(l))
			suml2 += float32(w * float32(l) * float32(l))
		}
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			for i, v := range x {
				L[i] = int8(nmax + clampQ(nearestInt(iscale*v)))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQ3Quants is make_q3_quants with do_rmse: start from the max-based
// scale, then move single quants while that improves the weighted fit
// (weights x²), at most 5 passes. L gets the quants offset by nmax.
func makeQ3Quants(x []float32, L []int8, nmax int32) float32 {
	amax, vmax := absMax(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	clampQ := func(l int32) int32 { return max(-nmax, min(nmax-1, l)) }
	iscale := float32(-nmax) / vmax
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampQ(nearestInt(iscale * v))
		L[i] = int8(l)
		w := v * v
		sumlx += float32(w * v * float32(l))
		suml2 += float32(w * float32(l) * float32(l))
	}
	for try := 0; try < 5; try++ {
		changed := 0
		for i, v := range x {
			w := v * v
			li := float32(L[i])
			slx := sumlx - float32(w*v*li)
			if slx <= 0 {
				continue
			}
			sl2 := suml2 - float32(w*li*li)
			newL := clampQ(nearestInt(v * sl2 / slx))
			if newL == int32(L[i]) {
				continue
			}
			fl := float32(newL)
			slx += float32(w * v * fl)
			sl2 += float32(w * fl * fl)
			if sl2 > 0 && slx*slx*suml2 > sumlx*sumlx*sl2 {
				L[i] = int8(newL)
				sumlx, suml2 = slx, sl2
				changed++
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range L {
		L[i] += int8(nmax)
	}
	return sumlx / suml2
}

// makeQKX2Quants is make_qkx2_quants: an affine fit x ≈ scale·L − min with L
// in [0, nmax], trying nstep+1 candidate scales around the min/max one and
// keeping the lowest weighted error (absolute if useMAD, else squared).
// It returns the scale and the (non-negative) min; laux is scratch.
func makeQKX2Quants(x, weights []float32, L, laux []uint8, nmax int32, rmin, rdelta float32, nstep int, useMAD bool) (scale, theMin float32) {
	n := len(x)
	xmin, xmax := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < xmin {
			xmin = x[i]
		}
		if x[i] > xmax {
			xmax = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if xmin > 0 {
		xmin = 0
	}
	if xmax == xmin {
		clear(L[:n])
		return 0, -xmin
	}
	clampQ := func(l int32) uint8 { return uint8(max(0, min(nmax, l))) }
	errOf := func(diff float32) float32 {
		if useMAD {
			return abs32(diff)
		}
		return diff * diff
	}
	iscale := float32(nmax) / (xmax - xmin)
	scale = 1 / iscale
	var bestMAD float32
	for i, v := range x {
		L[i] = clampQ(nearestInt(iscale * (v - xmin)))
		diff := float32(float32(scale*float32(L[i]))+xmin) - v
		bestMAD += float32(weights[i] * errOf(diff))
	}
	if nstep < 1 {
		return scale, -xmin
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + float32(nmax)) / (xmax - xmin)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampQ(nearestInt(iscale * (v - xmin)))
			laux[i] = l
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(w * fl * fl)
			sumXL += float32(w * fl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D <= 0 {
			continue
		}
		thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
		thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		var mad float32
		for i, v := range x {
			diff := float32(float32(thisScale*float32(laux[i]))+thisMin) - v
			mad += float32(weights[i] * errOf(diff))
		}
		if mad < bestMAD {
			copy(L[:n], laux[:n])
			bestMAD = mad
			scale = thisScale
			xmin = thisMin
		}
	}
	return scale, -xmin
}

func quantizeQ2_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	var laux [16]uint8
	var weights [16]float32
	var scales, mins [16]float32
	const q4scale = 15
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[84*i:84*i+84]
		var maxScale, maxMin float32
		for j := 0; j < 16; j++ {
			xj := x[16*j : 16*j+16]
			for l, v := range xj {
				weights[l] = abs32(v)
			}
			scales[j], mins[j] = makeQKX2Quants(xj, weights[:], L[16*j:16*j+16], laux[:], 3, -0.5, 0.1, 15, true)
			maxScale = max(maxScale, scales[j])
			maxMin = max(maxMin, mins[j])
		}
		sc := b[0:16]
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			putF16(b[80:], maxScale/q4scale)
		} else {
			clear(sc)
			putF16(b[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j])) << 4
			}
			putF16(b[82:], maxMin/q4scale)
		} else {
			putF16(b[82:], 0)
		}
		d, dmin := f16At(b[80:]), f16At(b[82:])
		for j := 0; j < 16; j++ {
			dl := d * float32(sc[j]&0xF)
			if dl == 0 {
				continue
			}
			ml := float32(dmin * float32(sc[j]>>4))
			for l := 16 * j; l < 16*j+16; l++ {
				L[l] = uint8(max(0, min(3, nearestInt((x[l]+ml)/dl))))
			}
		}
		qs := b[16:80]
		for n := 0; n < 2; n++ {
			for l := 0; l < 32; l++ {
				o := 128 * n
				qs[32*n+l] = L[o+l] | L[o+l+32]<<2 | L[o+l+64]<<4 | L[o+l+96]<<6
			}
		}
	}
}

func quantizeQ3_K(dst []byte, src []float32) {
	var L [QK_K]int8
	var scales [16]float32
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[110*i:110*i+110]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3Quants(x[16*j:16*j+16], L[16*j:16*j+16], 4)
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		sc := b[96:108]
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := uint8(max(-32, min(31, int32(int8(nearestInt(iscale*scales[j]))))) + 32)
				if j < 8 {
					sc[j] = l & 0xF
				} else {
					sc[j-8] |= (l & 0xF) << 4
				}
				sc[8+j%4] |= (l >> 4) << (2 * (j / 4))
			}
			putF16(b[108:], 1/iscale)
		} else {
			putF16(b[108:], 0)
		}
		d := f16At(b[108:])
		for j := 0; j < 16; j++ {
			dl := d * float32(q3KScale(j, sc))
			if dl == 0 {
				continue // keep the quants make_q3_quants chose
			}
			for l := 16 * j; l < 16*j+16; l++ {
				L[l] = int8(max(-4, min(3, nearestInt(x[l]/dl))) + 4)
			}
		}
		// High bits: element k's goes to bit k/32 of hmask[k%32].
		hm := b[0:32]
		clear(hm)
		for k := range L {
			if L[k] > 3 {
				hm[k%32] |= 1 << (k / 32)
				L[k] -= 4
			}
		}
		qs := b[32:96]
		for n := 0; n < 2; n++ {
			for l := 0; l < 32; l++ {
				o := 128 * n
				qs[32*n+l] = uint8(L[o+l] | L[o+l+32]<<2 | L[o+l+64]<<4 | L[o+l+96]<<6)
			}
		}
	}
}

func quantizeQ4_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[144*i:144*i+144]
		quantizeScaleMin(x, b[0:16], &L, 15, -1, 0.1, 20)
		qs := b[16:144]
		for n := 0; n < 4; n++ {
			for l := 0; l < 32; l++ {
				qs[32*n+l] = L[64*n+l] | L[64*n+32+l]<<4
			}
		}
	}
}

func quantizeQ5_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[176*i:176*i+176]
		quantizeScaleMin(x, b[0:16], &L, 31, -0.5, 0.1, 15)
		qh, qs := b[16:48], b[48:176]
		clear(qh)
		for n := 0; n < 4; n++ {
			for l := 0; l < 32; l++ {
				l1, l2 := L[64*n+l], L[64*n+32+l]
				if l1 > 15 {
					l1 -= 16
					qh[l] |= 1 << (2 * n)
				}
				if l2 > 15 {
					l2 -= 16
					qh[l] |= 2 << (2 * n)
				}
				qs[32*n+l] = l1 | l2<<4
			}
		}
	}
}

// quantizeScaleMin does the common part of Q4_K and Q5_K: fit 8 groups of 32
// with make_qkx2_quants, quantize their scales and mins to 6 bits, write
// head = d, dmin, scales[12], and requantize x into L with the stored scales.
func quantizeScaleMin(x []float32, head []byte, L *[QK_K]uint8, nmax int32, rmin, rdelta float32, nstep int) {
	var laux [32]uint8
	var weights [32]float32
	var scales, mins [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xj := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xj {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xj {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(xj, weights[:], L[32*j:32*j+32], laux[:], nmax, rmin, rdelta, nstep, false)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := head[4:16]
	for j := 0; j < 8; j++ {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&0xF | (lm&0xF)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putF16(head, maxScale/63)
	putF16(head[2:], maxMin/63)
	d, dmin := f16At(head), f16At(head[2:])
	for j := 0; j < 8; j++ {
		s, m := getScaleMinK4(j, sc)
		dl := d * float32(s)
		if dl == 0 {
			continue
		}
		ml := float32(dmin * float32(m))
		for l := 32 * j; l < 32*j+32; l++ {
			L[l] = uint8(max(0, min(nmax, nearestInt((x[l]+ml)/dl))))
		}
	}
}

func quantizeQ6_K(dst []byte, src []float32) {
	var L [QK_K]int8
	var scales [16]float32
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := src[QK_K*i:QK_K*i+QK_K], dst[210*i:210*i+210]
		var maxScale, maxAbsScale float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQXQuants(x[16*j:16*j+16], L[16*j:16*j+16], 32)
			if s := abs32(scales[j]); s > maxAbsScale {
				maxAbsScale, maxScale = s, scales[j]
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		putF16(b[208:], 1/iscale)
		sc := b[192:208]
		for j := range sc {
			sc[j] = uint8(int8(min(127, nearestInt(iscale*scales[j]))))
		}
		d := f16At(b[208:])
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for l := 16 * j; l < 16*j+16; l++ {
				L[l] = int8(max(-32, min(31, nearestInt(x[l]/dl))) + 32)
			}
		}
		for n := 0; n < 2; n++ {
			ql, qh := b[64*n:64*n+64], b[128+32*n:128+32*n+32]
			o := 128 * n
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := uint8(L[o+l]), uint8(L[o+l+32]), uint8(L[o+l+64]), uint8(L[o+l+96])
				ql[l] = q1&0xF | (q3&0xF)<<4
				ql[l+32] = q2&0xF | (q4&0xF)<<4
				qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}
