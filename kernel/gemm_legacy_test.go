//go:build amd64 && !purego

package kernel

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// TestGemmLegacyRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the legacy batch kernels.
func TestGemmLegacyRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range legacyTypes {
		if gemmKernels[typ] == nil {
			t.Errorf("no gemm kernel registered for %s", typ)
		}
	}
}

// gemmCase is one shape: n elements per row, rows weight rows, T tokens;
// padW, padA and padOut widen the weight, activation and output strides
// beyond what the data needs; raw fills weights and activations with random
// bytes under random scales (Q8_0 weights and all activations then include
// -128, which no quantizer writes but the kernels must still get right).
type gemmCase struct {
	n, rows, T         int
	padW, padA, padOut int
	raw                bool
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	// Every group shape (1–9 rows and a few more) and token count parity on
	// short rows.
	for _, rows := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17} {
		for _, T := range []int{1, 2, 3, 5} {
			cs = append(cs, gemmCase{n: 96, rows: rows, T: T, padW: 10, padA: 6, padOut: 3})
		}
	}
	cs = append(cs,
		gemmCase{n: 32, rows: 9, T: 2},
		gemmCase{n: 64, rows: 3, T: 3, raw: true},
		gemmCase{n: 896, rows: 8, T: 2},
		gemmCase{n: 896, rows: 9, T: 17, padW: 4, padA: 2, padOut: 1},
		gemmCase{n: 896, rows: 17, T: 64},
		gemmCase{n: 896, rows: 11, T: 8, raw: true},
		// Several k-chunks: the later ones add to the earlier results.
		gemmCase{n: 2048, rows: 16, T: 8},
		gemmCase{n: 2048, rows: 7, T: 64, padOut: 5, raw: true},
		gemmCase{n: 4864, rows: 3, T: 5},
		gemmCase{n: 4864, rows: 9, T: 17, padW: 2, padA: 4},
		// Several token blocks (of 65 and 66 tokens: odd ones too).
		gemmCase{n: 96, rows: 9, T: 130, padOut: 2},
		gemmCase{n: 2048, rows: 5, T: 131, padA: 2},
	)
	return cs
}

// TestGemmLegacy checks every registered legacy batch kernel against
// tensor.VecDot for each (row, token). Both form each block's integer sum
// exactly; the kernel adds nb terms (Q4_1, Q5_1: 2·nb) d_w·d_a·Σ, each
// within 2u of exact, by FMA in one float32 lane per (row, token), plus one
// addition per k-chunk, so by the recursive-summation bound used for the
// gemv kernels both lie within (2·nb+4)·u·M of the exact value and
// |got − want| ≤ (4·nb+16)·u·M, M being the sum of the terms' magnitudes
// (lgMagnitude). One wrong element, block, row or token is far larger.
// Outputs outside the rows × T window must stay untouched.
func TestGemmLegacy(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, typ := range legacyTypes {
		f := gemmKernels[typ]
		if f == nil {
			t.Logf("%s: no gemm kernel registered", typ)
			continue
		}
		for _, c := range gemmCases() {
			name := fmt.Sprintf("%s/n=%d/rows=%d/T=%d/pad=%d,%d,%d/raw=%v", typ, c.n, c.rows, c.T, c.padW, c.padA, c.padOut, c.raw)
			t.Run(name, func(t *testing.T) { checkGemmLegacy(t, rng, f, typ, c) })
		}
	}
}

