package train

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"zhiyan/gguf"
	"zhiyan/tokenizer"
)

// Vocab is a trained vocabulary in the form GGUF stores it
// (tokenizer.ggml.*), so an exported model tokenizes as it was trained. Two
// kinds are built here:
//
//   - characters: a SentencePiece ("llama") vocabulary of single characters
//     with no merges, no space prefix and no BOS; each character of the text
//     is one token, a character outside the vocabulary is UNK.
//   - byte-level BPE: a "gpt2" vocabulary of the 256 bytes, learned merges
//     and special tokens, pre-tokenized like Qwen2.
type Vocab struct {
	Model  string    `json:"model"`            // "llama" (characters) or "gpt2" (byte-level BPE)
	Pre    string    `json:"pre,omitempty"`    // pre-tokenizer of a gpt2 vocabulary
	Tokens []string  `json:"tokens"`           // the id is the index
	Types  []int32   `json:"types"`            // tokenizer token types (1 normal, 2 unknown, 3 control, 6 byte)
	Scores []float32 `json:"scores,omitempty"` // SentencePiece scores
	Merges []string  `json:"merges,omitempty"` // BPE merges "left right", by rank
	BOS    int32     `json:"bos"`              // -1 when there is none
	EOS    int32     `json:"eos"`
	UNK    int32     `json:"unk"`

	chars map[rune]int32 // character vocabularies: the id of each character
	tok   *tokenizer.Tokenizer
}

// Special token texts of the vocabularies built here.
const (
	TokUNK       = "<unk>"
	TokBOS       = "<s>"
	TokEOS       = "</s>"
	TokEndOfText = "<|endoftext|>"
)

// charSpace is how SentencePiece writes a space in a token.
const charSpace = "\u2581"

// CharVocab builds a character vocabulary from text: the specials first (at
// ids 0, 1, …; "<unk>" must be among them), then the maxChars most frequent
// characters (all when maxChars ≤ 0), most frequent first, ties by code
// point. Special texts "<s>" and "</s>" become BOS and EOS.
func CharVocab(text string, maxChars int, specials []string) (*Vocab, error) {
	if !slices.Contains(specials, TokUNK) {
		return nil, fmt.Errorf("train: a character vocabulary needs %q among its special tokens", TokUNK)
	}
	counts := map[rune]int{}
	for _, r := range text {
		counts[r]++
	}
	type rc struct {
		r rune
		n int
	}
	var all []rc
	for r, n := range counts {
		// U+2581 is SentencePiece's space: as a token text it would decode
		// to a space. The replacement rune is what invalid UTF-8 reads as.
		if string(r) == charSpace || r == utf8.RuneError {
			continue
		}
		all = append(all, rc{r, n})
	}
	slices.SortFunc(all, func(a, b rc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.r, b.r)) })
	if maxChars > 0 && len(all) > maxChars {
		all = all[:maxChars]
	}
	v := &Vocab{Model: "llama", BOS: -1, EOS: -1, UNK: -1}
	for _, s := range specials {
		if slices.Contains(v.Tokens, s) {
			return nil, fmt.Errorf("train: special token %q given twice", s)
		}
		id := int32(len(v.Tokens))
		typ := int32(tokenizer.TypeControl)
		switch s {
		case TokUNK:
			v.UNK, typ = id, tokenizer.TypeUnknown
		case TokBOS:
			v.BOS = id
		case TokEOS:
			v.EOS = id
		}
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, typ)
		v.Scores = append(v.Scores, 0)
	}
	for i, c := range all {
		text := string(c.r)
		if c.r == ' ' {
			text = charSpace
		}
		if slices.Contains(specials, text) {
			continue
		}
		v.Tokens = append(v.Tokens, text)
		v.Types = append(v.Types, tokenizer.TypeNormal)
		v.Scores = append(v.Scores, -float32(i))
	}
	if err := v.init(); err != nil {
		return nil, err
	}
	return v, nil
}

// IsChars reports whether v is a character vocabulary.
func (v *Vocab) IsChars() bool { return v.Model == "llama" }

// ID returns the id of the token whose text is text.
func (v *Vocab) ID(text string) (int32, bool) {
	i := slices.Index(v.Tokens, text)
	return int32(i), i >= 0
}

// Size is the number of tokens.
func (v *Vocab) Size() int { return len(v.Tokens) }

// init builds the tokenizer (checking the vocabulary as the engine will)
// and, for characters, the character table.
func (v *Vocab) init() error {
	tv := v.tokenizerVocab()
	tok, err := tokenizer.New(tv)
	if err != nil {
		return fmt.Errorf("train: vocabulary: %w", err)
	}
	v.tok = tok
	if !v.IsChars() {
		return nil
	}
	if v.UNK < 0 {
		return errors.New("train: a character vocabulary needs an unknown token")
	}
	v.chars = make(map[rune]int32, len(v.Tokens))
	for id, text := range v.Tokens {
		if v.Types[id] != tokenizer.TypeNormal {
			continue
		}
		if text == charSpace {
			text = " "
		}
		r, n := utf8.DecodeRuneInString(text)
		if n != len(text) || r == utf8.RuneError {
			return fmt.Errorf("train: token %d %q of a character vocabulary is not one character", id, text)
		}
		v.chars[r] = int32(id)
	}
	return nil
}

