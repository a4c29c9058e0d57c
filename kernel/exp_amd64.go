//go:build amd64 && !purego

package kernel

// Vectorized SwiGLU and softmax (AVX2 + FMA). The assembly's float32 exp
// (EXP8 in exp_amd64.s) is within 1 ulp of e^x over the whole float range
// (0 below −103.97, +Inf above 88.72, NaN for NaN); each kernel otherwise
// does the float operations of its portable version in exp.go, in the same
// order, so results differ from the portable ones only through exp. Each
// falls back to the portable code when the CPU lacks AVX2/FMA.

//go:noescape
func swigluF32AVX2(gate, up *float32, n int)

//go:noescape
func scaleMaxF32AVX2(x *float32, n int, scale float32) float32

//go:noescape
func softmaxExpF32AVX2(x *float32, n int, maxv float32) float64

//go:noescape
func scaleF32AVX2(x *float32, n int, s float32)

// swigluF32 sets gate[i] = gate[i]/(1+e^−gate[i])·up[i].
func swigluF32(gate, up []float32) {
	up = up[:len(gate)]
	if !hasAVX2 || len(gate) == 0 {
		swigluF32Go(gate, up)
		return
	}
	swigluF32AVX2(&gate[0], &up[0], len(gate))
}

// scaleMaxF32 sets x[i] *= scale, bit-identical to the Go loop, and returns
// the largest result (−Inf for an empty x). Unlike Go's max it does not
// propagate NaN, which Softmax does not need: a NaN x[i] makes the sum, and
// so every output, NaN anyway.
func scaleMaxF32(x []float32, scale float32) float32 {
	if !hasAVX2 || len(x) == 0 {
		return scaleMaxF32Go(x, scale)
	}
	return scaleMaxF32AVX2(&x[0], len(x), scale)
}

// softmaxExpF32 sets x[i] = e^(x[i]−maxv) and returns Σ x[i], each term
// converted to float64 and summed in four float64 lanes.
func softmaxExpF32(x []float32, maxv float32) float64 {
	if !hasAVX2 || len(x) == 0 {
		return softmaxExpF32Go(x, maxv)
	}
	return softmaxExpF32AVX2(&x[0], len(x), maxv)
}

// scaleF32 sets x[i] *= s, bit-identical to the Go loop.
func scaleF32(x []float32, s float32) {
	if !hasAVX2 || len(x) == 0 {
		scaleF32Go(x, s)
		return
	}
	scaleF32AVX2(&x[0], len(x), s)
}
