package train

import (
	"fmt"
	"math"

	"zhiyan/kernel"
)

// Model is a Llama model in training: weights, gradients and the two AdamW
// moments in one arena (so the optimizer and checkpoints are one loop), and
// the activations of the last forward pass, kept for the backward pass.
type Model[F Float] struct {
	Config  Config
	Tensors []Tensor // the weights' names and places in every arena part

	arena  []F // (4, NumParams): weights, gradients, Adam m, Adam v
	Params []F // weights
	Grads  []F // gradients, accumulated by Backward
	M, V   []F // AdamW first and second moments
	P, G   Params[F]

	g   *gemm
	a   acts[F]
	N   int     // rows of the last forward pass (B*T)
	B   int     // sequences of the last forward pass
	T   int     // their length
	cnt int     // targets of the last forward pass
	tok []int32 // its tokens (N)
	tgt []int32 // and targets (N)
}

// acts are the activations of one forward pass over N = B*T rows, and the
// gradient scratch of the backward pass.
type acts[F Float] struct {
	resid    []F // (L+1, N, C) the residual stream entering each layer; [L] leaves the last
	ln1      []F // (L, N, C) attention-norm output
	rstd1    []F // (L, N)
	q        []F // (L, N, H*D) after RoPE
	k, v     []F // (L, N, KV*D), k after RoPE
	att      []F // (L, B, H, T, T) attention probabilities
	atty     []F // (L, N, H*D) attention output, before wo
	resid2   []F // (L, N, C) the residual stream after attention
	ln2      []F // (L, N, C) ffn-norm output
	rstd2    []F // (L, N)
	gate, up []F // (L, N, FF) the two SwiGLU projections
	swi      []F // (L, N, FF) silu(gate)*up
	lnf      []F // (N, C) final-norm output
	rstdf    []F // (N)
	logits   []F // (N, V)
	probs    []F // (N, V) softmax; dlogits during the backward pass
	losses   []F // (N)
	tmp      []F // (N, C) a sublayer's output before the residual add
	cos, sin []F // (T, D/2) RoPE angles

	// backward scratch
	dresid, dln      []F // (N, C)
	dq, datty        []F // (N, H*D)
	dk, dv           []F // (N, KV*D)
	dgate, dup, dswi []F // (N, FF)
}

// NewModel builds a model initialised from seed; threads run its float32
// matrix products. Close it to stop the threads.
func NewModel[F Float](c Config, seed uint64, threads int) (*Model[F], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := c.NumParams()
	m := &Model[F]{Config: c, Tensors: c.Tensors(), arena: make([]F, 4*n), g: newGemm(threads)}
	m.Params, m.Grads, m.M, m.V = m.arena[:n:n], m.arena[n:2*n:2*n], m.arena[2*n:3*n:3*n], m.arena[3*n:]
	m.P, m.G = views(c, m.Params), views(c, m.Grads)
	initParams(c, m.Params, seed)
	return m, nil
}

// Close stops the model's threads.
func (m *Model[F]) Close() { m.g.close() }

// ZeroGrad clears the accumulated gradients.
func (m *Model[F]) ZeroGrad() { clear(m.Grads) }

// Logits are the (B*T, V) logits of the last forward pass.
func (m *Model[F]) Logits() []F { return m.a.logits[:m.N*m.Config.Vocab] }

// size allocates the activations for B sequences of T tokens.
func (m *Model[F]) size(B, T int) {
	if m.B == B && m.T == T {
		return
	}
	c := m.Config
	N, L, C, D := B*T, c.Layers, c.Dim, c.HeadDim()
	qDim, kvDim, FF, V := c.Heads*D, c.KVHeads*D, c.FFN, c.Vocab
	mk := func(n int) []F { return make([]F, n) }
	m.a = acts[F]{
		resid: mk((L + 1) * N * C), ln1: mk(L * N * C), rstd1: mk(L * N),
		q: mk(L * N * qDim), k: mk(L * N * kvDim), v: mk(L * N * kvDim),
		att: mk(L * B * c.Heads * T * T), atty: mk(L * N * qDim), resid2: mk(L * N * C),
		ln2: mk(L * N * C), rstd2: mk(L * N), gate: mk(L * N * FF), up: mk(L * N * FF), swi: mk(L * N * FF),
		lnf: mk(N * C), rstdf: mk(N), logits: mk(N * V), probs: mk(N * V), losses: mk(N), tmp: mk(N * C),
		cos: mk(T * D / 2), sin: mk(T * D / 2),
		dresid: mk(N * C), dln: mk(N * C), dq: mk(N * qDim), datty: mk(N * qDim),
		dk: mk(N * kvDim), dv: mk(N * kvDim), dgate: mk(N * FF), dup: mk(N * FF), dswi: mk(N * FF),
	}
	// The angles the engine uses (float32, by repeated multiplication), so
	// an exported model computes the same rotation.
	half := D / 2
	c32, s32 := make([]float32, half), make([]float32, half)
	for t := range T {
		kernel.RopeAngles(c32, s32, t, float32(c.RopeBase), nil)
		for i := range half {
			m.a.cos[t*half+i], m.a.sin[t*half+i] = F(c32[i]), F(s32[i])
		}
	}
	m.B, m.T = B, T
}

