package quantize

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// shape is a dense transformer as llama.cpp names its tensors.
type shape struct {
	layers, embd, ffn, kvDim, vocab int
	tied                            bool // no output.weight: token_embd is the head
	heads, kvHeads                  int
}

var (
	// Qwen2.5-0.5B: 896-wide rows do not fill 256-blocks, so most K-quant
	// choices fall back to legacy types.
	qwen05 = shape{layers: 24, embd: 896, ffn: 4864, kvDim: 128, vocab: 151936, tied: true, heads: 14, kvHeads: 2}
	// The golden mini models (llama-mini is tied, qwen2-mini is not).
	miniTied   = shape{layers: 2, embd: 256, ffn: 768, kvDim: 128, vocab: 4000, tied: true, heads: 4, kvHeads: 2}
	miniUntied = shape{layers: 2, embd: 256, ffn: 768, kvDim: 128, vocab: 4003, tied: false, heads: 4, kvHeads: 2}
	miniGQA4   = shape{layers: 2, embd: 256, ffn: 768, kvDim: 64, vocab: 4000, tied: true, heads: 4, kvHeads: 1}
)

func (s shape) tensors() []gguf.TensorInfo {
	d := func(dims ...int) []uint64 {
		u := make([]uint64, len(dims))
		for i, v := range dims {
			u[i] = uint64(v)
		}
		return u
	}
	ts := []gguf.TensorInfo{{Name: "token_embd.weight", Dims: d(s.embd, s.vocab)}}
	for l := range s.layers {
		for _, t := range []struct {
			name string
			dims []uint64
		}{
			{"attn_norm.weight", d(s.embd)},
			{"attn_q.weight", d(s.embd, s.embd)},
			{"attn_q.bias", d(s.embd)},
			{"attn_k.weight", d(s.embd, s.kvDim)},
			{"attn_v.weight", d(s.embd, s.kvDim)},
			{"attn_output.weight", d(s.embd, s.embd)},
			{"ffn_norm.weight", d(s.embd)},
			{"ffn_gate.weight", d(s.embd, s.ffn)},
			{"ffn_up.weight", d(s.embd, s.ffn)},
			{"ffn_down.weight", d(s.ffn, s.embd)},
		} {
			ts = append(ts, gguf.TensorInfo{Name: fmt.Sprintf("blk.%d.%s", l, t.name), Dims: t.dims})
		}
	}
	ts = append(ts, gguf.TensorInfo{Name: "output_norm.weight", Dims: d(s.embd)})
	if !s.tied {
		ts = append(ts, gguf.TensorInfo{Name: "output.weight", Dims: d(s.embd, s.vocab)})
	}
	for i := range ts {
		ts[i].Type = tensor.F32
	}
	return ts
}

func (s shape) plan(ft FileType) *plan {
	return &plan{ft: ft, layers: s.layers, hasHead: !s.tied, gqa: s.heads / s.kvHeads}
}

// byLayer is a tensor kind's type: base, or alt in the listed layers.
type byLayer struct {
	base   tensor.Type
	layers []int
	alt    tensor.Type
}

func (b byLayer) at(l int) tensor.Type {
	if slices.Contains(b.layers, l) {
		return b.alt
	}
	return b.base
}

func all(t tensor.Type) byLayer { return byLayer{base: t} }

// policy is the expected type of every tensor kind of a model. head is
// output.weight, or token_embd when the embeddings are tied; embd is an
// untied token_embd.
type policy struct {
	head, embd                 tensor.Type
	q, k, v, o, gate, up, down byLayer
}

const (
	F16  = tensor.F16
	Q4_0 = tensor.Q4_0
	Q5_0 = tensor.Q5_0
	Q5_1 = tensor.Q5_1
	Q8_0 = tensor.Q8_0
	Q2_K = tensor.Q2_K
	Q3_K = tensor.Q3_K
	Q4_K = tensor.Q4_K
	Q5_K = tensor.Q5_K
	Q6_K = tensor.Q6_K
)

// Layers llama.cpp's use_more_bits picks: the first and last eighth and every
// third layer between, i.e. for 24 layers 0-2, 5, 8, …, 20, 21-23; for 2 layers
// only layer 1.
var (
	moreBits24 = []int{0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23}
	moreBits2  = []int{1}
)

