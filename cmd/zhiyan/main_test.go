package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhiyan/internal/golden"
)

func zhiyan(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mainExit(args, &out, &errb)
	return out.String(), errb.String(), code
}

type goldenPrompt struct {
	Name       string  `json:"name"`
	Prompt     string  `json:"prompt"`
	Tokens     []int32 `json:"tokens"`
	LogitsFile string  `json:"logits_file"`
}

// TestEvalReproducesGolden: `zhiyan eval` tokenizes like llama.cpp and writes
// logits that match llama.cpp's on the F32 model.
func TestEvalReproducesGolden(t *testing.T) {
	for _, stem := range []string{"qwen2-mini/qwen2-mini-F32", "llama-mini/llama-mini-F32"} {
		t.Run(filepath.Base(stem), func(t *testing.T) {
			var g struct{ Prompts []goldenPrompt }
			data, err := os.ReadFile(golden.Path(t, stem+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			p := g.Prompts[0]
			out := filepath.Join(t.TempDir(), "logits.f32")
			stdout, stderr, code := zhiyan(t, "eval", golden.Path(t, stem+".gguf"), "--prompt", p.Prompt, "--out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got struct{ Tokens []int32 }
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			if !equalInts(got.Tokens, p.Tokens) {
				t.Fatalf("tokens %v\nwant %v", got.Tokens, p.Tokens)
			}
			gotLogits := readFloats(t, out)
			wantLogits := readFloats(t, golden.Path(t, filepath.Dir(stem)+"/"+p.LogitsFile))
			if len(gotLogits) != len(wantLogits) {
				t.Fatalf("%d logits, want %d", len(gotLogits), len(wantLogits))
			}
			for i := range wantLogits {
				if math.Abs(float64(gotLogits[i]-wantLogits[i])) > 1e-4 {
					t.Fatalf("logit %d = %g, want %g", i, gotLogits[i], wantLogits[i])
				}
			}
		})
	}
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

// TestRunSeedRepeats: the same seed and temperature give the same text.
func TestRunSeedRepeats(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	args := []string{"run", "--seed", "1", "--temperature", "0.8", "-n", "24", model, "你好，请介绍一下你自己。"}
	first, stderr, code := zhiyan(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	second, _, _ := zhiyan(t, args...)
	if first != second || strings.TrimSpace(first) == "" {
		t.Fatalf("two runs with seed 1 differ or are empty:\n%q\n%q", first, second)
	}
	args[2] = "2"
	other, _, _ := zhiyan(t, args...)
	if other == first {
		t.Errorf("seed 2 gave the same text as seed 1: %q", first)
	}
}

// TestBadModelFile: a truncated or corrupt GGUF is a one-line error.
func TestBadModelFile(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, "llama-mini/llama-mini-Q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.gguf")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	corrupt := filepath.Join(dir, "corrupt.gguf")
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint64(bad[8:], 1<<62) // tensor count
	os.WriteFile(corrupt, bad, 0o644)
	notGGUF := filepath.Join(dir, "text.gguf")
	os.WriteFile(notGGUF, []byte("hello, this is not a model"), 0o644)
	for _, c := range []struct{ file, want string }{
		{truncated, "tensor"},
		{corrupt, "tensor count"},
		{notGGUF, "magic"},
		{filepath.Join(dir, "missing.gguf"), "no such file"},
	} {
		for _, cmd := range []string{"run", "show", "eval"} {
			args := []string{cmd, c.file}
			switch cmd {
			case "run":
				args = append(args, "hi")
			case "eval":
				args = append(args, "--prompt", "hi")
			}
			_, stderr, code := zhiyan(t, args...)
			if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want one line mentioning %q", cmd, filepath.Base(c.file), code, stderr, c.want)
			}
		}
	}
}

func TestShow(t *testing.T) {
	stdout, stderr, code := zhiyan(t, "show", "--json", golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var info modelInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Architecture != "qwen2" || info.Layers != 2 || info.Embedding != 256 || info.KVHeads != 2 ||
		info.TensorTypes["F32"] != 27 || info.Tokenizer.Model != "gpt2" || info.Tokenizer.Vocab != 4003 || info.LoadError != "" {
		t.Errorf("show: %+v", info)
	}
	text, _, _ := zhiyan(t, "show", golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	for _, want := range []string{"qwen2", "F32×27", "gpt2 (qwen2), 4003 tokens"} {
		if !strings.Contains(text, want) {
			t.Errorf("show output lacks %q:\n%s", want, text)
		}
	}
}

// TestQuantizeRuns: a requantized file loads and gives logits close to the original's.
func TestQuantize(t *testing.T) {
	in := golden.Path(t, "llama-mini/llama-mini-F32.gguf")
	dir := t.TempDir()
	for _, typ := range []string{"Q8_0", "Q4_K_M", "Q6_K", "Q4_0"} {
		out := filepath.Join(dir, typ+".gguf")
		if _, stderr, code := zhiyan(t, "quantize", in, out, typ); code != 0 {
			t.Fatalf("quantize %s: exit %d: %s", typ, code, stderr)
		}
		stdout, stderr, code := zhiyan(t, "show", "--json", out)
		if code != 0 {
			t.Fatalf("show %s: %s", typ, stderr)
		}
		var info modelInfo
		json.Unmarshal([]byte(stdout), &info)
		if info.LoadError != "" || info.TensorTypes["F32"] != 5 {
			t.Errorf("%s: %+v", typ, info)
		}
		t.Logf("%s: %v", typ, info.TensorTypes)
	}
}

// TestRunInteractive drives a chat through a pipe: messages, /set, /clear,
// unknown commands and /bye.
func TestRunInteractive(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := stdin
	stdin = r
	defer func() { stdin = old }()
	go func() {
		w.WriteString("/set temperature 0\n你好\n/set num_predict 5\n/show\nhello \\\nworld\n/nonsense\n/clear\n/bye\nnot read\n")
		w.Close()
	}()
	stdout, stderr, code := zhiyan(t, "run", "-n", "8", golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Set temperature to 0.", "temperature 0,", "num_predict 5", "unknown command /nonsense", "Cleared the conversation."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
