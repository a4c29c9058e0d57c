package train

import (
	"errors"
	"fmt"
	"strconv"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// LoadModel reads a model written by Export back: its shape, its weights
// (laid out as the Config's Tensors, dequantized to float32) and its
// vocabulary, so a fine-tuning run can start from a pretrained model. A
// model with a separate output matrix (untied embeddings) is refused.
func LoadModel(path string) (Config, []float32, *Vocab, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Config{}, nil, nil, err
	}
	defer f.Close()
	c, w, v, err := loadModel(f)
	if err != nil {
		return Config{}, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, w, v, nil
}

func loadModel(f *gguf.File) (Config, []float32, *Vocab, error) {
	var c Config
	if arch, _ := f.String("general.architecture"); arch != "llama" {
		return c, nil, nil, fmt.Errorf("train: architecture %q is not llama", arch)
	}
	if _, ok := f.Tensor("output.weight"); ok {
		return c, nil, nil, errors.New("train: the model has an output matrix of its own; only tied embeddings are trained here")
	}
	v, err := vocabFromGGUF(f)
	if err != nil {
		return c, nil, nil, err
	}
	ints := []struct {
		key string
		dst *int
	}{
		{"context_length", &c.Context}, {"embedding_length", &c.Dim}, {"block_count", &c.Layers},
		{"feed_forward_length", &c.FFN}, {"attention.head_count", &c.Heads}, {"attention.head_count_kv", &c.KVHeads},
	}
	for _, k := range ints {
		n, ok := f.Int("llama." + k.key)
		if !ok {
			return c, nil, nil, fmt.Errorf("train: no llama.%s", k.key)
		}
		*k.dst = int(n)
	}
	// Stored as float32: back to the decimal the run was configured with.
	c.NormEps, _ = f.Float("llama.attention.layer_norm_rms_epsilon")
	c.RopeBase, _ = f.Float("llama.rope.freq_base")
	c.NormEps, c.RopeBase = shortest32(c.NormEps), shortest32(c.RopeBase)
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 {
		return c, nil, nil, errors.New("train: no token_embd.weight matrix")
	}
	c.Vocab = int(emb.Dims[1])
	if err := c.Validate(); err != nil {
		return c, nil, nil, err
	}
	w := make([]float32, c.NumParams())
	for _, t := range c.Tensors() {
		ti, ok := f.Tensor(t.Name)
		if !ok {
			return c, nil, nil, fmt.Errorf("train: no tensor %s", t.Name)
		}
		if ti.Elements() != uint64(t.Size()) || ti.Dims[0] != uint64(t.Cols) {
			return c, nil, nil, fmt.Errorf("train: tensor %s has shape %v, want %d×%d", t.Name, ti.Dims, t.Rows, t.Cols)
		}
		switch ti.Type {
		case tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0:
		default:
			return c, nil, nil, fmt.Errorf("train: tensor %s is %s; start from an F32, F16 or Q8_0 model", t.Name, ti.Type)
		}
		b, err := f.TensorData(t.Name)
		if err != nil {
			return c, nil, nil, err
		}
		if n, err := ti.Type.RowBytes(t.Size()); err != nil || n != len(b) {
			return c, nil, nil, fmt.Errorf("train: tensor %s: %d bytes for %d elements of %s", t.Name, len(b), t.Size(), ti.Type)
		}
		tensor.Dequantize(ti.Type, w[t.Off:t.Off+t.Size()], b)
	}
	return c, w, v, nil
}

// SetWeights replaces the model's weights (before the first step: a run
// that starts from a trained model).
func (t *Trainer) SetWeights(w []float32) error {
	if len(w) != len(t.Model.Params) {
		return fmt.Errorf("train: %d weights for a model of %d", len(w), len(t.Model.Params))
	}
	if t.Step > 0 {
		return errors.New("train: weights can only be set before the first step")
	}
	copy(t.Model.Params, w)
	return nil
}

// shortest32 is the shortest decimal that rounds to the same float32 as x.
func shortest32(x float64) float64 {
	y, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64)
	return y
}
