package builtin

import (
	"context"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/model"
	"zhiyan/sample"
	"zhiyan/store"
)

// TestInstallAndChat: the embedded model installs into an empty store once,
// loads, and answers a chat through its own template.
func TestInstallAndChat(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path, err := Install(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Install(s)
	if err != nil || again != path {
		t.Fatalf("second install: %q, %v (first %q)", again, err, path)
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("store holds %d models, want 1", len(list))
	}
	e, err := engine.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Template == "" {
		t.Fatal("the built-in model has no chat template")
	}
	sess := e.NewSession(model.Options{Context: 256})
	defer sess.Close()
	text, err := e.ChatPrompt([]chat.Message{{Role: "user", Content: "写一首关于春天的诗"}}, engine.PromptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := sess.Generate(context.Background(), e.Tokenizer.Encode(text, true, true),
		engine.Options{MaxTokens: 48, Sampler: sample.New(sample.Params{Temperature: 0}, e.Model.Config.Vocab)},
		func(s string) error { out.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens == 0 || strings.TrimSpace(out.String()) == "" {
		t.Errorf("no answer: %+v %q", res, out.String())
	}
}
