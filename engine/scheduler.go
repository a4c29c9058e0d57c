package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"zhiyan/grammar"
	"zhiyan/kernel"
	"zhiyan/model"
	"zhiyan/sample"
	"zhiyan/tokenizer"
)

// Scheduler serves many generations at once from one Engine with continuous
// batching: every pass runs the next token of each decoding sequence, plus
// a chunk of a waiting prompt, through one batched forward; new requests
// join between passes; a prompt reuses the longest cached prefix of any
// free slot, so a multi-turn chat does not recompute its history.
type Scheduler struct {
	e     *Engine
	o     SchedulerOptions
	batch *model.Batch
	slots []*slot

	vocabOnce sync.Once
	vocab     [][]byte // token bytes for grammar masks

	mu      sync.Mutex
	queue   []*job // waiting for a slot, oldest first
	free    int    // slots without a job
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
}

// SchedulerOptions size a Scheduler.
type SchedulerOptions struct {
	Parallel int // sequences decoded together (slots); 0 = 4
	Context  int // positions per sequence; 0 = the model's context length, at most 4096
	Batch    int // tokens per forward pass; 0 = 512
	Threads  int // 0 = runtime.NumCPU()
	Queue    int // requests that may wait for a slot; 0 = 4*Parallel
	// Prepack packs the weights once for batch products (model.Prepack):
	// several sequences decode faster, at the cost of up to about twice the
	// weights' size in memory.
	Prepack bool
}

// SchedulerStats is a snapshot of a Scheduler's load.
type SchedulerStats struct {
	Parallel int // slots
	Busy     int // slots running a request
	Queued   int // requests waiting for a slot
}

var (
	// ErrBusy: every slot is busy and the queue is full; try again later.
	ErrBusy = errors.New("engine: all slots are busy and the queue is full")
	// ErrClosed: the scheduler was closed (the model is being unloaded).
	ErrClosed = errors.New("engine: the model was unloaded")
)

// ContextError reports a prompt that does not fit a sequence's context.
type ContextError struct {
	Prompt, Context int
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("the prompt has %d tokens but the context holds %d (the answer needs at least one more)", e.Prompt, e.Context)
}

// Request is one generation.
type Request struct {
	Prompt    []int32
	MaxTokens int      // 0 = until the context is full
	Stop      []string // generation ends before any of these strings
	Sampling  sample.Params
	// Grammar, when set, forces the output to match it; end of generation
	// is allowed only where it is complete.
	Grammar *grammar.Constraint
	// GrammarAfter leaves the output free until this text has been
	// generated (e.g. "</think>" ending a reasoning block) and applies
	// Grammar after it; "" applies it from the first token.
	GrammarAfter string
	Logprobs     bool // report each token's log-probability under the model
	TopLogprobs  int  // and this many most likely alternatives
}

// Token is one generated token as Generate reports it.
type Token struct {
	ID int32 // -1 for text released at the end without a new token
	// Text is what this token made final: whole UTF-8 characters, never
	// part of a stop string; it may be empty.
	Text    string
	Logprob float32 // log-probability of ID under the model (raw logits)
	Top     []TokenLogprob
}

// TokenLogprob is one of the most likely tokens at a step.
type TokenLogprob struct {
	ID      int32
	Bytes   []byte
	Logprob float32
}

// maxTopLogprobs bounds Request.TopLogprobs.
const maxTopLogprobs = 20

// job is a request in flight: the scheduler loop owns its generation state;
// its events cross to the caller's goroutine under mu.
type job struct {
	ctx     context.Context
	req     Request
	sampler *sample.Sampler
	gram    *grammar.State // nil until the grammar applies
	tail    string         // recent raw text, to spot GrammarAfter
	dec     *tokenizer.Decoder
	stops   *stopper
	stopHit bool // a stop string ended the output: nothing held back is released

	slot      *slot
	fed       int   // prompt tokens in the cache
	next      int32 // sampled token to feed in the next pass, -1 none
	res       Result
	queued    time.Time
	started   time.Time // admitted to a slot
	firstTime time.Time // first token sampled

	mu       sync.Mutex
	events   []Token
	finished bool
	err      error
	abandon  bool // the caller stopped listening
	notify   chan struct{}
}

