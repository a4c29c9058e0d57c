// Package bench measures the engine: it writes random-weight models with the
// exact shapes of popular ones (so benchmarks need no download), measures the
// machine's memory bandwidth and FMA peak, and times prefill and decode.
package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"zhiyan/gguf"
	"zhiyan/quantize"
	"zhiyan/tensor"
)

// Shape is the architecture of a model family at one size.
type Shape struct {
	Name       string
	Arch       string
	Layers     int
	Embd       int
	Heads      int
	KVHeads    int
	HeadDim    int
	FFN        int
	Vocab      int
	RopeBase   float32
	RMSEps     float32
	QKVBias    bool // qwen2: biases on q, k and v
	QKNorm     bool // qwen3, hunyuan: RMSNorm of q and k per head
	RopeFreqs  bool // llama3: per-dimension RoPE frequency factors
	ContextLen int
}

// Shapes are the model sizes `zhiyan bench --shape` knows, from the models'
// published configurations; all have tied embeddings.
var Shapes = []Shape{
	{Name: "qwen2.5-0.5b", Arch: "qwen2", Layers: 24, Embd: 896, Heads: 14, KVHeads: 2, HeadDim: 64, FFN: 4864, Vocab: 151936, RopeBase: 1e6, RMSEps: 1e-6, QKVBias: true, ContextLen: 32768},
	{Name: "qwen2.5-1.5b", Arch: "qwen2", Layers: 28, Embd: 1536, Heads: 12, KVHeads: 2, HeadDim: 128, FFN: 8960, Vocab: 151936, RopeBase: 1e6, RMSEps: 1e-6, QKVBias: true, ContextLen: 32768},
	{Name: "qwen3-0.6b", Arch: "qwen3", Layers: 28, Embd: 1024, Heads: 16, KVHeads: 8, HeadDim: 128, FFN: 3072, Vocab: 151936, RopeBase: 1e6, RMSEps: 1e-6, QKNorm: true, ContextLen: 40960},
	{Name: "ernie4.5-0.3b", Arch: "ernie4_5", Layers: 18, Embd: 1024, Heads: 16, KVHeads: 2, HeadDim: 128, FFN: 3072, Vocab: 103424, RopeBase: 5e5, RMSEps: 1e-5, ContextLen: 131072},
	// Hunyuan-0.5B: 24 layers, 8 KV heads of 128 and tied embeddings as
	// published; 16 query heads, FFN 3584 and vocabulary 120818 are the
	// values for which the totals match the published 539.0M parameters,
	// 23.0 % of them embeddings (TestShapeParams). The NTK alpha 1000 is
	// folded into the base as the converter does: 1e4·1000^(128/126).
	{Name: "hunyuan-0.5b", Arch: "hunyuan-dense", Layers: 24, Embd: 1024, Heads: 16, KVHeads: 8, HeadDim: 128, FFN: 3584, Vocab: 120818, RopeBase: 11158840, RMSEps: 1e-5, QKNorm: true, ContextLen: 262144},
	{Name: "llama3.2-1b", Arch: "llama", Layers: 16, Embd: 2048, Heads: 32, KVHeads: 8, HeadDim: 64, FFN: 8192, Vocab: 128256, RopeBase: 5e5, RMSEps: 1e-5, RopeFreqs: true, ContextLen: 131072},
}

// ShapeByName finds a shape.
func ShapeByName(name string) (Shape, error) {
	var names []string
	for _, s := range Shapes {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Shape{}, fmt.Errorf("unknown shape %q (known: %s)", name, strings.Join(names, ", "))
}

type tensorSpec struct {
	name string
	dims []uint64 // ggml order: row length first
	norm bool     // a norm weight: 1 + 0.1·N(0,1) instead of 0.02·N(0,1)
}

func (s Shape) tensors() []tensorSpec {
	C, qDim, kvDim := uint64(s.Embd), uint64(s.Heads*s.HeadDim), uint64(s.KVHeads*s.HeadDim)
	ts := []tensorSpec{
		{name: "token_embd.weight", dims: []uint64{C, uint64(s.Vocab)}},
		{name: "output_norm.weight", dims: []uint64{C}, norm: true},
	}
	if s.RopeFreqs {
		ts = append(ts, tensorSpec{name: "rope_freqs.weight", dims: []uint64{uint64(s.HeadDim / 2)}, norm: true})
	}
	for i := range s.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			tensorSpec{name: p + "attn_norm.weight", dims: []uint64{C}, norm: true},
			tensorSpec{name: p + "attn_q.weight", dims: []uint64{C, qDim}},
			tensorSpec{name: p + "attn_k.weight", dims: []uint64{C, kvDim}},
			tensorSpec{name: p + "attn_v.weight", dims: []uint64{C, kvDim}},
			tensorSpec{name: p + "attn_output.weight", dims: []uint64{qDim, C}},
			tensorSpec{name: p + "ffn_norm.weight", dims: []uint64{C}, norm: true},
			tensorSpec{name: p + "ffn_gate.weight", dims: []uint64{C, uint64(s.FFN)}},
			tensorSpec{name: p + "ffn_up.weight", dims: []uint64{C, uint64(s.FFN)}},
			tensorSpec{name: p + "ffn_down.weight", dims: []uint64{uint64(s.FFN), C}},
		)
		if s.QKVBias {
			ts = append(ts,
				tensorSpec{name: p + "attn_q.bias", dims: []uint64{qDim}},
				tensorSpec{name: p + "attn_k.bias", dims: []uint64{kvDim}},
				tensorSpec{name: p + "attn_v.bias", dims: []uint64{kvDim}},
			)
		}
		if s.QKNorm {
			ts = append(ts,
				tensorSpec{name: p + "attn_q_norm.weight", dims: []uint64{uint64(s.HeadDim)}, norm: true},
				tensorSpec{name: p + "attn_k_norm.weight", dims: []uint64{uint64(s.HeadDim)}, norm: true},
			)
		}
	}
	return ts
}

