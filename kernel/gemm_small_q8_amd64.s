//go:build amd64 && !purego

#include "textflag.h"

// Multi-token gemv kernel for Q8_0 weights × Q8_0 activations, for the
// few tokens (2…8) of continuous batching; see gemm_small_amd64.go for the
// plan.
//
//	func gemmSmallQ8_0AVX2(out *float32, outStride int, w *byte, rowBytes, rows int,
//		a *byte, actStride int, tab *float32, nb, T int)
//
// sets out[t·outStride + r] (outStride in bytes here) = dot(weight row r,
// token t) for r < rows, t < T. Rows go one at a time, so the weights
// stream in order; each block is loaded and decoded once (Y13 the quants,
// Y14 their absolute values, Y12 d_w in every lane), then meets the tokens
// in groups of up to four: |w| times a with w's signs (VPSIGNB) in
// VPMADDUBSW (int16 pair sums up to 2·128·127, as a never holds −128),
// widened to int32 by VPMADDWD, give 8 partial sums P_t per token, and the
// group's P_t are folded with VPHADDD, as the gemv kernels fold four rows,
// so that dword t of each 128-bit lane holds token t's sums. One
// conversion, one multiply of d_w by the tabled d_a of the lanes' tokens
// and one FMA then add the group's block sums into its accumulator (Y4 for
// tokens 0–3, Y5 for 4–7). A group of g < 4 tokens folds with repeats: its
// lanes hold tokens [0 1 0 1] (g = 2), [0 1 2 2] (g = 3) or [0 0 0 0]
// (g = 1), and the table follows. Every block sum is exact, as in
// tensor.VecDot; only the float32 additions are ordered differently. At the
// end of a row the two 128-bit halves are added and a group's lanes 0…g−1
// stored. Per (row, token, block) this is about 7 instructions against the
// gemv's 11 for a token alone, and the block's decode is shared.
//
// Each block prefetches the row 4 KiB ahead: the hardware prefetcher alone
// left the memory stalls unoverlapped with this much compute per byte
// (4864×896 at T = 8, weights streaming: 1.24 ms without, 0.40 ms with).
//
// tab holds 64 bytes per block: the lanes' d_a as float32 for group 0,
// then group 1.
//
// Registers:
//	DI out cursor (row r of token 0)   R9 outStride, R10 3·outStride
//	SI weight row                      R13 weight cursor
//	R8 activations of token 0          DX actStride, R11 3·actStride
//	R12 R14 activation cursors (tokens 0–3, 4–7)
//	BX table cursor   CX blocks left (and, storing, out of token 4)
//	AX rows left
//	Y0–Y3 products   Y4 Y5 accumulators
//	Y12 d_w   Y13 quants   Y14 |quants|   Y15 int16 ones
//
// R14 is free in ABI0 code (the wrapper restores g on return).

DATA smOnes16<>+0(SB)/8, $0x0001000100010001
DATA smOnes16<>+8(SB)/8, $0x0001000100010001
DATA smOnes16<>+16(SB)/8, $0x0001000100010001
DATA smOnes16<>+24(SB)/8, $0x0001000100010001
GLOBL smOnes16<>(SB), RODATA|NOPTR, $32

// ---- macros (before the first TEXT, so that go vet's asmdecl, reading line
// by line, does not check their frame references against one function) ----

#define SETUP \
	MOVQ    out+0(FP), DI \
	MOVQ    outStride+8(FP), R9 \
	LEAQ    (R9)(R9*2), R10 \
	MOVQ    w+16(FP), SI \
	MOVQ    rows+32(FP), AX \
	MOVQ    a+40(FP), R8 \
	MOVQ    actStride+48(FP), DX \
	LEAQ    (DX)(DX*2), R11 \
	VMOVDQU smOnes16<>(SB), Y15

// DEC decodes the block at (R13) to Y12 (d_w in every lane), Y13 (quants)
// and Y14 (their absolute values).
#define DEC \
	VPBROADCASTW (R13), X12 \
	VCVTPH2PS    X12, Y12 \
	VMOVDQU      2(R13), Y13 \
	VPABSB       Y13, Y14

// PR sets P to the int32 sums of four products of one token (quants at q).
#define PR(q, P) \
	VMOVDQU    q, P \
	VPSIGNB    Y13, P, P \
	VPMADDUBSW P, Y14, P \
	VPMADDWD   Y15, P, P

// PRODSg runs PR for the g tokens of a group, at base, base+actStride, ….
#define PRODS1(base) PR(2(base), Y0)
#define PRODS2(base) PRODS1(base); PR(2(base)(DX*1), Y1)
#define PRODS3(base) PRODS2(base); PR(2(base)(DX*2), Y2)
#define PRODS4(base) PRODS3(base); PR(2(base)(R11*1), Y3)

