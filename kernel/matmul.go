package kernel

import (
	"fmt"
	"slices"
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
	small    gemmFunc // few-token kernel for Type, or nil
	smallMax int      // most tokens small is used for
	packed   []byte   // the weights packed for batch products (Prepack), or nil
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
	small, smallMax := smallGemm(t)
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb, gemv: gemv(t), gemm: gemm(t),
		small: small, smallMax: smallMax}, nil
}

// Prepack packs the weights once for batch products (several tokens at a
// time), so that batched decoding does not repack them at every step. It
// costs memory about twice the matrix's size and reports how much; it does
// nothing (0) for types whose batch kernel reads the weights as stored, and
// is not safe to call while the matrix is in use.
func (m *Matrix) Prepack() int {
	if m.packed != nil || int(m.Type) >= len(packers) || packers[m.Type] == nil {
		return 0
	}
	m.packed = packers[m.Type].packAll(m.Data, m.rowBytes, m.Rows, m.Cols)
	return len(m.packed)
}

// RowData is the encoded bytes of row r.
func (m *Matrix) RowData(r int) []byte {
	return m.Data[r*m.rowBytes : (r+1)*m.rowBytes]
}

// Row decodes row r into dst (len Cols); an embedding lookup.
func (m *Matrix) Row(dst []float32, r int) {
	tensor.Dequantize(m.Type, dst[:m.Cols], m.RowData(r))
}

// ActBytes is the scratch size MatMuls needs to hold T activation rows of
// the input width of ms in the activation formats of their types.
func ActBytes(T int, ms ...*Matrix) int {
	var seen [4]tensor.Type
	n, total := 0, 0
	for _, m := range ms {
		vt := m.Type.VecDotType()
		if vt == tensor.F32 || slices.Contains(seen[:n], vt) {
			continue
		}
		rb, err := vt.RowBytes(m.Cols)
		if err != nil {
			panic(err)
		}
		if n < len(seen) {
			seen[n] = vt
			n++
		}
		total += rb * T
	}
	return total
}

// Product is one matrix product of a shared input x: Out (T, M.Rows) = x·Mᵀ.
type Product struct {
	Out []float32
	M   *Matrix
}

// product is a Product with its input converted to M's activation format.
type product struct {
	Product
	act      []byte
	actBytes int // bytes of one activation row
}

// matmulJob runs up to three products of one input over a shared row space:
// their rows laid end to end, or, for SwiGLU, gate and up side by side.
type matmulJob struct {
	prods  [3]product
	n      int
	T      int
	swiglu bool
}

// tileBytes is the weight bytes a worker runs every token of a batch over
// before moving on, so they are read from memory once and then from L1.
// Batch (gemm) kernels block for the caches themselves and get all the
// worker's rows at once.
const tileBytes = 16 << 10

func (j *matmulJob) run(_, lo, hi int) {
	if j.swiglu {
		gate, up := &j.prods[0], &j.prods[1]
		gate.rows(lo, hi, j.T)
		up.rows(lo, hi, j.T)
		rows := gate.M.Rows
		for t := range j.T {
			SwiGLU(gate.Out[t*rows+lo:t*rows+hi], up.Out[t*rows+lo:t*rows+hi])
		}
		return
	}
	base := 0
	for i := range j.n {
		pr := &j.prods[i]
		if l, h := max(lo-base, 0), min(hi-base, pr.M.Rows); l < h {
			pr.rows(l, h, j.T)
		}
		base += pr.M.Rows
	}
}

// rows computes rows [lo, hi) of the product for every token.
func (pr *product) rows(lo, hi, T int) {
	m := pr.M
	// The few-token kernels read the raw weights, half the bytes of the
	// packed ones, and beat the packed kernel where they apply.
	if T > max(1, m.smallMax) && m.packed != nil && lo%8 == 0 {
		packers[m.Type].gemmPacked(pr.Out[lo:], m.Rows, m.packed, lo, hi-lo, pr.act, pr.actBytes, T, m.Cols)
		return
	}
	if T > 1 && T <= m.smallMax {
		// One pass over the rows serves every token.
		m.small(pr.Out[lo:], m.Rows, m.Data[lo*m.rowBytes:hi*m.rowBytes], m.rowBytes, hi-lo, pr.act, pr.actBytes, T, m.Cols)
		return
	}
	step := hi - lo
	if T > 1 && m.gemm == nil {
		step = max(1, tileBytes/m.rowBytes)
	}
	for r0 := lo; r0 < hi; r0 += step {
		r1 := min(r0+step, hi)
		w := m.Data[r0*m.rowBytes : r1*m.rowBytes]
		if T > 1 && m.gemm != nil {
			m.gemm(pr.Out[r0:], m.Rows, w, m.rowBytes, r1-r0, pr.act, pr.actBytes, T, m.Cols)
			continue
		}
		for t := range T {
			a := pr.act[t*pr.actBytes : (t+1)*pr.actBytes]
			m.gemv(pr.Out[t*m.Rows+r0:t*m.Rows+r1], w, m.rowBytes, a, m.Cols)
		}
	}
}

