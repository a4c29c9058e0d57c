package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/grammar"
	"zhiyan/model"
	"zhiyan/sample"
)

var schedPrompts = []string{
	"大模型训练面临众多难题",
	"The quick brown fox",
	"请写一首关于春天的诗。",
	"Once upon a time, in a land far away, there lived",
	"1, 2, 3, 4,",
}

// collect runs r on s and returns the text and result.
func collect(t *testing.T, s *Scheduler, ctx context.Context, r Request) (string, []Token, Result, error) {
	t.Helper()
	var b strings.Builder
	var toks []Token
	res, err := s.Generate(ctx, r, func(tk Token) error {
		b.WriteString(tk.Text)
		toks = append(toks, tk)
		return nil
	})
	return b.String(), toks, res, err
}

// TestSchedulerMatchesSession: greedy generations running together, joining
// at different times, each give what a Session gives alone.
func TestSchedulerMatchesSession(t *testing.T) {
	e := openGolden(t)
	const n = 12
	want := make([]string, len(schedPrompts))
	for i, p := range schedPrompts {
		s := e.NewSession(model.Options{Context: 128, Threads: 2})
		want[i], _ = greedy(t, s, e.Tokenizer.Encode(p, true, true), n)
		s.Close()
	}
	s := e.NewScheduler(SchedulerOptions{Parallel: 3, Context: 128, Batch: 8, Threads: 2})
	defer s.Close()
	var wg sync.WaitGroup
	got := make([]string, len(schedPrompts))
	results := make([]Result, len(schedPrompts))
	for i, p := range schedPrompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 3 * time.Millisecond)
			var err error
			got[i], _, results[i], err = collect(t, s, context.Background(), Request{
				Prompt: e.Tokenizer.Encode(p, true, true), MaxTokens: n, Sampling: sample.Params{Temperature: 0},
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range want {
		if got[i] != want[i] || results[i].Tokens != n || results[i].Reason != "length" {
			t.Errorf("prompt %d: scheduler %q (%+v), session %q", i, got[i], results[i], want[i])
		}
	}
	if st := s.Stats(); st.Busy != 0 || st.Queued != 0 || st.Parallel != 3 {
		t.Errorf("after all finished: %+v", st)
	}
}

// TestSchedulerPrefixReuse: a follow-up request reuses the slot holding its
// conversation so far.
func TestSchedulerPrefixReuse(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 2, Context: 256, Threads: 2})
	defer s.Close()
	first := e.Tokenizer.Encode("大模型训练面临众多难题", true, true)
	greedyReq := func(p []int32) Request {
		return Request{Prompt: p, MaxTokens: 6, Sampling: sample.Params{Temperature: 0}}
	}
	if _, _, _, err := collect(t, s, context.Background(), greedyReq(e.Tokenizer.Encode("unrelated text in the other slot", true, true))); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := collect(t, s, context.Background(), greedyReq(first)); err != nil {
		t.Fatal(err)
	}
	second := e.Tokenizer.Encode("大模型训练面临众多难题, such as cost and convergence.", true, true)
	text, _, r, err := collect(t, s, context.Background(), greedyReq(second))
	if err != nil {
		t.Fatal(err)
	}
	if r.CachedTokens < len(first)-1 || r.CachedTokens+r.PromptTokens != len(second) {
		t.Errorf("cached %d + evaluated %d, want ≥ %d cached of %d", r.CachedTokens, r.PromptTokens, len(first)-1, len(second))
	}
	fresh := e.NewSession(model.Options{Context: 256})
	defer fresh.Close()
	if want, _ := greedy(t, fresh, second, 6); text != want {
		t.Errorf("with cache %q, fresh %q", text, want)
	}
}

