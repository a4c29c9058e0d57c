package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// close32 reports whether got is within tol of want, relative to max(1, |want|).
func close32(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*math.Max(1, math.Abs(want))
}

func checkSlice(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !close32(got[i], want[i], tol) {
			t.Errorf("%s = %v, want %v (index %d)", name, got, want, i)
			return
		}
	}
}

func TestRMSNorm(t *testing.T) {
	for _, tt := range []struct {
		x, w []float32
		eps  float32
		want []float64
	}{
		// 1/sqrt(mean(1,4,9,16)) = 1/sqrt(7.5)
		{[]float32{1, 2, 3, 4}, []float32{1, 1, 1, 1}, 0, []float64{0.3651483716701107, 0.7302967433402214, 1.0954451150103321, 1.4605934866804429}},
		// mean 12.5, plus eps 1: scale 1/sqrt(13.5), then the weights
		{[]float32{3, -4}, []float32{2, 0.5}, 1, []float64{1.632993161855452, -0.5443310539518174}},
		{[]float32{5}, []float32{1}, 0, []float64{1}},
		{[]float32{-5}, []float32{3}, 0, []float64{-3}},
		{[]float32{0, 0, 0}, []float32{1, 2, 3}, 1e-5, []float64{0, 0, 0}},
		// Large values: the sum of squares is in float64, no overflow in float32 products
		{[]float32{1e18, -1e18}, []float32{1, 1}, 0, []float64{1, -1}},
	} {
		dst := make([]float32, len(tt.x))
		RMSNorm(dst, tt.x, tt.w, tt.eps)
		checkSlice(t, fmt.Sprintf("RMSNorm(%v, %v, %g)", tt.x, tt.w, tt.eps), dst, tt.want, 1e-6)
		// In place, as the forward pass uses it.
		x := append([]float32(nil), tt.x...)
		RMSNorm(x, x, tt.w, tt.eps)
		checkSlice(t, "RMSNorm in place", x, tt.want, 1e-6)
	}
}

func TestRMSNormRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 7, 64, 896} {
		x, w := randFloats(r, n, 3), randFloats(r, n, 1)
		const eps = 1e-6
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		scale := 1 / math.Sqrt(ss/float64(n)+eps)
		want := make([]float64, n)
		for i := range x {
			want[i] = float64(x[i]) * scale * float64(w[i])
		}
		dst := make([]float32, n)
		RMSNorm(dst, x, w, eps)
		checkSlice(t, fmt.Sprintf("RMSNorm(n=%d)", n), dst, want, 1e-6)
	}
}

func TestSoftmax(t *testing.T) {
	inf := float32(math.Inf(1))
	e123 := []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219} // e^i / Σ e^i
	for _, tt := range []struct {
		x     []float32
		scale float32
		want  []float64
	}{
		{[]float32{1, 2, 3}, 1, e123},
		{[]float32{2, 4, 6}, 0.5, e123},
		{[]float32{10, 20, 30}, 0.1, e123},
		{[]float32{1000, 1001, 1002}, 1, e123}, // the max is subtracted: no overflow
		{[]float32{-1e4, -1e4 + 1, -1e4 + 2}, 1, e123},
		{[]float32{3, 2, 1}, -1, e123}, // negative scale flips the order
		{[]float32{7}, 1, []float64{1}},
		{[]float32{0, 0, 0, 0}, 1, []float64{0.25, 0.25, 0.25, 0.25}},
		{[]float32{-1000, 0}, 1, []float64{0, 1}},
		{[]float32{5, -inf, 5}, 1, []float64{0.5, 0, 0.5}}, // masked entries
		{[]float32{1e30, 1e30}, 1, []float64{0.5, 0.5}},
		{[]float32{3e38, 0}, 1, []float64{1, 0}},
	} {
		x := append([]float32(nil), tt.x...)
		Softmax(x, tt.scale)
		checkSlice(t, fmt.Sprintf("Softmax(%v, %g)", tt.x, tt.scale), x, tt.want, 1e-6)
	}
}

func TestSoftmaxRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 5, 100, 4096} {
		x := randFloats(r, n, 10)
		const scale = 0.125
		maxv := math.Inf(-1)
		for _, v := range x {
			maxv = math.Max(maxv, float64(v)*scale)
		}
		want := make([]float64, n)
		var sum float64
		for i, v := range x {
			want[i] = math.Exp(float64(v)*scale - maxv)
			sum += want[i]
		}
		for i := range want {
			want[i] /= sum
		}
		Softmax(x, scale)
		var total float64
		for _, v := range x {
			total += float64(v)
		}
		if math.Abs(total-1) > 1e-5 {
			t.Errorf("n=%d: softmax sums to %v", n, total)
		}
		checkSlice(t, fmt.Sprintf("Softmax(n=%d)", n), x, want, 1e-6)
	}
}

func TestSwiGLU(t *testing.T) {
	gate := []float32{0, 1, -1, 2, 20, -20, -100, 100}
	up := []float32{3, 2, 2, 0.5, 1, 1, 1, -1}
	// silu(g)·u = g/(1+e^-g)·u
	want := []float64{0, 1.4621171572600098, -0.5378828427399902, 0.8807970779778823, 19.999999958776925, -4.122307236380407e-08, 0, -100}
	SwiGLU(gate, up)
	checkSlice(t, "SwiGLU", gate, want, 1e-6)
	if up[0] != 3 || up[7] != -1 {
		t.Errorf("SwiGLU changed up: %v", up)
	}
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 33, 64} {
		a, b := randFloats(r, n, 1), randFloats(r, n, 1)
		var want, mag float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		if got := Dot(a, b); math.Abs(float64(got)-want) > 1e-6*mag {
			t.Errorf("Dot(n=%d) = %v, want %v", n, got, want)
		}
	}
	if got := Dot([]float32{1, 2, 3, 4, 5}, []float32{5, 4, 3, 2, 1, 100}); got != 35 {
		t.Errorf("Dot(1..5, 5..1) = %v, want 35 (b's extra element ignored)", got)
	}
}

func TestAXPYAndAdd(t *testing.T) {
	y := []float32{1, 2, 3}
	AXPY(y, 2, []float32{1, 1, -1, 99})
	checkSlice(t, "AXPY", y, []float64{3, 4, 1}, 0)
	Add(y, []float32{0.5, -4, 10, 99})
	checkSlice(t, "Add", y, []float64{3.5, 0, 11}, 0)
}

func TestRoPE(t *testing.T) {
	// Two heads of 6 dims; the first 4 are rotated (2 pairs), the last 2 are
	// not (partial rotation). Pair 0 turns by 90°, pair 1 by the 3-4-5 angle.
	cos := []float32{0, 0.6}
	sin := []float32{1, 0.8}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, tt := range []struct {
		neox bool
		want []float64
	}{
		// NORM pairs (0,1), (2,3): (1,2)→(−2,1); (3,4)→(3·.6−4·.8, 3·.8+4·.6)
		{false, []float64{-2, 1, -1.4, 4.8, 5, 6, -8, 7, -2.6, 13.2, 11, 12}},
		// NEOX pairs (0,2), (1,3): (1,3)→(−3,1); (2,4)→(2·.6−4·.8, 2·.8+4·.6)
		{true, []float64{-3, -2, 1, 4, 5, 6, -9, -3.2, 7, 12.4, 11, 12}},
	} {
		v := append([]float32(nil), x...)
		RoPE(v, 2, 6, cos, sin, tt.neox)
		checkSlice(t, fmt.Sprintf("RoPE(neox=%v)", tt.neox), v, tt.want, 1e-6)

		// Full rotation: 4-dim heads.
		v = []float32{1, 2, 3, 4}
		RoPE(v, 1, 4, cos, sin, tt.neox)
		checkSlice(t, fmt.Sprintf("RoPE(neox=%v, full)", tt.neox), v, tt.want[:4], 1e-6)
	}
}

