// Package quantize converts a GGUF model's weights to other tensor types,
// choosing per tensor as llama.cpp's llama-quantize does for its file types
// (Q4_K_M keeps more bits in attn_v and ffn_down, the output head gets Q6_K,
// K-quants fall back to legacy types on rows that do not fill 256-blocks).
package quantize

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// FileType is a llama.cpp file type: a default tensor type and the rules
// that deviate from it.
type FileType struct {
	Name string
	ID   uint32 // llama_ftype, stored as general.file_type
	Base tensor.Type
}

// FileTypes lists the targets `zhiyan quantize` accepts.
var FileTypes = []FileType{
	{"F32", 0, tensor.F32},
	{"F16", 1, tensor.F16},
	{"BF16", 32, tensor.BF16},
	{"Q4_0", 2, tensor.Q4_0},
	{"Q4_1", 3, tensor.Q4_1},
	{"Q8_0", 7, tensor.Q8_0},
	{"Q5_0", 8, tensor.Q5_0},
	{"Q5_1", 9, tensor.Q5_1},
	{"Q2_K", 10, tensor.Q2_K},
	{"Q3_K_M", 12, tensor.Q3_K},
	{"Q4_K_S", 14, tensor.Q4_K},
	{"Q4_K_M", 15, tensor.Q4_K},
	{"Q5_K_S", 16, tensor.Q5_K},
	{"Q5_K_M", 17, tensor.Q5_K},
	{"Q6_K", 18, tensor.Q6_K},
}

// ParseFileType finds a file type by name, case-insensitively; "Q4_K" and
// "Q5_K" mean their _M variants, "Q3_K" Q3_K_M, as in llama-quantize.
func ParseFileType(name string) (FileType, error) {
	n := strings.ToUpper(name)
	switch n {
	case "Q3_K", "Q4_K", "Q5_K":
		n += "_M"
	}
	for _, ft := range FileTypes {
		if ft.Name == n {
			return ft, nil
		}
	}
	names := make([]string, len(FileTypes))
	for i, ft := range FileTypes {
		names[i] = ft.Name
	}
	return FileType{}, fmt.Errorf("unknown quantization type %q (known: %s)", name, strings.Join(names, ", "))
}

var layerName = regexp.MustCompile(`^blk\.(\d+)\.(.+)$`)

// plan holds what the type rules need to know about the whole model.
type plan struct {
	ft      FileType
	pure    bool // every matrix gets the base type, like --pure
	layers  int
	hasHead bool // output.weight exists (else token_embd is the head)
	gqa     int  // query heads per KV head (llama.cpp's n_gqa), 0 if unknown
}

// newPlan reads what the rules need from the model's tensors and metadata.
func newPlan(f *gguf.File, ft FileType, pure bool) *plan {
	p := &plan{ft: ft, pure: pure}
	_, p.hasHead = f.Tensor("output.weight")
	for i := range f.Tensors {
		if m := layerName.FindStringSubmatch(f.Tensors[i].Name); m != nil {
			l, _ := strconv.Atoi(m[1])
			p.layers = max(p.layers, l+1)
		}
	}
	arch, _ := f.String("general.architecture")
	heads, kvHeads := firstUint(f, arch+".attention.head_count"), firstUint(f, arch+".attention.head_count_kv")
	if kvHeads > 0 {
		p.gqa = int(heads / kvHeads)
	}
	return p
}

// firstUint reads an integer key that may also be a per-layer array (as in
// some hybrid models); llama.cpp's n_gqa() looks at layer 0.
func firstUint(f *gguf.File, key string) uint64 {
	if v, ok := f.Uint(key); ok {
		return v
	}
	if a, ok := f.Int32s(key); ok && len(a) > 0 && a[0] > 0 {
		return uint64(a[0])
	}
	return 0
}