// TestSchedulerCancel: a cancelled or abandoned request stops at once and
// frees its slot. (The batch loop runs ahead of the caller's emit, so the
// tokens made before it saw the cancellation vary; the rest of the 240 the
// context allows are never made.)
func TestSchedulerCancel(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 2, Context: 256, Threads: 2})
	defer s.Close()
	prompt := e.Tokenizer.Encode("The quick brown fox", true, true)
	noEOG := sample.DefaultParams()
	noEOG.LogitBias = map[int32]float32{}
	for id := range int32(e.Tokenizer.VocabSize()) {
		if e.Tokenizer.IsEOG(id) {
			noEOG.LogitBias[id] = float32(math.Inf(-1))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := 0
	var cancelled time.Time
	r, err := s.Generate(ctx, Request{Prompt: prompt, Sampling: noEOG}, func(Token) error {
		if got++; got == 3 {
			cancel()
			cancelled = time.Now()
		}
		return nil
	})
	if err != nil || r.Reason != "cancelled" || r.Tokens >= 200 || time.Since(cancelled) > 2*time.Second {
		t.Errorf("cancelled: %+v, %v, returned %v after the cancel", r, err, time.Since(cancelled))
	}
	boom := errors.New("client went away")
	r, err = s.Generate(context.Background(), Request{Prompt: prompt, Sampling: noEOG}, func(Token) error { return boom })
	if !errors.Is(err, boom) || r.Reason != "cancelled" || r.Tokens >= 200 {
		t.Errorf("emit error: %+v, %v", r, err)
	}
	if st := s.Stats(); st.Busy != 0 {
		t.Errorf("slots busy after cancellation: %+v", st)
	}
}

// TestSchedulerBusyAndLimits: a full queue is refused at once; prompts that
// do not fit are refused with their sizes.
func TestSchedulerBusyAndLimits(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 1, Queue: 1, Context: 512, Threads: 1})
	defer s.Close()
	prompt := e.Tokenizer.Encode("The quick brown fox", true, true)
	// One generation holds the only slot until cancelled, one waits.
	holdCtx, release := context.WithCancel(context.Background())
	running := make(chan struct{})
	var once sync.Once
	results := make(chan Result, 2)
	go func() {
		r, _ := s.Generate(holdCtx, Request{Prompt: prompt, Sampling: sample.DefaultParams()}, func(Token) error {
			once.Do(func() { close(running) })
			return nil
		})
		results <- r
	}()
	<-running
	go func() {
		r, err := s.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 4, Sampling: sample.DefaultParams()}, func(Token) error { return nil })
		if err != nil {
			t.Error(err)
		}
		results <- r
	}()
	for s.Stats().Queued != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Generate(context.Background(), Request{Prompt: prompt}, nil); !errors.Is(err, ErrBusy) {
		t.Errorf("third request with one slot and a queue of one: %v, want ErrBusy", err)
	}
	release()
	for range 2 {
		r := <-results
		if r.Reason != "cancelled" && (r.Reason != "length" || r.Tokens != 4) {
			t.Errorf("queued request: %+v", r)
		}
	}

	small := e.NewScheduler(SchedulerOptions{Parallel: 1, Context: 64, Threads: 1})
	defer small.Close()
	var ce *ContextError
	if _, err := small.Generate(context.Background(), Request{Prompt: make([]int32, 64)}, nil); !errors.As(err, &ce) || ce.Prompt != 64 || ce.Context != 64 {
		t.Errorf("prompt of the whole context: %v", err)
	}
	if _, err := s.Generate(context.Background(), Request{Prompt: []int32{1 << 30}}, nil); err == nil {
		t.Error("a token outside the vocabulary was accepted")
	}
	r, err := small.Generate(context.Background(), Request{Prompt: prompt, Sampling: sample.Params{Temperature: 0}}, func(Token) error { return nil })
	// every position filled, and one more token sampled from the last
	if err != nil || r.Reason != "length" || r.Tokens != 64-len(prompt)+1 {
		t.Errorf("to the end of the context: %+v, %v", r, err)
	}
}

