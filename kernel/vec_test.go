package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var vecLengths = []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128, 896, 4864}

// dotBound is the rounding bound for a float32 dot product summed in 32
// lanes: chains of n/32 FMAs, 5 levels of lane reduction and up to 7 tail
// FMAs give |got − exact| ≤ (n/32+13)·u·Σ|a·b|, u = 2⁻²⁴. The portable Dot
// sums 4 chains of n/4, so its bound is (n/4+13)·u·Σ|a·b|.
func dotBound(n int, abs float64) float64 {
	chains := 4
	if hasAVX2 {
		chains = 32
	}
	return float64(n/chains+13) * 0x1p-24 * abs
}

func exactDot(a, b []float32) (dot, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i]) // exact: 24+24 bits fit in 53
		dot += p
		abs += math.Abs(p)
	}
	return dot, abs
}

func TestDotF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range vecLengths {
		for _, scale := range []float64{1, 1e-20, 1e20} {
			a, b := vecRand(rng, n, scale), vecRand(rng, n, 1)
			got := dotF32(a, b)
			want, abs := exactDot(a, b)
			if diff := math.Abs(float64(got) - want); !(diff <= dotBound(n, abs)) {
				t.Errorf("dotF32(n=%d, scale %g) = %g, want %g (diff %.3g > %.3g)", n, scale, got, want, diff, dotBound(n, abs))
			}
		}
	}
}

func TestDotsF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, d := range []int{5, 8, 13, 64, 128} {
		for _, stride := range []int{d, 2*d + 3} {
			for _, np := range []int{0, 1, 3, 4, 5, 9, 33} {
				q := vecRand(rng, d, 1)
				k := vecRand(rng, max(0, (np-1)*stride+d), 1)
				got := make([]float32, np)
				dotsF32(got, q, k, stride)
				for p := range np {
					want, abs := exactDot(q, k[p*stride:p*stride+d])
					if diff := math.Abs(float64(got[p]) - want); !(diff <= dotBound(d, abs)) {
						t.Errorf("dotsF32(d=%d, stride %d, %d keys)[%d] = %g, want %g", d, stride, np, p, got[p], want)
					}
				}
			}
		}
	}
}

// refAXPY is y += alpha·x with the product rounded first (never fused).
func refAXPY(y []float32, alpha float32, x []float32) {
	for i := range y {
		y[i] += float32(alpha * x[i])
	}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want[i])
			return
		}
	}
}

func TestAxpyF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range vecLengths {
		x, y := vecRand(rng, n, 1), vecRand(rng, n, 1)
		alpha := float32(rng.NormFloat64())
		want := append([]float32(nil), y...)
		refAXPY(want, alpha, x)
		axpyF32(y, alpha, x)
		sameBits(t, fmt.Sprintf("axpyF32(n=%d)", n), y, want)
	}
}

func TestAddF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range vecLengths {
		x, y := vecRand(rng, n, 1), vecRand(rng, n, 1)
		want := append([]float32(nil), y...)
		Add(want, x)
		addF32(y, x)
		sameBits(t, fmt.Sprintf("addF32(n=%d)", n), y, want)
	}
}

func TestScaleMulF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, n := range vecLengths {
		x, w := vecRand(rng, n, 1), vecRand(rng, n, 1)
		s := float32(rng.Float64() * 3)
		want := make([]float32, n)
		for i := range want {
			want[i] = x[i] * s * w[i]
		}
		got := make([]float32, n)
		scaleMulF32(got, x, s, w)
		sameBits(t, fmt.Sprintf("scaleMulF32(n=%d)", n), got, want)
	}
}

// TestSumSquaresF32 allows only float64 reordering: ≤ n·2⁻⁵³ of the sum.
func TestSumSquaresF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range vecLengths {
		x := vecRand(rng, n, 10)
		got, want := sumSquaresF32(x), sumSquaresF32Go(x)
		if diff := math.Abs(got - want); !(diff <= float64(n)*0x1p-53*want) {
			t.Errorf("sumSquaresF32(n=%d) = %.17g, want %.17g", n, got, want)
		}
	}
}

// TestRMSNormFromVec shows that RMSNorm built from sumSquaresF32 and
// scaleMulF32 gives RMSNorm's bits on model-sized rows: the float64 sum is
// rounded to float32 before it is used.
func TestRMSNormFromVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{64, 128, 896, 2048, 4096} {
		for range 20 {
			x, w := vecRand(rng, n, 3), vecRand(rng, n, 1)
			want := make([]float32, n)
			RMSNorm(want, x, w, 1e-6)
			mean := float32(sumSquaresF32(x) / float64(n))
			scale := 1 / float32(math.Sqrt(float64(mean+1e-6)))
			got := make([]float32, n)
			scaleMulF32(got, x, scale, w)
			sameBits(t, fmt.Sprintf("RMSNorm(n=%d)", n), got, want)
		}
	}
}

func TestWeightedSumF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, d := range []int{3, 8, 13, 64, 72, 128, 200} {
		for _, stride := range []int{d, 2*d + 1} {
			for _, np := range []int{0, 1, 2, 5, 9, 100} {
				w := vecRand(rng, np, 1)
				v := vecRand(rng, max(0, (np-1)*stride+d), 1)
				want := make([]float32, d)
				for p, wp := range w {
					refAXPY(want, wp, v[p*stride:p*stride+d])
				}
				got := vecRand(rng, d, 1) // overwritten, not added to
				weightedSumF32(got, w, v, stride)
				sameBits(t, fmt.Sprintf("weightedSumF32(d=%d, stride %d, %d values)", d, stride, np), got, want)
			}
		}
	}
}

func TestVecPanicsOnShortSlices(t *testing.T) {
	for name, f := range map[string]func(){
		"dotF32":         func() { dotF32(make([]float32, 9), make([]float32, 8)) },
		"axpyF32":        func() { axpyF32(make([]float32, 9), 1, make([]float32, 8)) },
		"addF32":         func() { addF32(make([]float32, 9), make([]float32, 8)) },
		"scaleMulF32":    func() { scaleMulF32(make([]float32, 9), make([]float32, 9), 1, make([]float32, 8)) },
		"dotsF32":        func() { dotsF32(make([]float32, 3), make([]float32, 8), make([]float32, 2*16+7), 16) },
		"dotsF32 stride": func() { dotsF32(make([]float32, 3), make([]float32, 8), make([]float32, 100), 4) },
		"weightedSumF32": func() { weightedSumF32(make([]float32, 8), make([]float32, 3), make([]float32, 2*16+7), 16) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short slice did not panic", name)
				}
			}()
			f()
		}()
	}
}

// vecRand returns n normal floats times scale.
func vecRand(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}
