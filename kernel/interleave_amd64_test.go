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
// bit for bit, as the file's layout at two to four tokens (the few-token
// kernel) and at more (the batch kernel, packed from either layout), and at
// one token (the decode kernel, which adds in another order) products
// within the rounding bound of tensor.VecDot's; Row, RowData and Prepack
// see the same weights.
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
				if T == 1 {
					checkAgainstVecDot(t, file, act, g, 0, rows, T)
					continue
				}
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
		for _, rg := range [][2]int{{0, 1}, {1, 3}, {2, 7}, {3, 21}, {5, 24}, {8, 16}, {22, 24}} {
			out := make([]float32, T*rows)
			pr := product{Product: Product{Out: out, M: il}, act: act, actBytes: cols / 32 * 34}
			pr.rows(rg[0], rg[1], T)
			checkAgainstVecDot(t, file, act, out, rg[0], rg[1], T)
			for tok := range T {
				for r := range rows {
					if (r < rg[0] || r >= rg[1]) && out[tok*rows+r] != 0 {
						t.Fatalf("T=%d rows %v: row %d of token %d written", T, rg, r, tok)
					}
				}
			}
		}
	}
}

// checkAgainstVecDot checks out[t·Rows+r], for rows [lo, hi) and t < T,
// against tensor.VecDot of m's row r and the Q8_0 activation row t in act,
// within TestGemvLegacy's bound: every kernel sums each block exactly and
// adds the blocks' float32 terms in some order of at most two lanes.
func checkAgainstVecDot(t *testing.T, m *Matrix, act []byte, out []float32, lo, hi, T int) {
	t.Helper()
	n, ab := m.Cols, m.Cols/32*34
	for tok := range T {
		a := act[tok*ab : (tok+1)*ab]
		for r := lo; r < hi; r++ {
			row := m.RowData(r)
			want := tensor.VecDot(m.Type, n, row, a)
			tol := float64(4*(n/32)+16) / (1 << 24) * lgMagnitude(m.Type, row, a, n)
			if got := out[tok*m.Rows+r]; !(math.Abs(float64(got)-float64(want)) <= tol) {
				t.Fatalf("%s row %d, token %d: %g, want %g (tolerance %g)", m.Type, r, tok, got, want, tol)
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

// BenchmarkGemvInterleaved times one thread's decode in the file's layout
// and interleaved, reporting weight GB/s: over Qwen2.5-0.5B's attention
// output (896×896, in L2) and FFN gate (4864×896) matrices, and over the
// latter streaming from memory with one and two goroutines (as
// benchGemvDRAM).
func BenchmarkGemvInterleaved(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0} {
		for _, rows := range []int{896, 4864} {
			benchGemvInterleaved(b, rng, typ, rows, 896)
		}
	}
}

func benchGemvInterleaved(b *testing.B, rng *rand.Rand, typ tensor.Type, rows, cols int) {
	{
		file := randMatrix(b, rng, typ, rows, cols)
		il, _ := NewMatrix(typ, rows, cols, bytes.Clone(file.Data))
		il.MoveTo(make([]byte, len(file.Data)))
		if il.layout == nil {
			b.Skip("no interleaved layout on this machine")
		}
		a := make([]byte, cols/32*34)
		tensor.QuantizeActivations(tensor.Q8_0, a, lgFloats(rng, cols))
		out := make([]float32, rows)
		x4 := func(out []float32, w []byte, _ int, a []byte, n int) { il.layout.gemv(out, w, a, n) }
		for _, k := range []struct {
			name string
			f    gemvFunc
			w    []byte
		}{{"file", gemv(typ), file.Data}, {"interleaved", x4, il.Data}} {
			b.Run(fmt.Sprintf("%s/%dx%d/%s/cache", typ, rows, cols, k.name), func(b *testing.B) {
				b.SetBytes(int64(len(k.w)))
				for b.Loop() {
					k.f(out, k.w, file.rowBytes, a, cols)
				}
			})
			if rows < 4864 {
				continue
			}
			var copies [][]byte
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/%s/dram-%dt", typ, rows, cols, k.name, threads), func(b *testing.B) {
					if copies == nil {
						for range dramBytes/len(k.w) + 1 {
							copies = append(copies, bytes.Clone(k.w))
						}
					}
					p := NewPool(threads)
					defer p.Close()
					j := &gemvJob{f: k.f, out: out, rb: file.rowBytes, a: a, cols: cols}
					b.SetBytes(int64(len(k.w)))
					i := 0
					for b.Loop() {
						j.w = copies[i%len(copies)]
						p.parallel(j, rows, rowGrain)
						i++
					}
				})
			}
		}
	}
}
