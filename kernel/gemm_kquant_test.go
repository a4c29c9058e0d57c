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

// TestGemmKQuantRegistered makes sure a machine with AVX2, FMA and F16C
// actually runs (and so tests) the K-quant batch kernels.
func TestGemmKQuantRegistered(t *testing.T) {
	if !hasAVX2 {
		t.Skip("CPU lacks AVX2, FMA or F16C")
	}
	for _, typ := range kqTypes {
		if gemmKernels[typ] == nil {
			t.Errorf("no gemm kernel registered for %s", typ)
		}
	}
}

// kqGemmCase is one shape: n elements per row, rows weight rows, T tokens;
// padW, padA and padOut widen the weight, activation and output strides
// beyond what the data needs; raw fills the activations with random quants
// (−128 included, which the quantizer never writes) under random scales.
type kqGemmCase struct {
	n, rows, T         int
	padW, padA, padOut int
	raw                bool
}

func kqGemmCases() []kqGemmCase {
	var cs []kqGemmCase
	// Every group shape (1–9 rows and a few more) and every token count
	// modulo 4 on one-block rows.
	for _, rows := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17} {
		for _, T := range []int{1, 2, 3, 4, 5} {
			cs = append(cs, kqGemmCase{n: 256, rows: rows, T: T, padW: 10, padA: 6, padOut: 3})
		}
	}
	cs = append(cs,
		kqGemmCase{n: 512, rows: 9, T: 8, raw: true},
		kqGemmCase{n: 1024, rows: 8, T: 2},
		kqGemmCase{n: 1024, rows: 9, T: 17, padW: 4, padA: 2, padOut: 1},
		kqGemmCase{n: 1024, rows: 17, T: 64},
		// Several k-chunks (of at most 8 super-blocks): the later ones add
		// to the earlier results.
		kqGemmCase{n: 2560, rows: 16, T: 8, raw: true},
		kqGemmCase{n: 4864, rows: 3, T: 5},
		kqGemmCase{n: 4864, rows: 9, T: 7, padW: 2, padA: 4, padOut: 5},
		// Several token blocks (of 65 and 66 tokens).
		kqGemmCase{n: 256, rows: 9, T: 131, padOut: 2},
	)
	return cs
}

// TestGemmKQuant checks every registered K-quant batch kernel against
// tensor.VecDot for each (row, token). Both form each super-block's integer
// sums exactly. The kernel rounds, per super-block, the int32 → float32
// conversion of the scale sum and of the min sum, their factors d·d_a and
// dmin·d_a, and one FMA each into a single float32 accumulator (2·nb
// additions, plus one per k-chunk), each rounded value bounded by M =
// Σ|w·a| with scale and min parts apart (kqMagnitude): within (2·nb+8)·u·M
// of exact. VecDot is within (nb+6)·u·M (see TestGemvKQuant), so the test
// allows (4·nb+16)·u·M, u = 2⁻²⁴. One wrong quant costs about M/n, far
// more. Outputs outside the rows × T window must stay untouched.
func TestGemmKQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, typ := range kqTypes {
		f := gemmKernels[typ]
		if f == nil {
			t.Logf("%s: no gemm kernel registered", typ)
			continue
		}
		for _, c := range kqGemmCases() {
			name := fmt.Sprintf("%s/n=%d/rows=%d/T=%d/pad=%d,%d,%d/raw=%v", typ, c.n, c.rows, c.T, c.padW, c.padA, c.padOut, c.raw)
			t.Run(name, func(t *testing.T) { checkGemmKQuant(t, rng, f, typ, c) })
		}
	}
}

func checkGemmKQuant(t *testing.T, rng *rand.Rand, f gemmFunc, typ tensor.Type, c kqGemmCase) {
	rb, _ := typ.RowBytes(c.n)
	wStride := rb + c.padW
	w := kqWeights(rng, typ, c.rows, c.n, wStride)
	w = w[:(c.rows-1)*wStride+rb]

	ab, _ := tensor.Q8_K.RowBytes(c.n)
	aStride := ab + c.padA
	a := make([]byte, (c.T-1)*aStride+ab)
	for tok := range c.T {
		row := a[tok*aStride : tok*aStride+ab]
		if c.raw {
			kqRawActivations(rng, row)
		} else {
			tensor.QuantizeActivations(tensor.Q8_K, row, kqFloats(rng, c.n))
		}
	}

	outStride := c.rows + c.padOut
	out := make([]float32, (c.T-1)*outStride+c.rows+c.padOut)
	for i := range out {
		out[i] = float32(math.NaN()) // must be overwritten inside the window, kept outside
	}
	f(out[:(c.T-1)*outStride+c.rows], outStride, w, wStride, c.rows, a, aStride, c.T, c.n)

	const u = 0x1p-24
	nb := float64(c.n / tensor.QK_K)
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
			tol := (4*nb + 16) * u * kqMagnitude(typ, row, act, c.n)
			if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
				t.Errorf("row %d token %d: got %g, want %g (diff %g > tol %g)", i, tok, got, want, d, tol)
				if bad++; bad > 10 {
					t.FailNow()
				}
			}
		}
	}
}

// kqRawActivations fills a Q8_K row with uniformly random quants (−128
// included) under random scales, with bsums that match the quants as the
// format requires.
func kqRawActivations(rng *rand.Rand, row []byte) {
	for b := 0; b+292 <= len(row); b += 292 {
		blk := row[b : b+292]
		binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(rng.NormFloat64()*0.05)))
		for j := range 16 {
			var s int16
			for l := range 16 {
				q := int8(rng.Uint32())
				blk[4+16*j+l] = byte(q)
				s += int16(q)
			}
			binary.LittleEndian.PutUint16(blk[260+2*j:], uint16(s))
		}
	}
}

func TestGemmKQuantEdges(t *testing.T) {
	for _, typ := range kqTypes {
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
		f(nil, 0, nil, 0, 0, nil, 0, 4, 256)
		f(nil, 0, nil, 0, 3, nil, 0, 0, 256)

		rb, _ := typ.RowBytes(256)
		const ab = 292
		cases := []struct {
			name               string
			out                int
			outStride          int
			w                  int
			rowBytes, rows     int
			a, actStride, T, n int
			wantPanic          bool
		}{
			{"ok", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 256, false},
			{"short weights", 2*5 + 3, 5, 3*rb - 1, rb, 3, 2 * ab, ab, 2, 256, true},
			{"short activations", 2*5 + 3, 5, 3 * rb, rb, 3, 2*ab - 1, ab, 2, 256, true},
			{"short output", 5 + 3 - 1, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 256, true},
			{"weight stride below row", 2*5 + 3, 5, 3 * rb, rb - 1, 3, 2 * ab, ab, 2, 256, true},
			{"activation stride below row", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab - 1, 2, 256, true},
			{"output stride below rows", 2*5 + 3, 2, 3 * rb, rb, 3, 2 * ab, ab, 2, 256, true},
			{"partial block", 2*5 + 3, 5, 3 * rb, rb, 3, 2 * ab, ab, 2, 128, true},
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
