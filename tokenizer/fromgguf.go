package tokenizer

import (
	"fmt"

	"zhiyan/gguf"
)

// FromGGUF builds the tokenizer described by a GGUF file's tokenizer.ggml.*
// metadata.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v := &Vocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1}
	var ok bool
	if v.Model, ok = f.String("tokenizer.ggml.model"); !ok {
		return nil, fmt.Errorf("tokenizer: tokenizer.ggml.model is missing")
	}
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	if v.Tokens, ok = f.Strings("tokenizer.ggml.tokens"); !ok {
		return nil, fmt.Errorf("tokenizer: tokenizer.ggml.tokens is missing or not an array of strings")
	}
	if _, present := f.Lookup("tokenizer.ggml.token_type"); present {
		if v.Types, ok = f.Int32s("tokenizer.ggml.token_type"); !ok {
			return nil, fmt.Errorf("tokenizer: tokenizer.ggml.token_type is not an integer array")
		}
	}
	if _, present := f.Lookup("tokenizer.ggml.scores"); present {
		if v.Scores, ok = f.Float32s("tokenizer.ggml.scores"); !ok {
			return nil, fmt.Errorf("tokenizer: tokenizer.ggml.scores is not a FLOAT32 array")
		}
	}
	if _, present := f.Lookup("tokenizer.ggml.merges"); present {
		if v.Merges, ok = f.Strings("tokenizer.ggml.merges"); !ok {
			return nil, fmt.Errorf("tokenizer: tokenizer.ggml.merges is not an array of strings")
		}
	}
	for _, id := range []struct {
		key string
		dst *int32
	}{
		{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK},
		{"padding_token_id", &v.PAD}, {"eot_token_id", &v.EOT}, {"eom_token_id", &v.EOM},
	} {
		key := "tokenizer.ggml." + id.key
		if _, present := f.Lookup(key); !present {
			continue
		}
		n, ok := f.Int(key)
		if !ok || n < 0 || n >= int64(len(v.Tokens)) {
			return nil, fmt.Errorf("tokenizer: %s is not a token id of the %d-token vocabulary", key, len(v.Tokens))
		}
		*id.dst = int32(n)
	}
	v.AddBOS, v.AddBOSSet = f.Bool("tokenizer.ggml.add_bos_token")
	v.AddEOS, v.AddEOSSet = f.Bool("tokenizer.ggml.add_eos_token")
	v.AddSpacePrefix, v.AddSpacePrefixSet = f.Bool("tokenizer.ggml.add_space_prefix")
	v.ModelName, _ = f.String("general.name")
	return New(v)
}
