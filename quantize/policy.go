package quantize

import (
	"zhiyan/gguf"
	"zhiyan/tensor"
)

// TensorType is the type ft gives an F32 tensor named name with the given
// ggml dims, in a model of layers blocks whose output head is its own tensor
// (hasHead) or the token embedding. It assumes fewer than 4 query heads per KV
// head, which only matters for Q2_K's attn_v (Q3_K, else Q4_K).
func (ft FileType) TensorType(name string, dims []uint64, layers int, hasHead bool) tensor.Type {
	p := plan{ft: ft, layers: layers, hasHead: hasHead}
	return p.typeFor(&gguf.TensorInfo{Name: name, Dims: dims, Type: tensor.F32})
}
