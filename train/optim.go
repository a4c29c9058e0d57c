package train

import "math"

// AdamW holds the optimizer's settings (PyTorch's AdamW with decoupled
// weight decay; nanoGPT applies decay to matrices only, as here).
type AdamW struct {
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"`
}

// UpdateStat is the size of one tensor's last update relative to its
// weights: log10(rms(Δθ)/rms(θ)), about −3 when training is healthy
// (Karpathy, makemore part 3).
type UpdateStat struct {
	Name     string
	LogRatio float64
}

// step applies one AdamW update with learning rate lr to the model's
// weights from its gradients; t is the 1-based update count for the bias
// correction. With stats it also returns each matrix's update ratio.
func (o AdamW) step(m *Model[float32], lr float64, t int, stats bool) []UpdateStat {
	c1 := 1 - math.Pow(o.Beta1, float64(t))
	c2 := 1 - math.Pow(o.Beta2, float64(t))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	eps, flr := float32(o.Eps), float32(lr)
	var out []UpdateStat
	for _, ts := range m.Tensors {
		lo, hi := ts.Off, ts.Off+ts.Size()
		p, g, mm, vv := m.Params[lo:hi], m.Grads[lo:hi], m.M[lo:hi], m.V[lo:hi]
		wd := float32(0)
		if ts.Matrix() {
			wd = float32(o.WeightDecay)
		}
		var upd2, par2 float64
		for i := range p {
			mm[i] = b1*mm[i] + (1-b1)*g[i]
			vv[i] = b2*vv[i] + (1-b2)*g[i]*g[i]
			mhat := float64(mm[i]) / c1
			vhat := float64(vv[i]) / c2
			d := flr * (float32(mhat/(math.Sqrt(vhat)+float64(eps))) + wd*p[i])
			if stats {
				upd2 += float64(d) * float64(d)
				par2 += float64(p[i]) * float64(p[i])
			}
			p[i] -= d
		}
		if stats && ts.Matrix() && par2 > 0 {
			out = append(out, UpdateStat{ts.Name, 0.5 * math.Log10(upd2/par2)})
		}
	}
	return out
}

// gradNorm is the global L2 norm of the gradients (accumulated in float64).
func gradNorm(g []float32) float64 {
	var s float64
	for _, x := range g {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// scaleGrads multiplies the gradients by s (clipping).
func scaleGrads(g []float32, s float32) {
	for i := range g {
		g[i] *= s
	}
}

// Schedule is the learning rate over a run: linear warmup from LR/Warmup to
// LR over Warmup steps, then a cosine to MinLR at step Steps.
type Schedule struct {
	LR, MinLR     float64
	Warmup, Steps int
}

// At is the learning rate of step s (0-based).
func (sc Schedule) At(s int) float64 {
	if s < sc.Warmup {
		return sc.LR * float64(s+1) / float64(sc.Warmup)
	}
	if s >= sc.Steps {
		return sc.MinLR
	}
	frac := float64(s-sc.Warmup) / float64(max(sc.Steps-sc.Warmup, 1))
	return sc.MinLR + 0.5*(1+math.Cos(math.Pi*frac))*(sc.LR-sc.MinLR)
}