// The expected types were worked out by hand from llama_tensor_get_type_impl
// and tensor_type_fallback in llama.cpp's src/llama-quant.cpp. For Qwen2.5-0.5B
// Q4_K_M they are what llama-quantize produced (attn_q/k/o and ffn_gate/up
// Q5_0, attn_v half Q5_0 half Q8_0, token_embd Q8_0, ffn_down Q4_K/Q6_K).
var policyTests = []struct {
	shape shape
	ft    string
	want  policy
}{
	{qwen05, "Q4_K_M", policy{
		head: Q8_0, q: all(Q5_0), k: all(Q5_0), o: all(Q5_0), gate: all(Q5_0), up: all(Q5_0),
		v:    byLayer{Q5_0, moreBits24, Q8_0}, // Q4_K/Q6_K fall back to Q5_0/Q8_0 on 896-rows
		down: byLayer{Q4_K, moreBits24, Q6_K}, // 4864 = 19·256
	}},
	{qwen05, "Q5_K_M", policy{
		head: Q8_0, q: all(Q5_1), k: all(Q5_1), o: all(Q5_1), gate: all(Q5_1), up: all(Q5_1),
		v:    byLayer{Q5_1, moreBits24, Q8_0},
		down: byLayer{Q5_K, moreBits24, Q6_K},
	}},
	{qwen05, "Q4_K_S", policy{
		head: Q8_0, q: all(Q5_0), k: all(Q5_0), o: all(Q5_0), gate: all(Q5_0), up: all(Q5_0),
		v:    byLayer{Q5_0, []int{0, 1, 2, 3}, Q5_1}, // first 4 attn_v Q5_K → Q5_1
		down: byLayer{Q4_K, []int{0, 1, 2}, Q5_K},    // first eighth
	}},
	{qwen05, "Q3_K_M", policy{
		head: Q8_0, q: all(Q4_0), k: all(Q4_0), gate: all(Q4_0), up: all(Q4_0),
		o:    all(Q5_0),                        // Q4_K → Q5_0
		v:    byLayer{Q5_0, []int{0, 1}, Q5_1}, // Q4_K, first two Q5_K
		down: byLayer{Q4_K, []int{0}, Q5_K},    // first sixteenth Q5_K, others Q4_K
	}},
	{qwen05, "Q2_K", policy{
		head: Q8_0, q: all(Q4_0), k: all(Q4_0), gate: all(Q4_0), up: all(Q4_0),
		o:    all(Q4_0), // Q3_K → Q4_0
		v:    all(Q5_0), // n_gqa = 7 ≥ 4: Q4_K → Q5_0
		down: all(Q3_K),
	}},
	{qwen05, "Q6_K", policy{
		head: Q8_0, q: all(Q8_0), k: all(Q8_0), v: all(Q8_0), o: all(Q8_0), gate: all(Q8_0), up: all(Q8_0),
		down: all(Q6_K),
	}},
	{qwen05, "Q8_0", policy{
		head: Q8_0, q: all(Q8_0), k: all(Q8_0), v: all(Q8_0), o: all(Q8_0), gate: all(Q8_0), up: all(Q8_0), down: all(Q8_0),
	}},
	{qwen05, "Q4_0", policy{
		head: Q8_0, // Q6_K → Q8_0
		q:    all(Q4_0), k: all(Q4_0), v: all(Q4_0), o: all(Q4_0), gate: all(Q4_0), up: all(Q4_0), down: all(Q4_0),
	}},
	{qwen05, "F16", policy{
		head: F16, q: all(F16), k: all(F16), v: all(F16), o: all(F16), gate: all(F16), up: all(F16), down: all(F16),
	}},

	{miniTied, "Q4_K_M", policy{
		head: Q6_K, q: all(Q4_K), k: all(Q4_K), o: all(Q4_K), gate: all(Q4_K), up: all(Q4_K),
		v: byLayer{Q4_K, moreBits2, Q6_K}, down: byLayer{Q4_K, moreBits2, Q6_K},
	}},
	{miniUntied, "Q4_K_M", policy{
		head: Q6_K, embd: Q4_K, q: all(Q4_K), k: all(Q4_K), o: all(Q4_K), gate: all(Q4_K), up: all(Q4_K),
		v: byLayer{Q4_K, moreBits2, Q6_K}, down: byLayer{Q4_K, moreBits2, Q6_K},
	}},
	{miniUntied, "Q5_K_M", policy{
		head: Q6_K, embd: Q5_K, q: all(Q5_K), k: all(Q5_K), o: all(Q5_K), gate: all(Q5_K), up: all(Q5_K),
		v: byLayer{Q5_K, moreBits2, Q6_K}, down: byLayer{Q5_K, moreBits2, Q6_K},
	}},
	{miniTied, "Q4_K_S", policy{
		head: Q6_K, q: all(Q4_K), k: all(Q4_K), o: all(Q4_K), gate: all(Q4_K), up: all(Q4_K),
		v:    all(Q5_K), // layers < 4
		down: all(Q4_K), // layers < 2/8 = 0: none
	}},
	{miniTied, "Q3_K_M", policy{
		head: Q6_K, q: all(Q3_K), k: all(Q3_K), gate: all(Q3_K), up: all(Q3_K),
		o:    all(Q4_K),
		v:    all(Q5_K), // layers < 2
		down: all(Q4_K), // layers < 2/16 = 0 get Q5_K: none; the rest Q4_K
	}},
	{miniTied, "Q2_K", policy{
		head: Q6_K, q: all(Q2_K), k: all(Q2_K), gate: all(Q2_K), up: all(Q2_K),
		o: all(Q3_K), v: all(Q3_K), down: all(Q3_K), // n_gqa = 2
	}},
	{miniGQA4, "Q2_K", policy{
		head: Q6_K, q: all(Q2_K), k: all(Q2_K), gate: all(Q2_K), up: all(Q2_K),
		o: all(Q3_K), v: all(Q4_K), down: all(Q3_K), // n_gqa = 4
	}},
	{miniUntied, "Q2_K", policy{
		head: Q6_K, embd: Q2_K, q: all(Q2_K), k: all(Q2_K), gate: all(Q2_K), up: all(Q2_K),
		o: all(Q3_K), v: all(Q3_K), down: all(Q3_K),
	}},
	{miniTied, "Q6_K", policy{
		head: Q6_K, q: all(Q6_K), k: all(Q6_K), v: all(Q6_K), o: all(Q6_K), gate: all(Q6_K), up: all(Q6_K), down: all(Q6_K),
	}},
	{miniUntied, "Q8_0", policy{
		head: Q8_0, embd: Q8_0, q: all(Q8_0), k: all(Q8_0), v: all(Q8_0), o: all(Q8_0), gate: all(Q8_0), up: all(Q8_0), down: all(Q8_0),
	}},
	{miniTied, "Q4_0", policy{
		head: Q6_K, q: all(Q4_0), k: all(Q4_0), v: all(Q4_0), o: all(Q4_0), gate: all(Q4_0), up: all(Q4_0), down: all(Q4_0),
	}},
	{miniUntied, "Q4_0", policy{
		head: Q6_K, embd: Q4_0, q: all(Q4_0), k: all(Q4_0), v: all(Q4_0), o: all(Q4_0), gate: all(Q4_0), up: all(Q4_0), down: all(Q4_0),
	}},
}

