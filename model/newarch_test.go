package model

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
)

// newarchRun is one run of golden/newarch (a newer llama.cpp on qwen3,
// ernie4_5 and hunyuan-dense models): <kind>/<quant>.<prompt>.json.
type newarchRun struct {
	Arch       string  `json:"arch"`
	Quant      string  `json:"quant"` // f32, q8_0, q4_k
	ModelFile  string  `json:"model_file"`
	NVocab     int     `json:"n_vocab"`
	Tokens     []int32 `json:"tokens"`
	Greedy     []int32 `json:"greedy"`
	GreedyNext int32   `json:"greedy_next_after_last"`
	Files      struct {
		Logits    struct{ Name string } `json:"logits"`
		GenLogits struct{ Name string } `json:"gen_logits"`
	} `json:"files"`
}

// newarchRuns lists the runs of the manifest, e.g. "qwen3-mini/q8_0.main.json".
func newarchRuns(t *testing.T) []string {
	t.Helper()
	var manifest struct {
		Files map[string]json.RawMessage `json:"files"`
	}
	data, err := os.ReadFile(golden.Path(t, "newarch/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	var runs []string
	for name := range manifest.Files {
		runs = append(runs, name)
	}
	slices.Sort(runs)
	return runs
}

// TestGoldenNewArch checks every qwen3, ernie4_5 and hunyuan-dense golden run
// present (the committed subset holds the Q8_0 ones) like TestGoldenLogits:
// the prompt's token ids from the JSON, logits at every position and at every
// teacher-forced generation step.
func TestGoldenNewArch(t *testing.T) {
	for _, run := range newarchRuns(t) {
		t.Run(strings.TrimSuffix(run, ".json"), func(t *testing.T) {
			rel := "newarch/" + run
			if !golden.Has(t, rel) {
				t.Skipf("%s is not present", rel)
			}
			var r newarchRun
			data, err := os.ReadFile(golden.Path(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			dir := path.Dir(rel)
			m := loadGolden(t, dir+"/"+r.ModelFile)
			if m.Config.Arch != r.Arch {
				t.Fatalf("architecture %q, golden %q", m.Config.Arch, r.Arch)
			}
			typ := strings.ToUpper(r.Quant)
			checkGolden(t, m, goldenTolerance(t, typ), goldenCase{
				tokens: r.Tokens, vocab: r.NVocab, greedy: r.Greedy, greedyNext: r.GreedyNext,
				logits: dir + "/" + r.Files.Logits.Name, genLogits: dir + "/" + r.Files.GenLogits.Name,
				exact: typ == "F32" || typ == "F16",
			})
		})
	}
}

// TestNewArchConfig pins the hyper-parameters and options each architecture
// must derive from its file: the traps of the golden README.
func TestNewArchConfig(t *testing.T) {
	tests := []struct {
		file                    string
		heads, kvHeads, headDim int
		ropeBase                float32
		neox                    bool
		qkNorm                  qkNormOrder
	}{
		// head width from attention.key_length: 8×64 = 512 ≠ 256
		{"newarch/qwen3-mini/qwen3-mini-q8_0.gguf", 8, 4, 64, 1e6, true, qkNormBeforeRope},
		{"newarch/ernie-mini/ernie-mini-q8_0.gguf", 4, 2, 64, 5e5, false, noQKNorm},
		{"newarch/hunyuan-mini/hunyuan-mini-q8_0.gguf", 4, 2, 64, 1e4, true, qkNormAfterRope},
	}
	for _, tt := range tests {
		t.Run(path.Base(tt.file), func(t *testing.T) {
			m := loadGolden(t, tt.file)
			c, net := m.Config, m.net.(*llama)
			if c.Heads != tt.heads || c.KVHeads != tt.kvHeads || c.HeadDim != tt.headDim || c.RopeDim != tt.headDim || c.RopeBase != tt.ropeBase {
				t.Errorf("heads %d/%d, head dim %d, rope dim %d, base %g; want %d/%d, %d, %d, %g",
					c.Heads, c.KVHeads, c.HeadDim, c.RopeDim, c.RopeBase, tt.heads, tt.kvHeads, tt.headDim, tt.headDim, tt.ropeBase)
			}
			if net.neox != tt.neox || net.qkNorm != tt.qkNorm {
				t.Errorf("neox %v, q/k norm %d; want %v, %d", net.neox, net.qkNorm, tt.neox, tt.qkNorm)
			}
			if net.output != net.tokenEmbd {
				t.Errorf("output head is not the tied token embedding")
			}
		})
	}
}

// withKeys reopens the golden GGUF rel with extra metadata set.
func withKeys(t *testing.T, rel string, keys map[string]any) *gguf.File {
	t.Helper()
	src, err := gguf.Open(golden.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KVs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range keys {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range src.Tensors {
		data, err := src.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestHunyuanRopeKeys: llama.cpp scales the RoPE base by alpha^(D/(D−2))
// when a hunyuan-dense file carries rope.scaling.alpha, and multi-section
// RoPE is refused rather than run wrong.
func TestHunyuanRopeKeys(t *testing.T) {
	const file = "newarch/hunyuan-mini/hunyuan-mini-q8_0.gguf"
	tests := []struct {
		name     string
		keys     map[string]any
		ropeBase float32 // 0: Load must fail
	}{
		{"plain", nil, 1e4},
		{"alpha", map[string]any{"hunyuan-dense.rope.scaling.alpha": float32(1000)}, 1e4 * float32(math.Pow(1000, 64.0/62))},
		{"alpha zero", map[string]any{"hunyuan-dense.rope.scaling.alpha": float32(0)}, 1e4},
		{"scaling none", map[string]any{"hunyuan-dense.rope.scaling.type": "none"}, 1e4},
		{"sections", map[string]any{"hunyuan-dense.rope.dimension_sections": []int32{16, 8, 8, 0}}, 0},
		{"empty sections", map[string]any{"hunyuan-dense.rope.dimension_sections": []int32{0, 0, 0, 0}}, 1e4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(withKeys(t, file, tt.keys))
			switch {
			case tt.ropeBase == 0:
				if err == nil || !strings.Contains(err.Error(), "rope.dimension_sections") {
					t.Fatalf("Load = %v, want an error naming rope.dimension_sections", err)
				}
			case err != nil:
				t.Fatal(err)
			case math.Abs(float64(m.Config.RopeBase/tt.ropeBase-1)) > 1e-6:
				t.Errorf("rope base %g, want %g", m.Config.RopeBase, tt.ropeBase)
			}
		})
	}
}
