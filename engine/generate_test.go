package engine

import (
	"context"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/internal/golden"
	"zhiyan/model"
	"zhiyan/sample"
)

func TestStopper(t *testing.T) {
	for _, c := range []struct {
		name   string
		stops  []string
		chunks []string
		want   []string // emitted per chunk, then the flush
		stop   bool
	}{
		{"no stops", nil, []string{"a", "b"}, []string{"a", "b", ""}, false},
		{"held then released", []string{"<|im_end|>"}, []string{"Hi <", "b"}, []string{"Hi ", "<b", ""}, false},
		{"split stop", []string{"<|im_end|>"}, []string{"Hi <|im", "_end|> more"}, []string{"Hi ", ""}, true},
		{"held at the end", []string{"END"}, []string{"abcE", "N"}, []string{"abc", "", "EN"}, false},
		{"two stops", []string{"xyz", "\n\n"}, []string{"a\n", "\nb"}, []string{"a", ""}, true},
	} {
		s := newStopper(c.stops)
		var got []string
		stopped := false
		for _, ch := range c.chunks {
			out, st := s.add(ch)
			got = append(got, out)
			if st {
				stopped = true
				break
			}
		}
		if !stopped {
			got = append(got, s.flush(""))
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || stopped != c.stop {
			t.Errorf("%s: emitted %q stopped %v, want %q %v", c.name, got, stopped, c.want, c.stop)
		}
	}
}

func openGolden(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func greedy(t *testing.T, s *Session, prompt []int32, n int) (string, Result) {
	t.Helper()
	var b strings.Builder
	r, err := s.Generate(context.Background(), prompt, Options{MaxTokens: n, Sampler: sample.New(sample.Params{Temperature: 0}, s.e.Model.Config.Vocab)},
		func(text string) error { b.WriteString(text); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), r
}

// TestPrefixReuse: a prompt extending the previous conversation reuses its
// cache and gives the same text as a fresh session.
func TestPrefixReuse(t *testing.T) {
	e := openGolden(t)
	s := e.NewSession(model.Options{Context: 256, Threads: 2})
	defer s.Close()
	first := e.Tokenizer.Encode("大模型训练面临众多难题", true, true)
	greedy(t, s, first, 8)
	second := e.Tokenizer.Encode("大模型训练面临众多难题, such as cost and convergence.", true, true)
	text, r := greedy(t, s, second, 8)
	if r.CachedTokens < len(first)-1 || r.CachedTokens+r.PromptTokens != len(second) {
		t.Errorf("cached %d + evaluated %d tokens, want ≥ %d cached of %d", r.CachedTokens, r.PromptTokens, len(first)-1, len(second))
	}
	fresh := e.NewSession(model.Options{Context: 256, Threads: 1})
	defer fresh.Close()
	want, _ := greedy(t, fresh, second, 8)
	if text != want || r.Tokens != 8 || r.Reason != "length" {
		t.Errorf("with cache: %q (%d tokens, %s); fresh: %q", text, r.Tokens, r.Reason, want)
	}
}

func TestGenerateCancelledAndErrors(t *testing.T) {
	e := openGolden(t)
	s := e.NewSession(model.Options{Context: 16})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := s.Generate(ctx, []int32{1, 2}, Options{Sampler: sample.New(sample.DefaultParams(), e.Model.Config.Vocab)}, func(string) error { return nil })
	if err != nil || r.Reason != "cancelled" || r.Tokens != 0 {
		t.Errorf("cancelled: %+v, %v", r, err)
	}
	long := make([]int32, 16)
	if _, err := s.Generate(context.Background(), long, Options{}, nil); err == nil {
		t.Error("a prompt filling the context was accepted")
	}
	if _, err := s.Generate(context.Background(), nil, Options{}, nil); err == nil {
		t.Error("an empty prompt was accepted")
	}
	// The context ends generation with reason "length".
	r, err = s.Generate(context.Background(), []int32{1, 2, 3}, Options{Sampler: sample.New(sample.Params{Temperature: 0}, e.Model.Config.Vocab)}, func(string) error { return nil })
	if err != nil || r.Reason != "length" || s.State.Pos() != 16 {
		t.Errorf("at the end of the context: %+v, pos %d, %v", r, s.State.Pos(), err)
	}
}

// TestChatPrompt renders the golden chat through the model's own template
// and gets the prompt llama.cpp's goldens were made from, token for token.
func TestChatPrompt(t *testing.T) {
	e := openGolden(t)
	msgs := []chat.Message{
		{Role: "system", Content: "You are a helpful assistant."},
		{Role: "user", Content: "你好！请用一句话介绍一下你自己。"},
		{Role: "assistant", Content: "我是一个乐于助人的AI助手。"},
		{Role: "user", Content: "What is 2+2? Answer briefly."},
	}
	got, err := e.ChatPrompt(msgs, PromptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n你好！请用一句话介绍一下你自己。<|im_end|>\n" +
		"<|im_start|>assistant\n我是一个乐于助人的AI助手。<|im_end|>\n<|im_start|>user\nWhat is 2+2? Answer briefly.<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("ChatPrompt:\n%q\nwant\n%q", got, want)
	}
	if ids := e.Tokenizer.Encode(got, true, true); len(ids) != 127 || ids[0] != 4001 {
		t.Errorf("%d tokens starting %v, want the golden's 127 starting with <|im_start|> (4001)", len(ids), ids[:3])
	}
}
