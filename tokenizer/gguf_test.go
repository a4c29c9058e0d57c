package tokenizer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"testing"

	"zhiyan/internal/golden"
)

// This file holds a minimal, test-only GGUF metadata reader: enough to pull the
// tokenizer keys out of the golden files without importing the gguf package
// (written separately). Tensors are never read.

type ggufReader struct {
	r   *bufio.Reader
	off int64
}

func (g *ggufReader) read(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(g.r, b); err != nil {
		return nil, fmt.Errorf("offset %d: %w", g.off, err)
	}
	g.off += int64(n)
	return b, nil
}

func (g *ggufReader) u32() (uint32, error) {
	b, err := g.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (g *ggufReader) u64() (uint64, error) {
	b, err := g.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (g *ggufReader) str() (string, error) {
	n, err := g.u64()
	if err != nil {
		return "", err
	}
	if n > 1<<30 {
		return "", fmt.Errorf("offset %d: string length %d too large", g.off, n)
	}
	b, err := g.read(int(n))
	return string(b), err
}

// scalar reads one value of a GGUF scalar type and returns it as a Go value:
// integers as int64/uint64, floats as float64, bool, string.
func (g *ggufReader) scalar(typ uint32) (any, error) {
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	if typ == 8 {
		return g.str()
	}
	n, ok := sizes[typ]
	if !ok {
		return nil, fmt.Errorf("offset %d: unknown type %d", g.off, typ)
	}
	b, err := g.read(n)
	if err != nil {
		return nil, err
	}
	switch typ {
	case 0:
		return uint64(b[0]), nil
	case 1:
		return int64(int8(b[0])), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 3:
		return int64(int16(binary.LittleEndian.Uint16(b))), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	case 5:
		return int64(int32(binary.LittleEndian.Uint32(b))), nil
	case 6:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case 7:
		return b[0] != 0, nil
	case 10:
		return binary.LittleEndian.Uint64(b), nil
	case 11:
		return int64(binary.LittleEndian.Uint64(b)), nil
	default: // 12
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
}

// readGGUFMetadata returns every KV of a GGUF file; arrays become []any.
func readGGUFMetadata(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &ggufReader{r: bufio.NewReaderSize(f, 1<<20)}
	magic, err := g.read(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != "GGUF" {
		return nil, fmt.Errorf("%s: bad magic %q", path, magic)
	}
	if _, err := g.u32(); err != nil { // version
		return nil, err
	}
	if _, err := g.u64(); err != nil { // tensor count
		return nil, err
	}
	nkv, err := g.u64()
	if err != nil {
		return nil, err
	}
	kv := make(map[string]any, nkv)
	for i := uint64(0); i < nkv; i++ {
		key, err := g.str()
		if err != nil {
			return nil, err
		}
		typ, err := g.u32()
		if err != nil {
			return nil, err
		}
		if typ != 9 {
			v, err := g.scalar(typ)
			if err != nil {
				return nil, fmt.Errorf("%s: key %s: %w", path, key, err)
			}
			kv[key] = v
			continue
		}
		et, err := g.u32()
		if err != nil {
			return nil, err
		}
		n, err := g.u64()
		if err != nil {
			return nil, err
		}
		if n > 1<<24 {
			return nil, fmt.Errorf("%s: key %s: array length %d too large", path, key, n)
		}
		arr := make([]any, n)
		for j := range arr {
			if arr[j], err = g.scalar(et); err != nil {
				return nil, fmt.Errorf("%s: key %s[%d]: %w", path, key, j, err)
			}
		}
		kv[key] = arr
	}
	return kv, nil
}

// vocabFromGGUF builds a Vocab from the tokenizer.ggml.* keys, the way the
// lead's adapter is expected to.
func vocabFromGGUF(tb testing.TB, rel string) *Vocab {
	tb.Helper()
	kv, err := readGGUFMetadata(golden.Path(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	v := &Vocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1, EOM: -1}
	v.Model, _ = kv["tokenizer.ggml.model"].(string)
	v.Pre, _ = kv["tokenizer.ggml.pre"].(string)
	for _, t := range asSlice(kv["tokenizer.ggml.tokens"]) {
		v.Tokens = append(v.Tokens, t.(string))
	}
	for _, t := range asSlice(kv["tokenizer.ggml.token_type"]) {
		v.Types = append(v.Types, int32(t.(int64)))
	}
	for _, t := range asSlice(kv["tokenizer.ggml.scores"]) {
		v.Scores = append(v.Scores, float32(t.(float64)))
	}
	for _, t := range asSlice(kv["tokenizer.ggml.merges"]) {
		v.Merges = append(v.Merges, t.(string))
	}
	ids := map[string]*int32{
		"bos_token_id": &v.BOS, "eos_token_id": &v.EOS, "unknown_token_id": &v.UNK,
		"padding_token_id": &v.PAD, "eot_token_id": &v.EOT, "eom_token_id": &v.EOM,
	}
	for k, p := range ids {
		if x, ok := kv["tokenizer.ggml."+k]; ok {
			*p = int32(x.(uint64))
		}
	}
	if x, ok := kv["tokenizer.ggml.add_bos_token"]; ok {
		v.AddBOS, v.AddBOSSet = x.(bool), true
	}
	if x, ok := kv["tokenizer.ggml.add_eos_token"]; ok {
		v.AddEOS, v.AddEOSSet = x.(bool), true
	}
	if x, ok := kv["tokenizer.ggml.add_space_prefix"]; ok {
		v.AddSpacePrefix, v.AddSpacePrefixSet = x.(bool), true
	}
	v.ModelName, _ = kv["general.name"].(string)
	return v
}

func asSlice(x any) []any {
	s, _ := x.([]any)
	return s
}
