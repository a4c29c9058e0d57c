//go:build amd64 && !purego

#include "textflag.h"

// Multi-token gemv kernel for F16 weights, for the few tokens (2…8) of
// continuous batching; see gemm_small_amd64.go.
//
//	func gemmSmallF16AVX2(out *float32, outStride int, w *byte, rowBytes, rows int,
//		a *float32, actStride, n, T int)
//
// out[t·outStride + r] (outStride and actStride in bytes) = Σ_{j<n} w_r[j]·
// a_t[j] for r < rows, t < T, n a positive multiple of 8; a holds the
// tokens' activations widened to float32 once per call. Rows go one at a
// time, so the weights stream in order; every 8 halves are widened once
// (VCVTPH2PS) and meet each token's 8 floats in an FMA. Up to 4 tokens sum
// in two 8-lane accumulators each (even and odd 8-element steps, so that
// enough FMAs are in flight), 5–8 tokens in one each; products of halves
// are exact in float32, so results match tensor.VecDot up to the order of
// the float32 additions.
//
// Registers:
//	DI out cursor (row r of token 0)   R9 outStride, R10 3·outStride
//	SI weight row    R13 weight cursor   R8 activations of token 0
//	DX actStride, R11 3·actStride   R12 R14 activation cursors (tokens 0–3, 4–7)
//	CX elements left   AX rows left   BX out of token 4
//	Y0–Y7 accumulators   Y8 Y9 widened weights   Y10 scratch

// ---- macros (before the first TEXT, for go vet's asmdecl) ----

// FPF is how far ahead of its use the weight row is prefetched: the
// hardware prefetcher alone left the memory stalls unoverlapped (896×4864
// F16 at T = 4, weights streaming: 600 µs without, 360 µs with).
#define FPF 4096

#define FSETUP \
	MOVQ out+0(FP), DI \
	MOVQ outStride+8(FP), R9 \
	LEAQ (R9)(R9*2), R10 \
	MOVQ w+16(FP), SI \
	MOVQ rows+32(FP), AX \
	MOVQ a+40(FP), R8 \
	MOVQ actStride+48(FP), DX \
	LEAQ (DX)(DX*2), R11

// Activation of token 0…7 at byte offset off of the cursors.
#define A0(off) off(R12)
#define A1(off) off(R12)(DX*1)
#define A2(off) off(R12)(DX*2)
#define A3(off) off(R12)(R11*1)
#define A4(off) off(R14)
#define A5(off) off(R14)(DX*1)
#define A6(off) off(R14)(DX*2)
#define A7(off) off(R14)(R11*1)

// Per token count T ≤ 4, the FMAs of one 8-element step with the widened
// weights w at activation offset off into the even (E) or odd (O)
// accumulators: token t in Y(2t) and Y(2t+1).
#define S2E(w, off) VFMADD231PS A0(off), w, Y0; VFMADD231PS A1(off), w, Y2
#define S2O(w, off) VFMADD231PS A0(off), w, Y1; VFMADD231PS A1(off), w, Y3
#define S3E(w, off) S2E(w, off); VFMADD231PS A2(off), w, Y4
#define S3O(w, off) S2O(w, off); VFMADD231PS A2(off), w, Y5
#define S4E(w, off) S3E(w, off); VFMADD231PS A3(off), w, Y6
#define S4O(w, off) S3O(w, off); VFMADD231PS A3(off), w, Y7

// One accumulator per token (T ≥ 5): token t in Yt.
#define S5(w, off) \
	VFMADD231PS A0(off), w, Y0; VFMADD231PS A1(off), w, Y1 \
	VFMADD231PS A2(off), w, Y2; VFMADD231PS A3(off), w, Y3 \
	VFMADD231PS A4(off), w, Y4
#define S6(w, off) S5(w, off); VFMADD231PS A5(off), w, Y5
#define S7(w, off) S6(w, off); VFMADD231PS A6(off), w, Y6
#define S8(w, off) S7(w, off); VFMADD231PS A7(off), w, Y7

#define ZERO8 \
	VXORPS Y0, Y0, Y0; VXORPS Y1, Y1, Y1; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7

