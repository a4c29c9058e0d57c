//go:build amd64 && !purego

#include "textflag.h"

// Two-row multi-token gemv for Q8_0, Q4_0 and Q5_0 weights × Q8_0
// activations, 2…4 tokens: see gemm_few_amd64.go.
//
//	func gemmFew<type>AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int,
//		a *byte, actStride int, tab *float32, nb, T int)
//
// sets out[t·outStride + r] (outStride in bytes) = dot(weight row r, token
// t) for r < 2·pairs, t < T. Two rows go together, so each token's
// activations are loaded once for both. Q8_0 blocks are decoded to their
// quants and absolute values (DEC8) and the products formed as in
// gemm_small_q8_amd64.s (VPSIGNB, VPMADDUBSW, VPMADDWD; |q| ≤ 127 and
// a ≠ −128 keep the int16 pair sums exact); Q4_0 and Q5_0 blocks to their
// unsigned quants (DEC4, DEC5), which meet the activations in VPMADDUBSW
// directly (FUPR), the offset's share, from the table, subtracted from the
// block sums (OFFCORR). The products are folded with VPHADDD so that
// dword t of each 128-bit lane holds token t's sums (lanes of g < 4 tokens repeat, as there: [0 1 0 1], [0 1 2 2]). The
// two rows' folds are then merged — low halves of both in one vector, high
// halves in the other, added — so that one conversion, one scale multiply
// and one FMA serve 2 rows × 4 tokens: lanes 0–3 hold row 0, lanes 4–7 row
// 1. The scale vector is d_w of row 0 in lanes 0–3 and of row 1 in 4–7,
// times the table's d_a of the lanes' tokens (group 0 of the one-row
// kernel's table, whose lanes 4–7 repeat 0–3; its group 1 slot holds the
// offsets' int32 shares, in the same lane order). Block sums are exact
// integers, as in tensor.VecDot; only the float32 additions are ordered
// differently, and a (row, token) result depends on neither the other row
// nor the pairing. The row pair two pairs ahead is prefetched as the
// blocks go (R14), which the hardware prefetcher alone did not do in time.
//
// Registers:
//	DI out cursor (row r of token 0)   R9 outStride, R10 3·outStride
//	SI weight row pair                 R13 weight cursor, R15 rowBytes
//	R14 prefetch cursor (R13 + 4·rowBytes)
//	R8 activations of token 0          DX actStride, R11 3·actStride
//	R12 activation cursor   BX table cursor   CX blocks left
//	AX pairs left
//	Y0–Y7 products (row 0 in Y0–Y3, row 1 in Y4–Y7)   Y8 activations
//	Y9 scales   Y10 Y11 row 1 |quants|, quants   Y13 Y14 row 0 quants, |quants|
//	Y12 accumulator   Y15 int16 ones
//
// R15 stays valid across the RODATA loads: they are file-local (<>)
// symbols, which dynamic linking does not reach through the GOT.

DATA fwOnes16<>+0(SB)/8, $0x0001000100010001
DATA fwOnes16<>+8(SB)/8, $0x0001000100010001
DATA fwOnes16<>+16(SB)/8, $0x0001000100010001
DATA fwOnes16<>+24(SB)/8, $0x0001000100010001
GLOBL fwOnes16<>(SB), RODATA|NOPTR, $32

// PFS: the prefetch cursor runs 2^PFS rows (two pairs) ahead.
#define PFS 2

// FPR forms token t's products with both rows: activations at q.
#define FPR(q, P0, P1) \
	VMOVDQU    q, Y8 \
	VPSIGNB    Y13, Y8, P0 \
	VPSIGNB    Y11, Y8, P1 \
	VPMADDUBSW P0, Y14, P0 \
	VPMADDUBSW P1, Y10, P1 \
	VPMADDWD   Y15, P0, P0 \
	VPMADDWD   Y15, P1, P1

