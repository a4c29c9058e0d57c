package bot

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
	"zhiyan/engine"
	"zhiyan/internal/golden"
	"zhiyan/sample"
)

// modelGen is the Generator the server provides, on the golden model:
// greedy, so that an answer can be recomputed and compared.
type modelGen struct {
	e     *engine.Engine
	sched *engine.Scheduler
	max   int // tokens per answer
}

var (
	goldenOnce sync.Once
	goldenGen  *modelGen
	goldenErr  error
)

// golden returns the shared golden-model generator (skipping when absent).
func goldenModel(t *testing.T) *modelGen {
	t.Helper()
	path := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	goldenOnce.Do(func() {
		e, err := engine.Open(path)
		if err != nil {
			goldenErr = err
			return
		}
		goldenGen = &modelGen{e: e, sched: e.NewScheduler(engine.SchedulerOptions{Parallel: 2, Context: 512, Threads: 2}), max: 12}
	})
	if goldenErr != nil {
		t.Fatal(goldenErr)
	}
	return goldenGen
}

func (g *modelGen) Chat(ctx context.Context, model string, msgs []chat.Message, emit func(string) error) (string, error) {
	prompt, err := g.e.ChatPrompt(msgs, engine.PromptOptions{})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	_, err = g.sched.Generate(ctx, engine.Request{
		Prompt:    g.e.Tokenizer.Encode(prompt, true, true),
		MaxTokens: g.max,
		Stop:      g.e.Format.StopStrings(),
		Sampling:  sample.Params{Temperature: 0},
	}, func(t engine.Token) error {
		b.WriteString(t.Text)
		return emit(t.Text)
	})
	return b.String(), err
}

// probe wraps a Generator: it counts calls per question (the last user
// message) and, while gated, holds every generation before it starts —
// the deliberately slow model.
type probe struct {
	g Generator

	mu    sync.Mutex
	calls map[string]int
	gate  chan struct{} // nil: open
}

func newProbe(g Generator) *probe { return &probe{g: g, calls: map[string]int{}} }

func (p *probe) Chat(ctx context.Context, model string, msgs []chat.Message, emit func(string) error) (string, error) {
	q := msgs[len(msgs)-1].Content
	p.mu.Lock()
	p.calls[q]++
	gate := p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return p.g.Chat(ctx, model, msgs, emit)
}

// hold makes generations wait until release.
func (p *probe) hold() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *probe) release() {
	p.mu.Lock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
	p.mu.Unlock()
}

func (p *probe) count(q string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[q]
}

func (p *probe) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		n += c
	}
	return n
}

// stubGen answers with a fixed function of the question, for the tests of
// mechanics that do not need a model (long answers, failures).
type stubGen func(q string) (string, error)

func (f stubGen) Chat(ctx context.Context, model string, msgs []chat.Message, emit func(string) error) (string, error) {
	return f(msgs[len(msgs)-1].Content)
}

// openDB opens a fresh SQLite store in the test's directory.
func openDB(t *testing.T) (*db.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zhiyan.db")
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

// expect recomputes the golden model's answer to a conversation.
func expect(t *testing.T, g Generator, msgs ...chat.Message) string {
	t.Helper()
	a, err := g.Chat(context.Background(), "m", msgs, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(a)
}

func userMsg(s string) chat.Message { return chat.Message{Role: "user", Content: s} }
func asstMsg(s string) chat.Message { return chat.Message{Role: "assistant", Content: s} }

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
