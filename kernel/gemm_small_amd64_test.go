//go:build amd64 && !purego

package kernel

import (
	"testing"

	"zhiyan/tensor"
)

// TestSmallGemmRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the few-token kernels.
func TestSmallGemmRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.F16} {
		if k, maxT := smallGemm(typ); k == nil || maxT < 2 {
			t.Errorf("no few-token kernel registered for %s", typ)
		}
	}
}
