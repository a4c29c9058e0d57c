package train

import "math"

// The layers of the model, each as a forward function and, next to it, its
// backward function (llm.c style). Dimension letters: B batch, T time, C
// channels, V vocabulary, H query heads, KV key/value heads, D head width,
// FF feed-forward width, N = B*T rows.
//
// Backward functions add into the gradients of their inputs (+=), so an
// input used by several layers collects all its gradients; the caller zeroes
// the activation gradients before a backward pass.

// Float is the element type the model is computed in: float32 to train,
// float64 for the gradient checks against finite differences.
type Float interface{ float32 | float64 }

// embedForward sets out (N, C) to the rows of wte (V, C) named by tokens (N).
func embedForward[F Float](out, wte []F, tokens []int32, C int) {
	for i, tok := range tokens {
		copy(out[i*C:(i+1)*C], wte[int(tok)*C:int(tok+1)*C])
	}
}

// embedBackward adds each row of dout (N, C) to the gradient of its token's row.
func embedBackward[F Float](dwte, dout []F, tokens []int32, C int) {
	for i, tok := range tokens {
		d, g := dout[i*C:(i+1)*C], dwte[int(tok)*C:int(tok+1)*C]
		for j := range g {
			g[j] += d[j]
		}
	}
}

// rmsnormForward sets out (N, C) = x * rstd * w per row, with rstd (N) =
// 1/sqrt(mean(x²) + eps) cached for the backward pass.
func rmsnormForward[F Float](out, rstd, x, w []F, N, C int, eps float64) {
	w = w[:C]
	for i := range N {
		xi, oi := x[i*C:(i+1)*C], out[i*C:(i+1)*C]
		var ss float64
		for _, v := range xi {
			ss += float64(v) * float64(v)
		}
		r := F(1 / math.Sqrt(ss/float64(C)+eps))
		rstd[i] = r
		for j, v := range xi {
			oi[j] = v * r * w[j]
		}
	}
}

// rmsnormBackward: with y_j = x_j·r·w_j and r = (mean(x²)+eps)^-½,
// dx_j = r·w_j·dy_j − x_j·r³/C · Σ_i dy_i·w_i·x_i (the second term is r's
// dependence on every x) and dw_j = Σ_rows dy_j·x_j·r.
func rmsnormBackward[F Float](dx, dw, dout, x, w, rstd []F, N, C int) {
	w, dw = w[:C], dw[:C]
	for i := range N {
		xi, dyi, dxi := x[i*C:(i+1)*C], dout[i*C:(i+1)*C], dx[i*C:(i+1)*C]
		r := rstd[i]
		var dot F
		for j := range xi {
			dot += dyi[j] * w[j] * xi[j]
		}
		k := dot * r * r * r / F(C)
		for j := range xi {
			dxi[j] += r*w[j]*dyi[j] - k*xi[j]
			dw[j] += dyi[j] * xi[j] * r
		}
	}
}

// ropeForward rotates, in place, the first 2*len(cos)/T dimensions of each of
// the heads of x (N = B*T rows of heads*D) by the angles of the row's
// position t = row mod T: adjacent pairs (2i, 2i+1), ggml's NORM layout that
// the engine's llama architecture uses. cos and sin are (T, D/2).
func ropeForward[F Float](x, cos, sin []F, N, T, heads, D int) {
	half := D / 2
	for i := range N {
		t := i % T
		c, s := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		for h := range heads {
			v := x[(i*heads+h)*D : (i*heads+h+1)*D]
			for p := range half {
				x0, x1 := v[2*p], v[2*p+1]
				v[2*p] = x0*c[p] - x1*s[p]
				v[2*p+1] = x0*s[p] + x1*c[p]
			}
		}
	}
}

// ropeBackward turns dout into din in place: the rotation is orthogonal, so
// its gradient is the rotation by the opposite angle.
func ropeBackward[F Float](dx, cos, sin []F, N, T, heads, D int) {
	half := D / 2
	for i := range N {
		t := i % T
		c, s := cos[t*half:(t+1)*half], sin[t*half:(t+1)*half]
		for h := range heads {
			v := dx[(i*heads+h)*D : (i*heads+h+1)*D]
			for p := range half {
				d0, d1 := v[2*p], v[2*p+1]
				v[2*p] = d0*c[p] + d1*s[p]
				v[2*p+1] = -d0*s[p] + d1*c[p]
			}
		}
	}
}

