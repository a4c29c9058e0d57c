package kernel

import "math"

// Portable versions of the exp-based kernels of exp_amd64.s, used by the
// pure-Go build and by amd64 CPUs without AVX2/FMA. They compute exactly what
// SwiGLU and Softmax computed before the assembly existed (exp rounded from
// float64); the assembly differs from them only in its float32 exp, which is
// within 1 ulp of the true value. They do not call ops.go, so its functions
// may delegate to these kernels.

// exp32 is e^x correctly rounded to float32 (math.Exp is accurate to
// better than 1 ulp of float64, so its rounding is almost always correct).
func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// swigluF32Go sets gate[i] = gate[i]/(1+e^−gate[i])·up[i].
func swigluF32Go(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + exp32(-g)) * up[i]
	}
}

// scaleMaxF32Go sets x[i] *= scale and returns the largest result (−Inf
// for an empty x, NaN if any is NaN).
func scaleMaxF32Go(x []float32, scale float32) float32 {
	maxv := float32(math.Inf(-1))
	for i := range x {
		x[i] *= scale
		maxv = max(maxv, x[i])
	}
	return maxv
}

// softmaxExpF32Go sets x[i] = e^(x[i]−maxv) and returns Σ x[i] in float64.
func softmaxExpF32Go(x []float32, maxv float32) float64 {
	var sum float64
	for i, v := range x {
		e := exp32(v - maxv)
		x[i] = e
		sum += float64(e)
	}
	return sum
}

// scaleF32Go sets x[i] *= s.
func scaleF32Go(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}
