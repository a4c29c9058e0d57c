package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// smallTypes are the weight types that have a few-token kernel here.
func smallTypes() []tensor.Type {
	var ts []tensor.Type
	for _, typ := range kernelTypes {
		if k, _ := smallGemm(typ); k != nil {
			ts = append(ts, typ)
		}
	}
	return ts
}

// smallMagnitude bounds the sum of the magnitudes of the terms a dot product
// of weight row w and activation row a rounds: Σ (|w_j| + max|w| of the
// block)·|a_j|, the second part covering the offsets and mins that the
// quantized formats add per block.
func smallMagnitude(typ tensor.Type, w, a []byte, n int) float64 {
	wf := make([]float32, n)
	tensor.Dequantize(typ, wf, w)
	af := make([]float32, n)
	if vt := typ.VecDotType(); vt == tensor.F32 {
		tensor.Dequantize(tensor.F32, af, a)
	} else {
		tensor.Dequantize(vt, af, a)
	}
	bs := typ.BlockSize()
	var sum float64
	for b := 0; b < n/bs; b++ {
		var wmax float64
		for _, v := range wf[b*bs : (b+1)*bs] {
			wmax = math.Max(wmax, math.Abs(float64(v)))
		}
		for j := b * bs; j < (b+1)*bs; j++ {
			sum += (math.Abs(float64(wf[j])) + wmax) * math.Abs(float64(af[j]))
		}
	}
	return sum
}

// TestSmallGemm checks each few-token kernel against tensor.VecDot for every
// token count it takes, odd row counts and padded strides. Both compute a
// block's (or super-block's) integer sum exactly, or multiply floats
// exactly; they differ in how the float32 terms are added: VecDot one after
// another, the kernels in 8 lanes (each adding at most n/8 terms, each
// within 2u of exact) that are then added together. By the bound for
// recursive summation both lie within (n/8+8)·u·M of the exact value, M the
// sum of the terms' magnitudes, so |got − want| ≤ (n/4+16)·u·M, u = 2⁻²⁴.
// One wrong element, block, row or token is far larger. Outputs outside the
// call's rows must stay untouched.
func TestSmallGemm(t *testing.T) {
	types := smallTypes()
	if len(types) == 0 {
		t.Skip("no few-token kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, typ := range types {
		_, maxT := smallGemm(typ)
		for _, n := range []int{32, 40, 256, 896, 2048, 4864} {
			if n%typ.BlockSize() != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/n=%d", typ, n), func(t *testing.T) {
				for _, rows := range []int{1, 2, 3, 5, 9} {
					for T := 1; T <= maxT; T++ {
						checkSmallGemm(t, rng, typ, n, rows, T, (rows+T)%2 == 1)
					}
				}
			})
		}
	}
}

// checkSmallGemm runs typ's few-token kernel on rows × T with padded strides.
func checkSmallGemm(t *testing.T, rng *rand.Rand, typ tensor.Type, n, rows, T int, raw bool) {
	t.Helper()
	k, _ := smallGemm(typ)
	rb, _ := typ.RowBytes(n)
	vt := typ.VecDotType()
	ab, _ := vt.RowBytes(n)
	rowBytes, actStride, outStride := rb+10, ab+6, rows+3
	var w []byte
	if raw && typ.BlockSize() == 32 && typ != tensor.F16 {
		w = lgWeights(rng, typ, rows, n, rowBytes, true)
	} else {
		w = make([]byte, rows*rowBytes)
		for r := range rows {
			if err := tensor.Quantize(typ, w[r*rowBytes:r*rowBytes+rb], lgFloats(rng, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := make([]byte, T*actStride)
	for tok := range T {
		tensor.QuantizeActivations(vt, a[tok*actStride:tok*actStride+ab], lgFloats(rng, n))
	}
	out := make([]float32, T*outStride)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	k(out, outStride, w, rowBytes, rows, a, actStride, T, n)
	for tok := range T {
		for r := range outStride {
			got := out[tok*outStride+r]
			if r >= rows {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("rows=%d T=%d: out[%d][%d] = %g written outside the call's rows", rows, T, tok, r, got)
				}
				continue
			}
			row, act := w[r*rowBytes:r*rowBytes+rb], a[tok*actStride:tok*actStride+ab]
			want := tensor.VecDot(typ, n, row, act)
			tol := float64(n/4+16) / (1 << 24) * smallMagnitude(typ, row, act, n)
			if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
				t.Fatalf("rows=%d T=%d raw=%v: out[%d][%d] = %g, want %g (diff %g > tol %g)", rows, T, raw, tok, r, got, want, d, tol)
			}
		}
	}
}

// TestMatMulSmallT checks MatMul for 2…9 tokens (the last past the
// few-token kernels: batch kernels take it) against the reference, with
// several threads splitting odd row counts.
func TestMatMulSmallT(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range kernelTypes {
		const tol = 1e-6 // of scale, as TestMatMulMatchesReference
		for _, cols := range []int{256, 896} {
			if cols%typ.BlockSize() != 0 {
				continue
			}
			const rows = 37
			m := randMatrix(t, r, typ, rows, cols)
			for T := 2; T <= 9; T++ {
				x := randFloats(r, T*cols, 1)
				out := make([]float32, T*rows)
				p.MatMul(out, m, x, T, make([]byte, ActBytes(T, m)))
				for tok := range T {
					for row := range rows {
						want, scale := refDot(typ, m.RowData(row), x[tok*cols:(tok+1)*cols])
						if got := out[tok*rows+row]; math.Abs(float64(got)-want)/scale > tol {
							t.Fatalf("%s %d×%d T=%d: out[%d][%d] = %.8g, want %.8g", typ, rows, cols, T, tok, row, got, want)
						}
					}
				}
			}
		}
	}
}
