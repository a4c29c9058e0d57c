package kernel

import "zhiyan/tensor"

// gemvFunc sets out[i] to the dot product of weight row i and the activation
// row a, for len(out) consecutive rows of rowBytes bytes starting at w, each
// holding n elements of the weight type; a is in the type's VecDotType format.
type gemvFunc func(out []float32, w []byte, rowBytes int, a []byte, n int)

// gemmFunc sets out[t*outStride+i] to the dot product of weight row i and
// activation row t, for i < rows and t < T: rows consecutive weight rows of
// rowBytes bytes starting at w, activation rows actStride bytes apart starting
// at a, n elements each. It multiplies a small matrix (a tile of weights that
// fits L1) by a batch of tokens, so each weight load serves several tokens.
type gemmFunc func(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int)

// actQuantFunc converts a row of activations to an activation format,
// exactly as tensor.QuantizeActivations does.
type actQuantFunc func(dst []byte, src []float32)

// Fast kernels register themselves here (in build-tagged files, when the CPU
// has the instructions they need); types without one use the reference
// kernels of package tensor, which stay the oracle the fast ones are tested
// against.
var (
	gemvKernels   [64]gemvFunc
	gemmKernels   [64]gemmFunc
	actQuantizers [64]actQuantFunc

	// smallGemmKernels are gemmFuncs for the few tokens of decoding
	// sequences together, 2…smallGemmMaxT[t] of them: one pass over the
	// weights, every token's dot products from the same loaded block, so
	// that T tokens cost little more than one while memory-bound.
	smallGemmKernels [64]gemmFunc
	smallGemmMaxT    [64]int

	// packers are batch kernels that can work from weights packed once
	// (Matrix.Prepack) instead of at every call.
	packers [64]packer

	// interleavings are the layouts Matrix.MoveTo rewrites a type into,
	// where a faster decode kernel reads them.
	interleavings [64]*interleaving
)

// interleaving is a layout that keeps a matrix's rows four at a time, block
// by block: a group of four rows takes the bytes of four rows in the file,
// so row r's group starts at (r/4)·4·rowBytes. Whole groups only.
type interleaving struct {
	// repack writes the four rows of nb blocks at src (rowBytes apart) as
	// one group at dst.
	repack func(dst, src []byte, rowBytes, nb int)
	// rowData writes row r (< 4) of a group of nb-block rows in the
	// file's layout; dequantize decodes it to floats.
	rowData    func(dst, group []byte, nb, r int)
	dequantize func(dst []float32, group []byte, nb, r int)
	// gemv sets out (4 per group) to the rows' dot products with a, for
	// the whole groups at w.
	gemv func(out []float32, w, a []byte, n int)
	// few is a gemmFunc for whole groups at w and 2 ≤ T ≤ fewMax tokens,
	// gemm one for more tokens, packAll gemm's Matrix.Prepack.
	few     gemmFunc
	fewMax  int
	gemm    gemmFunc
	packAll func(w []byte, rowBytes, rows, n int) []byte
	// maxCols bounds the rows the decode kernel takes.
	maxCols int
}

// packer packs a whole matrix for its batch kernel and multiplies from it.
type packer interface {
	// packAll packs rows×n weights (rowBytes apart) for gemmPacked.
	packAll(w []byte, rowBytes, rows, n int) []byte
	// gemmPacked is a gemmFunc over rows [r0, r0+rows) of packed weights,
	// r0 a multiple of 8.
	gemmPacked(out []float32, outStride int, packed []byte, r0, rows int, a []byte, actStride, T, n int)
}

// gemvRef is the reference implementation of gemvFunc for type t.
func gemvRef(t tensor.Type) gemvFunc {
	return func(out []float32, w []byte, rowBytes int, a []byte, n int) {
		for i := range out {
			out[i] = tensor.VecDot(t, n, w[i*rowBytes:], a) // the last row may end before a full stride
		}
	}
}

// gemv returns the fastest row-dot kernel for t.
func gemv(t tensor.Type) gemvFunc {
	if int(t) < len(gemvKernels) && gemvKernels[t] != nil {
		return gemvKernels[t]
	}
	return gemvRef(t)
}

// gemm returns the batch kernel for t, or nil when t has none (MatMul then
// runs its gemv kernel once per token).
func gemm(t tensor.Type) gemmFunc {
	if int(t) < len(gemmKernels) {
		return gemmKernels[t]
	}
	return nil
}

// smallGemm returns the few-token kernel for t and the most tokens it is
// used for (0 when t has none).
func smallGemm(t tensor.Type) (gemmFunc, int) {
	if int(t) < len(smallGemmKernels) && smallGemmKernels[t] != nil {
		return smallGemmKernels[t], smallGemmMaxT[t]
	}
	return nil, 0
}

// quantizeActivations converts src to format t with the fastest kernel.
func quantizeActivations(t tensor.Type, dst []byte, src []float32) {
	if int(t) < len(actQuantizers) && actQuantizers[t] != nil {
		actQuantizers[t](dst, src)
		return
	}
	tensor.QuantizeActivations(t, dst, src)
}
