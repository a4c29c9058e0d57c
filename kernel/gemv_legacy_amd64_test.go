//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// TestLegacyKernelsRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the legacy assembly kernels.
func TestLegacyKernelsRegistered(t *testing.T) {
	if !hasAVX2 {
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

// TestGemvQ5_0Table checks the table kernel, which gemvQ5_0 runs for rows
// of up to q5_0TabBlocks blocks, against the reference, and bit for bit
// against gemvQ5_0AVX2 (same arithmetic, in the same order), which it runs
// for longer rows.
func TestGemvQ5_0Table(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{32, 896, 4864, 32 * q5_0TabBlocks} {
		for _, rows := range []int{1, 3, 4, 9} {
			t.Run(fmt.Sprintf("n=%d/rows=%d", n, rows), func(t *testing.T) {
				rb, _ := tensor.Q5_0.RowBytes(n)
				stride := rb + 3
				w := lgWeights(rng, tensor.Q5_0, rows, n, stride, rows%2 == 1)
				a := make([]byte, n/32*34)
				tensor.QuantizeActivations(tensor.Q8_0, a, lgFloats(rng, n))
				got := make([]float32, rows)
				plain := make([]float32, rows)
				gemvQ5_0TabAVX2(&got[0], &w[0], stride, &a[0], n/32, rows)
				gemvQ5_0AVX2(&plain[0], &w[0], stride, &a[0], n/32, rows)
				for i := range got {
					row := w[i*stride : i*stride+rb]
					want := tensor.VecDot(tensor.Q5_0, n, row, a)
					tol := float64(4*(n/32)+16) / (1 << 24) * lgMagnitude(tensor.Q5_0, row, a, n)
					if d := math.Abs(float64(got[i]) - float64(want)); !(d <= tol) {
						t.Errorf("row %d: got %g, want %g (diff %g > tol %g)", i, got[i], want, d, tol)
					}
					if math.Float32bits(got[i]) != math.Float32bits(plain[i]) {
						t.Errorf("row %d: table kernel %g, plain kernel %g", i, got[i], plain[i])
					}
				}
			})
		}
	}
}
