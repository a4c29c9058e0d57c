package tokenizer

import (
	"fmt"
	"sort"
	"strings"
)

// Vocab is the tokenizer part of a GGUF file's metadata (tokenizer.ggml.*).
type Vocab struct {
	Model  string    // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
	Pre    string    // tokenizer.ggml.pre: pre-tokenizer of a "gpt2" vocabulary ("" means "default")
	Tokens []string  // tokenizer.ggml.tokens; the id is the index
	Types  []int32   // tokenizer.ggml.token_type, 0..6; nil means all normal
	Scores []float32 // tokenizer.ggml.scores; nil means all zero
	Merges []string  // tokenizer.ggml.merges, "left right"; the rank is the index

	// Special token ids, -1 when the key is absent: llama.cpp's defaults then
	// apply (SentencePiece: BOS 1, EOS 2, UNK 0; BPE: BOS = EOS = 11).
	BOS, EOS, UNK, PAD int32
	EOT, EOM           int32 // -1: detected from the token text as llama.cpp does

	AddBOS, AddEOS       bool // tokenizer.ggml.add_bos_token / add_eos_token
	AddBOSSet, AddEOSSet bool // whether those keys were present
	AddSpacePrefix       bool // tokenizer.ggml.add_space_prefix
	AddSpacePrefixSet    bool

	// ModelName is general.name; llama.cpp keys a few per-token attributes on it
	// (phi-3: special tokens strip the spaces after them). Optional.
	ModelName string

	// Normalize, when set, is applied to every text fragment (never to special
	// tokens) before pre-tokenization. llama.cpp applies none; pass NFC here to
	// match Hugging Face on Qwen vocabularies.
	Normalize func(string) string
}

// Token types of tokenizer.ggml.token_type.
const (
	TypeUndefined   = 0
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// attr mirrors llama.cpp's token attributes: a token can gain flags (a normal
// token whose text marks end of generation becomes control as well).
type attr uint16

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrLStrip
	attrRStrip
)

type modelKind uint8

const (
	modelBPE modelKind = iota
	modelSPM
)

// Tokenizer encodes and decodes text. It is immutable after New and safe for
// concurrent use.
type Tokenizer struct {
	kind   modelKind
	pre    *preSpec
	tokens []string
	attrs  []attr
	scores []float32
	ids    map[string]int32
	pieces []string // Piece of every token, cached

	bos, eos, unk, pad, eot, eom int32

	addBOS, addEOS, addSpacePrefix bool

	eog     map[int32]bool
	special []int32 // control, user-defined and unknown tokens, longest text first

	bpe     *bpeRanks
	byteTok [256]int32 // SentencePiece byte-fallback token of each byte, -1 if none
	// spmWordSplit: SentencePiece may merge word by word (see encodeSPM).
	spmWordSplit bool
	normfunc     func(string) string
}

// New checks v and builds a tokenizer. It rejects what llama.cpp would
// misbehave on: arrays of different lengths, duplicate token texts, malformed
// byte tokens and merges, out-of-range special ids, unknown model or
// pre-tokenizer names.
func New(v *Vocab) (*Tokenizer, error) {
	t := &Tokenizer{normfunc: v.Normalize}
	n := len(v.Tokens)
	switch {
	case n == 0:
		return nil, fmt.Errorf("tokenizer: vocabulary has no tokens")
	case int64(n) >= 1<<31-1:
		return nil, fmt.Errorf("tokenizer: %d tokens do not fit int32 ids", n)
	case v.Types != nil && len(v.Types) != n:
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	case v.Scores != nil && len(v.Scores) != n:
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if err := t.setModel(v); err != nil {
		return nil, err
	}
	if err := t.loadTokens(v); err != nil {
		return nil, err
	}
	if t.kind == modelBPE {
		r, err := newBPERanks(v.Merges, t.ids, int32(n))
		if err != nil {
			return nil, err
		}
		t.bpe = r
	}
	if t.kind == modelSPM {
		t.spmWordSplit = spmWordSplitSafe(t.tokens)
	}
	if err := t.setSpecialIDs(v); err != nil {
		return nil, err
	}
	t.markEOG()
	t.buildSpecialCache()
	t.setStripAttrs(v.ModelName)
	t.buildPieces()
	return t, nil
}

// setModel picks the tokenizer kind and pre-tokenizer and llama.cpp's default
// flags for them; metadata keys override the defaults.
func (t *Tokenizer) setModel(v *Vocab) error {
	switch v.Model {
	case "gpt2":
		t.kind = modelBPE
		name := v.Pre
		if name == "" {
			name = "default" // llama.cpp warns and uses the default regexes
		}
		p, ok := preSpecs[name]
		if !ok {
			return fmt.Errorf("tokenizer: unknown pre-tokenizer %q (supported: %s)", v.Pre, strings.Join(preNames(), ", "))
		}
		t.pre = p
		t.addBOS = p.addBOS
	case "llama":
		t.kind = modelSPM
		t.addBOS = true
		t.addSpacePrefix = true
	default:
		return fmt.Errorf("tokenizer: unsupported tokenizer model %q (supported: gpt2, llama)", v.Model)
	}
	if v.AddSpacePrefixSet {
		t.addSpacePrefix = v.AddSpacePrefix
	}
	if v.AddBOSSet {
		t.addBOS = v.AddBOS
	}
	if v.AddEOSSet {
		t.addEOS = v.AddEOS
	}
	return nil
}

// loadTokens fills texts, attributes, scores and the text → id map.
func (t *Tokenizer) loadTokens(v *Vocab) error {
	n := len(v.Tokens)
	t.tokens = make([]string, n)
	t.attrs = make([]attr, n)
	t.scores = make([]float32, n)
	t.ids = make(map[string]int32, n)
	for i := range t.byteTok {
		t.byteTok[i] = -1
	}
	for i, text := range v.Tokens {
		if text == "" {
			// llama.cpp renames empty tokens; an empty special token would
			// otherwise match everywhere.
			text = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if j, dup := t.ids[text]; dup {
			return fmt.Errorf("tokenizer: duplicate token %q at ids %d and %d", clip(text), j, i)
		}
		t.ids[text] = int32(i)
		t.tokens[i] = text
		if v.Scores != nil {
			t.scores[i] = v.Scores[i]
		}
		typ := int32(TypeNormal)
		if v.Types != nil {
			typ = v.Types[i]
		}
		a, err := typeAttr(typ)
		if err != nil {
			return fmt.Errorf("tokenizer: token %d %q: %w", i, clip(text), err)
		}
		t.attrs[i] = a
		if a&attrByte != 0 {
			b, ok := parseByteToken(text)
			if !ok {
				return fmt.Errorf("tokenizer: byte token %d has text %q, want <0xHH>", i, clip(text))
			}
			if t.byteTok[b] < 0 {
				t.byteTok[b] = int32(i)
			}
		}
	}
	if t.kind == modelSPM {
		// llama.cpp looks byte tokens up by their canonical text first, then
		// by the raw one-byte string.
		for b := 0; b < 256; b++ {
			if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.byteTok[b] = id
			} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
				t.byteTok[b] = id
			} else {
				t.byteTok[b] = -1
			}
		}
	}
	return nil
}

