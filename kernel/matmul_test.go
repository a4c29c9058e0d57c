package kernel

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"zhiyan/tensor"
)

// kernelTypes are the weight types with matmul kernels.
var kernelTypes = []tensor.Type{
	tensor.F32, tensor.F16, tensor.BF16,
	tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1,
	tensor.Q2_K, tensor.Q3_K, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K,
}

func randFloats(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// randMatrix quantizes random weights to a rows×cols matrix of type t.
func randMatrix(t testing.TB, r *rand.Rand, typ tensor.Type, rows, cols int) *Matrix {
	t.Helper()
	rb, err := typ.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, rows*rb)
	for i := range rows {
		if err := tensor.Quantize(typ, data[i*rb:(i+1)*rb], randFloats(r, cols, 0.02)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func f16At(b []byte) float64 { return float64(tensor.FP16ToFP32(binary.LittleEndian.Uint16(b))) }

// refDot is the float64 dot product of weight row w (type typ) and x as
// MatMul's activation format encodes it, and a scale bounding the terms ggml
// rounds (Σ (|w|+max|w| of the block)·|a|) for a relative tolerance.
func refDot(typ tensor.Type, w []byte, x []float32) (dot, scale float64) {
	n := len(x)
	wf := make([]float32, n)
	tensor.Dequantize(typ, wf, w)
	vt := typ.VecDotType()
	af := x
	var act []byte
	if vt != tensor.F32 {
		rb, _ := vt.RowBytes(n)
		act = make([]byte, rb)
		tensor.QuantizeActivations(vt, act, x)
		af = make([]float32, n)
		tensor.Dequantize(vt, af, act)
	}
	bs := typ.BlockSize()
	for b := 0; b < n/bs; b++ {
		var wmax float64
		for _, v := range wf[b*bs : (b+1)*bs] {
			wmax = math.Max(wmax, math.Abs(float64(v)))
		}
		for k := b * bs; k < (b+1)*bs; k++ {
			dot += float64(wf[k]) * float64(af[k])
			scale += (math.Abs(float64(wf[k])) + wmax) * math.Abs(float64(af[k]))
		}
	}
	if vt == tensor.Q8_1 {
		// ggml multiplies the weight block's min m by the activation block's
		// stored s (d·Σq rounded to fp16), not by the exact Σ a.
		wb := typ.BlockBytes()
		for b := 0; b < n/32; b++ {
			m := f16At(w[wb*b+2:])
			ab := act[36*b : 36*b+36]
			var sum float64
			for _, a := range af[32*b : 32*b+32] {
				sum += float64(a)
			}
			dot += m * (f16At(ab[2:]) - sum)
		}
	}
	return dot, scale
}

func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := []struct{ rows, cols, T int }{
		{37, 512, 1},  // rows not a multiple of the grain (16)
		{37, 512, 3},  // several tokens
		{5, 256, 2},   // fewer rows than one chunk
		{100, 768, 1}, // several chunks per thread
	}
	pools := []*Pool{NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, typ := range kernelTypes {
		t.Run(typ.String(), func(t *testing.T) {
			const tol = 1e-6 // of scale; measured ≤ 1.2e-8, one wrong weight costs ~1/(2·cols)
			for _, s := range shapes {
				m := randMatrix(t, r, typ, s.rows, s.cols)
				x := randFloats(r, s.T*s.cols, 1)
				act := make([]byte, ActBytes(s.T, m))
				var first []float32
				for _, p := range pools {
					out := make([]float32, s.T*s.rows)
					p.MatMul(out, m, x, s.T, act)
					if first == nil {
						first = out
						for tok := range s.T {
							for row := range s.rows {
								want, scale := refDot(typ, m.RowData(row), x[tok*s.cols:(tok+1)*s.cols])
								got := out[tok*s.rows+row]
								if err := math.Abs(float64(got)-want) / scale; err > tol {
									t.Errorf("%d×%d T=%d: out[%d][%d] = %.8g, want %.8g (error %.2g of scale %.3g)", s.rows, s.cols, s.T, tok, row, got, want, err, scale)
								}
							}
						}
						continue
					}
					for i := range out {
						if math.Float32bits(out[i]) != math.Float32bits(first[i]) {
							t.Fatalf("%d×%d T=%d: %d threads give out[%d] = %.9g, 1 thread %.9g", s.rows, s.cols, s.T, p.Threads(), i, out[i], first[i])
						}
					}
				}
			}
		})
	}
}

// TestMatMulBatchEqualsSingle checks that token t of a batch gives what it
// gives alone: rows and tokens are not mixed up. Batch kernels may add in
// another order than the one-token kernels, so equality is up to float32
// rounding of the sum of the terms' magnitudes.
func TestMatMulBatchEqualsSingle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q4_1, tensor.Q6_K} {
		const rows, cols, T = 21, 256, 4
		m := randMatrix(t, r, typ, rows, cols)
		x := randFloats(r, T*cols, 1)
		batch := make([]float32, T*rows)
		p.MatMul(batch, m, x, T, make([]byte, ActBytes(T, m)))
		one := make([]float32, rows)
		for tok := range T {
			p.MatMul(one, m, x[tok*cols:(tok+1)*cols], 1, make([]byte, ActBytes(1, m)))
			for i := range one {
				_, scale := refDot(typ, m.RowData(i), x[tok*cols:(tok+1)*cols])
				if d := math.Abs(float64(one[i] - batch[tok*rows+i])); d > 64*0x1p-24*scale {
					t.Fatalf("%s: token %d row %d: batch %g, alone %g", typ, tok, i, batch[tok*rows+i], one[i])
				}
			}
		}
	}
}

func TestMatMulAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_K} {
			m := randMatrix(t, r, typ, 64, 256)
			x := randFloats(r, 2*256, 1)
			out := make([]float32, 2*64)
			act := make([]byte, ActBytes(2, m))
			p.MatMul(out, m, x, 2, act) // warm up
			if n := testing.AllocsPerRun(20, func() { p.MatMul(out, m, x, 2, act) }); n != 0 && !raceEnabled {
				t.Errorf("%d threads, %s: MatMul allocates %v times per call, want 0", threads, typ, n)
			}
		}
		p.Close()
	}
}