// Forward runs B sequences of len(tokens)/B tokens each and returns the
// mean cross-entropy over the targets that are ≥ 0 (NaN when there are
// none). targets may be nil to compute logits only.
func (m *Model[F]) Forward(tokens, targets []int32, B int) float64 {
	c := m.Config
	if B < 1 || len(tokens)%B != 0 || len(tokens)/B > c.Context || len(tokens) == 0 {
		panic(fmt.Sprintf("train: Forward: %d tokens in %d sequences, context %d", len(tokens), B, c.Context))
	}
	if targets != nil && len(targets) != len(tokens) {
		panic(fmt.Sprintf("train: Forward: %d targets for %d tokens", len(targets), len(tokens)))
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= c.Vocab {
			panic(fmt.Sprintf("train: Forward: token %d outside the vocabulary of %d", t, c.Vocab))
		}
	}
	T := len(tokens) / B
	m.size(B, T)
	N, L, C, D := B*T, c.Layers, c.Dim, c.HeadDim()
	qDim, kvDim, FF, V := c.Heads*D, c.KVHeads*D, c.FFN, c.Vocab
	a, p, g := &m.a, &m.P, m.g
	m.N, m.tok, m.tgt = N, tokens, targets
	shape := attnShape{B: B, T: T, H: c.Heads, KV: c.KVHeads, D: D, scale: 1 / math.Sqrt(float64(D))}

	// x = token embeddings
	embedForward(a.resid[:N*C], p.TokenEmbd, tokens, C)
	for l := range L {
		x, x2, xNext := a.resid[l*N*C:(l+1)*N*C], a.resid2[l*N*C:(l+1)*N*C], a.resid[(l+1)*N*C:(l+2)*N*C]
		ln1, ln2 := a.ln1[l*N*C:(l+1)*N*C], a.ln2[l*N*C:(l+1)*N*C]
		q, k, v := a.q[l*N*qDim:(l+1)*N*qDim], a.k[l*N*kvDim:(l+1)*N*kvDim], a.v[l*N*kvDim:(l+1)*N*kvDim]
		atty := a.atty[l*N*qDim : (l+1)*N*qDim]
		gate, up, swi := a.gate[l*N*FF:(l+1)*N*FF], a.up[l*N*FF:(l+1)*N*FF], a.swi[l*N*FF:(l+1)*N*FF]

		// attention: rmsnorm, q/k/v projections, RoPE on q and k
		rmsnormForward(ln1, a.rstd1[l*N:(l+1)*N], x, p.AttnNorm[l*C:(l+1)*C], N, C, c.NormEps)
		matmulForward(g, q, ln1, p.WQ[l*qDim*C:(l+1)*qDim*C], N, C, qDim)
		matmulForward(g, k, ln1, p.WK[l*kvDim*C:(l+1)*kvDim*C], N, C, kvDim)
		matmulForward(g, v, ln1, p.WV[l*kvDim*C:(l+1)*kvDim*C], N, C, kvDim)
		ropeForward(q, a.cos, a.sin, N, T, c.Heads, D)
		ropeForward(k, a.cos, a.sin, N, T, c.KVHeads, D)

		// causal attention, output projection, residual
		attentionForward(g.parallel, atty, a.att[l*B*c.Heads*T*T:(l+1)*B*c.Heads*T*T], q, k, v, shape)
		matmulForward(g, a.tmp, atty, p.WO[l*C*qDim:(l+1)*C*qDim], N, qDim, C)
		residualForward(x2, x, a.tmp)

		// feed-forward: rmsnorm, down(silu(gate(x)) * up(x)), residual
		rmsnormForward(ln2, a.rstd2[l*N:(l+1)*N], x2, p.FFNNorm[l*C:(l+1)*C], N, C, c.NormEps)
		matmulForward(g, gate, ln2, p.Gate[l*FF*C:(l+1)*FF*C], N, C, FF)
		matmulForward(g, up, ln2, p.Up[l*FF*C:(l+1)*FF*C], N, C, FF)
		swigluForward(g.parallel, swi, gate, up)
		matmulForward(g, a.tmp, swi, p.Down[l*C*FF:(l+1)*C*FF], N, FF, C)
		residualForward(xNext, x2, a.tmp)
	}

	// final norm, tied output head, cross-entropy
	rmsnormForward(a.lnf, a.rstdf, a.resid[L*N*C:], p.OutNorm, N, C, c.NormEps)
	matmulForward(g, a.logits, a.lnf, p.TokenEmbd, N, C, V)
	if targets == nil {
		m.cnt = 0
		return math.NaN()
	}
	sum, cnt := crossEntropyForward(g.parallel, a.probs, a.losses, a.logits, targets, V)
	m.cnt = cnt
	if cnt == 0 {
		return math.NaN()
	}
	return sum / float64(cnt)
}