// FUPR is FPR for unsigned quants (Q4_0, Q5_0 before their offset): the
// activations go to VPMADDUBSW as they are (pair sums ≤ 2·31·127), and the
// offset's share, off·Σa per token, is subtracted from the block sums.
#define FUPR(q, P0, P1) \
	VPMADDUBSW q, Y13, P0 \
	VPMADDUBSW q, Y11, P1 \
	VPMADDWD   Y15, P0, P0 \
	VPMADDWD   Y15, P1, P1

#define FUPRODS2 FUPR(2(R12), Y0, Y4); FUPR(2(R12)(DX*1), Y1, Y5)
#define FUPRODS3 FUPRODS2; FUPR(2(R12)(DX*2), Y2, Y6)
#define FUPRODS4 FUPRODS3; FUPR(2(R12)(R11*1), Y3, Y7)

#define FPRODS2 FPR(2(R12), Y0, Y4); FPR(2(R12)(DX*1), Y1, Y5)
#define FPRODS3 FPRODS2; FPR(2(R12)(DX*2), Y2, Y6)
#define FPRODS4 FPRODS3; FPR(2(R12)(R11*1), Y3, Y7)

// FFOLDg folds each row's products into Y0 (row 0) and Y4 (row 1).
#define FFOLD2 VPHADDD Y1, Y0, Y0; VPHADDD Y5, Y4, Y4; VPHADDD Y0, Y0, Y0; VPHADDD Y4, Y4, Y4
#define FFOLD3 VPHADDD Y1, Y0, Y0; VPHADDD Y5, Y4, Y4; VPHADDD Y2, Y2, Y2; VPHADDD Y6, Y6, Y6; VPHADDD Y2, Y0, Y0; VPHADDD Y6, Y4, Y4
#define FFOLD4 VPHADDD Y1, Y0, Y0; VPHADDD Y5, Y4, Y4; VPHADDD Y3, Y2, Y2; VPHADDD Y7, Y6, Y6; VPHADDD Y2, Y0, Y0; VPHADDD Y6, Y4, Y4

// FST stores lane k of X0 (and of X1, the row 1 lanes) to token k's output.
#define FST1 VMOVSS X0, (DI); VMOVSS X1, 4(DI)
#define FST2 FST1; VEXTRACTPS $1, X0, (DI)(R9*1); VEXTRACTPS $1, X1, 4(DI)(R9*1)
#define FST3 FST2; VEXTRACTPS $2, X0, (DI)(R9*2); VEXTRACTPS $2, X1, 4(DI)(R9*2)
#define FST4 FST3; VEXTRACTPS $3, X0, (DI)(R10*1); VEXTRACTPS $3, X1, 4(DI)(R10*1)

// FPAIR runs one row pair, from SI, over every block and stores its
// results; DI moves on by two rows. SCALES sets X9 to the pair's two fp16
// scales, four times each; PF prefetches.
#define FPAIR(DEC, SCALES, WB, PF, PRODS, FOLD, CORR, ST, block) \
	VXORPS Y12, Y12, Y12 \
	MOVQ   SI, R13 \
	MOVQ   R8, R12 \
	MOVQ   R15, R14 \
	SHLQ   $PFS, R14 \
	ADDQ   SI, R14 \
	MOVQ   tab+56(FP), BX \
	MOVQ   nb+64(FP), CX \
block: \
	PF \
	DEC \
	PRODS \
	FOLD \
	VPERM2I128   $0x20, Y4, Y0, Y1 \
	VPERM2I128   $0x31, Y4, Y0, Y2 \
	VPADDD       Y2, Y1, Y1 \
	CORR \
	SCALES \
	VCVTPH2PS    X9, Y9 \
	VMULPS       (BX), Y9, Y9 \
	VCVTDQ2PS    Y1, Y1 \
	VFMADD231PS  Y9, Y1, Y12 \
	ADDQ $WB, R13 \
	ADDQ $34, R12 \
	ADDQ $WB, R14 \
	ADDQ $64, BX \
	DECQ CX \
	JNZ  block \
	VMOVAPS      X12, X0 \
	VEXTRACTF128 $1, Y12, X1 \
	ST \
	ADDQ $8, DI

