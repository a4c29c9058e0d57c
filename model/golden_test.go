package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"strings"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
)

// goldenPrompt is one prompt of a golden-compact JSON file (see testdata/golden/README.md).
type goldenPrompt struct {
	Name          string  `json:"name"`
	Prompt        string  `json:"prompt"`
	Tokens        []int32 `json:"tokens"`
	NVocab        int     `json:"n_vocab"`
	LogitsFile    string  `json:"logits_file"`
	Greedy        []int32 `json:"greedy"`
	GreedyNext    int32   `json:"greedy_next_after_last"`
	GenLogitsFile string  `json:"gen_logits_file"`
}

type goldenModel struct {
	ModelFile  string         `json:"model_file"`
	ModelSet   string         `json:"model_set"`
	WeightType string         `json:"weight_type"`
	Prompts    []goldenPrompt `json:"prompts"`
}

// tolerance is the golden README's recommendation for an engine that
// quantizes activations as ggml does.
type tolerance struct{ maxAbs, meanAbs, argmax float64 }

func goldenTolerance(t *testing.T, typ string) tolerance {
	t.Helper()
	var tm struct {
		Recommended map[string][2][3]float64 `json:"recommended"`
	}
	data, err := os.ReadFile(golden.Path(t, "tolerance_measurements.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		t.Fatal(err)
	}
	r, ok := tm.Recommended[typ]
	if !ok {
		t.Fatalf("no tolerance for %s", typ)
	}
	return tolerance{r[1][0], r[1][1], r[1][2]}
}

func readF32(t *testing.T, file string) []float32 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// compare checks rows of logits against the golden rows and reports the
// worst max-abs, the mean-abs and the argmax agreement.
func compare(got, want []float32, vocab int) (maxAbs, meanAbs, agree float64) {
	rows := len(want) / vocab
	var sum float64
	same := 0
	for r := range rows {
		g, w := got[r*vocab:(r+1)*vocab], want[r*vocab:(r+1)*vocab]
		for i := range w {
			d := math.Abs(float64(g[i] - w[i]))
			maxAbs = max(maxAbs, d)
			sum += d
		}
		if argmax(g) == argmax(w) {
			same++
		}
	}
	return maxAbs, sum / float64(len(want)), float64(same) / float64(rows)
}

var goldenTypes = []string{"F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K"}

// TestGoldenLogits runs every golden model and prompt and compares the
// logits at every prompt position, then feeds llama.cpp's greedy tokens one
// by one and compares the logits of every generation step.
func TestGoldenLogits(t *testing.T) {
	for _, set := range []string{"qwen2-mini", "llama-mini"} {
		for _, typ := range goldenTypes {
			stem := fmt.Sprintf("%s/%s-%s", set, set, typ)
			t.Run(path.Base(stem), func(t *testing.T) {
				if !golden.Has(t, stem+".gguf") {
					t.Skipf("%s.gguf is not present", stem)
				}
				testGoldenFile(t, stem)
			})
		}
	}
}

func testGoldenFile(t *testing.T, stem string) {
	var g goldenModel
	data, err := os.ReadFile(golden.Path(t, stem+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	m := loadGolden(t, stem+".gguf")
	tol := goldenTolerance(t, g.WeightType)
	dir := path.Dir(stem)
	// The weights as the file maps them, then moved (and for some types
	// interleaved) as the engine runs them.
	for _, moved := range []bool{false, true} {
		if moved && m.MoveWeights() == 0 {
			t.Log("weights not moved: no room on this machine")
			continue
		}
		for _, p := range g.Prompts {
			if !golden.Has(t, dir+"/"+p.LogitsFile) {
				continue
			}
			name := p.Name
			if moved {
				name += "/moved"
			}
			t.Run(name, func(t *testing.T) {
				checkGolden(t, m, tol, goldenCase{
					tokens: p.Tokens, vocab: p.NVocab, greedy: p.Greedy, greedyNext: p.GreedyNext,
					logits: dir + "/" + p.LogitsFile, genLogits: dir + "/" + p.GenLogitsFile,
					exact: g.WeightType == "F32" || g.WeightType == "F16",
				})
			})
		}
	}
}

// goldenCase is one prompt run through one model file by llama.cpp: the
// prompt's token ids, the logits at every prompt position, the greedy tokens
// and the logits after feeding each of them.
type goldenCase struct {
	tokens            []int32
	vocab             int
	logits, genLogits string // golden-relative paths of the .f32 files
	greedy            []int32
	greedyNext        int32 // argmax after the last greedy token
	exact             bool  // F32 and F16 must reproduce the greedy ids
}

// checkGolden runs the prompt in one batch, compares the logits at every
// position, then feeds llama.cpp's greedy tokens one by one (teacher forcing)
// and compares the logits of every generation step.
func checkGolden(t *testing.T, m *Model, tol tolerance, g goldenCase) {
	t.Helper()
	V := g.vocab
	if V != m.Config.Vocab {
		t.Fatalf("vocab %d, golden %d", m.Config.Vocab, V)
	}
	s := m.NewState(Options{Context: len(g.tokens) + len(g.greedy), Batch: 64, Threads: 2})
	defer s.Close()
	got := make([]float32, len(g.tokens)*V)
	if err := s.Forward(g.tokens, got); err != nil {
		t.Fatal(err)
	}
	want := readF32(t, golden.Path(t, g.logits))
	if len(want) != len(got) {
		t.Fatalf("%s holds %d floats, want %d tokens × %d", g.logits, len(want), len(g.tokens), V)
	}
	maxAbs, meanAbs, agree := compare(got, want, V)
	t.Logf("prompt: %d tokens, max-abs %.3g mean-abs %.3g argmax %.3f", len(g.tokens), maxAbs, meanAbs, agree)
	if maxAbs > tol.maxAbs || meanAbs > tol.meanAbs || agree < tol.argmax {
		t.Errorf("prompt logits: max-abs %.3g mean-abs %.3g argmax agreement %.3f; tolerance %+v", maxAbs, meanAbs, agree, tol)
	}

	// Teacher-forced generation: row j follows greedy[j].
	wantGen := readF32(t, golden.Path(t, g.genLogits))
	if len(wantGen) != len(g.greedy)*V {
		t.Fatalf("%s holds %d floats, want %d steps × %d", g.genLogits, len(wantGen), len(g.greedy), V)
	}
	gotGen := make([]float32, len(g.greedy)*V)
	for j, tok := range g.greedy {
		if err := s.Forward([]int32{tok}, gotGen[j*V:(j+1)*V]); err != nil {
			t.Fatal(err)
		}
	}
	maxAbs, meanAbs, agree = compare(gotGen, wantGen, V)
	t.Logf("generation: max-abs %.3g mean-abs %.3g argmax %.3f", maxAbs, meanAbs, agree)
	if maxAbs > tol.maxAbs || meanAbs > tol.meanAbs {
		t.Errorf("generation logits: max-abs %.3g mean-abs %.3g; tolerance %+v", maxAbs, meanAbs, tol)
	}
	if !g.exact {
		return
	}
	ids := append(append([]int32{}, g.greedy...), g.greedyNext)
	if a := argmax(got[(len(g.tokens)-1)*V:]); int32(a) != ids[0] {
		t.Errorf("greedy[0] = %d, want %d", a, ids[0])
	}
	for j := range g.greedy {
		if a := argmax(gotGen[j*V : (j+1)*V]); int32(a) != ids[j+1] {
			t.Errorf("greedy[%d] = %d, want %d", j+1, a, ids[j+1])
		}
	}
}

// TestUnsupportedArchitecture checks the one-line error naming the
// architecture and the supported ones.
func TestUnsupportedArchitecture(t *testing.T) {
	w := gguf.NewWriter()
	if err := w.Set("general.architecture", "mamba9"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(f)
	const supported = "ernie4_5, hunyuan-dense, llama, qwen2, qwen3"
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `"mamba9"`) || !strings.Contains(err.Error(), "(supported: "+supported+")") {
		t.Fatalf("Load = %v, want a one-line error naming mamba9 and the supported architectures %s", err, supported)
	}
}