func (w policy) typeOf(name string) tensor.Type {
	var layer int
	var kind string
	if _, err := fmt.Sscanf(name, "blk.%d.%s", &layer, &kind); err != nil {
		kind = name
	}
	switch kind {
	case "output.weight":
		return w.head
	case "token_embd.weight":
		if w.embd == 0 { // tied
			return w.head
		}
		return w.embd
	case "attn_q.weight":
		return w.q.at(layer)
	case "attn_k.weight":
		return w.k.at(layer)
	case "attn_v.weight":
		return w.v.at(layer)
	case "attn_output.weight":
		return w.o.at(layer)
	case "ffn_gate.weight":
		return w.gate.at(layer)
	case "ffn_up.weight":
		return w.up.at(layer)
	case "ffn_down.weight":
		return w.down.at(layer)
	}
	return tensor.F32 // norms and biases are not converted
}

func TestTypeForMatchesLlamaQuantize(t *testing.T) {
	for _, tt := range policyTests {
		name := fmt.Sprintf("%dx%d/tied=%v/gqa=%d/%s", tt.shape.layers, tt.shape.embd, tt.shape.tied, tt.shape.heads/tt.shape.kvHeads, tt.ft)
		t.Run(name, func(t *testing.T) {
			ft, err := ParseFileType(tt.ft)
			if err != nil {
				t.Fatal(err)
			}
			p := tt.shape.plan(ft)
			for _, ti := range tt.shape.tensors() {
				if got, want := p.typeFor(&ti), tt.want.typeOf(ti.Name); got != want {
					t.Errorf("typeFor(%s %v) = %s, want %s", ti.Name, ti.Dims, got, want)
				}
			}
		})
	}
}

