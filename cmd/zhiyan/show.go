package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"zhiyan/gguf"
	"zhiyan/model"
)

// modelInfo is what `zhiyan show` reports.
type modelInfo struct {
	File          string         `json:"file"`
	GGUFVersion   uint32         `json:"gguf_version"`
	Name          string         `json:"name,omitempty"`
	Architecture  string         `json:"architecture"`
	Parameters    uint64         `json:"parameters"`
	ContextLength int            `json:"context_length"`
	Embedding     int            `json:"embedding_length"`
	Layers        int            `json:"block_count"`
	Heads         int            `json:"head_count"`
	KVHeads       int            `json:"head_count_kv"`
	TensorTypes   map[string]int `json:"tensor_types"`
	Tokenizer     tokenizerInfo  `json:"tokenizer"`
	ChatTemplate  string         `json:"chat_template,omitempty"`
	LoadError     string         `json:"load_error,omitempty"`
}

type tokenizerInfo struct {
	Model string `json:"model"`
	Pre   string `json:"pre,omitempty"`
	Vocab int    `json:"vocab_size"`
	BOS   *int64 `json:"bos_token_id,omitempty"`
	EOS   *int64 `json:"eos_token_id,omitempty"`
}

func showCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "show [--json] MODEL", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	models := fs.String("models", "", modelsFlagHelp)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	path, err := modelPath(pos[0], *models, false, stderr)
	if err != nil {
		return err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info := describe(path, f)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	printInfo(stdout, info)
	return nil
}

func describe(path string, f *gguf.File) modelInfo {
	info := modelInfo{File: path, GGUFVersion: f.Version, TensorTypes: map[string]int{}}
	info.Name, _ = f.String("general.name")
	info.Architecture, _ = f.String("general.architecture")
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		info.TensorTypes[ti.Type.String()]++
		info.Parameters += ti.Elements()
	}
	if m, err := model.Load(f); err != nil {
		info.LoadError = err.Error()
	} else {
		c := m.Config
		info.ContextLength, info.Embedding, info.Layers, info.Heads, info.KVHeads = c.ContextLen, c.Embd, c.Layers, c.Heads, c.KVHeads
	}
	info.Tokenizer.Model, _ = f.String("tokenizer.ggml.model")
	info.Tokenizer.Pre, _ = f.String("tokenizer.ggml.pre")
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
		info.Tokenizer.Vocab = len(toks)
	}
	if v, ok := f.Int("tokenizer.ggml.bos_token_id"); ok {
		info.Tokenizer.BOS = &v
	}
	if v, ok := f.Int("tokenizer.ggml.eos_token_id"); ok {
		info.Tokenizer.EOS = &v
	}
	info.ChatTemplate, _ = f.String("tokenizer.chat_template")
	return info
}

func printInfo(w io.Writer, info modelInfo) {
	fmt.Fprintf(w, "  %-16s %s\n", "file", info.File)
	if info.Name != "" {
		fmt.Fprintf(w, "  %-16s %s\n", "name", info.Name)
	}
	fmt.Fprintf(w, "  %-16s %s\n", "architecture", info.Architecture)
	fmt.Fprintf(w, "  %-16s %s\n", "parameters", humanCount(info.Parameters))
	if info.LoadError != "" {
		fmt.Fprintf(w, "  %-16s %s\n", "cannot run", info.LoadError)
	} else {
		fmt.Fprintf(w, "  %-16s %d\n", "context length", info.ContextLength)
		fmt.Fprintf(w, "  %-16s %d\n", "embedding", info.Embedding)
		fmt.Fprintf(w, "  %-16s %d\n", "layers", info.Layers)
		fmt.Fprintf(w, "  %-16s %d / %d\n", "heads (q / kv)", info.Heads, info.KVHeads)
	}
	types := make([]string, 0, len(info.TensorTypes))
	for t := range info.TensorTypes {
		types = append(types, t)
	}
	slices.Sort(types)
	fmt.Fprintf(w, "  %-16s", "tensor types")
	for _, t := range types {
		fmt.Fprintf(w, " %s×%d", t, info.TensorTypes[t])
	}
	fmt.Fprintln(w)
	tok := info.Tokenizer.Model
	if info.Tokenizer.Pre != "" {
		tok += " (" + info.Tokenizer.Pre + ")"
	}
	fmt.Fprintf(w, "  %-16s %s, %d tokens\n", "tokenizer", tok, info.Tokenizer.Vocab)
	if info.ChatTemplate != "" {
		fmt.Fprintf(w, "  %-16s %d characters of Jinja\n", "chat template", len(info.ChatTemplate))
	}
}

func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
