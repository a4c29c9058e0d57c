// Package engine ties a GGUF model to its tokenizer and chat format and runs
// generation: prompt in, streamed text out. It is what the CLI and the server
// use; it knows nothing of HTTP or terminals.
package engine

import (
	"fmt"

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
	Template  string      // tokenizer.chat_template, "" when absent
	Format    chat.Format // the built-in format matching Template
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
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > m.Config.Vocab {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's output has %d", tok.VocabSize(), m.Config.Vocab)
	}
	tmpl, _ := f.String("tokenizer.chat_template")
	return &Engine{File: f, Model: m, Tokenizer: tok, Template: tmpl, Format: chat.Detect(tmpl)}, nil
}

// Close unmaps the file; the Engine must not be used afterwards.
func (e *Engine) Close() error { return e.File.Close() }
