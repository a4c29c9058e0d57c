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

func (m *llama) forward(b *Batch, steps []Step) {
	c, p := m.c, b.pool
	C, D := c.Embd, c.HeadDim
	qDim, kvDim := c.Heads*D, c.KVHeads*D
	half := c.RopeDim / 2
	attn := kernel.Attention{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: D, Scale: c.AttnScale}

	// x = token embeddings, one row per token of every step in turn; the
	// rotation angles of each token's position in its sequence
	T := 0
	for _, st := range steps {
		for i, tok := range st.Tokens {
			b.pos[T] = st.Seq.pos + i
			m.tokenEmbd.Row(b.x[T*C:(T+1)*C], int(tok))
			kernel.RopeAngles(b.cos[T*half:(T+1)*half], b.sin[T*half:(T+1)*half], b.pos[T], c.RopeBase, m.ropeFreqs)
			T++
		}
	}
	x, xb := b.x[:T*C], b.xb[:T*C]
	for li := range m.layers {
		l := &m.layers[li]

		// attention: rmsnorm, q/k/v projections (+ biases), RoPE on q and k
		// with the per-head q/k norm before or after it
		for t := range T {
			kernel.RMSNorm(xb[t*C:(t+1)*C], x[t*C:(t+1)*C], l.attnNorm, c.RMSEps)
		}
		q, k, v := b.q[:T*qDim], b.kb[:T*kvDim], b.vb[:T*kvDim]
		p.MatMuls(xb, T, b.act, kernel.Product{Out: q, M: l.wq}, kernel.Product{Out: k, M: l.wk}, kernel.Product{Out: v, M: l.wv})
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
			cos, sin := b.cos[t*half:(t+1)*half], b.sin[t*half:(t+1)*half]
			kernel.RoPE(qt, c.Heads, D, cos, sin, m.neox)
			kernel.RoPE(kt, c.KVHeads, D, cos, sin, m.neox)
			if m.qkNorm == qkNormAfterRope {
				m.normHeads(l, qt, kt)
			}
		}

		// each sequence: store its new keys and values, then causal
		// attention over its cache
		att := b.att[:T*qDim]
		row := 0
		for _, st := range steps {
			n, s := len(st.Tokens), st.Seq
			kCache := s.k[li*s.ctx*kvDim : (li+1)*s.ctx*kvDim]
			vCache := s.v[li*s.ctx*kvDim : (li+1)*s.ctx*kvDim]
			copy(kCache[s.pos*kvDim:(s.pos+n)*kvDim], k[row*kvDim:(row+n)*kvDim])
			copy(vCache[s.pos*kvDim:(s.pos+n)*kvDim], v[row*kvDim:(row+n)*kvDim])
			p.Attend(attn, att[row*qDim:(row+n)*qDim], q[row*qDim:(row+n)*qDim], kCache, vCache, n, s.pos, s.ctx, b.scores)
			row += n
		}

		// output projection, residual
		p.MatMul(xb, l.wo, att, T, b.act)
		kernel.Add(x, xb)

		// feed-forward: rmsnorm, down(silu(gate(x)) * up(x)), residual
		for t := range T {
			kernel.RMSNorm(xb[t*C:(t+1)*C], x[t*C:(t+1)*C], l.ffnNorm, c.RMSEps)
		}
		hb, hb2 := b.hb[:T*c.FFN], b.hb2[:T*c.FFN]
		p.SwiGLU(xb, T, b.act, kernel.Product{Out: hb, M: l.gate}, kernel.Product{Out: hb2, M: l.up})
		p.MatMul(xb, l.down, hb, T, b.act)
		kernel.Add(x, xb)
	}
	m.outputs(b, x, steps)
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

// outputs applies the final norm to the rows the steps ask for, and the
// output head to those that want logits. Several sequences' last rows go
// through the head together, into the Batch's scratch rows.
func (m *llama) outputs(b *Batch, x []float32, steps []Step) {
	C, V := m.c.Embd, m.c.Vocab
	norm := func(dst []float32, row int) {
		kernel.RMSNorm(dst, x[row*C:(row+1)*C], m.outputNorm, m.c.RMSEps)
	}
	if len(steps) == 1 && len(steps[0].Logits) > V {
		// every row of the only step
		T := len(steps[0].Tokens)
		for r := range T {
			norm(b.xb[r*C:(r+1)*C], r)
		}
		b.pool.MatMul(steps[0].Logits, m.output, b.xb[:T*C], T, b.act)
		return
	}
	rows, first := 0, 0
	for _, st := range steps {
		T := len(st.Tokens)
		switch {
		case st.Hidden != nil:
			for r := range T {
				norm(st.Hidden[r*C:(r+1)*C], first+r)
			}
		case st.Logits != nil:
			norm(b.xb[rows*C:(rows+1)*C], first+T-1)
			rows++
		}
		first += T
	}
	if rows == 0 {
		return
	}
	if rows == 1 && b.rows == nil {
		for _, st := range steps {
			if st.Logits != nil {
				b.pool.MatMul(st.Logits, m.output, b.xb[:C], 1, b.act)
			}
		}
		return
	}
	b.pool.MatMul(b.rows[:rows*V], m.output, b.xb[:rows*C], rows, b.act)
	r := 0
	for _, st := range steps {
		if st.Logits != nil {
			copy(st.Logits, b.rows[r*V:(r+1)*V])
			r++
		}
	}
}
