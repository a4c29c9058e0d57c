package model

import (
	"fmt"

	"zhiyan/gguf"
	"zhiyan/kernel"
)

// llama is the Llama decoder (and the families that reuse it with small
// changes, like Qwen2): pre-norm RMSNorm blocks of grouped-query attention
// with RoPE and a SwiGLU feed-forward network.
type llama struct {
	c    *Config
	neox bool // RoPE layout: NEOX (rotate_half) or NORM (adjacent pairs)

	tokenEmbd  *kernel.Matrix // (V, C)
	outputNorm []float32      // (C)
	output     *kernel.Matrix // (V, C); token_embd when tied
	ropeFreqs  []float32      // (RopeDim/2) llama3 frequency factors, or nil
	layers     []llamaLayer
}

type llamaLayer struct {
	attnNorm   []float32      // (C)
	wq         *kernel.Matrix // (H*D, C)
	wk, wv     *kernel.Matrix // (KV*D, C)
	bq, bk, bv []float32      // (H*D), (KV*D), (KV*D); optional biases
	wo         *kernel.Matrix // (C, H*D)
	ffnNorm    []float32      // (C)
	gate, up   *kernel.Matrix // (FFN, C)
	down       *kernel.Matrix // (C, FFN)
}

func init() {
	register("llama", func(f *gguf.File, c *Config) (network, error) { return loadLlama(f, c, false) })
}

func loadLlama(f *gguf.File, c *Config, neox bool) (*llama, error) {
	w := &weights{f: f}
	ti, ok := f.Tensor("token_embd.weight")
	if !ok || len(ti.Dims) != 2 {
		return nil, fmt.Errorf("tensor token_embd.weight is missing or not 2-D")
	}
	if ti.Dims[1] == 0 || ti.Dims[1] > 1<<24 {
		return nil, fmt.Errorf("vocabulary of %d tokens is out of range", ti.Dims[1])
	}
	c.Vocab = int(ti.Dims[1])
	C, qDim, kvDim := c.Embd, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	m := &llama{c: c, neox: neox}
	m.tokenEmbd = w.matrix("token_embd.weight", c.Vocab, C)
	m.outputNorm = w.vector("output_norm.weight", C)
	m.output = m.tokenEmbd // tied embeddings unless the file has its own head
	if w.has("output.weight") {
		m.output = w.matrix("output.weight", c.Vocab, C)
	}
	m.ropeFreqs = w.optionalVector("rope_freqs.weight", c.RopeDim/2)
	m.layers = make([]llamaLayer, c.Layers)
	for i := range m.layers {
		l, p := &m.layers[i], fmt.Sprintf("blk.%d.", i)
		l.attnNorm = w.vector(p+"attn_norm.weight", C)
		l.wq = w.matrix(p+"attn_q.weight", qDim, C)
		l.wk = w.matrix(p+"attn_k.weight", kvDim, C)
		l.wv = w.matrix(p+"attn_v.weight", kvDim, C)
		l.bq = w.optionalVector(p+"attn_q.bias", qDim)
		l.bk = w.optionalVector(p+"attn_k.bias", kvDim)
		l.bv = w.optionalVector(p+"attn_v.bias", kvDim)
		l.wo = w.matrix(p+"attn_output.weight", C, qDim)
		l.ffnNorm = w.vector(p+"ffn_norm.weight", C)
		l.gate = w.matrix(p+"ffn_gate.weight", c.FFN, C)
		l.up = w.matrix(p+"ffn_up.weight", c.FFN, C)
		l.down = w.matrix(p+"ffn_down.weight", C, c.FFN)
	}
	if w.err != nil {
		return nil, w.err
	}
	return m, nil
}

func (m *llama) matrices() []*kernel.Matrix {
	ms := []*kernel.Matrix{m.output}
	for i := range m.layers {
		l := &m.layers[i]
		ms = append(ms, l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down)
	}
	return ms
}

