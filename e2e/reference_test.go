package e2e

import (
	"context"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/model"
	"zhiyan/sample"
)

// reference is what the engine generates by itself, greedily, for a prompt:
// the text every greedy server answer must equal.
type reference struct {
	text         string
	promptTokens int
	tokens       int    // generated
	reason       string // "stop" or "length"
}

// engineChat renders msgs with the model's own template (engine.ChatPrompt)
// and generates maxTokens greedily with a fresh session.
func engineChat(tb testing.TB, path string, msgs []chat.Message, maxTokens int) reference {
	tb.Helper()
	e, err := engine.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	text, err := e.ChatPrompt(msgs, engine.PromptOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return generate(tb, e, e.Tokenizer.Encode(text, true, true), e.Format.StopStrings(), maxTokens)
}

// engineText generates from text tokenized as it is (/v1/completions).
func engineText(tb testing.TB, path, text string, maxTokens int) reference {
	tb.Helper()
	e, err := engine.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer e.Close()
	return generate(tb, e, e.Tokenizer.Encode(text, true, true), nil, maxTokens)
}

func generate(tb testing.TB, e *engine.Engine, prompt []int32, stop []string, maxTokens int) reference {
	tb.Helper()
	s := e.NewSession(model.Options{Threads: 2})
	defer s.Close()
	p := sample.DefaultParams()
	p.Temperature = 0
	var b strings.Builder
	r, err := s.Generate(context.Background(), prompt, engine.Options{MaxTokens: maxTokens, Stop: stop, Sampler: sample.New(p, e.Model.Config.Vocab)},
		func(s string) error { b.WriteString(s); return nil })
	if err != nil {
		tb.Fatal(err)
	}
	if b.Len() == 0 {
		tb.Fatal("the engine generated nothing: a comparison with it would be empty")
	}
	return reference{text: b.String(), promptTokens: len(prompt), tokens: r.Tokens, reason: r.Reason}
}
