package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The exp-based kernels are checked against float64 references. Their error
// budget, relative to the result: the float32 exp's ≤ 1 ulp (≤ 2^−23), plus
// ≤ 3 roundings of ½ ulp for the operations around it. expTol (4 ulp of
// 2^−23) leaves a little room, and is still 10× tighter than any
// difference a wrong lane, mask or constant would make.
const expTol = 4.0 / (1 << 23)

// expLengths cover the vector body, every tail length and both together.
var expLengths = []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 4864}

// softmaxKernels is Softmax built from the kernels, as ops.go composes them.
func softmaxKernels(x []float32, scale float32) {
	maxv := scaleMaxF32(x, scale)
	sum := softmaxExpF32(x, maxv)
	scaleF32(x, float32(1/sum))
}

// withGuard returns a copy of x followed by guard values, so that a kernel
// given the first len(x) elements can be checked for writing past them.
func withGuard(x []float32) []float32 {
	return append(append(make([]float32, 0, len(x)+8), x...), 1, 2, 3, 4, 5, 6, 7, 8)
}

func checkGuard(t *testing.T, name string, buf []float32, n int) {
	t.Helper()
	for i, v := range buf[n:] {
		if v != float32(i+1) {
			t.Errorf("%s wrote past its %d elements: %v", name, n, buf[n:])
			return
		}
	}
}

// swigluWant is silu(g)·u in float64.
func swigluWant(g, u float32) float64 {
	return float64(g) / (1 + math.Exp(-float64(g))) * float64(u)
}

func TestSwigluF32(t *testing.T) {
	inf := float32(math.Inf(1))
	special := []float32{0, 1, -1, 2, 20, -20, 50, -50, 85, -85, 88, -88, 89, -89, 90, -90, 100, -100, 1e30, -1e30, inf, -inf, float32(math.Copysign(0, -1))}
	rng := rand.New(rand.NewPCG(41, 42))
	for _, n := range expLengths {
		for _, scale := range []float64{1, 10, 60} {
			gate := randFloats(rng, n, scale)
			up := randFloats(rng, n, 1)
			if scale == 60 { // mix in the special values, at every lane position
				for i := range gate {
					gate[i] = special[(i*7+n)%len(special)]
				}
			}
			upCopy := append([]float32(nil), up...)
			buf := withGuard(gate)
			swigluF32(buf[:n], up)
			name := fmt.Sprintf("swigluF32(n=%d, scale %g)", n, scale)
			checkGuard(t, name, buf, n)
			for i, g := range gate {
				want := swigluWant(g, up[i])
				got := float64(buf[i])
				if math.IsInf(float64(g), 0) { // ±Inf/(1+e^∓Inf): Inf·u or −Inf/Inf = NaN, as Go computes it
					if wantGo := float64(g / (1 + exp32(-g)) * up[i]); !(got == wantGo || math.IsNaN(got) && math.IsNaN(wantGo)) {
						t.Errorf("%s[%d]: silu(%g)·%g = %g, want %g", name, i, g, up[i], got, wantGo)
					}
					continue
				}
				// Below −88.7 e^−g overflows float32 and silu is 0 (in Go too);
				// the true |silu(g)| is then under 3e-37.
				if math.Abs(got-want) > expTol*math.Abs(want)+3e-37*math.Abs(float64(up[i])) {
					t.Errorf("%s[%d]: silu(%g)·%g = %g, want %g", name, i, g, up[i], got, want)
				}
			}
			sameBits(t, name+" up", up, upCopy)
		}
	}
}

func TestSwigluF32NaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, n := range []int{1, 8, 11} {
		for j := range n {
			gate := make([]float32, n)
			up := make([]float32, n)
			for i := range up {
				gate[i], up[i] = 1, 1
			}
			gate[j] = nan
			swigluF32(gate, up)
			for i, v := range gate {
				if nanWant := i == j; nanWant != math.IsNaN(float64(v)) {
					t.Errorf("n=%d, NaN at %d: gate[%d] = %g", n, j, i, v)
				}
			}
		}
	}
}

