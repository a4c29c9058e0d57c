//go:build amd64 && !purego

package kernel

import (
	"flag"
	"math"
	"sync"
	"testing"
)

var expExhaustive = flag.Bool("exp.exhaustive", false, "check the vector exp on every float32 (about a minute)")

// vexp sets x[i] = e^x[i] with the assembly's vector exp: softmaxExpF32AVX2
// with max 0 computes exactly that (x − 0 is x, NaN and −0 included).
func vexp(x []float32) {
	if len(x) > 0 {
		softmaxExpF32AVX2(&x[0], len(x), 0)
	}
}

// expULPs returns |got − e^x| in float32 ulps at e^x (subnormal ulps below
// 2^−126); +Inf counts as 2^128, so overflowing one ulp early costs ~1 ulp.
// For a NaN x it is 0 if got is NaN, +Inf if not.
func expULPs(got, x float32) float64 {
	if x != x {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	want := math.Exp(float64(x))
	g := float64(got)
	if math.IsInf(g, 1) {
		g = 0x1p128
	}
	if want > 0x1p128 {
		want = 0x1p128
	}
	e := max(math.Ilogb(want), -126)
	return math.Abs(g-want) / math.Ldexp(1, e-23)
}

// expSweep checks the vector exp on the float32s with bit patterns
// lo, lo+step, … ≤ hi and returns the worst error in ulps and its input.
func expSweep(lo, hi, step uint32) (worst float64, at float32) {
	const chunk = 4096
	x := make([]float32, 0, chunk)
	e := make([]float32, chunk)
	flush := func() {
		copy(e, x)
		vexp(e[:len(x)])
		for i, v := range x {
			if u := expULPs(e[i], v); u > worst || math.IsNaN(u) {
				worst, at = u, v
			}
		}
		x = x[:0]
	}
	for b := uint64(lo); b <= uint64(hi); b += uint64(step) {
		x = append(x, math.Float32frombits(uint32(b)))
		if len(x) == chunk {
			flush()
		}
	}
	flush()
	return worst, at
}

// TestVectorExpULP sweeps the inputs whose e^x is neither 0 nor +Inf
// (−104 < x < 90, both signs' bit patterns) at a stride, and checks the
// error stays within 1 ulp. -exp.exhaustive checks every float32 instead;
// its result (all 2^32 inputs): at most 0.976 ulp, at x = −48.865902.
func TestVectorExpULP(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	type span struct{ lo, hi uint32 }
	spans := []span{{0, 0x42b40000}, {0x80000000, 0xc2d00000}} // [0, 90], [−0, −104]
	step := uint32(211)
	if *expExhaustive {
		spans = []span{{0, 0x7fffffff}, {0x80000000, 0xffffffff}}
		step = 1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	worst, at := 0.0, float32(0)
	for _, s := range spans {
		wg.Go(func() {
			w, a := expSweep(s.lo, s.hi, step)
			mu.Lock()
			defer mu.Unlock()
			if w > worst || math.IsNaN(w) {
				worst, at = w, a
			}
		})
	}
	wg.Wait()
	t.Logf("vector exp: max error %.3f ulp, at x = %g", worst, at)
	if !(worst < 1) {
		t.Errorf("vector exp(%g) is %.3f ulp off, want < 1", at, worst)
	}
}

func TestVectorExpSpecial(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	maxf, minSub := float32(math.MaxFloat32), float32(math.SmallestNonzeroFloat32)
	// ln(MaxFloat32) = 88.72283906; e^x rounds to 2^−149 down to −103.2789
	// and to 0 below −103.9721 (half of 2^−149).
	for _, tt := range []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {minSub, 1}, {-minSub, 1},
		{1, math.E}, {-1, 1 / math.E}, {float32(math.Ln2), 2},
		{88.72283, 3.4028148e38}, {88.7229, inf}, {89, inf}, {100, inf}, {1e30, inf}, {maxf, inf}, {inf, inf},
		{-87.33654, 1.1754944e-38}, // 2^−126, the smallest normal
		{-103.2789, minSub}, {-103.9, minSub}, {-103.98, 0}, {-104, 0}, {-1e30, 0}, {-maxf, 0}, {-inf, 0},
		{nan, nan}, {-nan, nan},
	} {
		for _, n := range []int{1, 8, 13} { // tail only, body only, both
			x := make([]float32, n)
			for i := range x {
				x[i] = tt.x
			}
			vexp(x)
			for i, got := range x {
				ok := got == tt.want || math.IsNaN(float64(tt.want)) && math.IsNaN(float64(got))
				if !ok && !math.IsInf(float64(tt.want), 0) && tt.want != 0 {
					ok = expULPs(got, tt.x) < 1 // the finite cases are rounded values
				}
				if !ok {
					t.Errorf("vector exp(%g) = %g (n=%d, lane %d), want %g", tt.x, got, n, i, tt.want)
					break
				}
			}
		}
	}
}

// TestVectorExpLanes checks that every lane and every tail length computes
// the same function, and that masked tails write nothing past the end.
func TestVectorExpLanes(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	in := []float32{-3.5, 0.25, 7, -88, 88, 0, -0.1, 1.5, 42, -60, 12.5, -7.75, 3, 80, -100, 0.7, 2}
	want := append([]float32(nil), in...)
	for i := range want {
		x := []float32{want[i], want[i], want[i], want[i], want[i], want[i], want[i], want[i]}
		vexp(x)
		want[i] = x[0]
	}
	for n := 1; n <= len(in); n++ {
		for off := range min(8, n) {
			buf := withGuard(in[off:n])
			vexp(buf[:n-off])
			checkGuard(t, "vexp", buf, n-off)
			sameBits(t, "vexp", buf[:n-off], want[off:n])
		}
	}
}