// TestRoPEMatchesAngles rotates by RopeAngles and compares with the rotation
// computed in float64, for both layouts and partial rotation.
func TestRoPEMatchesAngles(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const heads, headDim, nRot, pos = 3, 64, 32, 17
	const base = 10000.0
	cos, sin := make([]float32, nRot/2), make([]float32, nRot/2)
	RopeAngles(cos, sin, pos, base, nil)
	for _, neox := range []bool{false, true} {
		x := randFloats(r, heads*headDim, 1)
		got := append([]float32(nil), x...)
		RoPE(got, heads, headDim, cos, sin, neox)
		want := make([]float64, len(x))
		for i := range x {
			want[i] = float64(x[i])
		}
		for h := range heads {
			v := want[h*headDim : (h+1)*headDim]
			for i := range nRot / 2 {
				theta := pos * math.Pow(base, -2*float64(i)/nRot)
				a, b := 2*i, 2*i+1
				if neox {
					a, b = i, i+nRot/2
				}
				x0, x1 := v[a], v[b]
				v[a] = x0*math.Cos(theta) - x1*math.Sin(theta)
				v[b] = x0*math.Sin(theta) + x1*math.Cos(theta)
			}
		}
		checkSlice(t, fmt.Sprintf("RoPE(neox=%v) vs float64", neox), got, want, 2e-5)
	}
}

func TestRopeAngles(t *testing.T) {
	for _, tt := range []struct {
		pos      int
		base     float32
		factors  []float32
		cos, sin []float64
	}{
		{0, 10000, nil, []float64{1, 1}, []float64{0, 0}},
		// θ = 3·10000^(−2i/4) = 3, 0.03
		{3, 10000, nil, []float64{-0.9899924966004454, 0.9995500337489875}, []float64{0.1411200080598672, 0.02999550020249566}},
		// llama3 rope_freqs divide the angles: 3/1, 0.03/4
		{3, 10000, []float32{1, 4}, []float64{-0.9899924966004454, 0.9999718751318357}, []float64{0.1411200080598672, 0.007499929687697754}},
	} {
		cos, sin := make([]float32, 2), make([]float32, 2)
		RopeAngles(cos, sin, tt.pos, tt.base, tt.factors)
		name := fmt.Sprintf("RopeAngles(pos %d, base %g, factors %v)", tt.pos, tt.base, tt.factors)
		checkSlice(t, name+" cos", cos, tt.cos, 1e-6)
		checkSlice(t, name+" sin", sin, tt.sin, 1e-6)
	}
}

// TestRopeAnglesLong checks many dimensions and a large position against
// float64. ggml builds θ_i by repeated float32 multiplication, so the angle
// error grows with i and with θ; the tolerance allows that, not more.
func TestRopeAnglesLong(t *testing.T) {
	const nRot, pos = 128, 4000
	factors := make([]float32, nRot/2)
	for i := range factors {
		factors[i] = 1 + float32(i%5)
	}
	for _, base := range []float32{10000, 1e6} {
		for _, ff := range [][]float32{nil, factors} {
			cos, sin := make([]float32, nRot/2), make([]float32, nRot/2)
			RopeAngles(cos, sin, pos, base, ff)
			for i := range cos {
				theta := pos * math.Pow(float64(base), -2*float64(i)/nRot)
				if ff != nil {
					theta /= float64(ff[i])
				}
				tol := 1e-6 + 2e-7*float64(i+2)*theta
				if math.Abs(float64(cos[i])-math.Cos(theta)) > tol || math.Abs(float64(sin[i])-math.Sin(theta)) > tol {
					t.Errorf("base %g, factors %v: pair %d: cos, sin = %v, %v; want %v, %v (θ %v)", base, ff != nil, i, cos[i], sin[i], math.Cos(theta), math.Sin(theta), theta)
				}
			}
		}
	}
}