#define FSCALES VPBROADCASTW (R13), X9; VPBROADCASTW (R13)(R15*1), X2; VPUNPCKLQDQ X2, X9, X9
#define FPF PREFETCHT0 (R14); PREFETCHT0 (R14)(R15*1)

#define FLOOP(DEC, WB, PRODS, FOLD, CORR, ST, pair, block) \
pair: \
	FPAIR(DEC, FSCALES, WB, FPF, PRODS, FOLD, CORR, ST, block) \
	LEAQ (SI)(R15*2), SI \
	DECQ AX \
	JNZ  pair \
	VZEROUPPER \
	RET

// X4LOOP is FLOOP over rows interleaved four at a time (interleave_amd64.go):
// the two pairs of a group in turn, DEC0 and DEC1 decoding them. The group
// ahead is prefetched into L2.
#define X4LOOP(DEC0, DEC1, WB, PRODS, FOLD, CORR, ST, group, block0, block1) \
	SHRQ $1, AX \
group: \
	FPAIR(DEC0, X4SCALES0, WB, X4PF, PRODS, FOLD, CORR, ST, block0) \
	FPAIR(DEC1, X4SCALES1, WB, X4PF, PRODS, FOLD, CORR, ST, block1) \
	LEAQ (SI)(R15*4), SI \
	DECQ AX \
	JNZ  group \
	VZEROUPPER \
	RET

#define X4SCALES0 VPBROADCASTW (R13), X9; VPBROADCASTW 2(R13), X2; VPUNPCKLQDQ X2, X9, X9
#define X4SCALES1 VPBROADCASTW 4(R13), X9; VPBROADCASTW 6(R13), X2; VPUNPCKLQDQ X2, X9, X9
#define X4PF PREFETCHT2 (R14); PREFETCHT2 64(R14)

// Decoders: each sets q to a row's 32 signed quants and abs to their
// absolute values, for the block at the given addresses.

DATA fwLow4<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA fwLow4<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA fwLow4<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA fwLow4<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL fwLow4<>(SB), RODATA|NOPTR, $32

DATA fwSixteens<>+0(SB)/8, $0x1010101010101010
DATA fwSixteens<>+8(SB)/8, $0x1010101010101010
DATA fwSixteens<>+16(SB)/8, $0x1010101010101010
DATA fwSixteens<>+24(SB)/8, $0x1010101010101010
GLOBL fwSixteens<>(SB), RODATA|NOPTR, $32

// fwNibShift shifts the high 128-bit lane right by 4: low nibbles below,
// high nibbles (elements 16–31) above, after a 128-bit broadcast.
DATA fwNibShift<>+0(SB)/8, $0
DATA fwNibShift<>+8(SB)/8, $0
DATA fwNibShift<>+16(SB)/8, $0x0000000400000004
DATA fwNibShift<>+24(SB)/8, $0x0000000400000004
GLOBL fwNibShift<>(SB), RODATA|NOPTR, $32

// fwQhBytes spreads the 4 bytes of a Q5_0 block's qh over the 32 elements
// (byte j/8 for element j), fwQhBits picks each element's bit j%8.
DATA fwQhBytes<>+0(SB)/8, $0x0000000000000000
DATA fwQhBytes<>+8(SB)/8, $0x0101010101010101
DATA fwQhBytes<>+16(SB)/8, $0x0202020202020202
DATA fwQhBytes<>+24(SB)/8, $0x0303030303030303
GLOBL fwQhBytes<>(SB), RODATA|NOPTR, $32

DATA fwQhBits<>+0(SB)/8, $0x8040201008040201
DATA fwQhBits<>+8(SB)/8, $0x8040201008040201
DATA fwQhBits<>+16(SB)/8, $0x8040201008040201
DATA fwQhBits<>+24(SB)/8, $0x8040201008040201
GLOBL fwQhBits<>(SB), RODATA|NOPTR, $32

#define DQ8(qs, q, abs) \
	VMOVDQU qs, q \
	VPABSB  q, abs

// DU4: the unsigned nibbles.
#define DU4(qs, q) \
	VBROADCASTI128 qs, q \
	VPSRLVD        fwNibShift<>(SB), q, q \
	VPAND          fwLow4<>(SB), q, q

