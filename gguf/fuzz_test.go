package gguf

import (
	"bytes"
	"testing"

	"zhiyan/tensor"
)

// FuzzParse feeds arbitrary bytes to Parse: it must return an error or a File
// whose every value and tensor can be read, and never panic.
func FuzzParse(f *testing.F) {
	// A small valid file with a few KVs (a nested array included) and two tensors.
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("llama.block_count", uint32(2))
	w.Set("tokenizer.ggml.tokens", []string{"a", "bc"})
	w.Set("tokenizer.ggml.scores", []float32{0, -1})
	w.Set("nested", []any{[]int32{1}, []any{[]bool{true}}})
	w.AddTensor("a", tensor.F32, []uint64{4, 2}, make([]byte, 32))
	w.AddTensor("b", tensor.Q8_0, []uint64{32}, make([]byte, 34))
	var buf bytes.Buffer
	w.WriteTo(&buf)
	valid := buf.Bytes()
	f.Add(valid)
	for _, n := range []int{0, 4, 8, 23, 24, 60, len(valid) / 2, len(valid) - 1} {
		f.Add(valid[:n])
	}
	for _, a := range attacks() {
		if len(a.file) <= 4096 {
			f.Add(a.file)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error is a %T, not a *FormatError: %v", err, err)
			}
			return
		}
		touch(file)
	})
}
