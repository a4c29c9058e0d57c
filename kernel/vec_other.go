//go:build !amd64 || purego

package kernel

// Without assembly the element-wise kernels are the portable loops.

func dotF32(a, b []float32) float32                        { return dotF32Go(a, b) }
func axpyF32(y []float32, alpha float32, x []float32)      { axpyF32Go(y, alpha, x) }
func addF32(dst, x []float32)                              { addF32Go(dst, x) }
func sumSquaresF32(x []float32) float64                    { return sumSquaresF32Go(x) }
func scaleMulF32(dst, x []float32, s float32, w []float32) { scaleMulF32Go(dst, x, s, w) }
func dotsF32(dst, q, k []float32, stride int) {
	checkDots(dst, q, k, stride)
	dotsF32Go(dst, q, k, stride)
}
func weightedSumF32(out, w, v []float32, stride int) {
	checkWeightedSum(out, w, v, stride)
	weightedSumF32Go(out, w, v, stride)
}

// hasAVX2 is false: this build has no assembly kernels.
const hasAVX2 = false
