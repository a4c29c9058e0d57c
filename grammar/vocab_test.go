package grammar

import (
	"sync"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
	"zhiyan/tokenizer"
)

type loadedVocab struct {
	once  sync.Once
	vocab [][]byte
	tok   *tokenizer.Tokenizer
	err   error
}

var qwen, llamaSPM loadedVocab

// qwenVocab returns the full Qwen2 vocabulary (byte-level BPE) as Allowed
// expects it: every token's bytes, control and end-of-generation tokens empty.
func qwenVocab(tb testing.TB) ([][]byte, *tokenizer.Tokenizer) {
	tb.Helper()
	return loadVocab(tb, &qwen, "vocab/qwen2-vocab-full.gguf")
}

// spmVocab returns the full Llama SentencePiece vocabulary.
func spmVocab(tb testing.TB) ([][]byte, *tokenizer.Tokenizer) {
	tb.Helper()
	return loadVocab(tb, &llamaSPM, "vocab/llama-spm-vocab-full.gguf")
}

func loadVocab(tb testing.TB, l *loadedVocab, rel string) ([][]byte, *tokenizer.Tokenizer) {
	tb.Helper()
	path := golden.Path(tb, rel)
	l.once.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			l.err = err
			return
		}
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			l.err = err
			return
		}
		l.tok = tok
		l.vocab = Vocab(tok.VocabSize(), tok.Piece, func(id int32) bool { return tok.IsControl(id) || tok.IsEOG(id) })
	})
	if l.err != nil {
		tb.Fatal(l.err)
	}
	return l.vocab, l.tok
}
