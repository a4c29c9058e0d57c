package quantize

import (
	"zhiyan/gguf"
	"zhiyan/tensor"
)

// Model is what the type rules need to know about the model a tensor
// belongs to.
type Model struct {
	Layers  int
	Heads   int  // query heads
	KVHeads int  // key/value heads
	HasHead bool // output.weight exists; otherwise token_embd is the output head
}

// TensorType is the type ft gives an F32 tensor named name with the given
// ggml dims in model m.
func (ft FileType) TensorType(name string, dims []uint64, m Model) tensor.Type {
	p := plan{ft: ft, layers: m.Layers, hasHead: m.HasHead}
	if m.KVHeads > 0 {
		p.gqa = m.Heads / m.KVHeads
	}
	return p.typeFor(&gguf.TensorInfo{Name: name, Dims: dims, Type: tensor.F32})
}
