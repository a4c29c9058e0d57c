package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Each backward function is checked against central finite differences in
// float64: for a scalar L = Σ out·R with fixed random R, the analytic
// gradient of every input element must match (L(x+h) − L(x−h))/2h to a
// relative error of 1e-4.

const (
	fdStep   = 1e-5
	fdRelTol = 1e-4
	fdAbsTol = 1e-9 // floor for gradients that are zero up to rounding
)

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * scale
	}
	return v
}

func dotf(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkGrad compares analytic (the gradient of loss with respect to x) with
// central differences of loss, which must read x.
func checkGrad(t *testing.T, name string, x, analytic []float64, loss func() float64) {
	t.Helper()
	worst := 0.0
	for i := range x {
		orig := x[i]
		x[i] = orig + fdStep
		lp := loss()
		x[i] = orig - fdStep
		lm := loss()
		x[i] = orig
		num := (lp - lm) / (2 * fdStep)
		diff := math.Abs(num - analytic[i])
		scale := max(math.Abs(num), math.Abs(analytic[i]))
		if diff > fdRelTol*scale+fdAbsTol {
			t.Errorf("%s: d/dx[%d] = %.10g, finite difference %.10g (rel err %.2g)", name, i, analytic[i], num, diff/scale)
			return
		}
		if scale > 0 {
			worst = max(worst, diff/scale)
		}
	}
	t.Logf("%s: %d elements, worst relative error %.2g", name, len(x), worst)
}

func TestOpGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := newGemm(1)
	defer g.close()
	// The ops that split their work run it on three threads here, so the
	// split itself is checked.
	pg := newGemm(3)
	defer pg.close()
	par := pg.parallel
	const N, C, V = 5, 8, 7

	t.Run("embed", func(t *testing.T) {
		wte := randVec(rng, V*C, 1)
		tokens := []int32{3, 1, 3, 6, 0}
		R := randVec(rng, N*C, 1)
		out := make([]float64, N*C)
		loss := func() float64 { embedForward(out, wte, tokens, C); return dotf(out, R) }
		dw := make([]float64, V*C)
		embedBackward(dw, R, tokens, C)
		checkGrad(t, "wte", wte, dw, loss)
	})

	t.Run("rmsnorm", func(t *testing.T) {
		x, w, R := randVec(rng, N*C, 1), randVec(rng, C, 1), randVec(rng, N*C, 1)
		out, rstd := make([]float64, N*C), make([]float64, N)
		loss := func() float64 { rmsnormForward(out, rstd, x, w, N, C, 1e-5); return dotf(out, R) }
		loss()
		dx, dw := make([]float64, N*C), make([]float64, C)
		rmsnormBackward(dx, dw, R, x, w, rstd, N, C)
		checkGrad(t, "x", x, dx, loss)
		checkGrad(t, "w", w, dw, loss)
	})

	t.Run("matmul", func(t *testing.T) {
		const IC, OC = 6, 9
		x, w, R := randVec(rng, N*IC, 1), randVec(rng, OC*IC, 1), randVec(rng, N*OC, 1)
		out := make([]float64, N*OC)
		loss := func() float64 { matmulForward(g, out, x, w, N, IC, OC); return dotf(out, R) }
		dx, dw := make([]float64, N*IC), make([]float64, OC*IC)
		matmulBackward(g, dx, dw, R, x, w, N, IC, OC)
		checkGrad(t, "x", x, dx, loss)
		checkGrad(t, "w", w, dw, loss)
	})

	t.Run("rope", func(t *testing.T) {
		const B, T, H, D = 1, 5, 2, 4
		cos, sin := make([]float64, T*D/2), make([]float64, T*D/2)
		for i := range cos {
			a := rng.Float64() * 6
			cos[i], sin[i] = math.Cos(a), math.Sin(a)
		}
		x, R := randVec(rng, B*T*H*D, 1), randVec(rng, B*T*H*D, 1)
		out := make([]float64, len(x))
		loss := func() float64 { copy(out, x); ropeForward(out, cos, sin, B*T, T, H, D); return dotf(out, R) }
		dx := append([]float64(nil), R...)
		ropeBackward(dx, cos, sin, B*T, T, H, D)
		checkGrad(t, "x", x, dx, loss)
	})

	t.Run("attention", func(t *testing.T) {
		a := attnShape{B: 2, T: 4, H: 4, KV: 2, D: 3, scale: 1 / math.Sqrt(3)}
		n := a.B * a.T
		q, k, v := randVec(rng, n*a.H*a.D, 1), randVec(rng, n*a.KV*a.D, 1), randVec(rng, n*a.KV*a.D, 1)
		R := randVec(rng, n*a.H*a.D, 1)
		out, att := make([]float64, len(q)), make([]float64, a.B*a.H*a.T*a.T)
		loss := func() float64 { attentionForward(par, out, att, q, k, v, a); return dotf(out, R) }
		loss()
		dq, dk, dv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
		attentionBackward(par, dq, dk, dv, R, att, q, k, v, a)
		checkGrad(t, "q", q, dq, loss)
		checkGrad(t, "k", k, dk, loss)
		checkGrad(t, "v", v, dv, loss)
	})

	t.Run("swiglu", func(t *testing.T) {
		gate, up, R := randVec(rng, N*C, 2), randVec(rng, N*C, 1), randVec(rng, N*C, 1)
		out := make([]float64, N*C)
		loss := func() float64 { swigluForward(par, out, gate, up); return dotf(out, R) }
		dg, du := make([]float64, N*C), make([]float64, N*C)
		swigluBackward(par, dg, du, R, gate, up)
		checkGrad(t, "gate", gate, dg, loss)
		checkGrad(t, "up", up, du, loss)
	})

	t.Run("crossentropy", func(t *testing.T) {
		logits := randVec(rng, N*V, 2)
		targets := []int32{2, -1, 0, 6, 6}
		probs, losses := make([]float64, N*V), make([]float64, N)
		loss := func() float64 {
			sum, n := crossEntropyForward(par, probs, losses, logits, targets, V)
			return sum / float64(n)
		}
		loss()
		crossEntropyBackward(par, probs, targets, V, 1.0/4)
		checkGrad(t, "logits", logits, append([]float64(nil), probs...), loss)
	})
}