// attnShape is the geometry of causal grouped-query attention.
type attnShape struct {
	B, T, H, KV, D int
	scale          float64 // of q·k, 1/sqrt(D)
}

// attentionForward computes out (B, T, H*D) from q (B, T, H*D) and k, v
// (B, T, KV*D): query head h reads key/value head h/(H/KV) at positions ≤ t.
// The softmax probabilities are cached in att (B, H, T, T).
func attentionForward[F Float](par parallelFor, out, att, q, k, v []F, a attnShape) {
	par(a.B*a.H, func(lo, hi int) { attentionForwardRange(out, att, q, k, v, a, lo, hi) })
}

// attentionForwardRange does the (sequence, head) pairs lo…hi-1. (The
// loops live outside the closure: captured variables would be reloaded
// through it in every iteration.)
func attentionForwardRange[F Float](out, att, q, k, v []F, a attnShape, lo, hi int) {
	T, H, KV, D := a.T, a.H, a.KV, a.D
	qDim, kvDim, group := H*D, KV*D, H/KV
	scale := F(a.scale)
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		kvOff := (h / group) * D
		for t := range T {
			qt := q[(b*T+t)*qDim+h*D : (b*T+t)*qDim+(h+1)*D]
			p := att[((b*H+h)*T+t)*T : ((b*H+h)*T+t+1)*T]
			maxv := F(math.Inf(-1))
			for u := 0; u <= t; u++ {
				ku := k[(b*T+u)*kvDim+kvOff : (b*T+u)*kvDim+kvOff+D]
				var s F
				for j := range qt {
					s += qt[j] * ku[j]
				}
				s *= scale
				p[u] = s
				maxv = max(maxv, s)
			}
			var sum F
			for u := 0; u <= t; u++ {
				p[u] = F(math.Exp(float64(p[u] - maxv)))
				sum += p[u]
			}
			for u := 0; u <= t; u++ {
				p[u] /= sum
			}
			clear(p[t+1:])
			ot := out[(b*T+t)*qDim+h*D : (b*T+t)*qDim+(h+1)*D]
			clear(ot)
			for u := 0; u <= t; u++ {
				vu := v[(b*T+u)*kvDim+kvOff : (b*T+u)*kvDim+kvOff+D]
				for j := range ot {
					ot[j] += p[u] * vu[j]
				}
			}
		}
	}
}

// attentionBackward adds the gradients of q, k and v given dout. With
// p = softmax(s), s_u = scale·q·k_u and out = Σ p_u v_u:
// dp_u = dout·v_u, ds_u = p_u (dp_u − Σ_w p_w dp_w), dq = scale Σ ds_u k_u,
// dk_u += scale ds_u q, dv_u += p_u dout.
//
// The work is split by (sequence, key/value head), so the heads that share
// a key/value head add into dk and dv in one thread, in the same order
// whatever the thread count.
func attentionBackward[F Float](par parallelFor, dq, dk, dv, dout, att, q, k, v []F, a attnShape) {
	par(a.B*a.KV, func(lo, hi int) { attentionBackwardRange(dq, dk, dv, dout, att, q, k, v, a, lo, hi) })
}

// attentionBackwardRange does the (sequence, key/value head) pairs lo…hi-1.
func attentionBackwardRange[F Float](dq, dk, dv, dout, att, q, k, v []F, a attnShape, lo, hi int) {
	T, H, KV, D := a.T, a.H, a.KV, a.D
	qDim, kvDim, group := H*D, KV*D, H/KV
	scale := F(a.scale)
	ds := make([]F, T)
	for bk := lo; bk < hi; bk++ {
		b, kvh := bk/KV, bk%KV
		kvOff := kvh * D
		for h := kvh * group; h < (kvh+1)*group; h++ {
			for t := range T {
				p := att[((b*H+h)*T+t)*T : ((b*H+h)*T+t+1)*T]
				row := (b*T + t) * qDim
				dot, qt, dqt := dout[row+h*D:row+(h+1)*D], q[row+h*D:row+(h+1)*D], dq[row+h*D:row+(h+1)*D]
				var pdp F
				for u := 0; u <= t; u++ {
					off := (b*T+u)*kvDim + kvOff
					vu, dvu := v[off:off+D], dv[off:off+D]
					var dp F
					for j := range dot {
						dp += dot[j] * vu[j]
						dvu[j] += p[u] * dot[j]
					}
					ds[u] = dp
					pdp += p[u] * dp
				}
				for u := 0; u <= t; u++ {
					g := p[u] * (ds[u] - pdp) * scale
					off := (b*T+u)*kvDim + kvOff
					ku, dku := k[off:off+D], dk[off:off+D]
					for j := range qt {
						dqt[j] += g * ku[j]
						dku[j] += g * qt[j]
					}
				}
			}
		}
	}
}

