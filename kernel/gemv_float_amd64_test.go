//go:build amd64 && !purego

package kernel

import (
	"testing"

	"zhiyan/tensor"
)

// TestFloatKernelsRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the assembly kernels.
func TestFloatKernelsRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		if gemvKernels[typ] == nil {
			t.Errorf("no fast gemv kernel registered for %s", typ)
		}
	}
	if actQuantizers[tensor.F16] == nil {
		t.Error("no fast F16 activation converter registered")
	}
}