type slot struct {
	seq    *model.Seq
	tokens []int32 // what seq holds
	job    *job
	used   time.Time
	logits []float32
	mask   []bool
	probs  []float32 // softmax scratch for logprobs
}

// NewScheduler starts a scheduler on e. Close it to free its memory and
// goroutines.
func (e *Engine) NewScheduler(o SchedulerOptions) *Scheduler {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Context <= 0 {
		o.Context = min(e.Model.Config.ContextLen, 4096)
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	o.Batch = max(o.Batch, o.Parallel)
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.Parallel
	}
	if o.Prepack && o.Parallel > 1 {
		e.Model.Prepack()
	}
	s := &Scheduler{
		e: e, o: o,
		batch:   e.Model.NewBatch(model.BatchOptions{Context: o.Context, Batch: o.Batch, Seqs: o.Parallel, Threads: o.Threads}),
		free:    o.Parallel,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	V := e.Model.Config.Vocab
	for range o.Parallel {
		s.slots = append(s.slots, &slot{seq: s.batch.NewSeq(o.Context), logits: make([]float32, V)})
	}
	go s.loop()
	return s
}

// Context is the number of positions of each sequence.
func (s *Scheduler) Context() int { return s.o.Context }

// Stats reports the current load.
func (s *Scheduler) Stats() SchedulerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SchedulerStats{Parallel: s.o.Parallel, Busy: s.o.Parallel - s.free, Queued: len(s.queue)}
}

// Close ends every generation with ErrClosed and frees the scheduler.
func (s *Scheduler) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.stopped
		return
	}
	s.closed = true
	queued := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, j := range queued {
		j.finish(ErrClosed)
	}
	s.signal()
	<-s.stopped
	s.batch.Close()
}

func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Generate runs r and calls emit, from the caller's goroutine, with each
// token. It waits for a free slot first (ErrBusy when the queue is full).
// Cancelling ctx, or emit returning an error, ends the generation within one
// pass and frees its slot; the Result then says "cancelled".
func (s *Scheduler) Generate(ctx context.Context, r Request, emit func(Token) error) (Result, error) {
	if len(r.Prompt) == 0 {
		return Result{}, errors.New("engine: empty prompt")
	}
	if len(r.Prompt) >= s.o.Context {
		return Result{}, &ContextError{Prompt: len(r.Prompt), Context: s.o.Context}
	}
	V := s.e.Model.Config.Vocab
	for _, t := range r.Prompt {
		if t < 0 || int(t) >= V {
			return Result{}, fmt.Errorf("engine: token id %d is outside the vocabulary of %d", t, V)
		}
	}
	r.TopLogprobs = min(max(r.TopLogprobs, 0), maxTopLogprobs)
	if r.TopLogprobs > 0 {
		r.Logprobs = true
	}
	j := &job{
		ctx: ctx, req: r, next: -1, queued: time.Now(),
		sampler: sample.New(r.Sampling, V),
		dec:     s.e.Tokenizer.NewDecoder(),
		stops:   newStopper(r.Stop),
		notify:  make(chan struct{}, 1),
	}
	if r.Grammar != nil && r.GrammarAfter == "" {
		j.gram = r.Grammar.Start()
	}

	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return Result{}, ErrClosed
	case len(s.queue) >= s.o.Queue+s.free:
		s.mu.Unlock()
		return Result{}, ErrBusy
	}
	s.queue = append(s.queue, j)
	s.mu.Unlock()
	s.signal()

	var emitErr error
	done := ctx.Done()
	for {
		select {
		case <-j.notify:
		case <-done:
			done = nil // the loop sees ctx and finishes the job within a pass
			if s.dequeue(j) {
				j.finish(nil)
			}
		}
		j.mu.Lock()
		events, finished := j.events, j.finished
		j.events = nil
		j.mu.Unlock()
		for _, t := range events {
			if emitErr != nil {
				break
			}
			if emitErr = emit(t); emitErr != nil {
				j.mu.Lock()
				j.abandon = true
				j.mu.Unlock()
				s.signal()
			}
		}
		if finished {
			break
		}
	}
	res := j.res
	if res.Reason == "" {
		res.Reason = "cancelled"
	}
	if emitErr != nil {
		return res, emitErr
	}
	return res, j.err
}

