package model

import (
	"fmt"

	"zhiyan/kernel"
)

// State is one sequence being run through a model: its KV cache, position and
// the scratch buffers of a forward pass, sized once so that decoding a token
// allocates nothing. A State is not safe for concurrent use.
type State struct {
	m        *Model
	pool     *kernel.Pool
	ctx      int // positions the cache holds
	maxBatch int // tokens per forward step
	pos      int // next position to fill

	// KV cache: (L, ctx, KVHeads*D) each.
	k, v []float32

	// Activations of one step of up to maxBatch tokens (B).
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
	scores []float32 // attention scratch
	act    []byte    // quantized activations for MatMul
}

// Options size a State.
type Options struct {
	Context int // positions to hold; 0 = the model's context length
	Batch   int // tokens per forward step; 0 = 512
	Threads int // goroutines for matrix products; 0 = 1
}

// NewState allocates a sequence for m.
func (m *Model) NewState(o Options) *State {
	c := m.Config
	if o.Context <= 0 {
		o.Context = c.ContextLen
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	o.Batch = min(o.Batch, o.Context)
	B, qDim, kvDim := o.Batch, c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	s := &State{
		m: m, pool: kernel.NewPool(o.Threads), ctx: o.Context, maxBatch: B,
		k:   make([]float32, c.Layers*o.Context*kvDim),
		v:   make([]float32, c.Layers*o.Context*kvDim),
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
	}
	s.scores = make([]float32, s.pool.AttentionScratch(o.Context))
	act := 0
	for _, g := range m.net.matrixGroups() {
		act = max(act, kernel.ActBytes(B, g...))
	}
	s.act = make([]byte, act)
	return s
}

// Close stops the State's worker goroutines.
func (s *State) Close() { s.pool.Close() }

// Pos is the number of tokens in the cache.
func (s *State) Pos() int { return s.pos }

// Context is the number of positions the cache holds.
func (s *State) Context() int { return s.ctx }

// Truncate forgets every position from pos on, so generation can resume there.
func (s *State) Truncate(pos int) {
	if pos < 0 || pos > s.pos {
		panic(fmt.Sprintf("model: Truncate(%d) with %d positions", pos, s.pos))
	}
	s.pos = pos
}

// Forward appends tokens to the sequence and computes logits. With len(logits)
// == V it gets those of the last token; with len(logits) == len(tokens)*V those
// of every token, row by row.
func (s *State) Forward(tokens []int32, logits []float32) error {
	V := s.m.Config.Vocab
	all := len(logits) == len(tokens)*V && len(tokens) > 1
	if len(logits) != V && !all {
		return fmt.Errorf("model: logits buffer of %d floats fits neither 1 nor %d rows of %d", len(logits), len(tokens), V)
	}
	if len(tokens) == 0 {
		return fmt.Errorf("model: no tokens")
	}
	if s.pos+len(tokens) > s.ctx {
		return fmt.Errorf("model: %d tokens after position %d exceed the context of %d", len(tokens), s.pos, s.ctx)
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= V {
			return fmt.Errorf("model: token id %d is outside the vocabulary of %d", t, V)
		}
	}
	for start := 0; start < len(tokens); start += s.maxBatch {
		end := min(start+s.maxBatch, len(tokens))
		var out []float32
		switch {
		case all:
			out = logits[start*V : end*V]
		case end == len(tokens):
			out = logits
		}
		s.m.net.forward(s, tokens[start:end], s.pos, out)
		s.pos += end - start
	}
	return nil
}
