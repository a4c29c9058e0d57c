//go:build amd64 && !purego

package kernel

import "unsafe"

// Fast element-wise float32 kernels for the forward pass and attention.
// Each falls back to the portable code of vec.go when the CPU lacks AVX2/FMA
// (hasAVX2). Slices too short for the lengths implied by the first
// argument panic, as the Go loops would.

//go:noescape
func dotF32AVX2(a, b *float32, n int) float32

//go:noescape
func axpyF32AVX2(y *float32, alpha float32, x *float32, n int)

//go:noescape
func sumSquaresF32AVX2(x *float32, n int) float64

//go:noescape
func scaleMulF32AVX2(dst, x *float32, s float32, w *float32, n int)

//go:noescape
func addF32AVX2(dst, x *float32, n int)

//go:noescape
func weightedSumF32AVX2(out, w, v *float32, np, stride, cols int)

// dotF32 returns Σ a[i]·b[i] over len(a), summed in 32 float32 FMA lanes.
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	if !hasAVX2 || len(a) == 0 {
		return dotF32Go(a, b)
	}
	return dotF32AVX2(&a[0], &b[0], len(a))
}

// axpyF32 sets y[i] += alpha·x[i] with the product rounded to float32 before
// the addition, as AXPY computes it when the compiler does not fuse it into
// an FMA (it never does for the default GOAMD64=v1).
func axpyF32(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	if !hasAVX2 || len(y) == 0 {
		axpyF32Go(y, alpha, x)
		return
	}
	axpyF32AVX2(&y[0], alpha, &x[0], len(y))
}

// addF32 sets dst[i] += x[i], bit-identical to Add.
func addF32(dst, x []float32) {
	x = x[:len(dst)]
	if !hasAVX2 || len(dst) == 0 {
		addF32Go(dst, x)
		return
	}
	addF32AVX2(&dst[0], &x[0], len(dst))
}

// sumSquaresF32 returns Σ float64(x[i]·x[i]) with each square rounded to
// float32 (RMSNorm's sum); the float64 additions run in a different order
// than a plain loop's.
func sumSquaresF32(x []float32) float64 {
	if !hasAVX2 || len(x) == 0 {
		return sumSquaresF32Go(x)
	}
	return sumSquaresF32AVX2(&x[0], len(x))
}

// scaleMulF32 sets dst[i] = x[i]·s·w[i] (RMSNorm's last step), bit-identical
// to the Go loop.
func scaleMulF32(dst, x []float32, s float32, w []float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	if !hasAVX2 || len(dst) == 0 {
		scaleMulF32Go(dst, x, s, w)
		return
	}
	scaleMulF32AVX2(&dst[0], &x[0], s, &w[0], len(dst))
}

// dotsF32 sets dst[p] = q·k[p·stride : p·stride+len(q)] for every p: the
// attention scores of one query against len(dst) cached keys. It runs the
// F32 gemv kernel, four keys at a time.
func dotsF32(dst, q, k []float32, stride int) {
	checkDots(dst, q, k, stride)
	n8 := len(q) &^ 7
	if !hasAVX2 || len(dst) == 0 || n8 == 0 {
		dotsF32Go(dst, q, k, stride)
		return
	}
	gemvF32AVX2(&dst[0], (*byte)(unsafe.Pointer(&k[0])), 4*stride, (*byte)(unsafe.Pointer(&q[0])), len(dst), n8)
	for p := range dst {
		s := dst[p]
		for j := n8; j < len(q); j++ {
			s += q[j] * k[p*stride+j]
		}
		dst[p] = s
	}
}

// weightedSumF32 sets out[j] = Σ_p w[p]·v[p·stride+j]: attention's weighted
// sum of len(w) cached values. It is bit-identical to clearing out and
// calling axpyF32(out, w[p], v[p·stride:]) for p in order.
func weightedSumF32(out, w, v []float32, stride int) {
	checkWeightedSum(out, w, v, stride)
	c8 := len(out) &^ 7
	if !hasAVX2 || c8 == 0 || len(w) == 0 {
		weightedSumF32Go(out, w, v, stride)
		return
	}
	weightedSumF32AVX2(&out[0], &w[0], &v[0], len(w), stride, c8)
	for j := c8; j < len(out); j++ {
		var s float32
		for p, wp := range w {
			s += float32(wp * v[p*stride+j])
		}
		out[j] = s
	}
}