// RED stores the sum of the 8 lanes of (y, x) to dst.
#define RED(y, x, dst) \
	VEXTRACTF128 $1, y, X10 \
	VADDPS       x, X10, X10 \
	VHADDPS      X10, X10, X10 \
	VHADDPS      X10, X10, X10 \
	VMOVSS       X10, dst

// Stores for two accumulators per token: add the pair, then reduce.
#define O2 \
	VADDPS Y1, Y0, Y0; RED(Y0, X0, (DI)) \
	VADDPS Y3, Y2, Y2; RED(Y2, X2, (DI)(R9*1))
#define O3 O2; VADDPS Y5, Y4, Y4; RED(Y4, X4, (DI)(R9*2))
#define O4 O3; VADDPS Y7, Y6, Y6; RED(Y6, X6, (DI)(R10*1))

// Stores for one accumulator per token.
#define O5 \
	RED(Y0, X0, (DI)); RED(Y1, X1, (DI)(R9*1)); RED(Y2, X2, (DI)(R9*2)); RED(Y3, X3, (DI)(R10*1)) \
	LEAQ (DI)(R9*4), BX; RED(Y4, X4, (BX))
#define O6 O5; RED(Y5, X5, (BX)(R9*1))
#define O7 O6; RED(Y6, X6, (BX)(R9*2))
#define O8 O7; RED(Y7, X7, (BX)(R10*1))

#define ROWSTART \
	ZERO8 \
	MOVQ SI, R13 \
	MOVQ R8, R12 \
	LEAQ (R8)(DX*4), R14 \
	MOVQ n+56(FP), CX

#define ROWEND(OUT, row) \
	OUT \
	ADDQ $4, DI \
	ADDQ rowBytes+24(FP), SI \
	DECQ AX \
	JNZ  row \
	VZEROUPPER \
	RET

// LOOP2 is the kernel for T ≤ 4: 16 elements a step, then maybe 8.
#define LOOP2(SE, SO, OUT, row, step, tail, end) \
row: \
	ROWSTART \
step: \
	CMPQ      CX, $16 \
	JLT       tail \
	PREFETCHT0 FPF(R13) \
	VCVTPH2PS (R13), Y8 \
	VCVTPH2PS 16(R13), Y9 \
	SE(Y8, 0) \
	SO(Y9, 32) \
	ADDQ      $32, R13 \
	ADDQ      $64, R12 \
	SUBQ      $16, CX \
	JMP       step \
tail: \
	TESTQ     CX, CX \
	JZ        end \
	VCVTPH2PS (R13), Y8 \
	SE(Y8, 0) \
end: \
	ROWEND(OUT, row)

// LOOP1 is the kernel for T ≥ 5: 8 elements a step.
#define LOOP1(S, OUT, row, step) \
row: \
	ROWSTART \
step: \
	PREFETCHT0 FPF(R13) \
	VCVTPH2PS (R13), Y8 \
	S(Y8, 0) \
	ADDQ      $16, R13 \
	ADDQ      $32, R12 \
	ADDQ      $32, R14 \
	SUBQ      $8, CX \
	JNZ       step \
	ROWEND(OUT, row)

// func gemmSmallF16AVX2(out *float32, outStride int, w *byte, rowBytes, rows int, a *float32, actStride, n, T int)
TEXT ·gemmSmallF16AVX2(SB), NOSPLIT, $0-72
	FSETUP
	MOVQ T+64(FP), CX
	CMPQ CX, $2
	JEQ  t2
	CMPQ CX, $3
	JEQ  t3
	CMPQ CX, $4
	JEQ  t4
	CMPQ CX, $5
	JEQ  t5
	CMPQ CX, $6
	JEQ  t6
	CMPQ CX, $7
	JEQ  t7
	JMP  t8

t2:
	LOOP2(S2E, S2O, O2, r2, s2, l2, e2)
t3:
	LOOP2(S3E, S3O, O3, r3, s3, l3, e3)
t4:
	LOOP2(S4E, S4O, O4, r4, s4, l4, e4)
t5:
	LOOP1(S5, O5, r5, s5)
t6:
	LOOP1(S6, O6, r6, s6)
t7:
	LOOP1(S7, O7, r7, s7)
t8:
	LOOP1(S8, O8, r8, s8)