func (v *Vocab) tokenizerVocab() *tokenizer.Vocab {
	tv := &tokenizer.Vocab{
		Model: v.Model, Pre: v.Pre, Tokens: v.Tokens, Types: v.Types, Scores: v.Scores, Merges: v.Merges,
		BOS: v.BOS, EOS: v.EOS, UNK: v.UNK, PAD: -1, EOT: -1, EOM: -1,
		AddBOSSet: true, AddEOSSet: true,
	}
	if v.IsChars() {
		tv.AddSpacePrefixSet = true // and false: text is taken as it is
	}
	return tv
}

// Tokenizer is the engine's tokenizer for this vocabulary.
func (v *Vocab) Tokenizer() *tokenizer.Tokenizer { return v.tok }

// Encode returns the token ids of text for training. Special-token texts
// are not parsed. A character vocabulary maps each character to one id
// (UNK for unknown ones); the engine's tokenizer gives the same ids except
// for unknown characters, which it splits into one UNK per byte.
func (v *Vocab) Encode(text string) []int32 {
	if !v.IsChars() {
		return v.tok.Encode(text, false, false)
	}
	ids := make([]int32, 0, len(text)/2)
	for _, r := range text {
		id, ok := v.chars[r]
		if !ok {
			id = v.UNK
		}
		ids = append(ids, id)
	}
	return ids
}

// Decode returns the text of ids.
func (v *Vocab) Decode(ids []int32) string { return v.tok.Decode(ids) }

// setGGUF writes the vocabulary's tokenizer.ggml.* entries.
func (v *Vocab) setGGUF(w *gguf.Writer) error {
	set := func(k string, val any) error { return w.Set("tokenizer.ggml."+k, val) }
	errs := []error{
		set("model", v.Model),
		set("tokens", v.Tokens),
		set("token_type", v.Types),
		set("add_bos_token", false),
		set("add_eos_token", false),
	}
	if v.Pre != "" {
		errs = append(errs, set("pre", v.Pre))
	}
	if v.Scores != nil {
		errs = append(errs, set("scores", v.Scores))
	}
	if v.Merges != nil {
		errs = append(errs, set("merges", v.Merges))
	}
	if v.IsChars() {
		errs = append(errs, set("add_space_prefix", false))
	}
	for _, id := range []struct {
		key string
		id  int32
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK}} {
		if id.id >= 0 {
			errs = append(errs, set(id.key, uint32(id.id)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("train: tokenizer metadata: %w", err)
	}
	return nil
}

// SaveVocab writes v as a GGUF file holding only the tokenizer, which
// LoadVocab and `zhiyan train --vocab` read.
func SaveVocab(path string, v *Vocab) error {
	w := gguf.NewWriter()
	if err := w.Set("general.type", "vocab"); err != nil {
		return err
	}
	if err := v.setGGUF(w); err != nil {
		return err
	}
	return w.WriteFile(path)
}

// LoadVocab reads the tokenizer of a GGUF file (a saved vocabulary or a
// model).
func LoadVocab(path string) (*Vocab, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := vocabFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func vocabFromGGUF(f *gguf.File) (*Vocab, error) {
	// The engine's reader checks the metadata first, with its messages.
	if _, err := tokenizer.FromGGUF(f); err != nil {
		return nil, err
	}
	v := &Vocab{BOS: -1, EOS: -1, UNK: -1}
	v.Model, _ = f.String("tokenizer.ggml.model")
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	v.Tokens, _ = f.Strings("tokenizer.ggml.tokens")
	v.Types, _ = f.Int32s("tokenizer.ggml.token_type")
	v.Scores, _ = f.Float32s("tokenizer.ggml.scores")
	v.Merges, _ = f.Strings("tokenizer.ggml.merges")
	if v.Types == nil {
		v.Types = make([]int32, len(v.Tokens))
		for i := range v.Types {
			v.Types[i] = tokenizer.TypeNormal
		}
	}
	for _, id := range []struct {
		key string
		dst *int32
	}{{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK}} {
		if n, ok := f.Int("tokenizer.ggml." + id.key); ok {
			*id.dst = int32(n)
		}
	}
	if v.Model != "llama" && v.Model != "gpt2" {
		return nil, fmt.Errorf("train: tokenizer model %q is neither characters (llama) nor BPE (gpt2)", v.Model)
	}
	if add, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok && add || v.Model == "llama" && !ok {
		return nil, errors.New("train: vocabularies that add BOS are not supported for training")
	}
	if v.Model == "llama" {
		for id, text := range v.Tokens {
			if v.Types[id] == tokenizer.TypeNormal && utf8.RuneCountInString(strings.ReplaceAll(text, charSpace, " ")) != 1 {
				return nil, fmt.Errorf("train: SentencePiece token %d %q is not one character; only character vocabularies are supported", id, text)
			}
		}
	}
	if err := v.init(); err != nil {
		return nil, err
	}
	return v, nil
}