// tinyConfig is a model small enough to check by finite differences, with
// grouped-query attention (4 heads over 2 KV heads).
func tinyConfig() Config {
	return Config{Vocab: 11, Dim: 8, Layers: 2, Heads: 4, KVHeads: 2, FFN: 12, Context: 6, NormEps: 1e-5, RopeBase: 10000}
}

func TestModelGradient(t *testing.T) {
	c := tinyConfig()
	m, err := NewModel[float64](c, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Larger weights than the 0.02 initialisation, so every path carries
	// gradient well above rounding.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ts := range m.Tensors {
		w := m.Params[ts.Off : ts.Off+ts.Size()]
		for i := range w {
			if ts.Matrix() {
				w[i] = rng.NormFloat64() * 0.5
			} else {
				w[i] = 1 + rng.NormFloat64()*0.2
			}
		}
	}
	tokens := []int32{1, 5, 2, 9, 3, 0, 4, 4, 7, 10}
	targets := []int32{5, 2, 9, 3, 0, -1, 4, 7, 10, 1}
	const B = 2
	loss := func() float64 { return m.Forward(tokens, targets, B) }
	loss()
	m.ZeroGrad()
	m.Backward(1)
	grads := append([]float64(nil), m.Grads...)
	for _, ts := range m.Tensors {
		t.Run(ts.Name, func(t *testing.T) {
			sl := ts.Off
			checkGrad(t, ts.Name, m.Params[sl:sl+ts.Size()], grads[sl:sl+ts.Size()], loss)
		})
	}
}

