//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// TestGemmFloatRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the float batch kernels.
func TestGemmFloatRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		if gemm(typ) == nil {
			t.Errorf("no gemm kernel registered for %s", typ)
		}
	}
}

// TestGemmFloat checks each float gemm kernel, every (row, token) result,
// against tensor.VecDot. The kernels sum each pair in one 8-lane float32 FMA
// accumulator while VecDot sums float32 products in float64; the standard
// bound for recursive summation with chains of n/8 additions per lane, 3
// levels of lane reduction, up to n/floatGemmKC chunk additions and 7 tail
// additions gives |got − exact| ≤ (n/8 + n/floatGemmKC + 10)·u·Σ|w·a| (u = 2⁻²⁴),
// and VecDot is within 2u·Σ|w·a| of exact. A wrong element, row, token or
// lane costs far more. The shapes cover the 4×3 tile and its row and token
// edges, n below, at and above a chunk and not a multiple of 8, more tokens
// than one block, and strides with padding (whose output entries must stay
// untouched).
func TestGemmFloat(t *testing.T) {
	type shape struct{ n, rows, T int }
	var shapes []shape
	for _, n := range []int{1, 7, 8, 16, 33, 96} {
		for _, rows := range []int{1, 2, 3, 4, 5, 7, 8, 9} {
			for _, T := range []int{1, 2, 3, 5, 8, 17} {
				shapes = append(shapes, shape{n, rows, T})
			}
		}
	}
	shapes = append(shapes,
		shape{896, 9, 64}, shape{896, 13, 5}, shape{1024, 4, 3}, shape{1032, 5, 4},
		shape{2048, 8, 6}, shape{2051, 6, 7}, shape{4864, 5, 4}, shape{4867, 3, 2},
		shape{1024, 5, 70}, shape{2048, 2, 130}) // more tokens than one block
	rng := rand.New(rand.NewPCG(21, 22))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		f := gemm(typ)
		if f == nil {
			t.Logf("no gemm kernel for %s on this CPU", typ)
			continue
		}
		for i, s := range shapes {
			pad := 4 * (i % 3) // bytes of padding after each weight and activation row
			t.Run(fmt.Sprintf("%s/n=%d/rows=%d/T=%d", typ, s.n, s.rows, s.T), func(t *testing.T) {
				checkGemmFloat(t, rng, f, typ, s.n, s.rows, s.T, pad)
			})
		}
	}
}

func checkGemmFloat(t *testing.T, rng *rand.Rand, f gemmFunc, typ tensor.Type, n, rows, T, pad int) {
	rowBytes, err := typ.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	wStride, aStride, outStride := rowBytes+pad, rowBytes+pad+2, rows+pad/4
	wf := floatRows(rng, rows, n)
	w := make([]byte, (rows-1)*wStride+rowBytes)
	for r := range rows {
		if err := tensor.Quantize(typ, w[r*wStride:r*wStride+rowBytes], wf[r*n:(r+1)*n]); err != nil {
			t.Fatal(err)
		}
	}
	a := make([]byte, (T-1)*aStride+rowBytes)
	x := make([]float32, n)
	for tok := range T {
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		tensor.QuantizeActivations(typ, a[tok*aStride:tok*aStride+rowBytes], x)
	}

	const sentinel = 12345
	out := make([]float32, (T-1)*outStride+rows)
	for i := range out {
		out[i] = sentinel
		if i%outStride < rows {
			out[i] = float32(math.NaN()) // the kernel must overwrite, not add
		}
	}
	f(out, outStride, w, wStride, rows, a, aStride, T, n)

	wd, ad := make([]float32, n), make([]float32, n)
	for tok := range T {
		at := a[tok*aStride : tok*aStride+rowBytes]
		tensor.Dequantize(typ, ad, at)
		for r := range rows {
			row := w[r*wStride : r*wStride+rowBytes]
			tensor.Dequantize(typ, wd, row)
			var abs float64
			for j := range wd {
				abs += math.Abs(float64(wd[j]) * float64(ad[j]))
			}
			want := tensor.VecDot(typ, n, row, at)
			got := out[tok*outStride+r]
			tol := float64(n/8+n/floatGemmKC+12) * 0x1p-24 * abs
			if diff := math.Abs(float64(got) - float64(want)); !(diff <= tol) {
				t.Errorf("row %d token %d = %g, want %g (diff %.3g > tol %.3g)", r, tok, got, want, diff, tol)
			}
		}
		for i := rows; i < outStride && tok*outStride+i < len(out); i++ {
			if got := out[tok*outStride+i]; got != sentinel {
				t.Errorf("padding out[%d] = %g, want it untouched", tok*outStride+i, got)
			}
		}
	}
}

// TestGemmFloatSplitInvariant checks that a result does not depend on how
// the caller splits rows and tokens between calls (tile edges take other
// kernels), so MatMul gives the same bits on any number of threads.
func TestGemmFloatSplitInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16} {
		f := gemm(typ)
		if f == nil {
			continue
		}
		for _, n := range []int{40, 1100} {
			const rows, T = 11, 7
			rb, _ := typ.RowBytes(n)
			w := make([]byte, rows*rb)
			_ = tensor.Quantize(typ, w, floatRows(rng, rows, n))
			a := make([]byte, T*rb)
			tensor.QuantizeActivations(typ, a, floatRows(rng, T, n))
			whole := make([]float32, T*rows)
			f(whole, rows, w, rb, rows, a, rb, T, n)
			for range 5 {
				split := make([]float32, T*rows)
				for t0 := 0; t0 < T; {
					t1 := min(T, t0+1+rng.IntN(4))
					for r0 := 0; r0 < rows; {
						r1 := min(rows, r0+1+rng.IntN(6))
						f(split[t0*rows+r0:], rows, w[r0*rb:], rb, r1-r0, a[t0*rb:], rb, t1-t0, n)
						r0 = r1
					}
					t0 = t1
				}
				for i := range whole {
					if math.Float32bits(split[i]) != math.Float32bits(whole[i]) {
						t.Fatalf("%s n=%d: out[%d] = %g split, %g whole", typ, n, i, split[i], whole[i])
					}
				}
			}
		}
	}
}

// TestGemmFloatPanics checks that slices too short for the shape they come
// with are refused before the assembly reads or writes past them.
func TestGemmFloatPanics(t *testing.T) {
	f := gemm(tensor.F16)
	if f == nil {
		t.Skip("no F16 gemm kernel on this CPU")
	}
	const n, rows, T, rb = 16, 4, 3, 32
	cases := []struct {
		name                                   string
		outLen, outStride, wLen, wStride, aLen int
	}{
		{"short weights", T * rows, rows, rows*rb - 1, rb, T * rb},
		{"short activations", T * rows, rows, rows * rb, rb, T*rb - 1},
		{"short output", T*rows - 1, rows, rows * rb, rb, T * rb},
		{"output stride below rows", T * rows, rows - 1, rows * rb, rb, T * rb},
		{"row stride below a row", T * rows, rows, rows * rb, rb - 2, T * rb},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(make([]float32, c.outLen), c.outStride, make([]byte, c.wLen), c.wStride, rows, make([]byte, c.aLen), rb, T, n)
		})
	}
}