// DU5: nibble + 16·bit (tmp is clobbered).
#define DU5(qs, qh, q, tmp) \
	DU4(qs, q) \
	VPBROADCASTD   qh, tmp \
	VPSHUFB        fwQhBytes<>(SB), tmp, tmp \
	VPAND          fwQhBits<>(SB), tmp, tmp \
	VPCMPEQB       fwQhBits<>(SB), tmp, tmp \
	VPAND          fwSixteens<>(SB), tmp, tmp \
	VPOR           tmp, q, q

// DX5: nibble + 16·bit from an interleaved fifth-bit qword, whose bits a
// right shift by the counts at right and a left shift by those at left
// (64 where the other does the lane) bring to bit 4 (tmp and Y0, whose
// products come later, are clobbered).
#define DX5(qs, qh, right, left, q, tmp) \
	DU4(qs, q) \
	VPBROADCASTQ qh, tmp \
	VPSRLVQ      right, tmp, Y0 \
	VPSLLVQ      left, tmp, tmp \
	VPOR         Y0, tmp, tmp \
	VPAND        fwSixteens<>(SB), tmp, tmp \
	VPOR         tmp, q, q

// The counts for rows 2p (E) and 2p+1 (O): see interleave_amd64.go.
DATA fwX4RightE<>+0(SB)/8, $0
DATA fwX4RightE<>+8(SB)/8, $1
DATA fwX4RightE<>+16(SB)/8, $64
DATA fwX4RightE<>+24(SB)/8, $64
GLOBL fwX4RightE<>(SB), RODATA|NOPTR, $32

DATA fwX4LeftE<>+0(SB)/8, $64
DATA fwX4LeftE<>+8(SB)/8, $64
DATA fwX4LeftE<>+16(SB)/8, $4
DATA fwX4LeftE<>+24(SB)/8, $3
GLOBL fwX4LeftE<>(SB), RODATA|NOPTR, $32

DATA fwX4RightO<>+0(SB)/8, $2
DATA fwX4RightO<>+8(SB)/8, $3
DATA fwX4RightO<>+16(SB)/8, $64
DATA fwX4RightO<>+24(SB)/8, $64
GLOBL fwX4RightO<>(SB), RODATA|NOPTR, $32

DATA fwX4LeftO<>+0(SB)/8, $64
DATA fwX4LeftO<>+8(SB)/8, $64
DATA fwX4LeftO<>+16(SB)/8, $2
DATA fwX4LeftO<>+24(SB)/8, $1
GLOBL fwX4LeftO<>(SB), RODATA|NOPTR, $32

#define DEC8 DQ8(2(R13), Y13, Y14); DQ8(2(R13)(R15*1), Y11, Y10)
#define DEC4 DU4(2(R13), Y13); DU4(2(R13)(R15*1), Y11)
#define DEC5 DU5(6(R13), 2(R13), Y13, Y14); DU5(6(R13)(R15*1), 2(R13)(R15*1), Y11, Y10)

// The interleaved decoders, for the pair of rows 0 and 1 (P0) or 2 and 3
// (P1) of a group.
#define X4DEC4P0 DU4(8(R13), Y13); DU4(24(R13), Y11)
#define X4DEC4P1 DU4(40(R13), Y13); DU4(56(R13), Y11)
#define X4DEC5P0 DX5(24(R13), 8(R13), fwX4RightE<>(SB), fwX4LeftE<>(SB), Y13, Y14); DX5(40(R13), 8(R13), fwX4RightO<>(SB), fwX4LeftO<>(SB), Y11, Y10)
#define X4DEC5P1 DX5(56(R13), 16(R13), fwX4RightE<>(SB), fwX4LeftE<>(SB), Y13, Y14); DX5(72(R13), 16(R13), fwX4RightO<>(SB), fwX4LeftO<>(SB), Y11, Y10)

// The block sums' corrections: none for Q8_0, the tabled off·Σa else.
#define NOCORR
#define OFFCORR VPSUBD 32(BX), Y1, Y1

