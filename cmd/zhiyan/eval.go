package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"

	"zhiyan/engine"
	"zhiyan/model"
)

func evalCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "eval MODEL.gguf --prompt TEXT [--out LOGITS.f32] | --perplexity FILE", stderr)
	prompt := fs.String("prompt", "", "text to run (tokenized with BOS when the model asks for it, special tokens parsed)")
	out := fs.String("out", "", "write the logits of every position here as little-endian float32 [tokens × vocab]")
	pplFile := fs.String("perplexity", "", "compute perplexity over this text file")
	ctx := fs.Int("ctx", 512, "window length for --perplexity")
	threads := fs.Int("threads", runtime.NumCPU(), "threads")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 || (*prompt == "") == (*pplFile == "") {
		fs.Usage()
		return errUsage
	}
	path, err := modelPath(pos[0], "", false, stderr)
	if err != nil {
		return err
	}
	e, err := engine.Open(path)
	if err != nil {
		return err
	}
	defer e.Close()
	if *pplFile != "" {
		return perplexity(e, *pplFile, *ctx, *threads, stdout, stderr)
	}
	tokens := e.Tokenizer.Encode(*prompt, true, true)
	if len(tokens) == 0 {
		return fmt.Errorf("the prompt has no tokens")
	}
	s := e.Model.NewState(model.Options{Context: len(tokens), Threads: *threads})
	defer s.Close()
	V := e.Model.Config.Vocab
	logits := make([]float32, len(tokens)*V)
	if len(tokens) == 1 {
		logits = logits[:V]
	}
	if err := s.Forward(tokens, logits); err != nil {
		return err
	}
	if *out != "" {
		if err := writeF32(*out, logits); err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(struct {
		Tokens []int32 `json:"tokens"`
	}{tokens})
}

func writeF32(path string, v []float32) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// perplexity follows llama.cpp's perplexity tool: the text is cut into
// windows of n tokens (the first replaced by BOS when the model uses one),
// and only the second half of each window is scored, so every scored token
// has at least n/2 tokens of context.
func perplexity(e *engine.Engine, path string, n, threads int, stdout, stderr io.Writer) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tokens := e.Tokenizer.Encode(string(text), true, false)
	if n < 16 {
		return fmt.Errorf("--ctx %d is too small", n)
	}
	chunks := len(tokens) / n
	if chunks == 0 {
		return fmt.Errorf("%s has %d tokens, fewer than one window of %d", path, len(tokens), n)
	}
	V := e.Model.Config.Vocab
	s := e.Model.NewState(model.Options{Context: n, Threads: threads})
	defer s.Close()
	logits := make([]float32, n*V)
	window := make([]int32, n)
	var nll float64
	var count int
	for c := range chunks {
		copy(window, tokens[c*n:(c+1)*n])
		if e.Tokenizer.AddBOS() {
			window[0] = e.Tokenizer.BOS()
		}
		s.Truncate(0)
		if err := s.Forward(window, logits); err != nil {
			return err
		}
		for j := n / 2; j < n-1; j++ {
			nll -= logSoftmax(logits[j*V:(j+1)*V], int(tokens[c*n+j+1]))
			count++
		}
		fmt.Fprintf(stderr, "[%d/%d] %.4f\n", c+1, chunks, math.Exp(nll/float64(count)))
	}
	ppl := math.Exp(nll / float64(count))
	fmt.Fprintf(stdout, "Final estimate: PPL = %.4f over %d tokens in %d windows of %d\n", ppl, count, chunks, n)
	return nil
}

func logSoftmax(row []float32, i int) float64 {
	maxv := math.Inf(-1)
	for _, v := range row {
		maxv = math.Max(maxv, float64(v))
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - maxv)
	}
	return float64(row[i]) - maxv - math.Log(sum)
}
