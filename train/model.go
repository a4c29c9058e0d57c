package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Config is the shape of a Llama model as trained here and as the engine's
// "llama" architecture reads it back: pre-norm RMSNorm blocks of causal
// grouped-query attention with RoPE (adjacent pairs) and a SwiGLU
// feed-forward network, no biases, the output head tied to the embeddings.
type Config struct {
	Vocab    int     `json:"vocab"`     // V
	Dim      int     `json:"dim"`       // C
	Layers   int     `json:"layers"`    // L
	Heads    int     `json:"heads"`     // H
	KVHeads  int     `json:"kv_heads"`  // KV (grouped-query attention when < H)
	FFN      int     `json:"ffn"`       // FF: SwiGLU hidden width
	Context  int     `json:"context"`   // T: the trained sequence length
	NormEps  float64 `json:"norm_eps"`  // RMSNorm epsilon
	RopeBase float64 `json:"rope_base"` // RoPE θ
}

// HeadDim is D = C/H.
func (c Config) HeadDim() int { return c.Dim / c.Heads }

// Validate checks the shape is one the trainer and the engine both handle.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 2 || c.Dim < 2 || c.Layers < 1 || c.Heads < 1 || c.FFN < 1 || c.Context < 1:
		return fmt.Errorf("train: model shape %+v has a zero or negative size", c)
	case c.KVHeads < 1 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("train: %d query heads are not a multiple of %d KV heads", c.Heads, c.KVHeads)
	case c.Dim%c.Heads != 0 || c.HeadDim()%2 != 0:
		return fmt.Errorf("train: width %d does not split into %d heads of an even width", c.Dim, c.Heads)
	case c.NormEps <= 0 || c.RopeBase <= 1:
		return errors.New("train: norm epsilon and RoPE base must be positive (base > 1)")
	}
	return nil
}

// FFNWidth is llama2.c's rule for the SwiGLU width of a model of width dim:
// 4·dim·2/3 rounded up to a multiple of 4 (172 for 64).
func FFNWidth(dim int) int { return (8*dim/3 + 3) / 4 * 4 }

// Tensor is one weight tensor of the model: its GGUF name and its place in
// the parameter arena, Rows×Cols floats (Rows 1 for a vector).
type Tensor struct {
	Name       string
	Off        int
	Rows, Cols int
}

// Matrix reports whether the tensor is 2-D; only matrices get weight decay.
func (t Tensor) Matrix() bool { return t.Rows > 1 }

// Size is Rows×Cols.
func (t Tensor) Size() int { return t.Rows * t.Cols }

// Params are named views of one set of model weights (or of their
// gradients) in an arena; each layer's tensors are consecutive.
type Params[F Float] struct {
	TokenEmbd []F // (V, C), also the output head
	AttnNorm  []F // (L, C)
	WQ        []F // (L, H*D, C)
	WK, WV    []F // (L, KV*D, C) each
	WO        []F // (L, C, H*D)
	FFNNorm   []F // (L, C)
	Gate, Up  []F // (L, FF, C) each
	Down      []F // (L, C, FF)
	OutNorm   []F // (C)
}

// paramKind is one kind of tensor: GGUF name (%d for the layer), shape and
// whether every layer has one.
type paramKind struct {
	name       string
	rows, cols int
	perLayer   bool
}

// kinds lists the parameter kinds in arena order, the order of Params.
func (c Config) kinds() []paramKind {
	type k = paramKind
	C, qDim, kvDim := c.Dim, c.Heads*c.HeadDim(), c.KVHeads*c.HeadDim()
	return []k{
		{"token_embd.weight", c.Vocab, C, false},
		{"blk.%d.attn_norm.weight", 1, C, true},
		{"blk.%d.attn_q.weight", qDim, C, true},
		{"blk.%d.attn_k.weight", kvDim, C, true},
		{"blk.%d.attn_v.weight", kvDim, C, true},
		{"blk.%d.attn_output.weight", C, qDim, true},
		{"blk.%d.ffn_norm.weight", 1, C, true},
		{"blk.%d.ffn_gate.weight", c.FFN, C, true},
		{"blk.%d.ffn_up.weight", c.FFN, C, true},
		{"blk.%d.ffn_down.weight", C, c.FFN, true},
		{"output_norm.weight", 1, C, false},
	}
}

// Tensors lists the model's tensors in arena order.
func (c Config) Tensors() []Tensor {
	var ts []Tensor
	off := 0
	for _, k := range c.kinds() {
		n := 1
		if k.perLayer {
			n = c.Layers
		}
		for l := range n {
			name := k.name
			if k.perLayer {
				name = fmt.Sprintf(k.name, l)
			}
			ts = append(ts, Tensor{Name: name, Off: off, Rows: k.rows, Cols: k.cols})
			off += k.rows * k.cols
		}
	}
	return ts
}

// NumParams is the number of weights.
func (c Config) NumParams() int {
	n := 0
	for _, k := range c.kinds() {
		s := k.rows * k.cols
		if k.perLayer {
			s *= c.Layers
		}
		n += s
	}
	return n
}

// FLOPsPerToken estimates the floating-point operations of training on one
// token (forward and backward): 6 per weight of every matrix product,
// the tied output head included, plus attention's two products over an
// average of (T+1)/2 earlier positions, three times over.
func (c Config) FLOPsPerToken() float64 {
	C, D, FF := c.Dim, c.HeadDim(), c.FFN
	layer := C*(c.Heads*D+2*c.KVHeads*D) + c.Heads*D*C + 3*C*FF
	matmul := 6 * float64(c.Layers*layer+c.Vocab*C)
	attn := 3 * float64(c.Layers) * 4 * float64(c.Heads*D) * float64(c.Context+1) / 2
	return matmul + attn
}

// views cuts a flat parameter slice into the named tensors.
func views[F Float](c Config, flat []F) Params[F] {
	var p Params[F]
	dst := []*[]F{&p.TokenEmbd, &p.AttnNorm, &p.WQ, &p.WK, &p.WV, &p.WO, &p.FFNNorm, &p.Gate, &p.Up, &p.Down, &p.OutNorm}
	off := 0
	for i, k := range c.kinds() {
		s := k.rows * k.cols
		if k.perLayer {
			s *= c.Layers
		}
		*dst[i] = flat[off : off+s : off+s]
		off += s
	}
	return p
}

// initParams fills a fresh model: N(0, 0.02) matrices, residual output
// projections (wo, ffn_down) scaled by 1/√(2L) (GPT-2), unit norms.
func initParams[F Float](c Config, flat []F, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x7a68697961))
	resid := 0.02 / math.Sqrt(2*float64(c.Layers))
	for _, t := range c.Tensors() {
		w := flat[t.Off : t.Off+t.Size()]
		if !t.Matrix() {
			for i := range w {
				w[i] = 1
			}
			continue
		}
		std := 0.02
		if isResidualProjection(t.Name) {
			std = resid
		}
		for i := range w {
			w[i] = F(rng.NormFloat64() * std)
		}
	}
}

func isResidualProjection(name string) bool {
	n := len(name)
	return n > 19 && name[n-19:] == ".attn_output.weight" || n > 16 && name[n-16:] == ".ffn_down.weight"
}
