package kernel

// Portable versions of the element-wise kernels in vec_amd64.go, used by the
// pure-Go build and by amd64 CPUs without AVX2/FMA. They define the results
// the assembly must reproduce: bit for bit, except dotF32, dotsF32 and
// sumSquaresF32, whose sums may be added in a different order. They do not
// call ops.go, so its functions may delegate to these kernels.

// dotF32Go sums in 4 chains, as Dot does.
func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotsF32Go(dst, q, k []float32, stride int) {
	for p := range dst {
		dst[p] = dotF32Go(q, k[p*stride:p*stride+len(q)])
	}
}

func addF32Go(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// axpyF32Go rounds the product before adding (the conversion forbids
// fusing it into an FMA) as the assembly does.
func axpyF32Go(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(alpha * x[i])
	}
}

func weightedSumF32Go(out, w, v []float32, stride int) {
	clear(out)
	for p, wp := range w {
		axpyF32Go(out, wp, v[p*stride:p*stride+len(out)])
	}
}

func sumSquaresF32Go(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	return sum
}

func scaleMulF32Go(dst, x []float32, s float32, w []float32) {
	x, w = x[:len(dst)], w[:len(dst)]
	for i, v := range x {
		dst[i] = v * s * w[i]
	}
}

// checkDots panics unless k holds len(dst) rows of len(q) floats stride apart.
func checkDots(dst, q, k []float32, stride int) {
	if len(dst) > 0 && (stride < len(q) || len(k) < (len(dst)-1)*stride+len(q)) {
		panic("kernel: dotsF32: keys too short for the stride")
	}
}

// checkWeightedSum panics unless v holds len(w) rows of len(out) floats
// stride apart.
func checkWeightedSum(out, w, v []float32, stride int) {
	if len(w) > 0 && (stride < len(out) || len(v) < (len(w)-1)*stride+len(out)) {
		panic("kernel: weightedSumF32: values too short for the stride")
	}
}