func TestMatmulFloat32(t *testing.T) {
	// The SIMD path (float32, transposed copies) against the float64 loops,
	// on shapes with ragged edges, on 1 and 2 threads.
	for _, threads := range []int{1, 2} {
		for _, s := range []struct{ N, IC, OC int }{{3, 5, 7}, {17, 64, 33}, {40, 172, 64}} {
			t.Run(fmt.Sprintf("%dthreads/%dx%dx%d", threads, s.N, s.IC, s.OC), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 6))
				g, g64 := newGemm(threads), newGemm(1)
				defer g.close()
				defer g64.close()
				x, w, dy := randVec(rng, s.N*s.IC, 1), randVec(rng, s.OC*s.IC, 1), randVec(rng, s.N*s.OC, 1)
				out := make([]float64, s.N*s.OC)
				dx, dw := randVec(rng, s.N*s.IC, 1), randVec(rng, s.OC*s.IC, 1)
				dx32, dw32 := to32(dx), to32(dw)
				matmulForward(g64, out, x, w, s.N, s.IC, s.OC)
				matmulBackward(g64, dx, dw, dy, x, w, s.N, s.IC, s.OC)
				out32 := make([]float32, s.N*s.OC)
				matmulForward(g, out32, to32(x), to32(w), s.N, s.IC, s.OC)
				matmulBackward(g, dx32, dw32, to32(dy), to32(x), to32(w), s.N, s.IC, s.OC)
				for _, c := range []struct {
					name string
					got  []float32
					want []float64
				}{{"out", out32, out}, {"dx", dx32, dx}, {"dw", dw32, dw}} {
					for i := range c.want {
						if d := math.Abs(float64(c.got[i]) - c.want[i]); d > 1e-4*(1+math.Abs(c.want[i])) {
							t.Fatalf("%s[%d] = %g, want %g", c.name, i, c.got[i], c.want[i])
						}
					}
				}
			})
		}
	}
}

// TestSplitOpsMatchSerial: the ops that split their work across threads
// give bit-identical results on one thread and on several.
func TestSplitOpsMatchSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := newGemm(3)
	defer g.close()
	a := attnShape{B: 3, T: 16, H: 8, KV: 4, D: 8, scale: 1 / math.Sqrt(8)}
	n := a.B * a.T
	q, k, v := to32(randVec(rng, n*a.H*a.D, 1)), to32(randVec(rng, n*a.KV*a.D, 1)), to32(randVec(rng, n*a.KV*a.D, 1))
	dout := to32(randVec(rng, n*a.H*a.D, 1))
	const V = 37
	logits := to32(randVec(rng, n*V, 2))
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(rng.IntN(V+1)) - 1 // some −1: rows not trained on
	}
	src := to32(randVec(rng, 70*45, 1))

	run := func(par parallelFor) (outs [][]float32, loss float64) {
		out, att := make([]float32, len(q)), make([]float32, a.B*a.H*a.T*a.T)
		attentionForward(par, out, att, q, k, v, a)
		dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
		attentionBackward(par, dq, dk, dv, dout, att, q, k, v, a)
		sw, dg, du := make([]float32, len(q)), make([]float32, len(q)), make([]float32, len(q))
		swigluForward(par, sw, q, dout)
		swigluBackward(par, dg, du, out, q, dout)
		probs, losses := make([]float32, n*V), make([]float32, n)
		loss, _ = crossEntropyForward(par, probs, losses, logits, targets, V)
		crossEntropyBackward(par, probs, targets, V, 0.5)
		tr := make([]float32, len(src))
		transpose(par, tr, src, 70, 45)
		return [][]float32{out, att, dq, dk, dv, sw, dg, du, probs, losses, tr}, loss
	}
	want, wantLoss := run(serial)
	got, gotLoss := run(g.parallel)
	if gotLoss != wantLoss {
		t.Errorf("loss %v on three threads, %v on one", gotLoss, wantLoss)
	}
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("output %d [%d] = %v on three threads, %v on one", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}
