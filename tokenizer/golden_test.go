package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"zhiyan/internal/golden"
)

// Full vocabularies are large: load each once per test binary.
var (
	vocabOnce  sync.Map // rel → *loadedTok
	vocabFiles = map[string]string{
		"qwen2":      "vocab/qwen2-vocab-full.gguf",
		"llama-spm":  "vocab/llama-spm-vocab-full.gguf",
		"qwen2-mini": "qwen2-mini/qwen2-mini-F32.gguf",
		"llama-mini": "llama-mini/llama-mini-F32.gguf",
	}
)

type loadedTok struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

func loadTok(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	rel := vocabFiles[name]
	golden.Path(tb, rel) // skip when absent
	v, _ := vocabOnce.LoadOrStore(rel, &loadedTok{})
	l := v.(*loadedTok)
	l.once.Do(func() {
		l.tok, l.err = New(vocabFromGGUF(tb, rel))
	})
	if l.err != nil {
		tb.Fatalf("New(%s): %v", rel, l.err)
	}
	return l.tok
}

type goldenLine struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func readJSONL(tb testing.TB, rel string) []goldenLine {
	tb.Helper()
	f, err := os.Open(golden.Path(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []goldenLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var l goldenLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("%s: %v", rel, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestGoldenLines checks every llama.cpp golden line: both vocabularies, both
// parse_special modes, single lines and multi-line texts (add_special = false).
func TestGoldenLines(t *testing.T) {
	total := 0
	for _, vocab := range []string{"qwen2", "llama-spm"} {
		for _, set := range []string{"lines", "multiline"} {
			for _, ps := range []bool{true, false} {
				rel := fmt.Sprintf("tokenizer/%s.%s.parse_special_%v.jsonl", vocab, set, ps)
				t.Run(fmt.Sprintf("%s/%s/parse_special=%v", vocab, set, ps), func(t *testing.T) {
					tok := loadTok(t, vocab)
					lines := readJSONL(t, rel)
					bad := 0
					for i, l := range lines {
						got := tok.Encode(l.Text, false, ps)
						if !slices.Equal(got, l.IDs) {
							bad++
							if bad <= 10 {
								t.Errorf("line %d: Encode(%q) =\n  %v, want\n  %v", i, l.Text, got, l.IDs)
							}
						}
					}
					total += len(lines)
					t.Logf("%s: %d/%d lines match", rel, len(lines)-bad, len(lines))
				})
			}
		}
	}
	t.Logf("%d golden lines checked", total)
}

type modelGolden struct {
	Prompts []struct {
		Name         string   `json:"name"`
		Prompt       string   `json:"prompt"`
		Tokens       []int32  `json:"tokens"`
		TokenPiecesH []string `json:"token_pieces_hex"`
		BOSPrepended bool     `json:"bos_prepended"`
	} `json:"prompts"`
}

// TestGoldenModelPrompts checks the prompts of the tiny models, tokenized by
// llama.cpp with add_special and parse_special on the truncated vocabularies,
// and the piece of every token.
func TestGoldenModelPrompts(t *testing.T) {
	for _, c := range []struct{ vocab, json string }{
		{"qwen2-mini", "qwen2-mini/qwen2-mini-F32.json"},
		{"llama-mini", "llama-mini/llama-mini-F32.json"},
	} {
		t.Run(c.vocab, func(t *testing.T) {
			tok := loadTok(t, c.vocab)
			b, err := os.ReadFile(golden.Path(t, c.json))
			if err != nil {
				t.Fatal(err)
			}
			var g modelGolden
			if err := json.Unmarshal(b, &g); err != nil {
				t.Fatal(err)
			}
			if len(g.Prompts) == 0 {
				t.Fatal("no prompts")
			}
			for _, p := range g.Prompts {
				got := tok.Encode(p.Prompt, true, true)
				if !slices.Equal(got, p.Tokens) {
					t.Errorf("%s: Encode(%q) =\n  %v, want\n  %v", p.Name, p.Prompt, got, p.Tokens)
				}
				if p.BOSPrepended != (len(got) > 0 && got[0] == tok.BOS() && tok.AddBOS()) {
					t.Errorf("%s: BOS prepended = %v, want %v", p.Name, !p.BOSPrepended, p.BOSPrepended)
				}
				for i, id := range p.Tokens {
					if h := fmt.Sprintf("%x", tok.Piece(id)); h != p.TokenPiecesH[i] {
						t.Errorf("%s: Piece(%d) = %s, want %s", p.Name, id, h, p.TokenPiecesH[i])
					}
				}
			}
		})
	}
}
