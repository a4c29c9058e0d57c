//go:build amd64 && !purego

package kernel

import (
	"testing"

	"zhiyan/tensor"
)

// TestLegacyKernelsRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the legacy assembly kernels.
func TestLegacyKernelsRegistered(t *testing.T) {
	if !hasLegacySIMD {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range legacyTypes {
		if gemvKernels[typ] == nil {
			t.Errorf("no fast gemv kernel registered for %s", typ)
		}
	}
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q8_1} {
		if actQuantizers[typ] == nil {
			t.Errorf("no fast %s activation quantizer registered", typ)
		}
	}
}
