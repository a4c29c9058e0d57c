package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/gguf"
	"zhiyan/internal/golden"
	"zhiyan/model"
	"zhiyan/sample"
)

// qwen3Runner returns a runner for the random-weight qwen3-mini with the
// chat template of testdata file stem (the model's own is plain ChatML),
// greedy and answering in at most 12 tokens.
func qwen3Runner(t *testing.T, stem string) (*runner, *bytes.Buffer) {
	t.Helper()
	tmpl, err := os.ReadFile("../../chat/testdata/templates/templates/" + stem + ".jinja")
	if err != nil {
		t.Fatal(err)
	}
	src, err := gguf.Open(golden.Path(t, "newarch/qwen3-mini/qwen3-mini-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KVs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Set("tokenizer.chat_template", string(tmpl)); err != nil {
		t.Fatal(err)
	}
	for _, ti := range src.Tensors {
		data, err := src.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(f)
	if err != nil {
		t.Fatal(err)
	}
	sess := e.NewSession(model.Options{Context: 256, Threads: 1})
	t.Cleanup(sess.Close)
	st := runSettings{params: sample.DefaultParams(), maxTokens: 12}
	st.params.Temperature = 0
	var out bytes.Buffer
	return &runner{e: e, sess: sess, st: st, out: &out, errOut: &out}, &out
}

// TestRunThinkingPrompt: /set nothink reaches Qwen3's template as
// enable_thinking false, which closes an empty reasoning block itself.
func TestRunThinkingPrompt(t *testing.T) {
	r, out := qwen3Runner(t, "Qwen-Qwen3-0.6B")
	empty := "<|im_start|>assistant\n<think>\n\n</think>\n\n"
	for _, tt := range []struct {
		set  string // "" = the template's default
		want bool   // the prompt ends with the empty block
	}{{"", false}, {"nothink", true}, {"think", false}} {
		if tt.set != "" {
			if _, err := r.command("/set " + tt.set); err != nil {
				t.Fatal(err)
			}
		}
		text, templated, err := r.prompt("你好")
		if err != nil || !templated {
			t.Fatalf("/set %s: prompt: templated %v, %v", tt.set, templated, err)
		}
		if got := strings.HasSuffix(text, empty); got != tt.want {
			t.Errorf("/set %s: prompt %q ends with the empty reasoning block: %v, want %v", tt.set, text, got, tt.want)
		}
	}
	r.command("/show")
	for _, want := range []string{"Thinking off.", "Thinking on.", "thinking: on"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunThinkingAnswer: with Qwen3.5's template, whose prompt opens the
// reasoning block, the whole (random) reply is reasoning shown under
// "Thinking…", and the history keeps only the (empty) answer; with thinking
// off the reply is the answer and goes to the history.
func TestRunThinkingAnswer(t *testing.T) {
	r, out := qwen3Runner(t, "Qwen3.5-4B")
	if err := r.answer(context.Background(), "你好"); err != nil {
		t.Fatal(err)
	}
	shown := out.String()
	if !strings.HasPrefix(shown, "Thinking…\n") || !strings.HasSuffix(shown, "\n…done thinking.\n\n\n") {
		t.Fatalf("thinking reply shown as %q", shown)
	}
	if len(r.history) != 2 || r.history[1].Content != "" {
		t.Fatalf("history %+v, want the user message and an empty answer", r.history)
	}

	out.Reset()
	r.command("/clear")
	r.command("/set nothink")
	out.Reset()
	if err := r.answer(context.Background(), "你好"); err != nil {
		t.Fatal(err)
	}
	shown = out.String()
	if strings.Contains(shown, "Thinking") || strings.TrimSpace(shown) == "" {
		t.Fatalf("reply without thinking shown as %q", shown)
	}
	if len(r.history) != 2 || r.history[1].Content+"\n" != shown {
		t.Fatalf("history %+v, want the answer shown, %q", r.history, shown)
	}
}

// TestReplyPrinter checks the layout of reasoning and answer.
func TestReplyPrinter(t *testing.T) {
	for _, tt := range []struct {
		color  bool
		deltas []chat.Delta
		want   string
	}{
		{false, []chat.Delta{{Reasoning: "想"}, {Reasoning: "一想", Content: "好"}, {Content: "的"}},
			"Thinking…\n想一想\n…done thinking.\n\n好的"},
		{true, []chat.Delta{{Reasoning: "hmm"}, {Content: "ok"}},
			ansiDim + "Thinking…\nhmm\n…done thinking." + ansiReset + "\n\nok"},
		{false, []chat.Delta{{Content: "no reasoning"}}, "no reasoning"},
		{false, []chat.Delta{{Reasoning: "cut off"}}, "Thinking…\ncut off\n…done thinking.\n\n"},
	} {
		var b bytes.Buffer
		p := &replyPrinter{w: &b, color: tt.color}
		var answer string
		for _, d := range tt.deltas {
			if err := p.print(d); err != nil {
				t.Fatal(err)
			}
			answer += d.Content
		}
		p.endThinking()
		if b.String() != tt.want || p.answer.String() != answer {
			t.Errorf("printed %q, answer %q; want %q, %q", b.String(), p.answer.String(), tt.want, answer)
		}
	}
}
