package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode: any bytes encode without panicking under every pre-tokenizer
// family and SentencePiece; valid UTF-8 round-trips through byte-level BPE
// (Qwen2 does no space clean-up), and the streaming decoder yields the same
// text.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "大模型训练\n\n", "<|im_start|>user\nhi<|im_end|>",
		"\xff\xfe\xc0\x80\xed\xa0\x80", "  \t\r\n ", "'s'S'll 123456 ①②", "a~b`c", "e\u0301 한가", "😀🤖",
		"<s></s><unk>", "\xe2\x96\x81\xe2\x96", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	qwen := loadTok(f, "qwen2")
	spm := loadTok(f, "llama-spm")
	var others []*Tokenizer
	for _, pre := range []string{"default", "gpt-2", "llama-bpe", "deepseek-llm", "deepseek-coder", "deepseek-v3", "starcoder", "falcon"} {
		tok, err := New(tinyBPE(pre, map[string]int32{"<|x|>": TypeControl}))
		if err != nil {
			f.Fatal(err)
		}
		others = append(others, tok)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ps := range []bool{true, false} {
			ids := qwen.Encode(s, true, ps)
			if utf8.ValidString(s) {
				if got := qwen.Decode(ids); got != s {
					t.Fatalf("qwen2 parse_special=%v: Decode(Encode(%q)) = %q", ps, s, got)
				}
				d := qwen.NewDecoder()
				var sb strings.Builder
				for _, id := range ids {
					sb.WriteString(d.Add(id))
				}
				sb.WriteString(d.Flush())
				if sb.String() != s {
					t.Fatalf("qwen2: streamed %q, want %q", sb.String(), s)
				}
			}
			for _, id := range spm.Encode(s, true, ps) {
				if id < 0 || int(id) >= spm.VocabSize() {
					t.Fatalf("llama-spm: id %d out of range", id)
				}
			}
			spm.Decode(spm.Encode(s, false, ps))
			for _, tok := range others {
				ids := tok.Encode(s, true, ps)
				if utf8.ValidString(s) && !tok.pre.cleanSpaces && tok.Decode(ids) != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q", tok.pre.name, s, tok.Decode(ids))
				}
			}
		}
	})
}