// Backward adds to Grads the gradient of scale × the mean loss of the last
// forward pass (scale 1/k for one of k accumulated micro-batches).
func (m *Model[F]) Backward(scale float64) {
	if m.tgt == nil {
		panic("train: Backward without targets")
	}
	if m.cnt == 0 {
		return
	}
	c := m.Config
	B, T, N, L, C, D := m.B, m.T, m.N, c.Layers, c.Dim, c.HeadDim()
	qDim, kvDim, FF, V := c.Heads*D, c.KVHeads*D, c.FFN, c.Vocab
	a, p, dp, g := &m.a, &m.P, &m.G, m.g
	shape := attnShape{B: B, T: T, H: c.Heads, KV: c.KVHeads, D: D, scale: 1 / math.Sqrt(float64(D))}

	// The loss is a mean over the targets: each gets scale/count.
	crossEntropyBackward(g.parallel, a.probs, m.tgt, V, F(scale/float64(m.cnt)))
	dlogits, dlnf := a.probs[:N*V], a.dln
	clear(dlnf)
	matmulBackward(g, dlnf, dp.TokenEmbd, dlogits, a.lnf, p.TokenEmbd, N, C, V)
	clear(a.dresid)
	rmsnormBackward(a.dresid, dp.OutNorm, dlnf, a.resid[L*N*C:], p.OutNorm, a.rstdf, N, C)

	for l := L - 1; l >= 0; l-- {
		x, x2 := a.resid[l*N*C:(l+1)*N*C], a.resid2[l*N*C:(l+1)*N*C]
		ln1, ln2 := a.ln1[l*N*C:(l+1)*N*C], a.ln2[l*N*C:(l+1)*N*C]
		q, k, v := a.q[l*N*qDim:(l+1)*N*qDim], a.k[l*N*kvDim:(l+1)*N*kvDim], a.v[l*N*kvDim:(l+1)*N*kvDim]
		atty := a.atty[l*N*qDim : (l+1)*N*qDim]
		gate, up, swi := a.gate[l*N*FF:(l+1)*N*FF], a.up[l*N*FF:(l+1)*N*FF], a.swi[l*N*FF:(l+1)*N*FF]

		// feed-forward: dresid is d(resid after the block); it flows to
		// resid2 unchanged and through down, SwiGLU, gate/up and the norm.
		clear(a.dswi)
		matmulBackward(g, a.dswi, dp.Down[l*C*FF:(l+1)*C*FF], a.dresid, swi, p.Down[l*C*FF:(l+1)*C*FF], N, FF, C)
		clear(a.dgate)
		clear(a.dup)
		swigluBackward(g.parallel, a.dgate, a.dup, a.dswi, gate, up)
		clear(a.dln)
		matmulBackward(g, a.dln, dp.Gate[l*FF*C:(l+1)*FF*C], a.dgate, ln2, p.Gate[l*FF*C:(l+1)*FF*C], N, C, FF)
		matmulBackward(g, a.dln, dp.Up[l*FF*C:(l+1)*FF*C], a.dup, ln2, p.Up[l*FF*C:(l+1)*FF*C], N, C, FF)
		rmsnormBackward(a.dresid, dp.FFNNorm[l*C:(l+1)*C], a.dln, x2, p.FFNNorm[l*C:(l+1)*C], a.rstd2[l*N:(l+1)*N], N, C)

		// attention: dresid is now d(resid2)
		clear(a.datty)
		matmulBackward(g, a.datty, dp.WO[l*C*qDim:(l+1)*C*qDim], a.dresid, atty, p.WO[l*C*qDim:(l+1)*C*qDim], N, qDim, C)
		clear(a.dq)
		clear(a.dk)
		clear(a.dv)
		attentionBackward(g.parallel, a.dq, a.dk, a.dv, a.datty, a.att[l*B*c.Heads*T*T:(l+1)*B*c.Heads*T*T], q, k, v, shape)
		ropeBackward(a.dq, a.cos, a.sin, N, T, c.Heads, D)
		ropeBackward(a.dk, a.cos, a.sin, N, T, c.KVHeads, D)
		clear(a.dln)
		matmulBackward(g, a.dln, dp.WQ[l*qDim*C:(l+1)*qDim*C], a.dq, ln1, p.WQ[l*qDim*C:(l+1)*qDim*C], N, C, qDim)
		matmulBackward(g, a.dln, dp.WK[l*kvDim*C:(l+1)*kvDim*C], a.dk, ln1, p.WK[l*kvDim*C:(l+1)*kvDim*C], N, C, kvDim)
		matmulBackward(g, a.dln, dp.WV[l*kvDim*C:(l+1)*kvDim*C], a.dv, ln1, p.WV[l*kvDim*C:(l+1)*kvDim*C], N, C, kvDim)
		rmsnormBackward(a.dresid, dp.AttnNorm[l*C:(l+1)*C], a.dln, x, p.AttnNorm[l*C:(l+1)*C], a.rstd1[l*N:(l+1)*N], N, C)
	}
	embedBackward(dp.TokenEmbd, a.dresid, m.tok, C)
}
