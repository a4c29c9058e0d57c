package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPrepackedMatMul: products over weights packed once agree with the
// reference for every type that packs, at few and many tokens, with ragged
// row counts and threads splitting the rows; other types are unchanged.
func TestPrepackedMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	p := NewPool(2)
	defer p.Close()
	packs := 0
	for _, typ := range kernelTypes {
		const tol = 1e-6 // of scale, as TestMatMulMatchesReference
		const rows, cols = 53, 512
		if cols%typ.BlockSize() != 0 {
			continue
		}
		m := randMatrix(t, r, typ, rows, cols)
		if n := m.Prepack(); n > 0 {
			packs++
			if m.Prepack() != 0 {
				t.Errorf("%s: packed twice", typ)
			}
		}
		for _, T := range []int{2, 4, 9, 130} {
			x := randFloats(r, T*cols, 1)
			out := make([]float32, T*rows)
			p.MatMul(out, m, x, T, make([]byte, ActBytes(T, m)))
			for tok := range T {
				for row := range rows {
					want, scale := refDot(typ, m.RowData(row), x[tok*cols:(tok+1)*cols])
					if got := out[tok*rows+row]; math.Abs(float64(got)-want)/scale > tol {
						t.Fatalf("%s T=%d: out[%d][%d] = %.8g, want %.8g", typ, T, tok, row, got, want)
					}
				}
			}
		}
	}
	if hasAVX2 && packs == 0 {
		t.Error("no type packs on a machine with AVX2")
	}
}
