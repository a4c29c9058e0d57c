package kernel

import (
	"math/rand/v2"
	"slices"
	"testing"

	"zhiyan/tensor"
)

// TestMatMulsEqualsSeparateProducts: the fused q/k/v dispatch gives exactly
// what three MatMul calls give, also when the matrices need different
// activation formats (as in Q4_K_M files).
func TestMatMulsEqualsSeparateProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const cols, T = 256, 5
	x := randFloats(r, T*cols, 1)
	for _, types := range [][3]tensor.Type{
		{tensor.Q8_0, tensor.Q8_0, tensor.Q8_0},
		{tensor.Q5_0, tensor.Q5_0, tensor.Q6_K},
		{tensor.F16, tensor.Q4_K, tensor.F32},
	} {
		p := NewPool(2)
		ms := [3]*Matrix{randMatrix(t, r, types[0], 64, cols), randMatrix(t, r, types[1], 32, cols), randMatrix(t, r, types[2], 32, cols)}
		var want, got [3][]float32
		for i, m := range ms {
			want[i] = make([]float32, T*m.Rows)
			got[i] = make([]float32, T*m.Rows)
			p.MatMul(want[i], m, x, T, make([]byte, ActBytes(T, m)))
		}
		act := make([]byte, ActBytes(T, ms[:]...))
		p.MatMuls(x, T, act, Product{got[0], ms[0]}, Product{got[1], ms[1]}, Product{got[2], ms[2]})
		for i := range ms {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%v: product %d differs from MatMul", types, i)
			}
		}
		p.Close()
	}
}

func TestSwiGLUEqualsSeparateSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const cols, rows, T = 256, 80, 3
	x := randFloats(r, T*cols, 1)
	gate, up := randMatrix(t, r, tensor.Q4_K, rows, cols), randMatrix(t, r, tensor.Q4_K, rows, cols)
	p := NewPool(3)
	defer p.Close()
	act := make([]byte, ActBytes(T, gate, up))
	want, wantUp := make([]float32, T*rows), make([]float32, T*rows)
	p.MatMul(want, gate, x, T, act)
	p.MatMul(wantUp, up, x, T, act)
	SwiGLU(want, wantUp)
	got, scratch := make([]float32, T*rows), make([]float32, T*rows)
	p.SwiGLU(x, T, act, Product{got, gate}, Product{scratch, up})
	if !slices.Equal(got, want) {
		t.Error("fused SwiGLU differs from MatMul, MatMul, SwiGLU")
	}
	if n := testing.AllocsPerRun(10, func() { p.SwiGLU(x, T, act, Product{got, gate}, Product{scratch, up}) }); n != 0 && !raceEnabled {
		t.Errorf("SwiGLU allocates %.0f times", n)
	}
}