// useMoreBits picks the layers llama.cpp gives extra precision: the first
// and last eighth, and every third layer in between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// keep reports whether llama-quantize leaves a tensor as it is: vectors
// (norms, biases), non-weights, and the small matrices it never quantizes
// (2-D norms, MoE routers, position and token-type embeddings).
func keep(ti *gguf.TensorInfo) bool {
	n := ti.Name
	return len(ti.Dims) < 2 || !strings.HasSuffix(n, ".weight") ||
		strings.HasSuffix(n, "_norm.weight") || strings.Contains(n, "ffn_gate_inp.weight") ||
		n == "position_embd.weight" || n == "token_types.weight"
}

// typeFor is the type of one tensor in the output. The rules are those of
// llama.cpp's llama_tensor_get_type for dense models (Falcon's and the MoE
// variants are not reproduced). Where llama.cpp counts attn_v and ffn_down
// tensors in file order sorted by layer, the layer number is that count.
func (p *plan) typeFor(ti *gguf.TensorInfo) tensor.Type {
	if keep(ti) {
		return ti.Type
	}
	t := p.ft.Base
	if p.pure {
		return fallback(t, int(ti.Dims[0]))
	}
	isQuant := t != tensor.F32 && t != tensor.F16 && t != tensor.BF16
	name := ti.Name
	layer := -1
	if m := layerName.FindStringSubmatch(name); m != nil {
		layer, _ = strconv.Atoi(m[1])
	}
	switch {
	case !isQuant:
	case name == "output.weight" || (!p.hasHead && name == "token_embd.weight"):
		if t != tensor.Q8_0 {
			t = tensor.Q6_K
		}
		if int(ti.Dims[0])%tensor.QK_K != 0 {
			t = tensor.Q8_0
		}
	case strings.Contains(name, "attn_qkv.weight") || strings.Contains(name, "attn_kv_b.weight") ||
		strings.Contains(name, "attn_v.weight"):
		// Fused QKV and MLA's kv_b count as attn_v, as in llama.cpp.
		switch p.ft.Name {
		case "Q2_K":
			t = tensor.Q3_K
			if p.gqa >= 4 {
				t = tensor.Q4_K
			}
		case "Q3_K_M":
			t = tensor.Q4_K
			if layer < 2 {
				t = tensor.Q5_K
			}
		case "Q4_K_S":
			if layer < 4 {
				t = tensor.Q5_K
			}
		case "Q4_K_M", "Q5_K_M":
			if useMoreBits(layer, p.layers) {
				t = tensor.Q6_K
			}
		}
	case strings.Contains(name, "ffn_down"):
		switch p.ft.Name {
		case "Q2_K":
			t = tensor.Q3_K
		case "Q3_K_M":
			// use_more_bits only matters for Falcon here.
			t = tensor.Q4_K
			if layer < p.layers/16 {
				t = tensor.Q5_K
			}
		case "Q4_K_S":
			if layer < p.layers/8 {
				t = tensor.Q5_K
			}
		case "Q4_K_M", "Q5_K_M":
			if useMoreBits(layer, p.layers) {
				t = tensor.Q6_K
			}
		}
	case strings.Contains(name, "attn_output.weight"):
		switch p.ft.Name {
		case "Q2_K":
			t = tensor.Q3_K
		case "Q3_K_M":
			t = tensor.Q4_K
		}
	}
	return fallback(t, int(ti.Dims[0]))
}

// fallback replaces a type whose blocks do not divide the row length, as
// llama.cpp's tensor_type_fallback does (older releases used IQ4_NL for
// Q2_K/Q3_K; current ones use Q4_0, as we do). Where llama.cpp gives up
// (rows not a multiple of 32 for a 32-block type) we store F16.
func fallback(t tensor.Type, rowLen int) tensor.Type {
	if rowLen%t.BlockSize() == 0 {
		return t
	}
	switch t {
	case tensor.Q2_K, tensor.Q3_K:
		t = tensor.Q4_0
	case tensor.Q4_K:
		t = tensor.Q5_0
	case tensor.Q5_K:
		t = tensor.Q5_1
	case tensor.Q6_K:
		t = tensor.Q8_0
	}
	if rowLen%t.BlockSize() == 0 {
		return t
	}
	return tensor.F16
}
