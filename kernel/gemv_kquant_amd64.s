//go:build amd64 && !purego

#include "textflag.h"

// Row-dot kernels for Q4_K and Q5_K weights against Q8_K activations (see
// gemv_kquant_amd64.go for the contract). Register use:
//
//	DI  out cursor           CX  end of out
//	SI  current weight row   R8  rowBytes
//	DX  activation row       R9  end of the activation row
//	R10 weight block cursor  R11 activation block cursor
//	Y15 0x0f bytes, Y14 row accumulator (8 float32 lanes), Y0 the row's
//	min terms (apart, so that the two FMA chains run in parallel),
//	Y13 d·y.d, Y12 dmin·y.d, Y10/Y11 block integer sums;
//	Q5_K: Y5 the block's qh, Y1 0x10 bytes.
//	0(SP)…31(SP) holds the block's eight scales (see SCALEMIN).

DATA ·kqLow4+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL ·kqLow4(SB), RODATA|NOPTR, $32

// Constants of SCALEMIN: kqSMLow gathers q0–3, q8–11, q4–7, q8–11, whose
// last dword kqSMShift moves down a nibble and kqSMMask cuts to 6 or 4
// bits; kqSMHigh places the top bits of q0–3 and q4–7 (already at bits 4–5)
// under scales and mins 4–7.
DATA kqSMLow<>+0(SB)/8, $0x0b0a090803020100
DATA kqSMLow<>+8(SB)/8, $0x0b0a090807060504
GLOBL kqSMLow<>(SB), RODATA|NOPTR, $16

DATA kqSMShift<>+0(SB)/8, $0
DATA kqSMShift<>+8(SB)/8, $0x0000000400000000
GLOBL kqSMShift<>(SB), RODATA|NOPTR, $16

DATA kqSMMask<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kqSMMask<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kqSMMask<>(SB), RODATA|NOPTR, $16

DATA kqSM30<>+0(SB)/8, $0x3030303030303030
DATA kqSM30<>+8(SB)/8, $0x3030303030303030
GLOBL kqSM30<>(SB), RODATA|NOPTR, $16

DATA kqSMHigh<>+0(SB)/8, $0x0302010080808080
DATA kqSMHigh<>+8(SB)/8, $0x0706050480808080
GLOBL kqSMHigh<>(SB), RODATA|NOPTR, $16

// KQ_ARGS loads the common arguments and the constant registers.
#define KQ_ARGS \
	MOVQ out+0(FP), DI; \
	MOVQ w+8(FP), SI; \
	MOVQ a+16(FP), DX; \
	MOVQ rows+24(FP), CX; \
	MOVQ rowBytes+32(FP), R8; \
	MOVQ nb+40(FP), R9; \
	LEAQ (DI)(CX*4), CX; \
	IMUL3Q $292, R9, R9; \
	ADDQ DX, R9; \
	VMOVDQU ·kqLow4(SB), Y15

// KQ_ROWEND reduces the row accumulators to out[row] and steps to the next
// row; it falls through when all rows are done.
#define KQ_ROWEND(loop) \
	VSUBPS Y0, Y14, Y14; \
	VEXTRACTF128 $1, Y14, X0; \
	VADDPS X14, X0, X0; \
	VPERMILPS $0x4e, X0, X2; \
	VADDPS X2, X0, X0; \
	VPERMILPS $0xb1, X0, X2; \
	VADDPS X2, X0, X0; \
	VMOVSS X0, (DI); \
	ADDQ $4, DI; \
	ADDQ R8, SI; \
	CMPQ DI, CX; \
	JB loop

// SCALEMIN decodes the twelve 6-bit scale/min bytes q0…q11 at 4(R10) into
// X2 = scales 0–7, mins 0–7 (bytes), stores each scale as a pair of equal
// words at 4j(SP), for PAIR's VPBROADCASTD (a plain load, where a VPSHUFB
// would compete with the multiplies for the vector ports), and applies the
// mins: Y0 += dmin·Σ_j min_j·(bsum_2j + bsum_2j+1), Y0 being subtracted
// from the row sum at the end.
// Scales 0–3 are q0–3 & 63 and mins 0–3 q4–7 & 63; scales 4–7 take their
// low nibble from q8–11 and their top two bits from q0–3, mins 4–7 the high
// nibble of q8–11 and the top bits of q4–7.
#define SCALEMIN \
	VMOVDQU 4(R10), X2; \
	VPSHUFB kqSMLow<>(SB), X2, X4; \
	VPSRLVD kqSMShift<>(SB), X4, X4; \
	VPAND kqSMMask<>(SB), X4, X4; \
	VPSRLD $2, X2, X2; \
	VPAND kqSM30<>(SB), X2, X2; \
	VPSHUFB kqSMHigh<>(SB), X2, X2; \
	VPOR X4, X2, X2; \
	VPUNPCKLBW X2, X2, X3; \
	VPMOVZXBW X3, Y3; \
	VMOVDQU Y3, (SP); \
	VPUNPCKHBW X2, X2, X4; \
	VPMOVZXBW X4, Y4; \
	VPMADDWD 260(R11), Y4, Y4; \
	VCVTDQ2PS Y4, Y4; \
	VFMADD231PS Y4, Y12, Y0