// rowGrain keeps each worker's rows a multiple of 16, so fast kernels that
// work on groups of rows rarely see a ragged end.
const rowGrain = 16

// MatMul sets out[t*m.Rows+r] = m.row(r) · x[t*m.Cols:(t+1)*m.Cols] for every
// t < T. Like ggml, it first converts x to the activation format paired with
// m's type (Q8_0, Q8_1, Q8_K, F16, …), so results round as llama.cpp's do.
// act is scratch of at least ActBytes(T, m) bytes.
func (p *Pool) MatMul(out []float32, m *Matrix, x []float32, T int, act []byte) {
	p.MatMuls(x, T, act, Product{out, m})
}

// MatMuls computes up to three products of the same input (the q, k and v
// projections) in one dispatch, converting x once per activation format.
// act is scratch of at least ActBytes(T, ms...) bytes.
func (p *Pool) MatMuls(x []float32, T int, act []byte, prods ...Product) {
	rows := p.prepare(x, T, act, prods)
	p.parallel(&p.mm, rows, rowGrain)
	p.mm = matmulJob{}
}

// SwiGLU sets gate.Out = silu(x·gateᵀ) * (x·upᵀ), computing both products
// and the activation row by row in one dispatch; up.Out is scratch.
func (p *Pool) SwiGLU(x []float32, T int, act []byte, gate, up Product) {
	if gate.M.Rows != up.M.Rows {
		panic(fmt.Sprintf("kernel: SwiGLU: gate has %d rows, up %d", gate.M.Rows, up.M.Rows))
	}
	p.prepare(x, T, act, []Product{gate, up})
	p.mm.swiglu = true
	p.parallel(&p.mm, gate.M.Rows, rowGrain)
	p.mm = matmulJob{}
}

// prepare checks shapes, converts x for each product and fills p.mm; it
// returns the total number of rows.
func (p *Pool) prepare(x []float32, T int, act []byte, prods []Product) int {
	if len(prods) == 0 || len(prods) > len(p.mm.prods) {
		panic(fmt.Sprintf("kernel: %d products in one dispatch", len(prods)))
	}
	p.mm = matmulJob{n: len(prods), T: T}
	rows := 0
	for i, pr := range prods {
		m := pr.M
		if m.Cols != prods[0].M.Cols || len(x) < T*m.Cols || len(pr.Out) < T*m.Rows {
			panic(fmt.Sprintf("kernel: MatMul shapes: x %d, out %d for %d×(%d×%d)", len(x), len(pr.Out), T, m.Rows, m.Cols))
		}
		rows += m.Rows
		q := &p.mm.prods[i]
		q.Product = pr
		vt := m.Type.VecDotType()
		if vt == tensor.F32 {
			// F32 activations are used as they are.
			q.actBytes = 4 * m.Cols
			q.act = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
			continue
		}
		q.actBytes, _ = vt.RowBytes(m.Cols)
		if prev := p.sameFormat(i, vt); prev != nil {
			q.act = prev.act
			continue
		}
		q.act, act = act[:T*q.actBytes], act[T*q.actBytes:]
		for t := range T {
			quantizeActivations(vt, q.act[t*q.actBytes:(t+1)*q.actBytes], x[t*m.Cols:(t+1)*m.Cols])
		}
	}
	return rows
}

// sameFormat finds an earlier product of the job whose input is already in
// activation format vt.
func (p *Pool) sameFormat(i int, vt tensor.Type) *product {
	for k := range i {
		if p.mm.prods[k].M.Type.VecDotType() == vt {
			return &p.mm.prods[k]
		}
	}
	return nil
}