// FOLDg folds the group's products into Y0.
#define FOLD1 VPHADDD Y0, Y0, Y0; VPHADDD Y0, Y0, Y0
#define FOLD2 VPHADDD Y1, Y0, Y0; VPHADDD Y0, Y0, Y0
#define FOLD3 VPHADDD Y1, Y0, Y0; VPHADDD Y2, Y2, Y2; VPHADDD Y2, Y0, Y0
#define FOLD4 VPHADDD Y1, Y0, Y0; VPHADDD Y3, Y2, Y2; VPHADDD Y2, Y0, Y0

// G adds a group's share of the block to acc: PRODS and FOLD for its size,
// tokens from base, the lanes' d_a at sc.
#define G(PRODS, FOLD, base, sc, acc) \
	PRODS(base) \
	FOLD \
	VCVTDQ2PS   Y0, Y0 \
	VMULPS      sc, Y12, Y1 \
	VFMADD231PS Y1, Y0, acc

// STg stores lanes 0…g−1 of a group's accumulator (Yn, Xn), the two halves
// added, to the outputs of its tokens at base, base+outStride, ….
#define HALVES(y, x) \
	VEXTRACTF128 $1, y, X8 \
	VADDPS       x, X8, X8

#define ST1(y, x, base) HALVES(y, x); VMOVSS X8, (base)
#define ST2(y, x, base) ST1(y, x, base); VEXTRACTPS $1, X8, (base)(R9*1)
#define ST3(y, x, base) ST2(y, x, base); VEXTRACTPS $2, X8, (base)(R9*2)
#define ST4(y, x, base) ST3(y, x, base); VEXTRACTPS $3, X8, (base)(R10*1)

// Per token count, the work of a block and the stores.
#define BLK2 G(PRODS2, FOLD2, R12, 0(BX), Y4)
#define BLK3 G(PRODS3, FOLD3, R12, 0(BX), Y4)
#define BLK4 G(PRODS4, FOLD4, R12, 0(BX), Y4)
#define BLK5 BLK4; G(PRODS1, FOLD1, R14, 32(BX), Y5)
#define BLK6 BLK4; G(PRODS2, FOLD2, R14, 32(BX), Y5)
#define BLK7 BLK4; G(PRODS3, FOLD3, R14, 32(BX), Y5)
#define BLK8 BLK4; G(PRODS4, FOLD4, R14, 32(BX), Y5)

#define OUT2 ST2(Y4, X4, DI)
#define OUT3 ST3(Y4, X4, DI)
#define OUT4 ST4(Y4, X4, DI)
#define OUT5 OUT4; LEAQ (DI)(R9*4), CX; ST1(Y5, X5, CX)
#define OUT6 OUT4; LEAQ (DI)(R9*4), CX; ST2(Y5, X5, CX)
#define OUT7 OUT4; LEAQ (DI)(R9*4), CX; ST3(Y5, X5, CX)
#define OUT8 OUT4; LEAQ (DI)(R9*4), CX; ST4(Y5, X5, CX)

// LOOP is the kernel for one token count: BLK and OUT for that count.
#define LOOP(BLK, OUT, row, block) \
row: \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	MOVQ   SI, R13 \
	MOVQ   R8, R12 \
	LEAQ   (R8)(DX*4), R14 \
	MOVQ   tab+56(FP), BX \
	MOVQ   nb+64(FP), CX \
block: \
	PREFETCHT0 4096(R13) \
	DEC \
	BLK \
	ADDQ $34, R13 \
	ADDQ $34, R12 \
	ADDQ $34, R14 \
	ADDQ $64, BX \
	DECQ CX \
	JNZ  block \
	OUT \
	ADDQ $4, DI \
	ADDQ rowBytes+24(FP), SI \
	DECQ AX \
	JNZ  row \
	VZEROUPPER \
	RET

// DISPATCH jumps to t2…t8 by T (2…8) in CX.
#define DISPATCH \
	CMPQ CX, $2 \
	JEQ  t2 \
	CMPQ CX, $3 \
	JEQ  t3 \
	CMPQ CX, $4 \
	JEQ  t4 \
	CMPQ CX, $5 \
	JEQ  t5 \
	CMPQ CX, $6 \
	JEQ  t6 \
	CMPQ CX, $7 \
	JEQ  t7 \
	JMP  t8

// func gemmSmallQ8_0AVX2(out *float32, outStride int, w *byte, rowBytes, rows int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmSmallQ8_0AVX2(SB), NOSPLIT, $0-80
	SETUP
	MOVQ T+72(FP), CX
	DISPATCH

t2:
	LOOP(BLK2, OUT2, r2, b2)
t3:
	LOOP(BLK3, OUT3, r3, b3)
t4:
	LOOP(BLK4, OUT4, r4, b4)
t5:
	LOOP(BLK5, OUT5, r5, b5)
t6:
	LOOP(BLK6, OUT6, r6, b6)
t7:
	LOOP(BLK7, OUT7, r7, b7)
t8:
	LOOP(BLK8, OUT8, r8, b8)