// TestSchedulerGrammar: with a schema, every sampled output parses and has
// the schema's shape, also when the grammar starts after a marker.
func TestSchedulerGrammar(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 4, Context: 256, Threads: 2})
	defer s.Close()
	schema := `{"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},"required":["name","age","tags"],"additionalProperties":false}`
	c, err := grammar.FromSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := sample.DefaultParams()
			p.Temperature, p.Seed = 1.5, uint64(i+1)
			r := Request{Prompt: e.Tokenizer.Encode(schedPrompts[i%len(schedPrompts)], true, true), MaxTokens: 200, Sampling: p, Grammar: c}
			if i%2 == 1 {
				r.GrammarAfter = "\n"
			}
			text, _, res, err := collect(t, s, context.Background(), r)
			if err != nil {
				t.Error(err)
				return
			}
			if r.GrammarAfter != "" {
				k := strings.Index(text, "\n")
				if k < 0 {
					return // the marker never came: nothing to check
				}
				text = text[k+1:]
			}
			var v struct {
				Name *string
				Age  *int
				Tags []string
			}
			if res.Reason != "stop" || json.Unmarshal([]byte(text), &v) != nil || v.Name == nil || v.Age == nil || *v.Age > 150 || len(v.Tags) > 3 {
				t.Errorf("seed %d: %q (%s) does not match the schema", i+1, text, res.Reason)
			}
		}()
	}
	wg.Wait()
}

// TestSchedulerLogprobs: reported log-probabilities are a distribution's,
// and under greedy sampling the chosen token is the most likely one.
func TestSchedulerLogprobs(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 1, Context: 128, Threads: 2})
	defer s.Close()
	_, toks, _, err := collect(t, s, context.Background(), Request{
		Prompt: e.Tokenizer.Encode("The quick brown fox", true, true), MaxTokens: 5,
		Sampling: sample.Params{Temperature: 0}, TopLogprobs: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, tk := range toks {
		if tk.ID < 0 {
			continue
		}
		if len(tk.Top) != 3 || tk.Top[0].ID != tk.ID || tk.Top[0].Logprob != tk.Logprob {
			t.Fatalf("token %d: %+v", i, tk)
		}
		mass := 0.0
		for k, a := range tk.Top {
			mass += math.Exp(float64(a.Logprob))
			if k > 0 && a.Logprob > tk.Top[k-1].Logprob || a.Logprob > 0 {
				t.Errorf("token %d: alternatives out of order: %+v", i, tk.Top)
			}
		}
		if mass > 1.0001 {
			t.Errorf("token %d: top-3 mass %g > 1", i, mass)
		}
	}
}

// TestSchedulerClose: running and waiting generations end with ErrClosed.
func TestSchedulerClose(t *testing.T) {
	e := openGolden(t)
	s := e.NewScheduler(SchedulerOptions{Parallel: 1, Context: 256, Threads: 1})
	prompt := e.Tokenizer.Encode("The quick brown fox", true, true)
	errs := make(chan error, 2)
	running := make(chan struct{})
	var once sync.Once
	for range 2 {
		go func() {
			_, err := s.Generate(context.Background(), Request{Prompt: prompt, Sampling: sample.DefaultParams()}, func(Token) error {
				once.Do(func() { close(running) })
				return nil
			})
			errs <- err
		}()
	}
	<-running
	s.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	}
	if _, err := s.Generate(context.Background(), Request{Prompt: prompt}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Generate after Close: %v", err)
	}
}

func TestEmbed(t *testing.T) {
	e := openGolden(t)
	ctx := context.Background()
	a, err := e.Embed(ctx, e.Tokenizer.Encode("今天天气很好", true, true))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Embed(ctx, e.Tokenizer.Encode("今天天气很好", true, true))
	c, _ := e.Embed(ctx, e.Tokenizer.Encode("Quarterly revenue grew by 12 percent", true, true))
	if len(a) != e.Model.Config.Embd {
		t.Fatalf("dimension %d, want %d", len(a), e.Model.Config.Embd)
	}
	dot := func(x, y []float32) (d float64) {
		for i := range x {
			d += float64(x[i]) * float64(y[i])
		}
		return d
	}
	if n := dot(a, a); math.Abs(n-1) > 1e-5 {
		t.Errorf("|a|² = %g, want 1", n)
	}
	if d := dot(a, b); math.Abs(d-1) > 1e-5 {
		t.Errorf("same text: cosine %g, want 1", d)
	}
	if d := dot(a, c); d > 0.9999 {
		t.Errorf("different texts: cosine %g", d)
	}
	if _, err := e.Embed(ctx, nil); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := e.Embed(ctx, make([]int32, e.Model.Config.ContextLen+1)); err == nil {
		t.Error(fmt.Sprint("input longer than the context accepted"))
	}
}