// swigluForward sets out = silu(gate) * up element-wise, silu(g) = g·σ(g).
func swigluForward[F Float](par parallelFor, out, gate, up []F) {
	par(len(gate), func(lo, hi int) { swigluForwardRange(out[lo:hi], gate[lo:hi], up[lo:hi]) })
}

func swigluForwardRange[F Float](out, gate, up []F) {
	up, out = up[:len(gate)], out[:len(gate)]
	for i, g := range gate {
		out[i] = g / (1 + F(math.Exp(float64(-g)))) * up[i]
	}
}

// swigluBackward: d gate = dout·up·σ(g)·(1 + g·(1−σ(g))), d up = dout·silu(g).
func swigluBackward[F Float](par parallelFor, dgate, dup, dout, gate, up []F) {
	par(len(gate), func(lo, hi int) {
		swigluBackwardRange(dgate[lo:hi], dup[lo:hi], dout[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

func swigluBackwardRange[F Float](dgate, dup, dout, gate, up []F) {
	dgate, dup, dout, up = dgate[:len(gate)], dup[:len(gate)], dout[:len(gate)], up[:len(gate)]
	for i, g := range gate {
		sig := 1 / (1 + F(math.Exp(float64(-g))))
		dgate[i] += dout[i] * up[i] * sig * (1 + g*(1-sig))
		dup[i] += dout[i] * g * sig
	}
}

// crossEntropyForward sets probs (N, V) = softmax(logits) and losses (N) =
// −log probs[target] for rows whose target is ≥ 0 (0 elsewhere: those rows
// are not trained on, e.g. a prompt in fine-tuning). It returns the summed
// loss and the number of targets.
func crossEntropyForward[F Float](par parallelFor, probs, losses, logits []F, targets []int32, V int) (float64, int) {
	par(len(targets), func(lo, hi int) { softmaxLossRange(probs, losses, logits, targets, V, lo, hi) })
	// Summed in order, so the loss does not depend on the thread count.
	var total float64
	n := 0
	for i, tgt := range targets {
		if tgt >= 0 {
			total += float64(losses[i])
			n++
		}
	}
	return total, n
}

// softmaxLossRange does rows lo…hi-1 of crossEntropyForward.
func softmaxLossRange[F Float](probs, losses, logits []F, targets []int32, V, lo, hi int) {
	for i := lo; i < hi; i++ {
		l, p := logits[i*V:(i+1)*V], probs[i*V:(i+1)*V]
		maxv := l[0]
		for _, x := range l[1:] {
			maxv = max(maxv, x)
		}
		var sum float64
		for j, x := range l {
			e := math.Exp(float64(x - maxv))
			p[j] = F(e)
			sum += e
		}
		inv := F(1 / sum)
		for j := range p {
			p[j] *= inv
		}
		losses[i] = 0
		if tgt := targets[i]; tgt >= 0 {
			// log-sum-exp rather than log(p): exact for tiny probabilities.
			losses[i] = F(math.Log(sum) - float64(l[tgt]-maxv))
		}
	}
}

// crossEntropyBackward turns probs into dlogits in place: dloss·(p − onehot)
// on rows with a target, zero on the others.
func crossEntropyBackward[F Float](par parallelFor, probs []F, targets []int32, V int, dloss F) {
	par(len(targets), func(lo, hi int) { dlogitsRange(probs[lo*V:hi*V], targets[lo:hi], V, dloss) })
}

func dlogitsRange[F Float](probs []F, targets []int32, V int, dloss F) {
	for i, tgt := range targets {
		p := probs[i*V : (i+1)*V]
		if tgt < 0 {
			clear(p)
			continue
		}
		for j := range p {
			p[j] *= dloss
		}
		p[tgt] -= dloss
	}
}

// addInto sets dst[i] += x[i].
func addInto[F Float](dst, x []F) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// residualForward sets out = a + b.
func residualForward[F Float](out, a, b []F) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = a[i] + b[i]
	}
}
