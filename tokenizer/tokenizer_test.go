package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// tinyBPE is a byte-level BPE vocabulary: the 256 byte symbols, the merges
// "h e", "he l", "hel l", "hell o" ("hello"), then the extra tokens with
// their types.
func tinyBPE(pre string, extra map[string]int32) *Vocab {
	v := &Vocab{Model: "gpt2", Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, gpt2Bytes[b])
		v.Types = append(v.Types, TypeNormal)
	}
	for _, m := range []string{"h e", "he l", "hel l", "hell o"} {
		v.Merges = append(v.Merges, m)
		v.Tokens = append(v.Tokens, strings.ReplaceAll(m, " ", ""))
		v.Types = append(v.Types, TypeNormal)
	}
	var names []string
	for s := range extra {
		names = append(names, s)
	}
	slices.Sort(names)
	for _, s := range names {
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, extra[s])
	}
	return v
}

func mustNew(t *testing.T, v *Vocab) *Tokenizer {
	t.Helper()
	tok, err := New(v)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tok
}

func TestNewErrors(t *testing.T) {
	spm := func(edit func(v *Vocab)) *Vocab {
		v := &Vocab{Model: "llama", BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1,
			Tokens: []string{"<unk>", "<s>", "</s>", "<0x41>", "▁a"},
			Types:  []int32{TypeUnknown, TypeControl, TypeControl, TypeByte, TypeNormal},
			Scores: []float32{0, 0, 0, 0, -1}}
		edit(v)
		return v
	}
	bpe := func(edit func(v *Vocab)) *Vocab {
		v := tinyBPE("qwen2", nil)
		edit(v)
		return v
	}
	for _, c := range []struct {
		name string
		v    *Vocab
		want string
	}{
		{"no tokens", &Vocab{Model: "llama"}, "no tokens"},
		{"unknown model", spm(func(v *Vocab) { v.Model = "t5" }), "unsupported tokenizer model"},
		{"unknown pre", bpe(func(v *Vocab) { v.Pre = "nonesuch" }), "qwen2"},
		{"types length", spm(func(v *Vocab) { v.Types = v.Types[:4] }), "4 token types for 5 tokens"},
		{"scores length", spm(func(v *Vocab) { v.Scores = append(v.Scores, 0) }), "6 scores"},
		{"type out of range", spm(func(v *Vocab) { v.Types[4] = 7 }), "token type 7"},
		{"negative type", spm(func(v *Vocab) { v.Types[4] = -1 }), "token type -1"},
		{"duplicate token", spm(func(v *Vocab) { v.Tokens[4] = "<s>" }), "duplicate token"},
		{"byte token <0x-1>", spm(func(v *Vocab) { v.Tokens[3] = "<0x-1>" }), "byte token"},
		{"byte token <0xZZ>", spm(func(v *Vocab) { v.Tokens[3] = "<0xZZ>" }), "byte token"},
		{"byte token <0x100>", spm(func(v *Vocab) { v.Tokens[3] = "<0x100>" }), "byte token"},
		{"byte token text", spm(func(v *Vocab) { v.Tokens[3] = "A" }), "byte token"},
		{"BOS out of range", spm(func(v *Vocab) { v.BOS = 5 }), "BOS id 5"},
		{"EOS negative", spm(func(v *Vocab) { v.EOS = -2 }), "EOS id -2"},
		{"PAD out of range", spm(func(v *Vocab) { v.PAD = 1 << 30 }), "PAD id"},
		{"add_bos without BOS", spm(func(v *Vocab) { // default BOS 1 is out of range
			v.Tokens, v.Types, v.Scores = v.Tokens[:1], v.Types[:1], v.Scores[:1]
		}), "no BOS"},
		{"add_eos without EOS", bpe(func(v *Vocab) {
			v.Tokens, v.Types = v.Tokens[:10], v.Types[:10] // default EOS 11 is out of range
			v.Merges = []string{"a b"}
			v.AddEOS, v.AddEOSSet = true, true
		}), "no EOS"},
		{"no merges", bpe(func(v *Vocab) { v.Merges = nil }), "without merges"},
		{"merge without space", bpe(func(v *Vocab) { v.Merges[1] = "hel" }), "merge 1"},
		{"merge with empty right", bpe(func(v *Vocab) { v.Merges[1] = "he " }), "merge 1"},
		{"merge with leading space only", bpe(func(v *Vocab) { v.Merges[0] = " h" }), "merge 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := New(c.v)
			if err == nil {
				t.Fatalf("New succeeded (%d tokens), want error containing %q", tok.VocabSize(), c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestNewOddButValid: inputs llama.cpp accepts and so do we.
func TestNewOddButValid(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	v := tinyBPE("qwen2", map[string]int32{huge: TypeControl, "<tag>": TypeUserDefined})
	v.Tokens[0] = ""                                   // renamed [EMPTY_0] as in llama.cpp
	v.Merges = append(v.Merges, "zz qq", "zzqq hello") // parts that are not tokens
	tok := mustNew(t, v)
	text := "hello" + huge + "<tag>hello"
	ids := tok.Encode(text, false, true)
	hello, _ := tok.TokenID("hello")
	hugeID, _ := tok.TokenID(huge)
	tag, _ := tok.TokenID("<tag>")
	if want := []int32{hello, hugeID, tag, hello}; !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	if got := tok.Decode(ids); got != text {
		t.Errorf("Decode: got %d bytes, want %d", len(got), len(text))
	}
	if _, ok := tok.TokenID("[EMPTY_0]"); !ok {
		t.Error("empty token was not renamed [EMPTY_0]")
	}
	// Default pre-tokenizer for a missing tokenizer.ggml.pre.
	v = tinyBPE("", nil)
	mustNew(t, v)
}

// TestNonTokenMerges: a merge result that is not a token is still a symbol
// that can merge further, as with llama.cpp's string-keyed merges; left
// over, it falls back to one-byte tokens.
func TestNonTokenMerges(t *testing.T) {
	v := tinyBPE("gpt-2", nil)
	v.Merges = []string{"x y", "xy z"} // "xy" is not a token, "xyz" is
	v.Tokens = append(v.Tokens, "xyz")
	v.Types = append(v.Types, TypeNormal)
	tok := mustNew(t, v)
	xyz, _ := tok.TokenID("xyz")
	x, _ := tok.TokenID("x")
	y, _ := tok.TokenID("y")
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"xyz", []int32{xyz}},
		{"xy", []int32{x, y}}, // "xy" is no token: its bytes are
	} {
		if got := tok.Encode(c.text, false, false); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestSpecialIDs(t *testing.T) {
	qwen := loadTok(t, "qwen2")
	spm := loadTok(t, "llama-spm")
	id := func(s string) int32 { i, _ := qwen.TokenID(s); return i }
	if qwen.BOS() != 151643 || qwen.EOS() != 151645 || qwen.AddBOS() || qwen.AddEOS() {
		t.Errorf("qwen2: BOS %d EOS %d AddBOS %v AddEOS %v", qwen.BOS(), qwen.EOS(), qwen.AddBOS(), qwen.AddEOS())
	}
	if spm.BOS() != 1 || spm.EOS() != 2 || !spm.AddBOS() || spm.AddEOS() {
		t.Errorf("llama-spm: BOS %d EOS %d AddBOS %v AddEOS %v", spm.BOS(), spm.EOS(), spm.AddBOS(), spm.AddEOS())
	}
	if qwen.EOT() != id("<|endoftext|>") {
		t.Errorf("qwen2 EOT = %d, want <|endoftext|> (lowest id of the candidates)", qwen.EOT())
	}
	for _, c := range []struct {
		tok  *Tokenizer
		id   int32
		want bool
	}{
		{qwen, id("<|im_end|>"), true},
		{qwen, id("<|endoftext|>"), true},
		{qwen, id("<|fim_pad|>"), true},
		{qwen, id("<|repo_name|>"), true},
		{qwen, id("<|file_sep|>"), true},
		{qwen, id("<|im_start|>"), false},
		{qwen, id("<|fim_prefix|>"), false},
		{qwen, id("</s>"), false}, // an ordinary Qwen token
		{qwen, id("Ġthe"), false},
		{qwen, -1, false},
		{spm, 2, true},
		{spm, 1, false},
		{spm, 0, false},
	} {
		if got := c.tok.IsEOG(c.id); got != c.want {
			t.Errorf("IsEOG(%d %q) = %v, want %v", c.id, c.tok.Piece(c.id), got, c.want)
		}
	}
	if !qwen.IsControl(id("<|im_start|>")) || qwen.IsControl(id("<think>")) || qwen.IsControl(-5) {
		t.Error("IsControl wrong")
	}
	if n := qwen.VocabSize(); n != 151936 {
		t.Errorf("VocabSize = %d", n)
	}
	if _, ok := qwen.TokenID("no such token ☃"); ok {
		t.Error("TokenID found a missing token")
	}
}

// TestTextDetectedSpecials: llama.cpp makes tokens with known texts control
// and end-of-generation even when the file types them as normal.
func TestTextDetectedSpecials(t *testing.T) {
	v := tinyBPE("llama-bpe", map[string]int32{"<|eot_id|>": TypeNormal, "<|begin_of_text|>": TypeControl,
		"[EOS]": TypeNormal, "<|channel|>": TypeControl})
	v.BOS = int32(slices.Index(v.Tokens, "<|begin_of_text|>"))
	tok := mustNew(t, v)
	eot, _ := tok.TokenID("<|eot_id|>")
	eos, _ := tok.TokenID("[EOS]")
	ch, _ := tok.TokenID("<|channel|>")
	if !tok.IsEOG(eot) || !tok.IsControl(eot) || tok.EOT() != eot {
		t.Errorf("<|eot_id|>: EOG %v control %v, EOT() = %d", tok.IsEOG(eot), tok.IsControl(eot), tok.EOT())
	}
	if tok.IsEOG(eos) || tok.IsControl(eos) {
		t.Error("[EOS] typed normal became special; llama.cpp c392e509 did not know it")
	}
	// llama-bpe adds BOS by default; <|channel|> is user-defined, parsed
	// even without parse_special.
	if got := tok.Encode("a<|channel|><|eot_id|>", true, false); got[0] != v.BOS || got[2] != ch || len(got) < 4 {
		t.Errorf("Encode = %v, want BOS, a, <|channel|>, then <|eot_id|> as text", got)
	}
	if got := tok.Encode("<|eot_id|>", false, true); !slices.Equal(got, []int32{eot}) {
		t.Errorf("Encode(<|eot_id|>, parse_special) = %v, want [%d]", got, eot)
	}
}

func TestPartition(t *testing.T) {
	v := tinyBPE("qwen2", map[string]int32{"<ctl>": TypeControl, "<ctl>x": TypeControl, "<u>": TypeUserDefined})
	tok := mustNew(t, v)
	ctl, _ := tok.TokenID("<ctl>")
	ctlx, _ := tok.TokenID("<ctl>x")
	u, _ := tok.TokenID("<u>")
	type frag struct {
		tok  int32
		text string
	}
	for _, c := range []struct {
		text string
		ps   bool
		want []frag
	}{
		{"", true, nil},
		{"plain", true, []frag{{-1, "plain"}}},
		{"a<ctl>b", true, []frag{{-1, "a"}, {ctl, ""}, {-1, "b"}}},
		{"a<ctl>b", false, []frag{{-1, "a<ctl>b"}}},
		{"<ctl>x<ctl>", true, []frag{{ctlx, ""}, {ctl, ""}}}, // longer token first
		{"<u><ctl>", false, []frag{{u, ""}, {-1, "<ctl>"}}},  // user-defined always
		{"<u><u>", true, []frag{{u, ""}, {u, ""}}},
		{"<ct<ctl>l>", true, []frag{{-1, "<ct"}, {ctl, ""}, {-1, "l>"}}},
	} {
		var got []frag
		for _, f := range tok.partition(c.text, c.ps) {
			if f.tok >= 0 {
				got = append(got, frag{f.tok, ""})
			} else {
				got = append(got, frag{-1, c.text[f.start:f.end]})
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("partition(%q, %v) = %v, want %v", c.text, c.ps, got, c.want)
		}
	}
}

// TestStripAttrs: for phi-3 (by general.name) llama.cpp's special tokens eat
// the whitespace after them, except <s>, <unk> and <|endoftext|>.
func TestStripAttrs(t *testing.T) {
	v := tinyBPE("gpt-2", map[string]int32{"<|user|>": TypeControl, "<|endoftext|>": TypeControl})
	v.ModelName = "Phi-3-mini"
	tok := mustNew(t, v)
	user, _ := tok.TokenID("<|user|>")
	eot, _ := tok.TokenID("<|endoftext|>")
	sp, _ := tok.TokenID(gpt2Bytes[' '])
	nl, _ := tok.TokenID(gpt2Bytes['\n'])
	hello, _ := tok.TokenID("hello")
	if got, want := tok.Encode("<|user|> \n hello", false, true), []int32{user, hello}; !slices.Equal(got, want) {
		t.Errorf("rstrip: Encode = %v, want %v", got, want)
	}
	if got, want := tok.Encode("<|endoftext|> \nhello", false, true), []int32{eot, sp, nl, hello}; !slices.Equal(got, want) {
		t.Errorf("no rstrip on <|endoftext|>: Encode = %v, want %v", got, want)
	}
	v.ModelName = "other"
	tok = mustNew(t, v)
	if got := tok.Encode("<|user|> hello", false, true); len(got) != 3 {
		t.Errorf("without phi-3 the space stays: Encode = %v", got)
	}
	// lstrip: jina-v2 <mask> eats the spaces before it.
	v = tinyBPE("jina-v2-es", map[string]int32{"<mask>": TypeControl})
	tok = mustNew(t, v)
	mask, _ := tok.TokenID("<mask>")
	if got, want := tok.Encode("hello  <mask>", false, true), []int32{hello, mask}; !slices.Equal(got, want) {
		t.Errorf("lstrip: Encode = %v, want %v", got, want)
	}
}

func TestEncodeAddSpecial(t *testing.T) {
	spm := loadTok(t, "llama-spm")
	if got := spm.Encode("", true, true); !slices.Equal(got, []int32{1}) {
		t.Errorf("llama Encode(\"\", addSpecial) = %v, want [1]", got)
	}
	if got := spm.Encode("", false, true); len(got) != 0 {
		t.Errorf("llama Encode(\"\") = %v, want []", got)
	}
	if got := spm.Encode("Hi", true, false); got[0] != 1 || slices.Contains(got[1:], 1) {
		t.Errorf("llama Encode(Hi, addSpecial) = %v", got)
	}
	qwen := loadTok(t, "qwen2")
	if got := qwen.Encode("Hi", true, false); slices.Contains(got, qwen.BOS()) {
		t.Errorf("qwen2 added BOS: %v", got)
	}
	v := tinyBPE("gpt-2", map[string]int32{"<eos>": TypeControl})
	v.EOS = int32(len(v.Tokens) - 1)
	v.AddEOS, v.AddEOSSet = true, true
	tok := mustNew(t, v)
	hello, _ := tok.TokenID("hello")
	if got, want := tok.Encode("hello", true, false), []int32{hello, v.EOS}; !slices.Equal(got, want) {
		t.Errorf("add_eos: Encode = %v, want %v", got, want)
	}
	if got, want := tok.Encode("hello", false, false), []int32{hello}; !slices.Equal(got, want) {
		t.Errorf("add_eos off: Encode = %v, want %v", got, want)
	}
}

// TestSPMAfterSpecial: llama.cpp prefixes a space to text after a special
// token too, not only at the start.
func TestSPMAfterSpecial(t *testing.T) {
	tok := loadTok(t, "llama-spm")
	got := tok.Encode("a</s>a", false, true)
	pa := tok.Encode("a", false, false)
	want := append(append(slices.Clone(pa), 2), pa...)
	if !slices.Equal(got, want) {
		t.Errorf("Encode(a</s>a) = %v, want %v", got, want)
	}
}

// TestSPMWordSplit: merging word by word gives exactly what merging the
// whole fragment gives.
func TestSPMWordSplit(t *testing.T) {
	tok := loadTok(t, "llama-spm")
	if !tok.spmWordSplit {
		t.Fatal("llama vocabulary should allow word-by-word merging")
	}
	whole := *tok
	whole.spmWordSplit = false
	texts := []string{"  a  b   c ", "\xe2\x96 x", "\xf0▁▁ hello", "▁▁▁x▁▁y"}
	for _, l := range readJSONL(t, "tokenizer/llama-spm.lines.parse_special_false.jsonl") {
		texts = append(texts, l.Text)
	}
	for _, s := range texts {
		if a, b := tok.Encode(s, true, true), whole.Encode(s, true, true); !slices.Equal(a, b) {
			t.Errorf("Encode(%q): word by word %v, whole %v", s, a, b)
		}
	}
	if spmWordSplitSafe([]string{"a", "▁b", "▁▁", "c▁"}) {
		t.Error("spmWordSplitSafe accepted a token with a space mark after text")
	}
}

// TestNormalize: the optional normalizer runs on text fragments only. With a
// (test-only) Hangul composer the jamo line gives Hugging Face's ids, as the
// golden README records them.
func TestNormalize(t *testing.T) {
	base := vocabFromGGUF(t, vocabFiles["qwen2"])
	calls := 0
	base.Normalize = func(s string) string {
		calls++
		if strings.Contains(s, "<|im_start|>") {
			t.Errorf("normalizer saw a special token: %q", s)
		}
		return composeForTest(s)
	}
	tok := mustNew(t, base)
	if got, want := tok.Encode("한가 jamo sequences", false, true), []int32{23573, 19969, 20072, 78, 23700}; !slices.Equal(got, want) {
		t.Errorf("Hangul: Encode = %v, want %v", got, want)
	}
	if got := tok.Encode("é (e + combining acute) vs é (precomposed)", false, true); !slices.Equal(got[:3], []int32{963, 320, 68}) {
		t.Errorf("é: Encode = %v, want prefix [963 320 68]", got)
	}
	tok.Encode("<|im_start|>x", false, true)
	if calls == 0 {
		t.Error("normalizer never called")
	}
}

// composeForTest composes conjoining Hangul jamo (an arithmetic rule of
// Unicode) and e + U+0301; enough NFC for the two golden lines.
func composeForTest(s string) string {
	rs := []rune(strings.ReplaceAll(s, "e\u0301", "é"))
	var out []rune
	for i := 0; i < len(rs); i++ {
		l := rs[i]
		if l >= 0x1100 && l < 0x1113 && i+1 < len(rs) && rs[i+1] >= 0x1161 && rs[i+1] < 0x1176 {
			syl := 0xAC00 + (l-0x1100)*588 + (rs[i+1]-0x1161)*28
			i++
			if i+1 < len(rs) && rs[i+1] > 0x11A7 && rs[i+1] < 0x11C3 {
				syl += rs[i+1] - 0x11A7
				i++
			}
			out = append(out, syl)
			continue
		}
		out = append(out, l)
	}
	return string(out)
}

// TestIgnoreMerges: Llama-3 vocabularies take a word that is itself a token
// as is, even when no chain of merges builds it.
func TestIgnoreMerges(t *testing.T) {
	for _, c := range []struct {
		pre   string
		whole bool
	}{{"llama-bpe", true}, {"gpt-2", false}} {
		tok := mustNew(t, tinyBPE(c.pre, map[string]int32{"xyz": TypeNormal}))
		xyz, _ := tok.TokenID("xyz")
		got := tok.Encode("xyz", false, false)
		if whole := slices.Equal(got, []int32{xyz}); whole != c.whole {
			t.Errorf("%s: Encode(xyz) = %v, whole token %v, want %v", c.pre, got, whole, c.whole)
		}
	}
}

// TestConcurrentEncode: a Tokenizer is shared by goroutines (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := loadTok(t, "qwen2")
	text := chineseText(t, 8<<10) // long enough for the word cache
	want := tok.Encode(text, false, true)
	done := make(chan []int32)
	for range 4 {
		go func() { done <- tok.Encode(text, false, true) }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, want) {
			t.Error("concurrent Encode differs")
		}
	}
}