// DMIN sets Y13 = d·y.d and Y12 = dmin·y.d for the block at R10/R11.
#define DMIN \
	VMOVD (R10), X3; \
	VCVTPH2PS X3, X3; \
	VBROADCASTSS (R11), X2; \
	VMULPS X2, X3, X3; \
	VBROADCASTSS X3, Y13; \
	VMOVSHDUP X3, X3; \
	VBROADCASTSS X3, Y12

// PAIR multiplies 64 quants (low nibbles in Y6, high nibbles in Y7, as
// unsigned bytes) by the activations at aoff(R11) and adds them, weighted
// by scales k and k+1, to Y10 and Y11.
#define PAIR(aoff, k) \
	VPMADDUBSW aoff(R11), Y6, Y6; \
	VPMADDUBSW aoff+32(R11), Y7, Y7; \
	VPBROADCASTD 8*k(SP), Y8; \
	VPBROADCASTD 8*k+4(SP), Y9; \
	VPMADDWD Y8, Y6, Y6; \
	VPMADDWD Y9, Y7, Y7; \
	VPADDD Y6, Y10, Y10; \
	VPADDD Y7, Y11, Y11

// Q4K_PAIR: quants 64k…64k+63 of a Q4_K block.
#define Q4K_PAIR(k) \
	VMOVDQU 16+32*k(R10), Y6; \
	VPSRLW $4, Y6, Y7; \
	VPAND Y15, Y6, Y6; \
	VPAND Y15, Y7, Y7; \
	PAIR(4+64*k, k)

// BLOCKEND adds d·(Y10+Y11) to the row accumulator.
#define BLOCKEND \
	VPADDD Y11, Y10, Y10; \
	VCVTDQ2PS Y10, Y10; \
	VFMADD231PS Y10, Y13, Y14

// func gemvQ4KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
TEXT ·gemvQ4KAVX2(SB), NOSPLIT, $32-48
	KQ_ARGS

q4krow:
	VXORPS Y14, Y14, Y14
	VXORPS Y0, Y0, Y0
	MOVQ SI, R10
	MOVQ DX, R11

q4kblock:
	DMIN
	SCALEMIN
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	Q4K_PAIR(0)
	Q4K_PAIR(1)
	Q4K_PAIR(2)
	Q4K_PAIR(3)
	BLOCKEND
	ADDQ $144, R10
	ADDQ $292, R11
	CMPQ R11, R9
	JB   q4kblock

	KQ_ROWEND(q4krow)
	VZEROUPPER
	RET

// FIFTH ORs the fifth bit of 32 quants, already moved to bit 4 of each byte
// of Y8, into Y6 or Y7.
#define FIFTH(q) \
	VPAND Y1, Y8, Y8; \
	VPOR Y8, q, q

// Q5K_NIBBLES loads the low four bits of quants 64k…64k+63 of a Q5_K block.
#define Q5K_NIBBLES(k) \
	VMOVDQU 48+32*k(R10), Y6; \
	VPSRLW $4, Y6, Y7; \
	VPAND Y15, Y6, Y6; \
	VPAND Y15, Y7, Y7

// func gemvQ5KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
//
// As Q4_K, plus a fifth bit per quant: bit 2k (quants 64k…64k+31) or 2k+1
// (the next 32) of qh[l]; word shifts move it to bit 4 of its own byte.
TEXT ·gemvQ5KAVX2(SB), NOSPLIT, $32-48
	KQ_ARGS
	VPCMPEQB Y1, Y1, Y1
	VPABSB Y1, Y1
	VPSLLW $4, Y1, Y1

q5krow:
	VXORPS Y14, Y14, Y14
	VXORPS Y0, Y0, Y0
	MOVQ SI, R10
	MOVQ DX, R11

q5kblock:
	DMIN
	SCALEMIN
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	VMOVDQU 16(R10), Y5

	Q5K_NIBBLES(0)
	VPSLLW $4, Y5, Y8
	FIFTH(Y6)
	VPSLLW $3, Y5, Y8
	FIFTH(Y7)
	PAIR(4, 0)

	Q5K_NIBBLES(1)
	VPSLLW $2, Y5, Y8
	FIFTH(Y6)
	VPSLLW $1, Y5, Y8
	FIFTH(Y7)
	PAIR(4+64, 1)

	Q5K_NIBBLES(2)
	VPAND Y1, Y5, Y8
	VPOR  Y8, Y6, Y6
	VPSRLW $1, Y5, Y8
	FIFTH(Y7)
	PAIR(4+128, 2)

	Q5K_NIBBLES(3)
	VPSRLW $2, Y5, Y8
	FIFTH(Y6)
	VPSRLW $3, Y5, Y8
	FIFTH(Y7)
	PAIR(4+192, 3)

	BLOCKEND
	ADDQ $176, R10
	ADDQ $292, R11
	CMPQ R11, R9
	JB   q5kblock

	KQ_ROWEND(q5krow)
	VZEROUPPER
	RET