// dequeue removes j from the queue if it is still waiting.
func (s *Scheduler) dequeue(j *job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.queue, j); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
		return true
	}
	return false
}

func (j *job) push(t Token) {
	j.mu.Lock()
	j.events = append(j.events, t)
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

func (j *job) finish(err error) {
	j.mu.Lock()
	j.finished, j.err = true, err
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
}

func (j *job) gone() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.abandon || j.ctx.Err() != nil
}

// loop is the scheduler's one goroutine that runs the model.
func (s *Scheduler) loop() {
	defer close(s.stopped)
	steps := make([]model.Step, 0, len(s.slots))
	active := make([]*job, 0, len(s.slots))
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			for _, sl := range s.slots {
				if sl.job != nil {
					s.end(sl.job, "", ErrClosed)
				}
			}
			return
		}
		s.admit()
		busy := s.free < len(s.slots)
		s.mu.Unlock()
		if !busy {
			<-s.wake
			continue
		}

		// The decoding sequences' next tokens first, then prompt chunks in
		// the room left: a long prompt never stalls the others' streams.
		steps, active = steps[:0], active[:0]
		room := s.batch.MaxTokens()
		for _, sl := range s.slots {
			j := sl.job
			if j == nil {
				continue
			}
			if j.gone() {
				s.end(j, "cancelled", nil)
				continue
			}
			if j.next >= 0 {
				steps = append(steps, model.Step{Seq: sl.seq, Tokens: []int32{j.next}, Logits: sl.logits})
				active = append(active, j)
				room--
			}
		}
		for _, sl := range s.slots {
			j := sl.job
			if j == nil || j.next >= 0 || room == 0 {
				continue
			}
			n := min(len(j.req.Prompt)-j.fed, room)
			st := model.Step{Seq: sl.seq, Tokens: j.req.Prompt[j.fed : j.fed+n]}
			if j.fed+n == len(j.req.Prompt) {
				st.Logits = sl.logits
			}
			steps = append(steps, st)
			active = append(active, j)
			room -= n
		}
		if len(steps) == 0 {
			continue
		}
		if err := s.batch.Forward(steps); err != nil {
			for _, j := range active {
				s.end(j, "", err)
			}
			continue
		}
		for i, j := range active {
			sl := j.slot
			sl.tokens = append(sl.tokens, steps[i].Tokens...)
			if j.next < 0 {
				j.fed += len(steps[i].Tokens)
				if steps[i].Logits == nil {
					continue
				}
				j.firstTime = time.Now()
				j.res.PromptDuration = j.firstTime.Sub(j.started)
			}
			s.sample(j)
		}
	}
}

// admit gives waiting jobs free slots, each the one whose cache shares the
// longest prefix with its prompt (the least recently used among equals).
// s.mu is held.
func (s *Scheduler) admit() {
	for len(s.queue) > 0 && s.free > 0 {
		j := s.queue[0]
		s.queue = s.queue[1:]
		if j.ctx.Err() != nil {
			j.finish(nil)
			continue
		}
		var best *slot
		bestKeep := -1
		for _, sl := range s.slots {
			if sl.job != nil {
				continue
			}
			keep := commonPrefix(sl.tokens, j.req.Prompt)
			if keep > bestKeep || keep == bestKeep && sl.used.Before(best.used) {
				best, bestKeep = sl, keep
			}
		}
		// Always run the last prompt token again, for its logits.
		keep := min(bestKeep, len(j.req.Prompt)-1)
		best.seq.Truncate(keep)
		best.tokens = best.tokens[:keep]
		best.job, j.slot, j.fed = j, best, keep
		j.started = time.Now()
		j.res.QueueDuration = j.started.Sub(j.queued)
		j.res.CachedTokens, j.res.PromptTokens = keep, len(j.req.Prompt)-keep
		s.free--
	}
}

