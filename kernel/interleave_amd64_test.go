//go:build amd64 && !purego

package kernel

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// TestInterleave: a matrix MoveTo interleaved gives the same products,
// bit for bit, as the file's layout, at one token (the decode kernel), at
// two to four (the few-token kernel) and at more (the batch kernel, packed
// from either layout); Row, RowData and Prepack see the same weights.
// Prepacking is checked byte for byte where every group has 8 rows.
func TestInterleave(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	p := NewPool(3)
	defer p.Close()
	for _, c := range []struct {
		typ        tensor.Type
		rows, cols int
	}{
		{tensor.Q5_0, 4, 32}, {tensor.Q5_0, 8, 896}, {tensor.Q5_0, 20, 896}, {tensor.Q5_0, 132, 4864},
		{tensor.Q5_0, 12, 32 * x4Blocks},
		{tensor.Q4_0, 4, 32}, {tensor.Q4_0, 20, 896}, {tensor.Q4_0, 132, 4864}, {tensor.Q4_0, 12, 32 * x4Blocks},
	} {
		typ, rows, cols := c.typ, c.rows, c.cols
		t.Run(fmt.Sprintf("%s/%dx%d", typ, rows, cols), func(t *testing.T) {
			file := randMatrix(t, rng, typ, rows, cols)
			orig := bytes.Clone(file.Data)
			il, _ := NewMatrix(typ, rows, cols, bytes.Clone(orig))
			il.MoveTo(make([]byte, len(orig)))
			if il.layout == nil {
				if hasAVX2 {
					t.Fatalf("MoveTo did not interleave a %s matrix on a machine with AVX2", typ)
				}
				t.Skip("no interleaved layout on this machine")
			}
			again := bytes.Clone(il.Data)
			il.MoveTo(make([]byte, len(orig)))
			if !bytes.Equal(il.Data, again) {
				t.Error("a second move interleaved again")
			}
			if bytes.Equal(il.Data, orig) {
				t.Fatal("MoveTo left the bytes as they were")
			}
			got, want := make([]float32, cols), make([]float32, cols)
			for r := range rows {
				if !bytes.Equal(il.RowData(r), file.RowData(r)) {
					t.Fatalf("RowData(%d) differs", r)
				}
				il.Row(got, r)
				file.Row(want, r)
				if !sameFloats(got, want) {
					t.Fatalf("Row(%d) differs", r)
				}
			}
			for _, T := range []int{1, 2, 3, 4, 5, 9} {
				x := randFloats(rng, T*cols, 1)
				act := make([]byte, ActBytes(T, file))
				g, w := make([]float32, T*rows), make([]float32, T*rows)
				p.MatMul(g, il, x, T, act)
				p.MatMul(w, file, x, T, act)
				if !sameFloats(g, w) {
					t.Fatalf("T=%d: interleaved products differ from the file layout's", T)
				}
			}
			if !bytes.Equal(il.Data, again) {
				t.Fatal("products changed the weights")
			}
			if il.Prepack() == 0 {
				t.Fatal("no prepacking of an interleaved matrix")
			}
			file.Prepack()
			// A last group of fewer than 8 rows is padded differently.
			if rows%8 == 0 && !bytes.Equal(il.packed, file.packed) {
				t.Fatal("prepacked from the interleaved layout ≠ prepacked from the file's")
			}
			const T = 9
			x := randFloats(rng, T*cols, 1)
			act := make([]byte, ActBytes(T, file))
			g, w := make([]float32, T*rows), make([]float32, T*rows)
			p.MatMul(g, il, x, T, act)
			p.MatMul(w, file, x, T, act)
			if !sameFloats(g, w) {
				t.Fatal("products from the prepacked weights differ")
			}
		})
	}
}

// TestInterleavedRowRanges: ranges that cut groups (which MatMul's split
// avoids) still get every row right.
func TestInterleavedRowRanges(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0} {
		t.Run(typ.String(), func(t *testing.T) { testInterleavedRowRanges(t, typ) })
	}
}

func testInterleavedRowRanges(t *testing.T, typ tensor.Type) {
	rng := rand.New(rand.NewPCG(43, 44))
	const rows, cols = 24, 896
	file := randMatrix(t, rng, typ, rows, cols)
	il, _ := NewMatrix(typ, rows, cols, bytes.Clone(file.Data))
	il.MoveTo(make([]byte, len(file.Data)))
	if il.layout == nil {
		t.Skip("no interleaved layout on this machine")
	}
	for _, T := range []int{1, 3, 6} {
		x := randFloats(rng, T*cols, 1)
		act := make([]byte, ActBytes(T, file))
		for tok := range T {
			quantizeActivations(tensor.Q8_0, act[tok*cols/32*34:(tok+1)*cols/32*34], x[tok*cols:(tok+1)*cols])
		}
		want := make([]float32, T*rows)
		for tok := range T {
			gemv(typ)(want[tok*rows:(tok+1)*rows], file.Data, file.rowBytes, act[tok*cols/32*34:], cols)
		}
		for _, rg := range [][2]int{{0, 1}, {1, 3}, {2, 7}, {3, 21}, {5, 24}, {8, 16}, {22, 24}} {
			out := make([]float32, T*rows)
			pr := product{Product: Product{Out: out, M: il}, act: act, actBytes: cols / 32 * 34}
			pr.rows(rg[0], rg[1], T)
			for tok := range T {
				for r := range rows {
					g, w := out[tok*rows+r], want[tok*rows+r]
					inside := r >= rg[0] && r < rg[1]
					if inside && T > 1 {
						// the few-token and batch kernels add in other orders
						if math.Abs(float64(g-w)) > 1e-3*math.Abs(float64(w))+1e-3 {
							t.Fatalf("T=%d rows %v: row %d of token %d = %g, want %g", T, rg, r, tok, g, w)
						}
					} else if inside && math.Float32bits(g) != math.Float32bits(w) || !inside && g != 0 {
						t.Fatalf("T=%d rows %v: row %d of token %d = %g, want %g (inside %v)", T, rg, r, tok, g, w, inside)
					}
				}
			}
		}
	}
}

// TestMoveToKeepsLayout: other types, row counts that are not whole groups
// and rows longer than the kernel takes are moved as they are.
func TestMoveToKeepsLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, c := range []struct {
		typ        tensor.Type
		rows, cols int
	}{
		{tensor.Q8_0, 8, 64},
		{tensor.Q4_1, 8, 64},
		{tensor.Q5_0, 6, 64},
		{tensor.Q4_0, 4, 32 * (x4Blocks + 1)},
	} {
		m := randMatrix(t, rng, c.typ, c.rows, c.cols)
		orig := m.Data
		dst := make([]byte, len(orig))
		m.MoveTo(dst)
		if m.layout != nil || !bytes.Equal(dst, orig) || &m.Data[0] != &dst[0] {
			t.Errorf("%s %d×%d was not moved as it is", c.typ, c.rows, c.cols)
		}
	}
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
