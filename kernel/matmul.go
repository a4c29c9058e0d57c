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
	gemv     gemvFunc      // row-dot kernel for Type, chosen once
	gemm     gemmFunc      // batch kernel for Type, or nil
	small    gemmFunc      // few-token kernel for Type, or nil
	smallMax int           // most tokens small is used for
	packed   []byte        // the weights packed for batch products (Prepack), or nil
	layout   *interleaving // how Data holds the rows when MoveTo interleaved them, or nil
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
	if m.layout != nil {
		m.packed = m.layout.packAll(m.Data, m.rowBytes, m.Rows, m.Cols)
	} else {
		m.packed = packers[m.Type].packAll(m.Data, m.rowBytes, m.Rows, m.Cols)
	}
	return len(m.packed)
}

// MoveTo moves the weights into dst, as long as Data, and reads them from
// there on (the caller may then release the old bytes). Where this CPU has
// kernels for it (Q4_0 and Q5_0 with AVX2) they are rewritten on the way to
// keep every four rows' blocks side by side: decoding then reads one stream
// instead of four, gathers the rows' scales with one load and works on two
// rows at a time, which matters because these types are bound by their
// vector work. Every product and Row work on either layout alike. Not safe
// to call while the matrix is in use.
func (m *Matrix) MoveTo(dst []byte) {
	if len(dst) != len(m.Data) {
		panic(fmt.Sprintf("kernel: moving %d bytes of weights to %d", len(m.Data), len(dst)))
	}
	if il := m.interleaving(); il != nil {
		nb := m.Cols / m.Type.BlockSize()
		group := 4 * m.rowBytes
		for g := 0; g < len(dst); g += group {
			il.repack(dst[g:g+group], m.Data[g:g+group], m.rowBytes, nb)
		}
		m.layout = il
	} else {
		copy(dst, m.Data)
	}
	m.Data = dst
}

// interleaving is the layout MoveTo rewrites the matrix into, or nil.
func (m *Matrix) interleaving() *interleaving {
	if m.layout != nil || int(m.Type) >= len(interleavings) {
		return nil
	}
	il := interleavings[m.Type]
	if il == nil || m.Rows%4 != 0 || m.Cols > il.maxCols {
		return nil
	}
	return il
}

// RowData is the encoded bytes of row r, in the file's layout (a copy, for
// an interleaved matrix).
func (m *Matrix) RowData(r int) []byte {
	if m.layout == nil {
		return m.Data[r*m.rowBytes : (r+1)*m.rowBytes]
	}
	row := make([]byte, m.rowBytes)
	m.layout.rowData(row, m.group(r), m.Cols/m.Type.BlockSize(), r%4)
	return row
}

// group is the interleaved group holding row r.
func (m *Matrix) group(r int) []byte {
	return m.Data[r/4*4*m.rowBytes:][:4*m.rowBytes]
}

// Row decodes row r into dst (len Cols); an embedding lookup.
func (m *Matrix) Row(dst []float32, r int) {
	if m.layout == nil {
		tensor.Dequantize(m.Type, dst[:m.Cols], m.RowData(r))
		return
	}
	m.layout.dequantize(dst[:m.Cols], m.group(r), m.Cols/m.Type.BlockSize(), r%4)
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
	if m.layout != nil {
		pr.interleavedRows(lo, hi, T)
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

// interleavedRows is rows for a matrix MoveTo interleaved: the decode
// kernel for one token, the few-token kernel for up to fewMax, the batch
// kernel for more. Rows of a group the range cuts (never, when every
// product's rows are a multiple of 4 and workers split at multiples of
// rowGrain) are worked out for the whole group.
func (pr *product) interleavedRows(lo, hi, T int) {
	m := pr.M
	il := m.layout
	g0, g1 := (lo+3)&^3, hi&^3
	if g0 > g1 { // inside one group
		pr.groupPart(lo, hi, T)
		return
	}
	if lo < g0 {
		pr.groupPart(lo, g0, T)
	}
	if g1 < hi {
		pr.groupPart(g1, hi, T)
	}
	if g0 == g1 {
		return
	}
	w := m.Data[g0*m.rowBytes : g1*m.rowBytes]
	switch {
	case T == 1:
		il.gemv(pr.Out[g0:g1], w, pr.act, m.Cols)
	case T <= il.fewMax:
		// One pass over the rows serves every token.
		il.few(pr.Out[g0:], m.Rows, w, m.rowBytes, g1-g0, pr.act, pr.actBytes, T, m.Cols)
	default:
		il.gemm(pr.Out[g0:], m.Rows, w, m.rowBytes, g1-g0, pr.act, pr.actBytes, T, m.Cols)
	}
}

// groupPart computes rows [lo, hi) of one group of an interleaved matrix by
// working out the whole group.
func (pr *product) groupPart(lo, hi, T int) {
	m := pr.M
	g := lo &^ 3
	var out [4]float32
	for t := range T {
		m.layout.gemv(out[:], m.Data[g*m.rowBytes:(g+4)*m.rowBytes], pr.act[t*pr.actBytes:(t+1)*pr.actBytes], m.Cols)
		copy(pr.Out[t*m.Rows+lo:t*m.Rows+hi], out[lo-g:hi-g])
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