// TestTypeForPure: --pure gives every matrix the base type, token_embd and
// output included, falling back only where rows do not fill blocks.
func TestTypeForPure(t *testing.T) {
	for _, tt := range []struct {
		ft    string
		shape shape
		want  tensor.Type // for every matrix
		down  tensor.Type // ffn_down (rows of ffn, not embd, elements)
	}{
		{"Q4_K_M", miniUntied, Q4_K, Q4_K},
		{"Q2_K", miniTied, Q2_K, Q2_K},
		{"Q4_0", miniTied, Q4_0, Q4_0},
		{"F16", miniTied, F16, F16},
		{"Q4_K_M", qwen05, Q5_0, Q4_K},
		{"Q6_K", qwen05, Q8_0, Q6_K},
		{"Q3_K_M", qwen05, Q4_0, Q3_K},
	} {
		ft, err := ParseFileType(tt.ft)
		if err != nil {
			t.Fatal(err)
		}
		p := tt.shape.plan(ft)
		p.pure = true
		for _, ti := range tt.shape.tensors() {
			want := tt.want
			switch {
			case len(ti.Dims) == 1:
				want = tensor.F32
			case strings.HasSuffix(ti.Name, "ffn_down.weight"):
				want = tt.down
			}
			if got := p.typeFor(&ti); got != want {
				t.Errorf("%s pure: typeFor(%s %v) = %s, want %s", tt.ft, ti.Name, ti.Dims, got, want)
			}
		}
	}
}

func TestFallback(t *testing.T) {
	for _, tt := range []struct {
		t    tensor.Type
		cols int
		want tensor.Type
	}{
		{Q4_K, 512, Q4_K},
		{Q2_K, 896, Q4_0}, // llama.cpp: Q4_0 (before 2025 IQ4_NL, which we do not produce)
		{Q3_K, 896, Q4_0},
		{Q4_K, 896, Q5_0},
		{Q5_K, 896, Q5_1},
		{Q6_K, 896, Q8_0},
		{Q6_K, 100, F16}, // not even 32-blocks
		{Q4_0, 100, F16},
		{Q8_0, 96, Q8_0},
		{F16, 7, F16},
	} {
		if got := fallback(tt.t, tt.cols); got != tt.want {
			t.Errorf("fallback(%s, %d) = %s, want %s", tt.t, tt.cols, got, tt.want)
		}
	}
}

// TestTypeForKeepsNonMatrices: vectors, norms and non-weights are copied.
func TestTypeForKeepsNonMatrices(t *testing.T) {
	ft, _ := ParseFileType("Q4_K_M")
	for _, pure := range []bool{false, true} {
		p := &plan{ft: ft, layers: 2, pure: pure}
		for _, ti := range []gguf.TensorInfo{
			{Name: "blk.0.attn_norm.weight", Dims: []uint64{256}, Type: tensor.F32},
			{Name: "blk.0.attn_q.bias", Dims: []uint64{256}, Type: tensor.F32},
			{Name: "blk.0.attn_q.bias", Dims: []uint64{256, 2}, Type: tensor.F32},
			{Name: "rope_freqs.weight", Dims: []uint64{32}, Type: tensor.F32},
			{Name: "blk.0.ffn_norm.weight", Dims: []uint64{256}, Type: tensor.F16},
			{Name: "blk.0.ffn_gate_inp.weight", Dims: []uint64{256, 8}, Type: tensor.F32},
		} {
			if got := p.typeFor(&ti); got != ti.Type {
				t.Errorf("pure=%v: typeFor(%s %v %s) = %s, want it unchanged", pure, ti.Name, ti.Dims, ti.Type, got)
			}
		}
	}
}

func TestParseFileType(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		id       uint32
	}{
		{"Q4_K_M", "Q4_K_M", 15},
		{"q4_k", "Q4_K_M", 15},
		{"Q5_K", "Q5_K_M", 17},
		{"Q3_K", "Q3_K_M", 12},
		{"q8_0", "Q8_0", 7},
		{"bf16", "BF16", 32},
		{"f32", "F32", 0},
		{"Q2_K", "Q2_K", 10},
		{"Q6_K", "Q6_K", 18},
	} {
		ft, err := ParseFileType(tt.in)
		if err != nil || ft.Name != tt.want || ft.ID != tt.id {
			t.Errorf("ParseFileType(%q) = %s %d, %v; want %s %d", tt.in, ft.Name, ft.ID, err, tt.want, tt.id)
		}
	}
	for _, in := range []string{"", "Q4_K_L", "IQ4_NL", "Q4"} {
		if ft, err := ParseFileType(in); err == nil {
			t.Errorf("ParseFileType(%q) = %s, want an error", in, ft.Name)
		}
	}
}

func TestTensorTypeMatchesPlan(t *testing.T) {
	for _, name := range []string{"Q4_K_M", "Q2_K"} {
		ft, _ := ParseFileType(name)
		for _, s := range []shape{qwen05, miniUntied} {
			p := s.plan(ft)
			m := Model{Layers: s.layers, Heads: s.heads, KVHeads: s.kvHeads, HasHead: !s.tied}
			for _, ti := range s.tensors() {
				if got, want := ft.TensorType(ti.Name, ti.Dims, m), p.typeFor(&ti); got != want {
					t.Errorf("%s: TensorType(%s) = %s, want %s", name, ti.Name, got, want)
				}
			}
		}
	}
}