func checkGemmLegacy(t *testing.T, rng *rand.Rand, f gemmFunc, typ tensor.Type, c gemmCase) {
	rb, _ := typ.RowBytes(c.n)
	wStride := rb + c.padW
	w := lgWeights(rng, typ, c.rows, c.n, wStride, c.raw)
	w = w[:(c.rows-1)*wStride+rb]

	at := typ.VecDotType()
	ab, _ := at.RowBytes(c.n)
	aStride := ab + c.padA
	a := make([]byte, (c.T-1)*aStride+ab)
	for tok := range c.T {
		row := a[tok*aStride : tok*aStride+ab]
		if c.raw {
			lgRawActivations(rng, at, row)
		} else {
			tensor.QuantizeActivations(at, row, lgFloats(rng, c.n))
		}
	}

	outStride := c.rows + c.padOut
	out := make([]float32, (c.T-1)*outStride+c.rows+c.padOut)
	for i := range out {
		out[i] = float32(math.NaN()) // must be overwritten inside the window, kept outside
	}
	f(out[:(c.T-1)*outStride+c.rows], outStride, w, wStride, c.rows, a, aStride, c.T, c.n)

	const u = 1.0 / (1 << 24)
	bad := 0
	for tok := range c.T {
		act := a[tok*aStride : tok*aStride+ab]
		for i := range outStride {
			got := out[tok*outStride+i]
			if i >= c.rows {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("token %d: wrote %g at row %d, outside %d rows", tok, got, i, c.rows)
				}
				continue
			}
			row := w[i*wStride : i*wStride+rb]
			want := tensor.VecDot(typ, c.n, row, act)
			tol := float64(4*(c.n/32)+16) * u * lgMagnitude(typ, row, act, c.n)
			if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
				t.Errorf("row %d token %d: got %g, want %g (diff %g > tol %g)", i, tok, got, want, d, tol)
				if bad++; bad > 10 {
					t.FailNow()
				}
			}
		}
	}
}

// lgRawActivations fills an activation row with random quants (including
// -128) under random finite fp16 scales (and, for Q8_1, random s).
func lgRawActivations(rng *rand.Rand, at tensor.Type, row []byte) {
	for i := range row {
		row[i] = byte(rng.Uint32())
	}
	bb := at.BlockBytes()
	for b := 0; b < len(row)/bb; b++ {
		binary.LittleEndian.PutUint16(row[b*bb:], tensor.FP32ToFP16(float32(rng.NormFloat64()*0.05)))
		if at == tensor.Q8_1 {
			binary.LittleEndian.PutUint16(row[b*bb+2:], tensor.FP32ToFP16(float32(rng.NormFloat64())))
		}
	}
}

func TestGemmLegacyEdges(t *testing.T) {
	for _, typ := range legacyTypes {
		f := gemmKernels[typ]
		if f == nil {
			continue
		}
		// n = 0: every output in the window is 0.
		out := []float32{1, 2, 3, 4, 5, 6}
		f(out, 3, nil, 0, 2, nil, 0, 2, 0)
		if want := []float32{0, 0, 3, 0, 0, 6}; fmt.Sprint(out) != fmt.Sprint(want) {
			t.Errorf("%s: n=0 gave %v, want %v", typ, out, want)
		}
		// No rows or no tokens: nothing to do, nothing touched.
		f(nil, 0, nil, 0, 0, nil, 0, 4, 64)
		f(nil, 0, nil, 0, 3, nil, 0, 0, 64)

		rb, _ := typ.RowBytes(64)
		ab, _ := typ.VecDotType().RowBytes(64)
		cases := []struct {
			name               string
			out                int
			outStride          int
			w                  int
			rowBytes, rows     int
			a, actStride, T, n int
			wantPanic          bool
		}{
			{"ok", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 64, false},
			{"short weights", 2*5 + 3, 5, 3*rb - 1, rb, 3, 2 * ab, ab, 2, 64, true},
			{"short activations", 2*5 + 3, 5, 3 * rb, rb, 3, 2*ab - 1, ab, 2, 64, true},
			{"short output", 5 + 3 - 1, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 64, true},
			{"weight stride below row", 2*5 + 3, 5, 3 * rb, rb - 1, 3, 2 * ab, ab, 2, 64, true},
			{"activation stride below row", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab - 1, 2, 64, true},
			{"output stride below rows", 2*5 + 3, 2, 3 * rb, rb, 3, 2 * ab, ab, 2, 64, true},
			{"partial block", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 48, true},
		}
		for _, c := range cases {
			func() {
				defer func() {
					if got := recover() != nil; got != c.wantPanic {
						t.Errorf("%s %s: panicked = %v, want %v", typ, c.name, got, c.wantPanic)
					}
				}()
				f(make([]float32, c.out), c.outStride, make([]byte, c.w), c.rowBytes, c.rows, make([]byte, c.a), c.actStride, c.T, c.n)
			}()
		}
	}
}
