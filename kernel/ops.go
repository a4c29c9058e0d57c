package kernel

import (
	"math"
)

// The element-wise operations follow ggml's CPU code in the order of their
// float operations (double accumulators where ggml uses them), so that F32
// models reproduce llama.cpp's logits to float rounding.

// RMSNorm sets dst = x / sqrt(mean(x²) + eps) * w.
func RMSNorm(dst, x, w []float32, eps float32) {
	n := len(x)
	mean := float32(sumSquaresF32(x) / float64(n))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	scaleMulF32(dst[:n], x, scale, w[:n])
}

// Add sets dst[i] += x[i].
func Add(dst, x []float32) { addF32(dst, x) }

// SwiGLU sets gate[i] = silu(gate[i]) * up[i].
func SwiGLU(gate, up []float32) { swigluF32(gate, up) }

// Softmax replaces x with softmax(x*scale).
func Softmax(x []float32, scale float32) {
	maxv := scaleMaxF32(x, scale)
	sum := softmaxExpF32(x, maxv)
	scaleF32(x, float32(1/sum))
}

// Dot is a float32 dot product of equal-length vectors.
func Dot(a, b []float32) float32 { return dotF32(a, b) }

// AXPY sets y += a*x.
func AXPY(y []float32, a float32, x []float32) { axpyF32(y, a, x) }

// RoPE rotates the first len(cos)*2 dimensions of each head vector in x
// (nHeads vectors of headDim) by the angles whose cosines and sines are given
// per dimension pair. neox selects the layout: NEOX pairs dimension i with
// i+n/2 (Hugging Face's rotate_half); NORM pairs adjacent dimensions 2i, 2i+1.
func RoPE(x []float32, nHeads, headDim int, cos, sin []float32, neox bool) {
	half := len(cos)
	for h := 0; h < nHeads; h++ {
		v := x[h*headDim : (h+1)*headDim]
		if neox {
			a, b := v[:half], v[half:2*half]
			for i := range half {
				x0, x1 := a[i], b[i]
				a[i] = x0*cos[i] - x1*sin[i]
				b[i] = x0*sin[i] + x1*cos[i]
			}
		} else {
			for i := range half {
				x0, x1 := v[2*i], v[2*i+1]
				v[2*i] = x0*cos[i] - x1*sin[i]
				v[2*i+1] = x0*sin[i] + x1*cos[i]
			}
		}
	}
}

// RopeAngles fills cos and sin (len nRot/2) for position pos the way ggml
// does: θ_i = pos · base^(−2i/nRot), computed by repeated multiplication in
// float32, divided by factors[i] when factors (llama3 rope_freqs) is non-nil.
func RopeAngles(cos, sin []float32, pos int, base float32, factors []float32) {
	nRot := 2 * len(cos)
	thetaScale := float32(math.Pow(float64(base), float64(float32(-2.0)/float32(nRot))))
	theta := float32(pos)
	for i := range cos {
		t := theta
		if factors != nil {
			t /= factors[i]
		}
		cos[i] = float32(math.Cos(float64(t)))
		sin[i] = float32(math.Sin(float64(t)))
		theta *= thetaScale
	}
}
