package train

import (
	"encoding/binary"
	"fmt"
	"math"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// ExportOptions say how to write a model file.
type ExportOptions struct {
	Type         tensor.Type // of the matrices: F32, F16 or Q8_0; vectors stay F32
	Name         string      // general.name
	ChatTemplate string      // tokenizer.chat_template, "" for none
}

// Export writes weights (laid out as c.Tensors) and the vocabulary as a
// GGUF file of the "llama" architecture, atomically. Q8_0 needs rows of a
// multiple of 32; a matrix whose rows are not is written as F16.
func Export(path string, c Config, weights []float32, v *Vocab, o ExportOptions) error {
	w, err := exportWriter(c, weights, v, o)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

func exportWriter(c Config, weights []float32, v *Vocab, o ExportOptions) (*gguf.Writer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(weights) != c.NumParams() {
		return nil, fmt.Errorf("train: export: %d weights for a model of %d", len(weights), c.NumParams())
	}
	if v.Size() > c.Vocab {
		return nil, fmt.Errorf("train: export: %d tokens for a model of vocabulary %d", v.Size(), c.Vocab)
	}
	switch o.Type {
	case tensor.F32, tensor.F16, tensor.Q8_0:
	default:
		return nil, fmt.Errorf("train: export: type %s is not one of F32, F16, Q8_0", o.Type)
	}
	w := gguf.NewWriter()
	name := o.Name
	if name == "" {
		name = "zhiyan"
	}
	const arch = "llama"
	kvs := []struct {
		key string
		val any
	}{
		{"general.architecture", arch},
		{"general.name", name},
		{"general.file_type", fileType(o.Type)},
		{arch + ".context_length", uint32(c.Context)},
		{arch + ".embedding_length", uint32(c.Dim)},
		{arch + ".block_count", uint32(c.Layers)},
		{arch + ".feed_forward_length", uint32(c.FFN)},
		{arch + ".attention.head_count", uint32(c.Heads)},
		{arch + ".attention.head_count_kv", uint32(c.KVHeads)},
		{arch + ".rope.dimension_count", uint32(c.HeadDim())},
		{arch + ".rope.freq_base", float32(c.RopeBase)},
		{arch + ".attention.layer_norm_rms_epsilon", float32(c.NormEps)},
		{arch + ".vocab_size", uint32(c.Vocab)},
	}
	if o.ChatTemplate != "" {
		kvs = append(kvs, struct {
			key string
			val any
		}{"tokenizer.chat_template", o.ChatTemplate})
	}
	for _, kv := range kvs {
		if err := w.Set(kv.key, kv.val); err != nil {
			return nil, err
		}
	}
	if err := v.setGGUF(w); err != nil {
		return nil, err
	}
	for _, t := range c.Tensors() {
		data := weights[t.Off : t.Off+t.Size()]
		typ := o.Type
		switch {
		case !t.Matrix():
			typ = tensor.F32 // norms, as llama.cpp keeps them
		case typ == tensor.Q8_0 && t.Cols%tensor.Q8_0.BlockSize() != 0:
			typ = tensor.F16
		}
		b, err := encodeTensor(typ, data)
		if err != nil {
			return nil, fmt.Errorf("train: export %s: %w", t.Name, err)
		}
		dims := []uint64{uint64(t.Cols)}
		if t.Matrix() {
			dims = append(dims, uint64(t.Rows))
		}
		if err := w.AddTensor(t.Name, typ, dims, b); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// encodeTensor converts float32 weights to typ's bytes.
func encodeTensor(typ tensor.Type, data []float32) ([]byte, error) {
	if typ == tensor.F32 {
		b := make([]byte, 4*len(data))
		for i, x := range data {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b, nil
	}
	n, err := typ.RowBytes(len(data))
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	return b, tensor.Quantize(typ, b, data)
}

// fileType is llama.cpp's general.file_type of a model whose matrices are typ.
func fileType(typ tensor.Type) uint32 {
	switch typ {
	case tensor.F16:
		return 1
	case tensor.Q8_0:
		return 7
	}
	return 0
}