// sample picks j's next token from its slot's logits and reports it, or ends
// the job.
func (s *Scheduler) sample(j *job) {
	sl, tok := j.slot, s.e.Tokenizer
	var top []TokenLogprob
	if j.req.Logprobs {
		if sl.probs == nil {
			sl.probs = make([]float32, len(sl.logits))
		}
		copy(sl.probs, sl.logits)
		kernel.Softmax(sl.probs, 1)
		top = s.topLogprobs(sl.probs, j.req.TopLogprobs)
	}
	if j.gram != nil {
		s.maskGrammar(j)
	}
	next := j.sampler.Sample(sl.logits, sl.tokens)
	if tok.IsEOG(next) {
		s.end(j, "stop", nil)
		return
	}
	j.res.Tokens++
	piece := tok.Piece(next)
	if j.gram != nil {
		if err := j.gram.Advance(piece); err != nil {
			s.end(j, "", fmt.Errorf("engine: grammar: %w", err))
			return
		}
	}
	raw := j.dec.Add(next)
	text, stopped := j.stops.add(raw)
	t := Token{ID: next, Text: text, Top: top}
	if j.req.Logprobs {
		t.Logprob = logprob(sl.probs[next])
	}
	j.push(t)
	switch {
	case stopped:
		j.stopHit = true
		s.end(j, "stop", nil)
		return
	case j.res.Tokens == j.req.MaxTokens || sl.seq.Pos() >= sl.seq.Context():
		s.end(j, "length", nil)
		return
	}
	if j.gram == nil && j.req.Grammar != nil {
		s.watchGrammarStart(j, raw)
	}
	j.next = next
}

// watchGrammarStart turns j's grammar on once GrammarAfter has appeared in
// the raw output.
func (s *Scheduler) watchGrammarStart(j *job, raw string) {
	after := j.req.GrammarAfter
	j.tail += raw
	if i := len(j.tail) - len(after) - len(raw); i > 0 {
		j.tail = j.tail[i:] // enough to find a marker split across tokens
	}
	if strings.Contains(j.tail, after) {
		j.gram = j.req.Grammar.Start()
		j.tail = ""
	}
}

// maskGrammar bans every token that would leave j's grammar, and the end of
// generation until the value is complete.
func (s *Scheduler) maskGrammar(j *job) {
	sl, tok := j.slot, s.e.Tokenizer
	s.vocabOnce.Do(func() {
		s.vocab = grammar.Vocab(tok.VocabSize(), tok.Piece, func(id int32) bool { return tok.IsEOG(id) || tok.IsControl(id) })
	})
	if sl.mask == nil {
		sl.mask = make([]bool, len(sl.logits))
	}
	j.gram.Allowed(s.vocab, sl.mask)
	done := j.gram.Done()
	inf := float32(math.Inf(-1))
	for id := range sl.logits {
		if id < len(s.vocab) && sl.mask[id] {
			continue
		}
		if done && id < tok.VocabSize() && tok.IsEOG(int32(id)) {
			continue
		}
		sl.logits[id] = inf
	}
}

// topLogprobs returns the n most likely tokens of probs, most likely first.
func (s *Scheduler) topLogprobs(probs []float32, n int) []TokenLogprob {
	if n == 0 {
		return nil
	}
	ids := make([]int32, 0, n+1)
	for id, p := range probs {
		if len(ids) == n && p <= probs[ids[n-1]] {
			continue
		}
		i, _ := slices.BinarySearchFunc(ids, p, func(a int32, p float32) int {
			if probs[a] >= p {
				return -1
			}
			return 1
		})
		ids = slices.Insert(ids, i, int32(id))
		if len(ids) > n {
			ids = ids[:n]
		}
	}
	top := make([]TokenLogprob, len(ids))
	for i, id := range ids {
		top[i] = TokenLogprob{ID: id, Bytes: s.e.Tokenizer.Piece(id), Logprob: logprob(probs[id])}
	}
	return top
}

// logprob is ln p, with OpenAI's floor for probabilities that underflowed.
func logprob(p float32) float32 {
	if p <= 0 {
		return -9999
	}
	return float32(math.Log(float64(p)))
}

// end finishes j: releases held-back text, records the result and frees its
// slot.
func (s *Scheduler) end(j *job, reason string, err error) {
	if err == nil && !j.stopHit {
		if text := j.stops.flush(j.dec.Flush()); text != "" {
			j.push(Token{ID: -1, Text: text})
		}
	}
	j.res.Reason = reason
	if !j.firstTime.IsZero() {
		j.res.GenerateDuration = time.Since(j.firstTime)
	}
	sl := j.slot
	sl.job, sl.used = nil, time.Now()
	j.slot = nil
	s.mu.Lock()
	s.free++
	s.mu.Unlock()
	j.finish(err)
}
