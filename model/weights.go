package model

import (
	"fmt"

	"zhiyan/gguf"
	"zhiyan/kernel"
	"zhiyan/tensor"
)

// weights reads named tensors out of a GGUF file, checking their shapes. The
// first error sticks, so loaders read every tensor and check once.
type weights struct {
	f   *gguf.File
	err error
}

func (w *weights) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func (w *weights) has(name string) bool {
	_, ok := w.f.Tensor(name)
	return ok
}

// matrix returns the 2-D tensor name holding rows×cols (ggml ne = [cols, rows]),
// without copying it.
func (w *weights) matrix(name string, rows, cols int) *kernel.Matrix {
	if w.err != nil {
		return nil
	}
	ti, ok := w.f.Tensor(name)
	if !ok {
		w.fail("tensor %s is missing", name)
		return nil
	}
	if len(ti.Dims) != 2 || ti.Dims[0] != uint64(cols) || ti.Dims[1] != uint64(rows) {
		w.fail("tensor %s has shape %v, want [%d %d]", name, ti.Dims, cols, rows)
		return nil
	}
	data, err := w.f.TensorData(name)
	if err != nil {
		w.fail("tensor %s: %w", name, err)
		return nil
	}
	m, err := kernel.NewMatrix(ti.Type, rows, cols, data)
	if err != nil {
		w.fail("tensor %s: %w", name, err)
		return nil
	}
	return m
}

// vector returns the 1-D tensor name of n elements decoded to float32.
// These are norms and biases: small, so copied.
func (w *weights) vector(name string, n int) []float32 {
	if w.err != nil {
		return nil
	}
	ti, ok := w.f.Tensor(name)
	if !ok {
		w.fail("tensor %s is missing", name)
		return nil
	}
	if ti.Elements() != uint64(n) || ti.Dims[0] != uint64(n) {
		w.fail("tensor %s has shape %v, want [%d]", name, ti.Dims, n)
		return nil
	}
	if !ti.Type.HasKernels() {
		w.fail("tensor %s: type %s is not supported", name, ti.Type)
		return nil
	}
	data, err := w.f.TensorData(name)
	if err != nil {
		w.fail("tensor %s: %w", name, err)
		return nil
	}
	if rb, err := ti.Type.RowBytes(n); err != nil || rb != len(data) {
		w.fail("tensor %s: %d bytes do not hold %d %s elements", name, len(data), n, ti.Type)
		return nil
	}
	v := make([]float32, n)
	tensor.Dequantize(ti.Type, v, data)
	return v
}

// optionalVector is vector for a tensor that may be absent (nil then).
func (w *weights) optionalVector(name string, n int) []float32 {
	if !w.has(name) {
		return nil
	}
	return w.vector(name, n)
}
