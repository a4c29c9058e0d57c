package kernel

import (
	"fmt"
	"unsafe"

	"zhiyan/tensor"
)

// Matrix is a 2-D weight as stored in a model file: Rows rows of Cols
// elements each, every row encoded in Type (ggml's ne0 = Cols, ne1 = Rows).
type Matrix struct {
	Type     tensor.Type
	Rows     int // output features
	Cols     int // input features
	Data     []byte
	rowBytes int
	gemv     gemvFunc // row-dot kernel for Type, chosen once
	gemm     gemmFunc // batch kernel for Type, or nil
}

// NewMatrix checks that data holds exactly rows×cols elements of type t and
// that kernels exist for t.
func NewMatrix(t tensor.Type, rows, cols int, data []byte) (*Matrix, error) {
	if !t.HasKernels() {
		return nil, fmt.Errorf("tensor type %s is not supported", t)
	}
	if rows < 0 || cols <= 0 {
		return nil, fmt.Errorf("bad %s matrix shape %d×%d", t, rows, cols)
	}
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	// The division guards rows*rb against overflow.
	if len(data)/rb < rows || len(data) != rows*rb {
		return nil, fmt.Errorf("%d×%d %s matrix needs %d bytes, have %d", rows, cols, t, rows*rb, len(data))
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb, gemv: gemv(t), gemm: gemm(t)}, nil
}

// RowData is the encoded bytes of row r.
func (m *Matrix) RowData(r int) []byte {
	return m.Data[r*m.rowBytes : (r+1)*m.rowBytes]
}

// Row decodes row r into dst (len Cols); an embedding lookup.
func (m *Matrix) Row(dst []float32, r int) {
	tensor.Dequantize(m.Type, dst[:m.Cols], m.RowData(r))
}

// ActBytes is the scratch size MatMul needs to hold T activation rows of m's
// input width in the activation format of m's type.
func ActBytes(m *Matrix, T int) int {
	rb, err := m.Type.VecDotType().RowBytes(m.Cols)
	if err != nil {
		panic(err)
	}
	return rb * T
}

// matmulJob computes out[t][r] for the rows given to each worker.
type matmulJob struct {
	out      []float32
	m        *Matrix
	act      []byte
	actBytes int // bytes of one activation row
	T        int
	gemv     gemvFunc
}

// tileBytes is the weight bytes a worker runs every token of a batch over
// before moving on, so they are read from memory once and then from L1.
const tileBytes = 16 << 10

func (j *matmulJob) run(_, lo, hi int) {
	m := j.m
	step := hi - lo
	if j.T > 1 {
		step = max(1, tileBytes/m.rowBytes)
	}
	for r0 := lo; r0 < hi; r0 += step {
		r1 := min(r0+step, hi)
		w := m.Data[r0*m.rowBytes : r1*m.rowBytes]
		if j.T > 1 && m.gemm != nil {
			m.gemm(j.out[r0:], m.Rows, w, m.rowBytes, r1-r0, j.act, j.actBytes, j.T, m.Cols)
			continue
		}
		for t := 0; t < j.T; t++ {
			a := j.act[t*j.actBytes : (t+1)*j.actBytes]
			j.gemv(j.out[t*m.Rows+r0:t*m.Rows+r1], w, m.rowBytes, a, m.Cols)
		}
	}
}

// MatMul sets out[t*m.Rows+r] = m.row(r) · x[t*m.Cols:(t+1)*m.Cols] for every
// t < T. Like ggml, it first converts x to the activation format paired with
// m's type (Q8_0, Q8_1, Q8_K, F16, …), so results round as llama.cpp's do.
// act is scratch of at least ActBytes(m, T) bytes.
func (p *Pool) MatMul(out []float32, m *Matrix, x []float32, T int, act []byte) {
	if len(x) < T*m.Cols || len(out) < T*m.Rows {
		panic(fmt.Sprintf("kernel: MatMul shapes: x %d, out %d for %d×(%d×%d)", len(x), len(out), T, m.Rows, m.Cols))
	}
	vt := m.Type.VecDotType()
	var rb int
	if vt == tensor.F32 {
		// F32 activations are used as they are.
		rb = 4 * m.Cols
		act = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
	} else {
		rb = ActBytes(m, 1)
		for t := 0; t < T; t++ {
			quantizeActivations(vt, act[t*rb:(t+1)*rb], x[t*m.Cols:(t+1)*m.Cols])
		}
	}
	p.mm = matmulJob{out: out, m: m, act: act, actBytes: rb, T: T, gemv: m.gemv}
	p.parallel(&p.mm, m.Rows, 16)
	p.mm = matmulJob{}
}
