package bench

import (
	"math"
	"path/filepath"
	"testing"

	"zhiyan/gguf"
	"zhiyan/model"
	"zhiyan/quantize"
	"zhiyan/tokenizer"
)

// TestSynthesize writes a small model of a real family's layout and checks
// that it loads, has the quantization rules' types, and tokenizes.
func TestSynthesize(t *testing.T) {
	s := Shape{Name: "tiny", Arch: "qwen2", Layers: 2, Embd: 256, Heads: 4, KVHeads: 2, HeadDim: 64, FFN: 512,
		Vocab: 1000, RopeBase: 1e6, RMSEps: 1e-6, QKVBias: true, ContextLen: 512}
	ft, err := quantize.ParseFileType("Q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	var last uint64
	if err := Synthesize(s, ft, path, 1, func(done, total uint64) { last = done }); err != nil {
		t.Fatal(err)
	}
	if last != s.Params() {
		t.Errorf("progress ended at %d of %d weights", last, s.Params())
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Vocab != 1000 || m.Config.Layers != 2 || m.ParamCount() != s.Params() {
		t.Errorf("config %+v, %d params", m.Config, m.ParamCount())
	}
	want := map[string]string{"token_embd.weight": "Q6_K", "blk.0.attn_q.weight": "Q4_K", "blk.1.ffn_down.weight": "Q6_K", "blk.0.attn_q.bias": "F32"}
	for name, typ := range want {
		if ti, ok := f.Tensor(name); !ok || ti.Type.String() != typ {
			t.Errorf("%s: %v, want %s", name, ti, typ)
		}
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("hi  there", false, false); tok.Decode(ids) != "hi  there" {
		t.Errorf("round trip: %v → %q", ids, tok.Decode(ids))
	}
	st := m.NewState(model.Options{Context: 8})
	defer st.Close()
	if err := st.Forward([]int32{1, 2, 3}, make([]float32, 1000)); err != nil {
		t.Fatal(err)
	}
}

// TestShapeParams: each shape has its model's published parameter count
// (millions, as the model cards and Hugging Face's safetensors index give
// them) — a wrong width, head count, FFN or vocabulary shows here.
func TestShapeParams(t *testing.T) {
	published := map[string]float64{
		"qwen2.5-0.5b":  494.0,
		"qwen2.5-1.5b":  1543.7,
		"qwen3-0.6b":    596.0,
		"ernie4.5-0.3b": 360.7,
		"hunyuan-0.5b":  539.0,
		"llama3.2-1b":   1235.8,
	}
	for _, s := range Shapes {
		want, ok := published[s.Name]
		if !ok {
			t.Errorf("%s: no published count to check against", s.Name)
			continue
		}
		if got := math.Round(float64(s.Params())/1e5) / 10; got != want {
			t.Errorf("%s: %.1fM parameters, published %.1fM", s.Name, got, want)
		}
	}
}
