package tensor

import "fmt"

// VecDotType is the activation format ggml pairs with weights of type t in a
// dot product (ggml-cpu's vec_dot_type): F32, F16 and BF16 pair with
// themselves, Q4_0/Q5_0/Q8_0 (and IQ4_NL) with Q8_0, Q4_1/Q5_1 with Q8_1, the
// K-, IQ- and TQ-quants with Q8_K. Types without a ggml dot product (Q8_1,
// Q8_K, integer and unknown types) return themselves.
func (t Type) VecDotType() Type {
	switch t {
	case Q4_0, Q5_0, Q8_0, IQ4_NL:
		return Q8_0
	case Q4_1, Q5_1:
		return Q8_1
	case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ3_S, IQ2_S, IQ4_XS, IQ1_M, TQ1_0, TQ2_0:
		return Q8_K
	}
	return t
}

// HasKernels reports whether Dequantize and VecDot support t (as weights).
// Dequantize also decodes the activation formats Q8_1 and Q8_K.
func (t Type) HasKernels() bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K:
		return true
	}
	return false
}

// rowBytes is RowBytes for callers whose sizes are programmer-controlled.
func rowBytes(t Type, n int) int {
	nb, err := t.RowBytes(n)
	if err != nil {
		panic("tensor: " + err.Error())
	}
	return nb
}

// Dequantize decodes len(dst) elements of type t from src, which must hold
// exactly RowBytes(len(dst)) bytes. It panics on a size mismatch or a type it
// cannot decode (see HasKernels).
func Dequantize(t Type, dst []float32, src []byte) {
	if nb := rowBytes(t, len(dst)); len(src) != nb {
		panic(fmt.Sprintf("tensor: Dequantize %s: %d elements need %d bytes, got %d", t, len(dst), nb, len(src)))
	}
	switch t {
	case F32:
		dequantizeF32(dst, src)
	case F16:
		dequantizeF16(dst, src)
	case BF16:
		dequantizeBF16(dst, src)
	case Q4_0:
		dequantizeQ4_0(dst, src)
	case Q4_1:
		dequantizeQ4_1(dst, src)
	case Q5_0:
		dequantizeQ5_0(dst, src)
	case Q5_1:
		dequantizeQ5_1(dst, src)
	case Q8_0:
		dequantizeQ8_0(dst, src)
	case Q8_1:
		dequantizeQ8_1(dst, src)
	case Q2_K:
		dequantizeQ2_K(dst, src)
	case Q3_K:
		dequantizeQ3_K(dst, src)
	case Q4_K:
		dequantizeQ4_K(dst, src)
	case Q5_K:
		dequantizeQ5_K(dst, src)
	case Q6_K:
		dequantizeQ6_K(dst, src)
	case Q8_K:
		dequantizeQ8_K(dst, src)
	default:
		panic(fmt.Sprintf("tensor: Dequantize: no kernel for %s", t))
	}
}

// Quantize encodes src as type t into dst, which must hold exactly
// RowBytes(len(src)) bytes (a mismatch panics). The output is byte-for-byte
// what ggml's reference quantizers (quantize_row_*_ref, K-quants without an
// importance matrix) and hence llama-quantize produce. It returns an error
// for a type it cannot produce or a length that is not a whole number of
// blocks. For activations of a matmul use QuantizeActivations.
func Quantize(t Type, dst []byte, src []float32) error {
	nb, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	var quantize func([]byte, []float32)
	switch t {
	case F32:
		quantize = quantizeF32
	case F16:
		quantize = quantizeF16
	case BF16:
		quantize = quantizeBF16
	case Q4_0:
		quantize = quantizeQ4_0
	case Q4_1:
		quantize = quantizeQ4_1
	case Q5_0:
		quantize = quantizeQ5_0
	case Q5_1:
		quantize = quantizeQ5_1
	case Q8_0:
		quantize = quantizeQ8_0
	case Q8_1:
		quantize = quantizeQ8_1
	case Q2_K:
		quantize = quantizeQ2_K
	case Q3_K:
		quantize = quantizeQ3_K
	case Q4_K:
		quantize = quantizeQ4_K
	case Q5_K:
		quantize = quantizeQ5_K
	case Q6_K:
		quantize = quantizeQ6_K
	case Q8_K:
		quantize = quantizeQ8_K
	default:
		return fmt.Errorf("quantize: cannot produce %s", t)
	}
	if len(dst) != nb {
		panic(fmt.Sprintf("tensor: Quantize %s: %d elements need %d bytes, dst has %d", t, len(src), nb, len(dst)))
	}
	quantize(dst, src)
	return nil
}

