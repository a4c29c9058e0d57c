package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeRoundTrip: Decode(Encode(x)) == x on every golden line. For
// SentencePiece, Decode drops the prefix space Encode adds; text after a
// special token gets one more space (llama.cpp does the same), so lines whose
// special tokens change the encoding are only checked without parse_special.
func TestDecodeRoundTrip(t *testing.T) {
	for _, vocab := range []string{"qwen2", "llama-spm"} {
		tok := loadTok(t, vocab)
		for _, set := range []string{"lines", "multiline"} {
			for _, ps := range []bool{true, false} {
				lines := readJSONL(t, fmt.Sprintf("tokenizer/%s.%s.parse_special_%v.jsonl", vocab, set, ps))
				checked := 0
				for _, l := range lines {
					ids := tok.Encode(l.Text, false, ps)
					if vocab == "llama-spm" && (strings.Contains(l.Text, spaceMark) ||
						ps && !slices.Equal(ids, tok.Encode(l.Text, false, false))) {
						continue
					}
					checked++
					if got := tok.Decode(ids); got != l.Text {
						t.Errorf("%s parse_special=%v: Decode(Encode(%q)) = %q", vocab, ps, l.Text, got)
					}
				}
				if checked < len(lines)-10 {
					t.Errorf("%s %s: only %d of %d lines checked", vocab, set, checked, len(lines))
				}
			}
		}
	}
}

// TestDecoderStreaming feeds the golden lines token by token: the output
// never splits a character and adds up to the whole text. The truncated
// vocabularies spell Chinese and emoji in single-byte tokens.
func TestDecoderStreaming(t *testing.T) {
	for _, vocab := range []string{"qwen2", "llama-spm", "qwen2-mini", "llama-mini"} {
		tok := loadTok(t, vocab)
		split := 0
		for _, l := range readJSONL(t, "tokenizer/qwen2.lines.parse_special_false.jsonl") {
			ids := tok.Encode(l.Text, false, false)
			want := ""
			for _, id := range ids {
				want += string(tok.Piece(id))
			}
			d := tok.NewDecoder()
			var sb strings.Builder
			for _, id := range ids {
				s := d.Add(id)
				if !utf8.ValidString(s) {
					t.Fatalf("%s: Add(%d) = %q, not valid UTF-8 (line %q)", vocab, id, s, l.Text)
				}
				if s == "" && len(tok.Piece(id)) > 0 {
					split++
				}
				sb.WriteString(s)
			}
			sb.WriteString(d.Flush())
			if sb.String() != want {
				t.Errorf("%s: streamed %q, want %q", vocab, sb.String(), want)
			}
		}
		if strings.HasSuffix(vocab, "-mini") && split == 0 {
			t.Errorf("%s: no character was split across tokens; the test proves nothing", vocab)
		}
	}
}

func TestDecoderHoldsBack(t *testing.T) {
	tok := loadTok(t, "qwen2-mini")
	ids := tok.Encode("大a😀", false, false) // all single-byte tokens here
	var got []string
	d := tok.NewDecoder()
	for _, id := range ids {
		got = append(got, d.Add(id))
	}
	want := []string{"", "", "大", "a", "", "", "", "😀"}
	if !slices.Equal(got, want) {
		t.Fatalf("Add outputs = %q, want %q (ids %v)", got, want, ids)
	}
	if s := d.Flush(); s != "" {
		t.Errorf("Flush() = %q, want empty", s)
	}

	// An unfinished character is flushed as U+FFFD; a byte that cannot
	// start one is replaced at once.
	d = tok.NewDecoder()
	lead, _ := tok.TokenID(gpt2Bytes[0xE5])
	ff, _ := tok.TokenID(gpt2Bytes[0xFF])
	a, _ := tok.TokenID("a")
	for _, c := range []struct {
		id   int32
		want string
	}{{lead, ""}, {a, "\uFFFDa"}, {ff, "\uFFFD"}, {lead, ""}} {
		if s := d.Add(c.id); s != c.want {
			t.Errorf("Add(%d) = %q, want %q", c.id, s, c.want)
		}
	}
	if s := d.Flush(); s != "\uFFFD" {
		t.Errorf("Flush() = %q, want U+FFFD", s)
	}
}

func TestPiece(t *testing.T) {
	qwen := loadTok(t, "qwen2")
	spm := loadTok(t, "llama-spm")
	id := func(tok *Tokenizer, s string) int32 {
		id, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return id
	}
	for _, c := range []struct {
		tok  *Tokenizer
		id   int32
		want string
	}{
		{qwen, id(qwen, "Ġthe"), " the"},
		{qwen, id(qwen, "Ċ"), "\n"},
		{qwen, id(qwen, "<|im_end|>"), "<|im_end|>"},
		{qwen, id(qwen, "<think>"), "<think>"},
		{qwen, id(qwen, "[PAD151700]"), ""}, // unused
		{spm, id(spm, "▁the"), " the"},
		{spm, id(spm, "<0x0A>"), "\n"},
		{spm, id(spm, "<0xE5>"), "\xe5"},
		{spm, 1, "<s>"},
		{spm, 0, "<unk>"},
	} {
		if got := string(c.tok.Piece(c.id)); got != c.want {
			t.Errorf("Piece(%d) = %q, want %q", c.id, got, c.want)
		}
	}
	// A normal BPE token outside the byte alphabet renders as llama.cpp's
	// marker; unused and undefined tokens render as nothing.
	tiny := mustNew(t, tinyBPE("gpt-2", map[string]int32{"中": TypeNormal, "x中": TypeUndefined}))
	for _, c := range []struct{ text, want string }{
		{"中", "[UNK_BYTE_0xe4b8ad中]"},
		{"x中", ""},
		{"hello", "hello"},
	} {
		id, _ := tiny.TokenID(c.text)
		if got := string(tiny.Piece(id)); got != c.want {
			t.Errorf("Piece(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	if p := qwen.Piece(-1); p != nil {
		t.Errorf("Piece(-1) = %q, want nil", p)
	}
	if p := qwen.Piece(int32(qwen.VocabSize())); p != nil {
		t.Errorf("Piece(VocabSize) = %q, want nil", p)
	}
}

// TestDecodeSPMPrefix: llama.cpp removes the prefix space from the first
// piece only, even when that piece is BOS.
func TestDecodeSPMPrefix(t *testing.T) {
	tok := loadTok(t, "llama-spm")
	for _, c := range []struct {
		text       string
		addSpecial bool
		want       string
	}{
		{"Hello world", false, "Hello world"},
		{" Hello", false, " Hello"},
		{"Hello", true, "<s> Hello"},
		{"", true, "<s>"},
	} {
		if got := tok.Decode(tok.Encode(c.text, c.addSpecial, false)); got != c.want {
			t.Errorf("Decode(Encode(%q, %v)) = %q, want %q", c.text, c.addSpecial, got, c.want)
		}
	}
}

func TestCleanSpaces(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Hello , world !", "Hello, world!"},
		{"a ' b", "a'b"},
		{"it 's he 'll they 're we 've I 'm I 'd don 't", "it's he 'll they're we've I'm I 'd don 't"},
		{" .", "."},
		{"x ' ' y", "x'' y"}, // the second apostrophe no longer follows a space
		{"x ''", "x ''"},
	} {
		if got := string(cleanSpaces([]byte(c.in))); got != c.want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
