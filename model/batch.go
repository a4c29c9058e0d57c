package model

import (
	"errors"
	"fmt"

	"zhiyan/kernel"
)

// Batch runs the tokens of several sequences through the model in one
// forward pass, so that their matrix products share one read of the
// weights: this is what lets N parallel generations cost much less than N
// times one. It owns the scratch buffers of a pass (sized once, so a step
// allocates nothing) and the worker threads; each sequence owns its KV cache
// (Seq). A Batch is not safe for concurrent use.
type Batch struct {
	m        *Model
	pool     *kernel.Pool
	maxBatch int // tokens per step, all sequences together (B)
	maxSeqs  int // sequences per step that want logits of their last token
	ctx      int // longest Seq context, for attention scratch

	// Activations of one step of up to B tokens.
	x      []float32 // (B, C) residual stream
	xb     []float32 // (B, C) normalized input of a sublayer
	xb2    []float32 // (B, max(C, H*D)) sublayer output
	q      []float32 // (B, H*D)
	kb, vb []float32 // (B, KV*D) new keys and values
	att    []float32 // (B, H*D) attention output
	hb     []float32 // (B, FFN) gate, then silu(gate)*up
	hb2    []float32 // (B, FFN) up
	cos    []float32 // (B, RopeDim/2)
	sin    []float32 // (B, RopeDim/2)
	pos    []int     // (B) position of each token in its sequence
	rows   []float32 // (maxSeqs, V) logits of several sequences' last tokens
	scores []float32 // attention scratch
	act    []byte    // quantized activations for MatMul
}

// BatchOptions size a Batch.
type BatchOptions struct {
	Context int // longest sequence context it will run; 0 = the model's context length
	Batch   int // tokens per step; 0 = 512
	Seqs    int // sequences per step; 0 = 1
	Threads int // goroutines for matrix products; 0 = 1
}

// NewBatch allocates the scratch of a forward pass.
func (m *Model) NewBatch(o BatchOptions) *Batch {
	c := m.Config
	if o.Context <= 0 {
		o.Context = c.ContextLen
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	o.Seqs = max(o.Seqs, 1)
	o.Batch = max(o.Batch, o.Seqs)
	B, qDim, kvDim := o.Batch, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	b := &Batch{
		m: m, pool: kernel.NewPool(o.Threads), maxBatch: B, maxSeqs: o.Seqs, ctx: o.Context,
		x:   make([]float32, B*c.Embd),
		xb:  make([]float32, B*c.Embd),
		xb2: make([]float32, B*max(c.Embd, qDim)),
		q:   make([]float32, B*qDim),
		kb:  make([]float32, B*kvDim),
		vb:  make([]float32, B*kvDim),
		att: make([]float32, B*qDim),
		hb:  make([]float32, B*c.FFN),
		hb2: make([]float32, B*c.FFN),
		cos: make([]float32, B*c.RopeDim/2),
		sin: make([]float32, B*c.RopeDim/2),
		pos: make([]int, B),
	}
	if o.Seqs > 1 {
		b.rows = make([]float32, o.Seqs*c.Vocab)
	}
	b.scores = make([]float32, b.pool.AttentionScratch(o.Context))
	act := 0
	for _, g := range m.net.matrixGroups() {
		act = max(act, kernel.ActBytes(B, g...))
	}
	b.act = make([]byte, act)
	return b
}

// Close stops the Batch's worker goroutines.
func (b *Batch) Close() { b.pool.Close() }

// MaxTokens is the number of tokens one Forward can take.
func (b *Batch) MaxTokens() int { return b.maxBatch }

// Seq is one sequence's KV cache: the keys and values of the positions it
// has been run through.
type Seq struct {
	ctx  int // positions the cache holds
	pos  int // next position to fill
	k, v []float32
}

// NewSeq allocates the cache of a sequence of up to ctx positions (at most
// the Batch's context).
func (b *Batch) NewSeq(ctx int) *Seq {
	if ctx <= 0 || ctx > b.ctx {
		ctx = b.ctx
	}
	c := b.m.Config
	n := c.Layers * ctx * c.KVHeads * c.HeadDim
	return &Seq{ctx: ctx, k: make([]float32, n), v: make([]float32, n)}
}

// Pos is the number of positions in the cache.
func (s *Seq) Pos() int { return s.pos }

// Context is the number of positions the cache holds.
func (s *Seq) Context() int { return s.ctx }

// Truncate forgets every position from pos on, so generation can resume there.
func (s *Seq) Truncate(pos int) {
	if pos < 0 || pos > s.pos {
		panic(fmt.Sprintf("model: Truncate(%d) with %d positions", pos, s.pos))
	}
	s.pos = pos
}

// Step is one sequence's share of a forward pass: tokens appended to Seq and
// what to compute for them. Logits of len V receive the last token's logits,
// of len len(Tokens)*V every token's (one sequence per pass only), nil none.
// Hidden, when not nil, receives every token's final normalized hidden
// state (len(Tokens)*Embd) instead of logits, for embeddings.
type Step struct {
	Seq    *Seq
	Tokens []int32
	Logits []float32
	Hidden []float32
}

// Forward runs one pass over the steps, each for a different sequence, and
// advances their positions. Their tokens together must fit MaxTokens.
func (b *Batch) Forward(steps []Step) error {
	V, C := b.m.Config.Vocab, b.m.Config.Embd
	total, withLogits := 0, 0
	for i := range steps {
		st := &steps[i]
		T := len(st.Tokens)
		if T == 0 {
			return errNoTokens
		}
		if st.Seq.pos+T > st.Seq.ctx {
			return errContext(T, st.Seq.pos, st.Seq.ctx)
		}
		for _, t := range st.Tokens {
			if t < 0 || int(t) >= V {
				return fmt.Errorf("model: token id %d is outside the vocabulary of %d", t, V)
			}
		}
		switch {
		case st.Hidden != nil:
			if len(st.Hidden) != T*C || st.Logits != nil {
				return errHiddenSize(len(st.Hidden), T, C)
			}
		case len(st.Logits) == V:
			withLogits++
		case len(st.Logits) == T*V && len(steps) == 1:
		case st.Logits != nil:
			return errLogitsSize(len(st.Logits), T, V)
		}
		for j := range i {
			if steps[j].Seq == st.Seq {
				return fmt.Errorf("model: a sequence appears twice in one step")
			}
		}
		total += T
	}
	if total > b.maxBatch {
		return fmt.Errorf("model: %d tokens exceed the batch of %d", total, b.maxBatch)
	}
	if withLogits > b.maxSeqs {
		return fmt.Errorf("model: %d sequences want logits, the batch holds %d", withLogits, b.maxSeqs)
	}
	if total == 0 {
		return errNoTokens
	}
	b.m.net.forward(b, steps)
	for i := range steps {
		steps[i].Seq.pos += len(steps[i].Tokens)
	}
	return nil
}

var errNoTokens = errors.New("model: no tokens")

func errContext(tokens, pos, ctx int) error {
	return fmt.Errorf("model: %d tokens after position %d exceed the context of %d", tokens, pos, ctx)
}

func errLogitsSize(n, tokens, V int) error {
	return fmt.Errorf("model: logits buffer of %d floats fits neither 1 nor %d rows of %d", n, tokens, V)
}

func errHiddenSize(n, tokens, C int) error {
	return fmt.Errorf("model: hidden buffer of %d floats is not %d rows of %d", n, tokens, C)
}
