package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"zhiyan/model"
	"zhiyan/sample"
)

// Session is a conversation's model state plus the tokens it holds, so a new
// prompt that extends the previous one reuses the cached prefix.
type Session struct {
	e      *Engine
	State  *model.State
	tokens []int32 // tokens whose keys and values are in State
	logits []float32
}

// NewSession allocates a sequence of up to ctx positions.
func (e *Engine) NewSession(o model.Options) *Session {
	return &Session{e: e, State: e.Model.NewState(o), logits: make([]float32, e.Model.Config.Vocab)}
}

// Close releases the session's workers.
func (s *Session) Close() { s.State.Close() }

// Reset forgets the conversation.
func (s *Session) Reset() {
	s.State.Truncate(0)
	s.tokens = s.tokens[:0]
}

// Options control one generation.
type Options struct {
	MaxTokens int      // 0 = until the context is full
	Stop      []string // generation ends before any of these strings
	Sampler   *sample.Sampler
}

// Result describes a finished generation.
type Result struct {
	PromptTokens     int           // prompt tokens evaluated (after prefix reuse)
	CachedTokens     int           // prompt tokens reused from the cache
	Tokens           int           // tokens generated
	Reason           string        // "stop" (end of turn or stop string), "length" or "cancelled"
	QueueDuration    time.Duration // waiting for a Scheduler's slot
	PromptDuration   time.Duration
	GenerateDuration time.Duration
}

// Generate feeds prompt (reusing the longest prefix already in the session)
// and samples tokens until an end-of-generation token, a stop string,
// MaxTokens or the end of the context. emit receives text as it becomes
// final: whole UTF-8 characters, never part of a stop string.
func (s *Session) Generate(ctx context.Context, prompt []int32, o Options, emit func(string) error) (r Result, err error) {
	if len(prompt) == 0 {
		return r, errors.New("engine: empty prompt")
	}
	if len(prompt) >= s.State.Context() {
		return r, fmt.Errorf("engine: prompt of %d tokens does not fit the context of %d", len(prompt), s.State.Context())
	}
	// Reuse the cached prefix; always re-run at least the last prompt token
	// to get its logits.
	keep := commonPrefix(s.tokens, prompt)
	keep = min(keep, len(prompt)-1)
	s.State.Truncate(keep)
	s.tokens = append(s.tokens[:keep], prompt[keep:]...)
	r.CachedTokens, r.PromptTokens = keep, len(prompt)-keep

	start := time.Now()
	if err = s.State.Forward(prompt[keep:], s.logits); err != nil {
		s.tokens = s.tokens[:keep]
		s.State.Truncate(keep)
		return r, err
	}
	r.PromptDuration = time.Since(start)

	start = time.Now()
	defer func() { r.GenerateDuration = time.Since(start) }()
	tok := s.e.Tokenizer
	dec := tok.NewDecoder()
	stops := newStopper(o.Stop)
	r.Reason = "length"
	for {
		if err := ctx.Err(); err != nil {
			r.Reason = "cancelled"
			break
		}
		next := o.Sampler.Sample(s.logits, s.tokens)
		if tok.IsEOG(next) {
			r.Reason = "stop"
			break
		}
		r.Tokens++
		text, stopped := stops.add(dec.Add(next))
		if text != "" {
			if err := emit(text); err != nil {
				return r, err
			}
		}
		if stopped {
			r.Reason = "stop"
			return r, nil
		}
		if r.Tokens == o.MaxTokens || s.State.Pos() >= s.State.Context() {
			break
		}
		s.tokens = append(s.tokens, next)
		if err := s.State.Forward(s.tokens[len(s.tokens)-1:], s.logits); err != nil {
			return r, err
		}
	}
	if text := stops.flush(dec.Flush()); text != "" {
		if err := emit(text); err != nil {
			return r, err
		}
	}
	return r, nil
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// stopper holds back text that could be the start of a stop string.
type stopper struct {
	stops   []string
	pending string
}

func newStopper(stops []string) *stopper {
	var s []string
	for _, x := range stops {
		if x != "" {
			s = append(s, x)
		}
	}
	return &stopper{stops: s}
}

// add appends text and returns what can be emitted, and whether a stop
// string was found (text up to it is returned, the rest dropped).
func (s *stopper) add(text string) (string, bool) {
	s.pending += text
	for _, stop := range s.stops {
		if i := strings.Index(s.pending, stop); i >= 0 {
			out := s.pending[:i]
			s.pending = ""
			return out, true
		}
	}
	// Keep the longest suffix that is a prefix of some stop string.
	hold := 0
	for _, stop := range s.stops {
		for n := min(len(stop)-1, len(s.pending)); n > hold; n-- {
			if strings.HasSuffix(s.pending, stop[:n]) {
				hold = n
				break
			}
		}
	}
	out := s.pending[:len(s.pending)-hold]
	s.pending = s.pending[len(s.pending)-hold:]
	return out, false
}

func (s *stopper) flush(text string) string {
	out, _ := s.add(text)
	out += s.pending
	s.pending = ""
	return out
}
