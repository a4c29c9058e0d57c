package model

// State is one sequence being run through a model on its own: a Batch with a
// single Seq. A State is not safe for concurrent use.
type State struct {
	b    *Batch
	seq  *Seq
	step [1]Step // Forward's argument, kept to not allocate per call
}

// Options size a State.
type Options struct {
	Context int // positions to hold; 0 = the model's context length
	Batch   int // tokens per forward step; 0 = 512
	Threads int // goroutines for matrix products; 0 = 1
}

// NewState allocates a sequence for m.
func (m *Model) NewState(o Options) *State {
	if o.Context <= 0 {
		o.Context = m.Config.ContextLen
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	b := m.NewBatch(BatchOptions{Context: o.Context, Batch: min(o.Batch, o.Context), Threads: o.Threads})
	return &State{b: b, seq: b.NewSeq(o.Context)}
}

// Close stops the State's worker goroutines.
func (s *State) Close() { s.b.Close() }

// Pos is the number of tokens in the cache.
func (s *State) Pos() int { return s.seq.pos }

// Context is the number of positions the cache holds.
func (s *State) Context() int { return s.seq.ctx }

// Truncate forgets every position from pos on, so generation can resume there.
func (s *State) Truncate(pos int) { s.seq.Truncate(pos) }

// Forward appends tokens to the sequence and computes logits. With len(logits)
// == V it gets those of the last token; with len(logits) == len(tokens)*V those
// of every token, row by row.
func (s *State) Forward(tokens []int32, logits []float32) error {
	return s.run(tokens, logits, nil)
}

// Hidden appends tokens to the sequence and writes every token's final
// normalized hidden state (len(tokens)*Embd floats) into hidden.
func (s *State) Hidden(tokens []int32, hidden []float32) error {
	return s.run(tokens, nil, hidden)
}

// run feeds tokens in chunks of the batch size; only the chunks that hold
// requested rows compute them.
func (s *State) run(tokens []int32, logits, hidden []float32) error {
	V, C := s.b.m.Config.Vocab, s.b.m.Config.Embd
	all := len(logits) == len(tokens)*V && len(tokens) > 1
	if logits != nil && len(logits) != V && !all {
		return errLogitsSize(len(logits), len(tokens), V)
	}
	if hidden != nil && len(hidden) != len(tokens)*C {
		return errHiddenSize(len(hidden), len(tokens), C)
	}
	if len(tokens) == 0 {
		return errNoTokens
	}
	if s.seq.pos+len(tokens) > s.seq.ctx {
		return errContext(len(tokens), s.seq.pos, s.seq.ctx)
	}
	for start := 0; start < len(tokens); start += s.b.maxBatch {
		end := min(start+s.b.maxBatch, len(tokens))
		st := Step{Seq: s.seq, Tokens: tokens[start:end]}
		switch {
		case hidden != nil:
			st.Hidden = hidden[start*C : end*C]
		case all:
			st.Logits = logits[start*V : end*V]
		case end == len(tokens):
			st.Logits = logits
		}
		s.step[0] = st
		err := s.b.Forward(s.step[:])
		s.step[0] = Step{}
		if err != nil {
			return err
		}
	}
	return nil
}