func (m *llama) forward(s *State, tokens []int32, pos int, logits []float32) {
	c, p := m.c, s.pool
	T, C, D := len(tokens), c.Embd, c.HeadDim
	qDim, kvDim := c.Heads*D, c.KVHeads*D
	x, xb := s.x[:T*C], s.xb[:T*C]
	half := c.RopeDim / 2
	attn := kernel.Attention{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: D, Scale: c.AttnScale}

	// x = token embeddings; the rotation angles of each position
	for t, tok := range tokens {
		m.tokenEmbd.Row(x[t*C:(t+1)*C], int(tok))
		kernel.RopeAngles(s.cos[t*half:(t+1)*half], s.sin[t*half:(t+1)*half], pos+t, c.RopeBase, m.ropeFreqs)
	}
	for li := range m.layers {
		l := &m.layers[li]
		kCache := s.k[li*s.ctx*kvDim : (li+1)*s.ctx*kvDim]
		vCache := s.v[li*s.ctx*kvDim : (li+1)*s.ctx*kvDim]

		// attention: rmsnorm, q/k/v projections (+ biases), RoPE on q and k
		for t := range T {
			kernel.RMSNorm(xb[t*C:(t+1)*C], x[t*C:(t+1)*C], l.attnNorm, c.RMSEps)
		}
		q, k, v := s.q[:T*qDim], kCache[pos*kvDim:(pos+T)*kvDim], vCache[pos*kvDim:(pos+T)*kvDim]
		p.MatMul(q, l.wq, xb, T, s.act)
		p.MatMul(k, l.wk, xb, T, s.act)
		p.MatMul(v, l.wv, xb, T, s.act)
		for t := range T {
			qt, kt, vt := q[t*qDim:(t+1)*qDim], k[t*kvDim:(t+1)*kvDim], v[t*kvDim:(t+1)*kvDim]
			if l.bq != nil {
				kernel.Add(qt, l.bq)
			}
			if l.bk != nil {
				kernel.Add(kt, l.bk)
			}
			if l.bv != nil {
				kernel.Add(vt, l.bv)
			}
			cos, sin := s.cos[t*half:(t+1)*half], s.sin[t*half:(t+1)*half]
			kernel.RoPE(qt, c.Heads, D, cos, sin, m.neox)
			kernel.RoPE(kt, c.KVHeads, D, cos, sin, m.neox)
		}

		// causal attention over the cache, output projection, residual
		att := s.att[:T*qDim]
		p.Attend(attn, att, q, kCache, vCache, T, pos, s.ctx, s.scores)
		p.MatMul(xb, l.wo, att, T, s.act)
		kernel.Add(x, xb)

		// feed-forward: rmsnorm, down(silu(gate(x)) * up(x)), residual
		for t := range T {
			kernel.RMSNorm(xb[t*C:(t+1)*C], x[t*C:(t+1)*C], l.ffnNorm, c.RMSEps)
		}
		hb, hb2 := s.hb[:T*c.FFN], s.hb2[:T*c.FFN]
		p.MatMul(hb, l.gate, xb, T, s.act)
		p.MatMul(hb2, l.up, xb, T, s.act)
		kernel.SwiGLU(hb, hb2)
		p.MatMul(xb, l.down, hb, T, s.act)
		kernel.Add(x, xb)
	}
	m.logits(s, x, T, logits)
}

// logits applies the final norm and the output head to the rows of x that
// the caller asked for: the last one, every one, or none.
func (m *llama) logits(s *State, x []float32, T int, logits []float32) {
	C, V := m.c.Embd, m.c.Vocab
	rows := len(logits) / V
	if rows == 0 {
		return
	}
	first := T - rows
	xb := s.xb[:rows*C]
	for r := range rows {
		kernel.RMSNorm(xb[r*C:(r+1)*C], x[(first+r)*C:(first+r+1)*C], m.outputNorm, m.c.RMSEps)
	}
	s.pool.MatMul(logits, m.output, xb, rows, s.act)
}