// Params is the number of weights of the shape.
func (s Shape) Params() uint64 {
	var n uint64
	for _, t := range s.tensors() {
		e := uint64(1)
		for _, d := range t.dims {
			e *= d
		}
		n += e
	}
	return n
}

// Synthesize writes a random-weight GGUF of shape s to path, each tensor in
// the type llama-quantize would choose for ft. progress, if set, gets the
// number of weights written so far and the total.
func Synthesize(s Shape, ft quantize.FileType, path string, seed uint64, progress func(done, total uint64)) error {
	w := gguf.NewWriter()
	a := s.Arch + "."
	for _, kv := range []struct {
		k string
		v any
	}{
		{"general.architecture", s.Arch},
		{"general.name", "zhiyan bench " + s.Name + " " + ft.Name + " (random weights)"},
		{"general.file_type", ft.ID},
		{"general.quantization_version", uint32(2)},
		{a + "context_length", uint32(s.ContextLen)},
		{a + "embedding_length", uint32(s.Embd)},
		{a + "block_count", uint32(s.Layers)},
		{a + "feed_forward_length", uint32(s.FFN)},
		{a + "attention.head_count", uint32(s.Heads)},
		{a + "attention.head_count_kv", uint32(s.KVHeads)},
		{a + "attention.key_length", uint32(s.HeadDim)},
		{a + "attention.value_length", uint32(s.HeadDim)},
		{a + "attention.layer_norm_rms_epsilon", s.RMSEps},
		{a + "rope.freq_base", s.RopeBase},
	} {
		if err := w.Set(kv.k, kv.v); err != nil {
			return err
		}
	}
	if err := setVocab(w, s.Vocab); err != nil {
		return err
	}
	specs := s.tensors()
	total, done := s.Params(), uint64(0)
	for i, spec := range specs {
		typ := tensor.F32
		if len(spec.dims) == 2 {
			typ = ft.TensorType(spec.name, spec.dims, quantize.Model{Layers: s.Layers, Heads: s.Heads, KVHeads: s.KVHeads})
		}
		data, err := randomTensor(spec, typ, seed+uint64(i))
		if err != nil {
			return fmt.Errorf("%s: %w", spec.name, err)
		}
		if err := w.AddTensor(spec.name, typ, spec.dims, data); err != nil {
			return err
		}
		n := spec.dims[0]
		if len(spec.dims) == 2 {
			n *= spec.dims[1]
		}
		done += n
		if progress != nil {
			progress(done, total)
		}
	}
	return w.WriteFile(path)
}

// randomTensor draws the tensor's weights and encodes them, rows split
// across the cores.
func randomTensor(spec tensorSpec, typ tensor.Type, seed uint64) ([]byte, error) {
	cols := int(spec.dims[0])
	rows := 1
	if len(spec.dims) == 2 {
		rows = int(spec.dims[1])
	}
	rowBytes, err := typ.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, rows*rowBytes)
	workers := min(runtime.NumCPU(), rows)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for wi := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := make([]float32, cols)
			for r := wi; r < rows; r += workers {
				// Seeded per row, so the weights do not depend on the core count.
				rng := rand.New(rand.NewPCG(seed, uint64(r)))
				for i := range row {
					if spec.norm {
						row[i] = float32(1 + 0.1*rng.NormFloat64())
					} else {
						row[i] = float32(0.02 * rng.NormFloat64())
					}
				}
				if err := tensor.Quantize(typ, out[r*rowBytes:(r+1)*rowBytes], row); err != nil {
					errs[wi] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setVocab gives the model a byte-level BPE vocabulary of n tokens, so other
// engines (llama.cpp) load the file too: the 256 byte symbols of GPT-2's
// alphabet, one merge, filler tokens, and ChatML's control tokens at the end.
func setVocab(w *gguf.Writer, n int) error {
	tokens := make([]string, 0, n)
	types := make([]int32, 0, n)
	for b := range 256 {
		tokens = append(tokens, string(byteRune(byte(b))))
		types = append(types, 1)
	}
	tokens = append(tokens, "ĠĠ")
	types = append(types, 1)
	control := []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	for len(tokens) < n-len(control) {
		tokens = append(tokens, fmt.Sprintf("[PAD%d]", len(tokens)))
		types = append(types, 5)
	}
	for _, c := range control {
		tokens = append(tokens, c)
		types = append(types, 3)
	}
	for _, kv := range []struct {
		k string
		v any
	}{
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "qwen2"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", []string{"Ġ Ġ"}},
		{"tokenizer.ggml.bos_token_id", uint32(n - 3)},
		{"tokenizer.ggml.eos_token_id", uint32(n - 1)},
		{"tokenizer.ggml.add_bos_token", false},
	} {
		if err := w.Set(kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

// byteRune is GPT-2's printable stand-in for a byte: printable Latin-1
// bytes stand for themselves, the others map to U+0100 onwards in order.
func byteRune(b byte) rune {
	printable := func(c byte) bool {
		return '!' <= c && c <= '~' || 0xA1 <= c && c <= 0xAC || 0xAE <= c
	}
	if printable(b) {
		return rune(b)
	}
	n := 0
	for c := 0; c < int(b); c++ {
		if !printable(byte(c)) {
			n++
		}
	}
	return rune(256 + n)
}
