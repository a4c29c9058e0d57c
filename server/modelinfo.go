package server

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"zhiyan/chat"
	"zhiyan/gguf"
	"zhiyan/quantize"
	"zhiyan/tensor"
)

// modelDescription is what the Ollama listing routes say about a file,
// read from its GGUF header without loading it.
type modelDescription struct {
	details      ollamaDetails
	template     string
	capabilities []string
	err          error // the file could not be read
}

type descKey struct {
	path    string
	size    int64
	modTime time.Time
}

// describe returns f's description, cached while the file is unchanged.
func (ms *models) describe(f modelFile) modelDescription {
	key := descKey{f.path, f.size, f.modTime}
	ms.descMu.Lock()
	d, ok := ms.desc[key]
	ms.descMu.Unlock()
	if ok {
		return d
	}
	d = describeFile(f.path)
	ms.descMu.Lock()
	if len(ms.desc) > 256 {
		clear(ms.desc) // files come and go; never grow without bound
	}
	ms.desc[key] = d
	ms.descMu.Unlock()
	return d
}

func describeFile(path string) modelDescription {
	d := modelDescription{details: ollamaDetails{Format: "gguf", Families: []string{}}, capabilities: []string{}}
	f, err := gguf.Open(path)
	if err != nil {
		d.err = err
		return d
	}
	defer f.Close()
	arch, _ := f.String("general.architecture")
	d.details.Family, d.details.Families = arch, []string{arch}
	var params uint64
	weights := map[tensor.Type]uint64{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		params += t.Elements()
		if len(t.Dims) >= 2 {
			weights[t.Type] += t.Elements()
		}
	}
	d.details.ParameterSize = humanParams(params)
	d.details.QuantizationLevel = quantLevel(f, weights)
	d.template, _ = f.String("tokenizer.chat_template")
	d.capabilities = append(d.capabilities, "completion")
	out := chat.DetectOutput(d.template)
	if out.Tools != chat.ToolsNone {
		d.capabilities = append(d.capabilities, "tools")
	}
	if out.ReasoningStart != "" {
		d.capabilities = append(d.capabilities, "thinking")
	}
	// /api/embed and /v1/embeddings serve every model (mean-pooled).
	d.capabilities = append(d.capabilities, "embedding")
	return d
}

// humanParams writes a parameter count as Ollama does ("494.03M", "7.6B").
func humanParams(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// quantLevel names the file type (general.file_type), else the type most
// of the weights have.
func quantLevel(f *gguf.File, weights map[tensor.Type]uint64) string {
	if id, ok := f.Uint("general.file_type"); ok {
		for _, ft := range quantize.FileTypes {
			if uint64(ft.ID) == id {
				return ft.Name
			}
		}
	}
	types := make([]tensor.Type, 0, len(weights))
	for t := range weights {
		types = append(types, t)
	}
	if len(types) == 0 {
		return ""
	}
	slices.SortFunc(types, func(a, b tensor.Type) int { return int(weights[b]) - int(weights[a]) })
	return types[0].String()
}

// modelInfo is /api/show's model_info: the GGUF metadata, with arrays of
// more than 64 items left out (null) unless verbose, as Ollama does.
func modelInfo(path string, verbose bool) map[string]any {
	info := map[string]any{}
	f, err := gguf.Open(path)
	if err != nil {
		return info
	}
	defer f.Close()
	var params uint64
	for i := range f.Tensors {
		params += f.Tensors[i].Elements()
	}
	for _, kv := range f.KVs {
		info[kv.Key] = jsonSafe(kv.Value, verbose)
	}
	info["general.parameter_count"] = params
	return info
}

// jsonSafe makes a metadata value encodable: NaN and infinities become
// null, byte arrays numbers, and long arrays null unless verbose.
func jsonSafe(v any, verbose bool) any {
	switch x := v.(type) {
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case []uint8:
		if len(x) > 64 && !verbose {
			return nil
		}
		return byteInts(x)
	case []any:
		if len(x) > 64 && !verbose {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e, verbose)
		}
		return out
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		if rv.Len() > 64 && !verbose {
			return nil
		}
		if k := rv.Type().Elem().Kind(); k == reflect.Float32 || k == reflect.Float64 {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = jsonSafe(rv.Index(i).Interface(), verbose)
			}
			return out
		}
	}
	return v
}
