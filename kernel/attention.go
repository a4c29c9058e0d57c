package kernel

import "fmt"

// Attention describes causal multi-head attention with grouped KV heads over
// a cache laid out as (position, KVHeads*HeadDim) rows.
type Attention struct {
	Heads, KVHeads, HeadDim int
	Scale                   float32 // usually 1/sqrt(HeadDim)
}

type attentionJob struct {
	a      Attention
	out, q []float32 // (T, Heads*HeadDim)
	k, v   []float32 // (ctx, KVHeads*HeadDim)
	pos    int       // position of the first query
	scores []float32 // (threads, ctx)
	ctx    int
}

// run handles (token, head) pairs i = t*Heads + h in [lo, hi).
func (j *attentionJob) run(worker, lo, hi int) {
	a := j.a
	qDim, kvDim := a.Heads*a.HeadDim, a.KVHeads*a.HeadDim
	group := a.Heads / a.KVHeads
	for i := lo; i < hi; i++ {
		t, h := i/a.Heads, i%a.Heads
		kvh := h / group // query head h reads KV head h/group
		q := j.q[t*qDim+h*a.HeadDim : t*qDim+(h+1)*a.HeadDim]
		n := j.pos + t + 1 // causal: positions 0..pos+t
		att := j.scores[worker*j.ctx : worker*j.ctx+n]
		dotsF32(att, q, j.k[kvh*a.HeadDim:], kvDim)
		Softmax(att, a.Scale)
		out := j.out[t*qDim+h*a.HeadDim : t*qDim+(h+1)*a.HeadDim]
		weightedSumF32(out, att, j.v[kvh*a.HeadDim:], kvDim)
	}
}

// AttentionScratch is the number of floats Attend needs for a cache of ctx positions.
func (p *Pool) AttentionScratch(ctx int) int { return p.threads * ctx }

// Attend computes out (T, Heads*HeadDim) for T queries at positions
// pos..pos+T-1 against keys and values cached for positions 0..pos+T-1.
// scores is scratch of AttentionScratch(ctx) floats.
func (p *Pool) Attend(a Attention, out, q, k, v []float32, T, pos, ctx int, scores []float32) {
	if a.KVHeads <= 0 || a.Heads%a.KVHeads != 0 || pos+T > ctx || len(scores) < p.threads*ctx {
		panic(fmt.Sprintf("kernel: Attend: heads %d/%d, pos %d+%d > ctx %d or scratch %d", a.Heads, a.KVHeads, pos, T, ctx, len(scores)))
	}
	p.att = attentionJob{a: a, out: out, q: q, k: k, v: v, pos: pos, scores: scores, ctx: ctx}
	p.parallel(&p.att, T*a.Heads, 1)
	p.att = attentionJob{}
}