// QuantizeActivations encodes src into dst as type t, which must be an
// activation format (a VecDotType: F32, F16, BF16, Q8_0, Q8_1 or Q8_K), the
// way llama.cpp's CPU backend converts a matmul's activations on x86 with AVX2
// (ggml-cpu's from_float). For Q8_0 and Q8_1 that differs from Quantize:
// the multiplier is 127/amax rather than 1/d and rounding is half to even
// rather than half away from zero. The other formats equal Quantize (Q8_K on
// x86 uses the reference code; F16 conversion rounds to nearest even either
// way). dst must hold exactly RowBytes(len(src)) bytes; any misuse panics.
func QuantizeActivations(t Type, dst []byte, src []float32) {
	if nb := rowBytes(t, len(src)); len(dst) != nb {
		panic(fmt.Sprintf("tensor: QuantizeActivations %s: %d elements need %d bytes, dst has %d", t, len(src), nb, len(dst)))
	}
	switch t {
	case F32:
		quantizeF32(dst, src)
	case F16:
		quantizeF16(dst, src)
	case BF16:
		quantizeBF16(dst, src)
	case Q8_0:
		quantizeActQ8_0(dst, src)
	case Q8_1:
		quantizeActQ8_1(dst, src)
	case Q8_K:
		quantizeQ8_K(dst, src)
	default:
		panic(fmt.Sprintf("tensor: QuantizeActivations: %s is not an activation format", t))
	}
}

// VecDot returns the dot product of n elements: w of type t and a of type
// t.VecDotType(). It computes what ggml's portable C ggml_vec_dot_<t>_<a>
// does: exact integer sums per block, scaled and accumulated in float32 in
// ggml's order (float types: float32 products summed in float64). w and a
// may be longer than n elements need; n must be a whole number of blocks and
// t must have kernels, else it panics.
func VecDot(t Type, n int, w, a []byte) float32 {
	nw, na := rowBytes(t, n), rowBytes(t.VecDotType(), n)
	if len(w) < nw || len(a) < na {
		panic(fmt.Sprintf("tensor: VecDot %s: %d elements need %d+%d bytes, got %d+%d", t, n, nw, na, len(w), len(a)))
	}
	w, a = w[:nw], a[:na]
	switch t {
	case F32:
		return vecDotF32(n, w, a)
	case F16:
		return vecDotF16(n, w, a)
	case BF16:
		return vecDotBF16(n, w, a)
	case Q4_0:
		return vecDotQ4_0(n, w, a)
	case Q4_1:
		return vecDotQ4_1(n, w, a)
	case Q5_0:
		return vecDotQ5_0(n, w, a)
	case Q5_1:
		return vecDotQ5_1(n, w, a)
	case Q8_0:
		return vecDotQ8_0(n, w, a)
	case Q2_K:
		return vecDotQ2_K(n, w, a)
	case Q3_K:
		return vecDotQ3_K(n, w, a)
	case Q4_K:
		return vecDotQ4_K(n, w, a)
	case Q5_K:
		return vecDotQ5_K(n, w, a)
	case Q6_K:
		return vecDotQ6_K(n, w, a)
	}
	panic(fmt.Sprintf("tensor: VecDot: no kernel for %s", t))
}
