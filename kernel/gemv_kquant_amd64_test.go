//go:build amd64 && !purego

package kernel

import (
	"testing"

	"zhiyan/tensor"
)

// TestKQuantKernelsRegistered makes sure that on a CPU with AVX2, FMA and
// F16C the K-quant tests above exercise the assembly, not the reference.
func TestKQuantKernelsRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range kqTypes {
		if gemvKernels[typ] == nil {
			t.Errorf("no fast gemv kernel registered for %s", typ)
		}
	}
	if actQuantizers[tensor.Q8_K] == nil {
		t.Error("no fast Q8_K activation quantizer registered")
	}
}