// FARGS loads the arguments and dispatches on T to the labels p##2…p##4.
#define FARGS(l2, l3, l4) \
	VMOVDQU fwOnes16<>(SB), Y15 \
	MOVQ    out+0(FP), DI \
	MOVQ    outStride+8(FP), R9 \
	LEAQ    (R9)(R9*2), R10 \
	MOVQ    w+16(FP), SI \
	MOVQ    rowBytes+24(FP), R15 \
	MOVQ    pairs+32(FP), AX \
	MOVQ    a+40(FP), R8 \
	MOVQ    actStride+48(FP), DX \
	LEAQ    (DX)(DX*2), R11 \
	MOVQ    T+72(FP), CX \
	CMPQ    CX, $2 \
	JEQ     l2 \
	CMPQ    CX, $3 \
	JEQ     l3 \
	JMP     l4

// func gemmFewQ8_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmFewQ8_0AVX2(SB), NOSPLIT, $0-80
	FARGS(e2, e3, e4)

e2:
	FLOOP(DEC8, 34, FPRODS2, FFOLD2, NOCORR, FST2, ep2, eb2)
e3:
	FLOOP(DEC8, 34, FPRODS3, FFOLD3, NOCORR, FST3, ep3, eb3)
e4:
	FLOOP(DEC8, 34, FPRODS4, FFOLD4, NOCORR, FST4, ep4, eb4)

// func gemmFewQ4_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmFewQ4_0AVX2(SB), NOSPLIT, $0-80
	FARGS(f2, f3, f4)

f2:
	FLOOP(DEC4, 18, FUPRODS2, FFOLD2, OFFCORR, FST2, fp2, fb2)
f3:
	FLOOP(DEC4, 18, FUPRODS3, FFOLD3, OFFCORR, FST3, fp3, fb3)
f4:
	FLOOP(DEC4, 18, FUPRODS4, FFOLD4, OFFCORR, FST4, fp4, fb4)

// func gemmFewQ5_0AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmFewQ5_0AVX2(SB), NOSPLIT, $0-80
	FARGS(h2, h3, h4)

h2:
	FLOOP(DEC5, 22, FUPRODS2, FFOLD2, OFFCORR, FST2, hp2, hb2)
h3:
	FLOOP(DEC5, 22, FUPRODS3, FFOLD3, OFFCORR, FST3, hp3, hb3)
h4:
	FLOOP(DEC5, 22, FUPRODS4, FFOLD4, OFFCORR, FST4, hp4, hb4)

// func gemmFewQ4_0x4AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmFewQ4_0x4AVX2(SB), NOSPLIT, $0-80
	FARGS(i2, i3, i4)

i2:
	X4LOOP(X4DEC4P0, X4DEC4P1, 72, FUPRODS2, FFOLD2, OFFCORR, FST2, ig2, ia2, ib2)
i3:
	X4LOOP(X4DEC4P0, X4DEC4P1, 72, FUPRODS3, FFOLD3, OFFCORR, FST3, ig3, ia3, ib3)
i4:
	X4LOOP(X4DEC4P0, X4DEC4P1, 72, FUPRODS4, FFOLD4, OFFCORR, FST4, ig4, ia4, ib4)

// func gemmFewQ5_0x4AVX2(out *float32, outStride int, w *byte, rowBytes, pairs int, a *byte, actStride int, tab *float32, nb, T int)
TEXT ·gemmFewQ5_0x4AVX2(SB), NOSPLIT, $0-80
	FARGS(j2, j3, j4)

j2:
	X4LOOP(X4DEC5P0, X4DEC5P1, 88, FUPRODS2, FFOLD2, OFFCORR, FST2, jg2, ja2, jb2)
j3:
	X4LOOP(X4DEC5P0, X4DEC5P1, 88, FUPRODS3, FFOLD3, OFFCORR, FST3, jg3, ja3, jb3)
j4:
	X4LOOP(X4DEC5P0, X4DEC5P1, 88, FUPRODS4, FFOLD4, OFFCORR, FST4, jg4, ja4, jb4)
