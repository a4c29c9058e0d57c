package model

import (
	"fmt"

	"zhiyan/gguf"
	"zhiyan/kernel"
)

// llama is the Llama decoder (and the families that reuse it with small
// changes, like Qwen2, Qwen3, ERNIE 4.5 and Hunyuan): pre-norm RMSNorm blocks
// of grouped-query attention with RoPE and a SwiGLU feed-forward network.
type llama struct {
	c *Config
	decoderOptions

	tokenEmbd  *kernel.Matrix // (V, C)
	outputNorm []float32      // (C)
	output     *kernel.Matrix // (V, C); token_embd when tied
	ropeFreqs  []float32      // (RopeDim/2) llama3 frequency factors, or nil
	layers     []llamaLayer
}

// decoderOptions are what the families built on the llama decoder change.
type decoderOptions struct {
	neox   bool        // RoPE layout: NEOX (rotate_half) or NORM (adjacent pairs)
	qkNorm qkNormOrder // per-head RMSNorm of q and k, and where it goes
}

// qkNormOrder places the per-head RMSNorm of queries and keys
// (attn_q_norm, attn_k_norm) relative to RoPE; the families disagree.
type qkNormOrder int

const (
	noQKNorm         qkNormOrder = iota
	qkNormBeforeRope             // Qwen3
	qkNormAfterRope              // Hunyuan
)

type llamaLayer struct {
	attnNorm     []float32      // (C)
	wq           *kernel.Matrix // (H*D, C)
	wk, wv       *kernel.Matrix // (KV*D, C)
	bq, bk, bv   []float32      // (H*D), (KV*D), (KV*D); optional biases
	qNorm, kNorm []float32      // (D) each; with a qkNorm option only
	wo           *kernel.Matrix // (C, H*D)
	ffnNorm      []float32      // (C)
	gate, up     *kernel.Matrix // (FFN, C)
	down         *kernel.Matrix // (C, FFN)
}

func init() {
	register("llama", func(f *gguf.File, c *Config) (network, error) { return loadLlama(f, c, decoderOptions{}) })
}

func loadLlama(f *gguf.File, c *Config, o decoderOptions) (*llama, error) {
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
	m := &llama{c: c, decoderOptions: o}
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
		if o.qkNorm != noQKNorm {
			l.qNorm = w.vector(p+"attn_q_norm.weight", c.HeadDim)
			l.kNorm = w.vector(p+"attn_k_norm.weight", c.HeadDim)
		}
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

func (m *llama) matrixGroups() [][]*kernel.Matrix {
	gs := [][]*kernel.Matrix{{m.output}}
	for i := range m.layers {
		l := &m.layers[i]
		gs = append(gs, []*kernel.Matrix{l.wq, l.wk, l.wv}, []*kernel.Matrix{l.wo}, []*kernel.Matrix{l.gate, l.up}, []*kernel.Matrix{l.down})
	}
	return gs
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
		// with the per-head q/k norm before or after it
		for t := range T {
			kernel.RMSNorm(xb[t*C:(t+1)*C], x[t*C:(t+1)*C], l.attnNorm, c.RMSEps)
		}
		q, k, v := s.q[:T*qDim], kCache[pos*kvDim:(pos+T)*kvDim], vCache[pos*kvDim:(pos+T)*kvDim]
		p.MatMuls(xb, T, s.act, kernel.Product{Out: q, M: l.wq}, kernel.Product{Out: k, M: l.wk}, kernel.Product{Out: v, M: l.wv})
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
			if m.qkNorm == qkNormBeforeRope {
				m.normHeads(l, qt, kt)
			}
			cos, sin := s.cos[t*half:(t+1)*half], s.sin[t*half:(t+1)*half]
			kernel.RoPE(qt, c.Heads, D, cos, sin, m.neox)
			kernel.RoPE(kt, c.KVHeads, D, cos, sin, m.neox)
			if m.qkNorm == qkNormAfterRope {
				m.normHeads(l, qt, kt)
			}
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
		p.SwiGLU(xb, T, s.act, kernel.Product{Out: hb, M: l.gate}, kernel.Product{Out: hb2, M: l.up})
		p.MatMul(xb, l.down, hb, T, s.act)
		kernel.Add(x, xb)
	}
	m.logits(s, x, T, logits)
}

// normHeads applies the layer's q and k norms in place to every head of one
// token's queries q (H*D) and keys k (KV*D).
func (m *llama) normHeads(l *llamaLayer, q, k []float32) {
	D, eps := m.c.HeadDim, m.c.RMSEps
	for h := range m.c.Heads {
		kernel.RMSNorm(q[h*D:(h+1)*D], q[h*D:(h+1)*D], l.qNorm, eps)
	}
	for h := range m.c.KVHeads {
		kernel.RMSNorm(k[h*D:(h+1)*D], k[h*D:(h+1)*D], l.kNorm, eps)
	}
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