// softmaxWant is the softmax of x·scale in float64, given the float32
// differences x[i]·scale − max that the kernels feed to exp (their rounding
// is the same in every implementation, so it is not part of the error).
func softmaxWant(x []float32, scale float32) []float64 {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		maxv = max(maxv, v*scale)
	}
	want := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		want[i] = math.Exp(float64(v*scale - maxv))
		sum += want[i]
	}
	for i := range want {
		want[i] /= sum
	}
	return want
}

func TestSoftmaxKernels(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tt := range []struct {
		name  string
		x     []float32
		scale float32
	}{
		{"1,2,3", []float32{1, 2, 3}, 1},
		{"large", []float32{1000, 1001, 1002}, 1},
		{"negative scale", []float32{3, 2, 1}, -1},
		{"single", []float32{7}, 1},
		{"ties", []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1},
		{"masked", []float32{5, -inf, 5, -inf, -inf, -inf, -inf, -inf, 5, -inf, -inf}, 1},
		{"underflow", []float32{-1000, 0, -80, -87, -90, -100, -103, -104, -110, 0.5}, 1},
		{"huge", []float32{1e30, 1e30, 3e38, 0, -3e38, 1, 2, 3, 4}, 1},
		{"max in tail", []float32{-1, -2, -3, -4, -5, -6, -7, -8, 9}, 0.125},
	} {
		buf := withGuard(tt.x)
		x := buf[:len(tt.x)]
		softmaxKernels(x, tt.scale)
		checkGuard(t, tt.name, buf, len(x))
		want := softmaxWant(tt.x, tt.scale)
		for i := range x {
			if math.Abs(float64(x[i])-want[i]) > expTol*want[i]+1e-44 {
				t.Errorf("%s: softmax(%v·%g)[%d] = %g, want %g", tt.name, tt.x, tt.scale, i, x[i], want[i])
			}
		}
	}
}

func TestSoftmaxKernelsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, n := range expLengths[1:] {
		for _, spread := range []float64{1, 30} {
			x := randFloats(rng, n, spread)
			const scale = 0.125
			name := fmt.Sprintf("n=%d, spread %g", n, spread)

			// The scaling passes are bit-identical to the Go loops.
			got, ref := append([]float32(nil), x...), append([]float32(nil), x...)
			if m, mRef := scaleMaxF32(got, scale), scaleMaxF32Go(ref, scale); m != mRef {
				t.Errorf("%s: scaleMaxF32 = %g, want %g", name, m, mRef)
			}
			sameBits(t, name+" scaleMaxF32", got, ref)
			scaleF32(got, 0.3)
			scaleF32Go(ref, 0.3)
			sameBits(t, name+" scaleF32", got, ref)

			// The sum returned is the sum of the exps stored.
			e := append([]float32(nil), x...)
			sum := softmaxExpF32(e, slices.Max(x))
			var check float64
			for _, v := range e {
				check += float64(v)
			}
			if math.Abs(sum-check) > 1e-14*check {
				t.Errorf("%s: softmaxExpF32 returned %g, its values sum to %g", name, sum, check)
			}

			want := softmaxWant(x, scale)
			softmaxKernels(x, scale)
			for i := range x {
				if math.Abs(float64(x[i])-want[i]) > expTol*want[i]+1e-44 {
					t.Errorf("%s: softmax[%d] = %g, want %g", name, i, x[i], want[i])
					break
				}
			}
		}
	}
}

// TestSoftmaxKernelsNaN: a NaN score makes every output NaN, as in the Go
// loops (the vector max ignores NaN, but the sum does not).
func TestSoftmaxKernelsNaN(t *testing.T) {
	for _, n := range []int{1, 3, 8, 13} {
		for j := range n {
			x := make([]float32, n)
			x[j] = float32(math.NaN())
			softmaxKernels(x, 1)
			for i, v := range x {
				if !math.IsNaN(float64(v)) {
					t.Errorf("n=%d, NaN at %d: softmax[%d] = %g, want NaN", n, j, i, v)
				}
			}
		}
	}
}
