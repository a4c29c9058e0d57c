package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func words(p *preSpec, text string) []string {
	cps := decodeRunes(text, nil)
	var out []string
	start := 0
	for _, end := range p.split(cps, nil) {
		out = append(out, string(cps[start:end]))
		start = end
	}
	return out
}

// TestPreTokenizers spells out what llama.cpp's regexes (ECMAScript
// semantics: first alternative wins, greedy, unmatched text between matches
// is a word too) do with each family.
func TestPreTokenizers(t *testing.T) {
	for _, c := range []struct {
		pre, text string
		want      []string
	}{
		{"qwen2", "Hello world", []string{"Hello", " world"}},
		{"qwen2", "12345", []string{"1", "2", "3", "4", "5"}},
		{"qwen2", "  x", []string{" ", " x"}},
		{"qwen2", "a  ", []string{"a", "  "}},
		{"qwen2", "a\n\nb", []string{"a", "\n\n", "b"}},
		{"qwen2", "  \n  x", []string{"  \n", " ", " x"}},
		{"qwen2", "I'M don't", []string{"I", "'M", " don", "'t"}},
		{"qwen2", "$$$\r\n!", []string{"$$$\r\n", "!"}},
		{"qwen2", " ...x", []string{" ...", "x"}},
		{"qwen2", ".x", []string{".x"}},
		{"qwen2", "\tx", []string{"\tx"}},
		{"qwen2", "\nx", []string{"\n", "x"}},
		{"qwen2", "大模型，训练", []string{"大模型", "，训练"}}, // [^\r\n\p{L}\p{N}]?\p{L}+
		{"qwen2", "a\u00a0b", []string{"a", "\u00a0b"}},
		{"qwen2", "e\u0301", []string{"e", "\u0301"}}, // a mark is not \p{L}
		{"llama-bpe", "12345", []string{"123", "45"}},
		{"llama-bpe", "I'LL", []string{"I", "'LL"}},
		{"gpt-2", "I'M", []string{"I", "'", "M"}}, // case-sensitive contractions
		{"gpt-2", "it's 12 apples", []string{"it", "'s", " 12", " apples"}},
		{"gpt-2", "a  \n", []string{"a", "  \n"}},
		{"gpt-2", "x\n\ny", []string{"x", "\n", "\n", "y"}},
		{"default", "a+b=1234", []string{"a", "+", "b", "=", "123", "4"}},
		{"default", "hello world!!", []string{"hello", " world", "!!"}},
		{"default", "x 12", []string{"x", " ", "12"}},
		{"starcoder", "x12 y", []string{"x", "1", "2", " y"}},
		{"deepseek-v3", "Hello, 世界123456", []string{"Hello", ",", " ", "世界", "123", "456"}},
		{"deepseek-v3", ".Hello don't", []string{".Hello", " don", "'t"}},
		{"deepseek-v3", "a~b ~", []string{"a", "~b", " ", "~"}},
		{"deepseek-v3", " +\nx", []string{" +\n", "x"}},
		{"deepseek-v3", "x  y", []string{"x", " ", " y"}},
		{"deepseek-v3", "ひらがなカタカナ漢字", []string{"ひらがなカタカナ漢字"}},
		{"deepseek-v3", "e\u0301t\u00e9", []string{"e\u0301t\u00e9"}}, // marks join letters
		{"hunyuan-dense", "1234x", []string{"123", "4", "x"}},
		{"deepseek-llm", "Hello World\n你好123", []string{"Hello", " World", "\n", "你好", "123"}},
		{"deepseek-llm", "x  ", []string{"x", "  "}},
		{"deepseek-llm", "a, b！", []string{"a", ",", " b", "！"}},
	} {
		p := preSpecs[c.pre]
		if p == nil {
			t.Fatalf("no pre-tokenizer %q", c.pre)
		}
		if got := words(p, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%s: split(%q) = %q, want %q", c.pre, c.text, got, c.want)
		}
	}
}

// TestPreTokenizersCover: every pre-tokenizer's words are non-empty and
// concatenate back to the input, on all golden lines.
func TestPreTokenizersCover(t *testing.T) {
	lines := readJSONL(t, "tokenizer/qwen2.lines.parse_special_false.jsonl")
	lines = append(lines, readJSONL(t, "tokenizer/qwen2.multiline.parse_special_false.jsonl")...)
	for name, p := range preSpecs {
		for _, l := range lines {
			cat := ""
			for _, w := range words(p, l.Text) {
				if w == "" {
					t.Fatalf("%s: empty word in %q", name, l.Text)
				}
				cat += w
			}
			if cat != l.Text {
				t.Fatalf("%s: words of %q join to %q", name, l.Text, cat)
			}
		}
	}
}

func TestDecodeRunes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []rune
	}{
		{"aé大😀", []rune("aé大😀")},
		{"\xc0\x80", []rune{0}},                // overlong, accepted as llama.cpp does
		{"\xed\xa0\x80", []rune{0xD800}},       // surrogate
		{"\xe4\xb8", []rune{0xFFFD, 0xFFFD}},   // truncated
		{"\x80a", []rune{0xFFFD, 'a'}},         // stray continuation byte
		{"\xf8\x88", []rune{0xFFFD, 0xFFFD}},   // no 5-byte forms
		{"\xf7\xbf\xbf\xbf", []rune{0x1FFFFF}}, // beyond U+10FFFF
	} {
		if got := decodeRunes(c.in, nil); !slices.Equal(got, c.want) {
			t.Errorf("decodeRunes(%q) = %U, want %U", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		r    rune
		want string
	}{{0, "\x00"}, {0xD800, "\xed\xa0\x80"}, {0x10FFFF, "\xf4\x8f\xbf\xbf"}, {0x110000, "\uFFFD"}} {
		if got := string(appendUTF8(nil, c.r)); got != c.want {
			t.Errorf("appendUTF8(%U) = %q, want %q", c.r, got, c.want)
		}
	}
}

// TestLongRuns: long runs of one class split in linear time under every
// pre-tokenizer (a quadratic matcher would time out here).
func TestLongRuns(t *testing.T) {
	const n = 1 << 17
	for _, unit := range []string{" ", "a", "1", "\n", " \n", "~", "大", "\u3000", ".", "e\u0301"} {
		text := strings.Repeat(unit, n/len(unit)) + "x"
		cps := decodeRunes(text, nil)
		for _, name := range []string{"default", "gpt-2", "llama-bpe", "qwen2", "starcoder", "falcon",
			"deepseek-llm", "deepseek-coder", "deepseek-v3"} {
			p := preSpecs[name]
			start := time.Now()
			if b := p.split(cps, nil); b[len(b)-1] != len(cps) {
				t.Fatalf("%s: bad split", name)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s: %d × %q took %v", name, n, unit, d)
			}
		}
	}
	tok := mustNew(t, tinyBPE("qwen2", nil))
	if ids := tok.Encode(strings.Repeat("hello", n/5), false, false); len(ids) != n/5 {
		t.Errorf("long word: %d tokens, want %d", len(ids), n/5)
	}
}