func TestMatMulPanicsOnShortBuffers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	m := randMatrix(t, r, tensor.Q8_0, 4, 64)
	p := NewPool(1)
	defer p.Close()
	for name, call := range map[string]func(){
		"short x":   func() { p.MatMul(make([]float32, 8), m, make([]float32, 64), 2, make([]byte, ActBytes(2, m))) },
		"short out": func() { p.MatMul(make([]float32, 3), m, make([]float32, 64), 1, make([]byte, ActBytes(1, m))) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: MatMul did not panic", name)
				}
			}()
			call()
		}()
	}
}

func TestNewMatrix(t *testing.T) {
	for _, tt := range []struct {
		name       string
		typ        tensor.Type
		rows, cols int
		bytes      int
		ok         bool
	}{
		{"F32", tensor.F32, 3, 4, 48, true},
		{"Q4_K", tensor.Q4_K, 2, 256, 2 * 144, true},
		{"Q8_0", tensor.Q8_0, 2, 64, 2 * 2 * 34, true},
		{"empty", tensor.F16, 0, 8, 0, true},
		{"short data", tensor.F32, 3, 4, 47, false},
		{"long data", tensor.F32, 3, 4, 52, false},
		{"partial block", tensor.Q4_K, 1, 128, 72, false},
		{"no kernels", tensor.Q8_K, 1, 256, 292, false},
		{"IQ4_NL", tensor.IQ4_NL, 1, 32, 18, false},
		{"zero cols", tensor.F32, 1, 0, 0, false},
		{"negative rows", tensor.F32, -1, 4, 0, false},
	} {
		m, err := NewMatrix(tt.typ, tt.rows, tt.cols, make([]byte, tt.bytes))
		if (err == nil) != tt.ok {
			t.Errorf("%s: NewMatrix(%s, %d, %d, %d bytes) error = %v, want ok %v", tt.name, tt.typ, tt.rows, tt.cols, tt.bytes, err, tt.ok)
			continue
		}
		if err == nil && (m.Rows != tt.rows || m.Cols != tt.cols || m.Type != tt.typ) {
			t.Errorf("%s: got %s %d×%d", tt.name, m.Type, m.Rows, m.Cols)
		}
	}
}

func TestMatrixRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	m := randMatrix(t, r, tensor.Q5_K, 3, 256)
	got := make([]float32, 256)
	want := make([]float32, 256)
	for row := range 3 {
		m.Row(got, row)
		tensor.Dequantize(m.Type, want, m.Data[row*176:(row+1)*176])
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("Row(%d)[%d] = %g, want %g", row, i, got[i], want[i])
			}
		}
	}
}