func typeAttr(typ int32) (attr, error) {
	switch typ {
	case TypeUndefined:
		return 0, nil
	case TypeNormal:
		return attrNormal, nil
	case TypeUnknown:
		return attrUnknown, nil
	case TypeControl:
		return attrControl, nil
	case TypeUserDefined:
		return attrUserDefined, nil
	case TypeUnused:
		return attrUnused, nil
	case TypeByte:
		return attrByte, nil
	}
	return 0, fmt.Errorf("token type %d out of range 0..6", typ)
}

// parseByteToken parses "<0xHH>" with exactly two hex digits.
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// setSpecialIDs applies llama.cpp's default special ids, then the metadata's.
func (t *Tokenizer) setSpecialIDs(v *Vocab) error {
	n := int32(len(t.tokens))
	t.bos, t.eos, t.unk = 1, 2, 0
	if t.kind == modelBPE {
		t.bos, t.eos, t.unk = 11, 11, -1
		if t.pre.noBOS {
			t.bos = -1
		}
	}
	t.pad, t.eot, t.eom = -1, -1, -1
	for _, p := range []*int32{&t.bos, &t.eos, &t.unk} {
		if *p >= n {
			*p = -1 // a default outside the vocabulary is disabled
		}
	}
	for _, s := range []struct {
		name string
		id   int32
		dst  *int32
	}{{"BOS", v.BOS, &t.bos}, {"EOS", v.EOS, &t.eos}, {"UNK", v.UNK, &t.unk},
		{"PAD", v.PAD, &t.pad}, {"EOT", v.EOT, &t.eot}, {"EOM", v.EOM, &t.eom}} {
		switch {
		case s.id == -1:
		case s.id < -1 || s.id >= n:
			return fmt.Errorf("tokenizer: %s id %d outside the vocabulary of %d tokens", s.name, s.id, n)
		default:
			*s.dst = s.id
		}
	}
	if t.addBOS && t.bos < 0 {
		return fmt.Errorf("tokenizer: add_bos_token is true but there is no BOS token")
	}
	if t.addEOS && t.eos < 0 {
		return fmt.Errorf("tokenizer: add_eos_token is true but there is no EOS token")
	}
	return nil
}

// buildSpecialCache lists the tokens that tokenizer_st_partition matches in
// raw text: control, user-defined and unknown ones, longest text first (ties
// by id, where llama.cpp's unstable sort leaves the order unspecified).
func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(id))
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.tokens[t.special[i]]) > len(t.tokens[t.special[j]])
	})
}

// VocabSize is the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS is the beginning-of-sequence id, -1 if none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence id, -1 if none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT is the end-of-turn id (from metadata or detected by text), -1 if none.
func (t *Tokenizer) EOT() int32 { return t.eot }

// PAD is the padding id, -1 if none.
func (t *Tokenizer) PAD() int32 { return t.pad }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation (llama.cpp's EOG set: EOS, EOT,
// EOM, FIM pad/repo/file-sep and control texts such as <|im_end|>).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// IsControl reports whether id is a control token (rendered by Piece, usually
// hidden from users).
func (t *Tokenizer) IsControl(id int32) bool {
	return id >= 0 && int(id) < len(t.attrs) && t.attrs[id]&attrControl != 0
}

// TokenID looks a token up by its exact text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// clip shortens long token texts in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
