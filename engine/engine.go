// Package engine ties a GGUF model to its tokenizer and chat format and runs
// generation: prompt in, streamed text out. It is what the CLI and the server
// use; it knows nothing of HTTP or terminals.
package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"zhiyan/chat"
	"zhiyan/gguf"
	"zhiyan/model"
	"zhiyan/tokenizer"
)

// Engine is an opened model file ready to generate.
type Engine struct {
	Path      string
	File      *gguf.File
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
	Template  string         // tokenizer.chat_template, "" when absent
	Format    chat.Format    // the built-in format matching Template
	chatTmpl  *chat.Template // Template compiled, nil when absent or not renderable
	tmplErr   error          // why Template did not compile
}

// Open maps a GGUF file and loads its model and tokenizer.
func Open(path string) (*Engine, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	e, err := New(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e.Path = path
	return e, nil
}

// New loads the model and tokenizer of an opened file.
func New(f *gguf.File) (*Engine, error) {
	m, err := model.Load(f)
	if err != nil {
		return nil, err
	}
	m.MoveWeights()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Config.Vocab {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's output has %d", tok.VocabSize(), m.Config.Vocab)
	}
	src, _ := f.String("tokenizer.chat_template")
	e := &Engine{File: f, Model: m, Tokenizer: tok, Template: src, Format: chat.Detect(src)}
	if src != "" {
		// A template we cannot compile falls back to the built-in format it
		// resembles; ChatPrompt reports the error if there is none.
		e.chatTmpl, e.tmplErr = chat.ParseTemplate(src)
	}
	return e, nil
}

// PromptOptions are what a chat prompt carries besides the messages.
type PromptOptions struct {
	// Thinking, when set, switches the template's reasoning on or off
	// (enable_thinking).
	Thinking *bool
	// Tools are OpenAI-style tool definitions, each as JSON.
	Tools []json.RawMessage
}

// ChatPrompt renders a conversation as the model expects it, ending with the
// assistant's turn: with the model's own chat template when it has one, else
// with the built-in format it resembles (which cannot present tools). The
// text is meant to be tokenized with special tokens added and parsed; a BOS
// the template writes itself is left out when the tokenizer adds one, so
// there is exactly one.
func (e *Engine) ChatPrompt(msgs []chat.Message, o PromptOptions) (string, error) {
	if e.chatTmpl == nil {
		if e.Format == chat.FormatNone {
			if e.tmplErr != nil {
				return "", fmt.Errorf("chat template: %w", e.tmplErr)
			}
			return "", fmt.Errorf("the model has no chat template")
		}
		return chat.Render(e.Format, msgs, true), nil
	}
	tok := e.Tokenizer
	bos := tokenText(tok, tok.BOS())
	text, err := e.chatTmpl.Render(msgs, chat.RenderOptions{
		AddGenerationPrompt: true,
		BOSToken:            bos,
		EOSToken:            tokenText(tok, tok.EOS()),
		EnableThinking:      o.Thinking,
		Tools:               o.Tools,
	})
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	if tok.AddBOS() && bos != "" {
		text = strings.TrimPrefix(text, bos)
	}
	return text, nil
}

func tokenText(tok *tokenizer.Tokenizer, id int32) string {
	if id < 0 || int(id) >= tok.VocabSize() {
		return ""
	}
	return string(tok.Piece(id))
}

// Close unmaps the file; the Engine must not be used afterwards.
func (e *Engine) Close() error { return e.File.Close() }
