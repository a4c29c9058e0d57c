//go:build amd64 && !purego

#include "textflag.h"
#include "gemm_kquant_amd64.h"

// Batch (prefill) kernels for the K-quants against Q8_K activations; see
// gemm_kquant_amd64.go for the plan and the maths. Three kinds of routine:
//
//	gemmPrepQ8K*  copy a k-chunk of T activation rows into the layout the
//	              kernels read: per super-block the 256 quants (as they are,
//	              or plus 128), d as float32 and, for the types with mins,
//	              the sums of each 32 quants (Q4_K, Q5_K) or the 16 bsums
//	              (Q2_K) as int16.
//	gemmPackQ*K   repack a k-chunk of 8 weight rows: per super-block 64
//	              "chunks" of 32 bytes, chunk k holding elements 4k…4k+3 of
//	              rows 0…7 as bytes, then the sub-block scales as vectors
//	              whose dword lane i holds row i's scale in both words, the
//	              mins the same way, a per-row int32 correction and the
//	              rows' d (and dmin) as float32.
//	gemmQ*KAVX2   multiply one packed 8-row group by T prepared tokens, four
//	              tokens at a time: per chunk and token, VPMADDUBSW with the
//	              token's broadcast quants 4k…4k+3 leaves each row's pair
//	              sums in its own dword lane; these add up in int16 over as
//	              many chunks as cannot overflow, VPMADDWD by the scale
//	              vector turns them into int32, and per super-block one
//	              conversion and one FMA by d_w·d_a finish 8 (row, token)
//	              products. No horizontal sums are needed.
//
// This file holds the preparation and the kernels, gemm_kquant_pack_amd64.s
// the packing.

DATA kgX80<>+0(SB)/8, $0x8080808080808080
DATA kgX80<>+8(SB)/8, $0x8080808080808080
DATA kgX80<>+16(SB)/8, $0x8080808080808080
DATA kgX80<>+24(SB)/8, $0x8080808080808080
GLOBL kgX80<>(SB), RODATA|NOPTR, $32

// ---- argument macros ----
// They sit before the first TEXT so that go vet (asmdecl), which reads the
// file line by line, does not check them against an unrelated frame.

// PREPARGS loads the prep routines' arguments: DI dst, SI a, DX aStride,
// R9 T.
#define PREPARGS \
	MOVQ dst+0(FP), DI \
	MOVQ a+8(FP), SI \
	MOVQ aStride+16(FP), DX \
	MOVQ T+24(FP), R9

#define PREPBLOCKS \
	MOVQ kb+32(FP), CX

// KSETUP loads the kernels' arguments: DI out, R9 outStride, R8 act, R11
// actStride, R10 T.
#define KSETUP \
	MOVQ out+0(FP), DI \
	MOVQ outStride+8(FP), R9 \
	MOVQ act+24(FP), R8 \
	MOVQ actStride+32(FP), R11 \
	MOVQ T+48(FP), R10

// KQUAD starts a group of up to four tokens (jumping to done when none are
// left): their block cursors in AX DX R12 R13, a missing token repeating
// the last one present.
#define KQUAD(done) \
	TESTQ  R10, R10 \
	JZ     done \
	MOVQ   R8, AX \
	MOVQ   R8, DX \
	CMPQ   R10, $2 \
	JB     kq1 \
	ADDQ   R11, DX \
kq1: \
	MOVQ   DX, R12 \
	CMPQ   R10, $3 \
	JB     kq2 \
	ADDQ   R11, R12 \
kq2: \
	MOVQ   R12, R13 \
	CMPQ   R10, $4 \
	JB     kq3 \
	ADDQ   R11, R13 \
kq3: \
	MOVQ   w+16(FP), BX \
	MOVQ   kb+40(FP), CX \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

// KSTORE stores (or, with accum set, adds) the results of the tokens
// present and moves on to the next four.
#define KSTORE(quad, done) \
	CMPQ    accum+56(FP), $0 \
	JEQ     ka \
	VADDPS  (DI), Y8, Y8 \
	CMPQ    R10, $2 \
	JB      ka \
	VADDPS  (DI)(R9*1), Y9, Y9 \
	CMPQ    R10, $3 \
	JB      ka \
	LEAQ    (DI)(R9*2), SI \
	VADDPS  (SI), Y10, Y10 \
	CMPQ    R10, $4 \
	JB      ka \
	VADDPS  (SI)(R9*1), Y11, Y11 \
ka: \
	VMOVUPS Y8, (DI) \
	CMPQ    R10, $2 \
	JB      done \
	VMOVUPS Y9, (DI)(R9*1) \
	LEAQ    (DI)(R9*2), DI \
	CMPQ    R10, $3 \
	JB      done \
	VMOVUPS Y10, (DI) \
	CMPQ    R10, $4 \
	JB      done \
	VMOVUPS Y11, (DI)(R9*1) \
	LEAQ    (DI)(R9*2), DI \
	LEAQ    (R8)(R11*4), R8 \
	SUBQ    $4, R10 \
	JMP     quad

// ---- activation preparation ----
// func gemmPrepQ8K*(dst, a *byte, aStride, T, kb int): kb Q8_K blocks of
// each of T rows aStride bytes apart; the blocks of one row are written
// one after another, then those of the next row.

// COPYQ copies the 256 quants (with op FLIP8: plus 128) and d.
#define COPYQ(op) \
	VMOVDQU 4(R8), Y0 \
	VMOVDQU 36(R8), Y1 \
	VMOVDQU 68(R8), Y2 \
	VMOVDQU 100(R8), Y3 \
	VMOVDQU 132(R8), Y4 \
	VMOVDQU 164(R8), Y5 \
	VMOVDQU 196(R8), Y6 \
	VMOVDQU 228(R8), Y7 \
	op \
	VMOVDQU Y0, 0(DI) \
	VMOVDQU Y1, 32(DI) \
	VMOVDQU Y2, 64(DI) \
	VMOVDQU Y3, 96(DI) \
	VMOVDQU Y4, 128(DI) \
	VMOVDQU Y5, 160(DI) \
	VMOVDQU Y6, 192(DI) \
	VMOVDQU Y7, 224(DI) \
	MOVL    (R8), AX \
	MOVL    AX, A_D(DI)

#define NOOP
#define FLIP8 \
	VPXOR Y15, Y0, Y0 \
	VPXOR Y15, Y1, Y1 \
	VPXOR Y15, Y2, Y2 \
	VPXOR Y15, Y3, Y3 \
	VPXOR Y15, Y4, Y4 \
	VPXOR Y15, Y5, Y5 \
	VPXOR Y15, Y6, Y6 \
	VPXOR Y15, Y7, Y7

// func gemmPrepQ8KMins(dst, a *byte, aStride, T, kb int)
// Quants as they are, then the eight sums of 32 (pairs of bsums).
TEXT ·gemmPrepQ8KMins(SB), NOSPLIT, $0-40
	PREPARGS

pmtok:
	MOVQ SI, R8
	PREPBLOCKS

pmblk:
	COPYQ(NOOP)
	VMOVDQU 260(R8), X0
	VMOVDQU 276(R8), X1
	VPHADDW X1, X0, X0
	VMOVDQU X0, A_BS(DI)
	ADDQ    $292, R8
	ADDQ    $AM_SIZE, DI
	DECQ    CX
	JNZ     pmblk

	ADDQ DX, SI
	DECQ R9
	JNZ  pmtok
	VZEROUPPER
	RET

// func gemmPrepQ8KBsums(dst, a *byte, aStride, T, kb int)
// Quants as they are, then the 16 bsums.
TEXT ·gemmPrepQ8KBsums(SB), NOSPLIT, $0-40
	PREPARGS

pbtok:
	MOVQ SI, R8
	PREPBLOCKS

pbblk:
	COPYQ(NOOP)
	VMOVDQU 260(R8), Y0
	VMOVDQU Y0, A_BS(DI)
	ADDQ    $292, R8
	ADDQ    $A2_SIZE, DI
	DECQ    CX
	JNZ     pbblk

	ADDQ DX, SI
	DECQ R9
	JNZ  pbtok
	VZEROUPPER
	RET

// func gemmPrepQ8K128(dst, a *byte, aStride, T, kb int)
// Quants plus 128 (0…255), for the kernels whose weights are signed.
TEXT ·gemmPrepQ8K128(SB), NOSPLIT, $0-40
	PREPARGS
	VMOVDQU kgX80<>(SB), Y15

p8tok:
	MOVQ SI, R8
	PREPBLOCKS

p8blk:
	COPYQ(FLIP8)
	ADDQ $292, R8
	ADDQ $A8_SIZE, DI
	DECQ CX
	JNZ  p8blk

	ADDQ DX, SI
	DECQ R9
	JNZ  p8tok
	VZEROUPPER
	RET

// ---- kernels ----
// func gemmQ*KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// sets (accum = 0) or adds to (accum = 1) the 8 floats at out + t·outStride
// (bytes) the products of the packed group w with prepared token t < T.
// Registers:
//	DI out cursor, R9 outStride, R8 the current four tokens' activations,
//	R11 actStride, R10 tokens left, AX DX R12 R13 the four tokens' block
//	cursors, BX packed block cursor, CX blocks left, SI scratch
//	Y0–Y3 the tokens' int16 sums (then scratch), Y4–Y7 their int32 block
//	sums, Y8–Y11 their float32 accumulators, Y12 the chunk, Y13 Y14 scratch
// The int32 block sums stay far from overflow: at most 256 products of
// |scale·q·a| ≤ 128·32·255 (Q6_K), about 2²⁸.

// UMUL and SMUL multiply the chunk in Y12 by the broadcast quants in a:
// UMUL for unsigned weights and signed activations, SMUL for signed
// weights and activations plus 128.
#define UMUL(a) VPMADDUBSW a, Y12, a
#define SMUL(a) VPMADDUBSW Y12, a, a

// CHFIRST sets the four tokens' int16 sums to chunk k's products; CHNEXT
// adds chunk k's.
#define CHFIRST(MUL, k) \
	VMOVDQU      (32*(k))(BX), Y12 \
	VPBROADCASTD (4*(k))(AX), Y0 \
	MUL(Y0) \
	VPBROADCASTD (4*(k))(DX), Y1 \
	MUL(Y1) \
	VPBROADCASTD (4*(k))(R12), Y2 \
	MUL(Y2) \
	VPBROADCASTD (4*(k))(R13), Y3 \
	MUL(Y3)

#define CHNEXT(MUL, k) \
	VMOVDQU      (32*(k))(BX), Y12 \
	VPBROADCASTD (4*(k))(AX), Y13 \
	MUL(Y13) \
	VPADDW       Y13, Y0, Y0 \
	VPBROADCASTD (4*(k))(DX), Y14 \
	MUL(Y14) \
	VPADDW       Y14, Y1, Y1 \
	VPBROADCASTD (4*(k))(R12), Y13 \
	MUL(Y13) \
	VPADDW       Y13, Y2, Y2 \
	VPBROADCASTD (4*(k))(R13), Y14 \
	MUL(Y14) \
	VPADDW       Y14, Y3, Y3

// SCALE weights the int16 sums by the scale vector at off and adds them to
// the int32 block sums.
#define SCALE(off) \
	VPMADDWD (off)(BX), Y0, Y0 \
	VPMADDWD (off)(BX), Y1, Y1 \
	VPMADDWD (off)(BX), Y2, Y2 \
	VPMADDWD (off)(BX), Y3, Y3 \
	VPADDD   Y0, Y4, Y4 \
	VPADDD   Y1, Y5, Y5 \
	VPADDD   Y2, Y6, Y6 \
	VPADDD   Y3, Y7, Y7

#define ZEROSUMS \
	VPXOR Y4, Y4, Y4 \
	VPXOR Y5, Y5, Y5 \
	VPXOR Y6, Y6, Y6 \
	VPXOR Y7, Y7, Y7

// Groups of 2, 4 and 8 chunks starting at chunk k, then their scale.
#define G2(MUL, k, sc) \
	CHFIRST(MUL, k) \
	CHNEXT(MUL, (k)+1) \
	SCALE(sc)

#define G4(MUL, k, sc) \
	CHFIRST(MUL, k) \
	CHNEXT(MUL, (k)+1) \
	CHNEXT(MUL, (k)+2) \
	CHNEXT(MUL, (k)+3) \
	SCALE(sc)

#define G8(MUL, k, sc) \
	CHFIRST(MUL, k) \
	CHNEXT(MUL, (k)+1) \
	CHNEXT(MUL, (k)+2) \
	CHNEXT(MUL, (k)+3) \
	CHNEXT(MUL, (k)+4) \
	CHNEXT(MUL, (k)+5) \
	CHNEXT(MUL, (k)+6) \
	CHNEXT(MUL, (k)+7) \
	SCALE(sc)

// MINS4 and MINS8 set s to Σ_p (min vector p at mn)·(the token's sums 2p
// and 2p+1, at A_BS+4p), p < 4 or 8.
#define MINFIRST(p, s, mn) \
	VPBROADCASTD A_BS(p), s \
	VPMADDWD     mn(BX), s, s

#define MINPAIR(p, s, mn, i) \
	VPBROADCASTD (A_BS+4*(i))(p), Y13 \
	VPMADDWD     (mn+32*(i))(BX), Y13, Y13 \
	VPADDD       Y13, s, s

#define MINS4(p, s, mn) \
	MINFIRST(p, s, mn) \
	MINPAIR(p, s, mn, 1) \
	MINPAIR(p, s, mn, 2) \
	MINPAIR(p, s, mn, 3)

#define MINS8(p, s, mn) \
	MINS4(p, s, mn) \
	MINPAIR(p, s, mn, 4) \
	MINPAIR(p, s, mn, 5) \
	MINPAIR(p, s, mn, 6) \
	MINPAIR(p, s, mn, 7)

// DMIN1 finishes one token's block for the types with mins: acc +=
// (d·d_a)·sums − (dmin·d_a)·mins.
#define DMIN1(p, i, s, acc, dw, dm) \
	VCVTDQ2PS    i, i \
	VCVTDQ2PS    s, s \
	VBROADCASTSS A_D(p), Y13 \
	VMULPS       dw(BX), Y13, Y14 \
	VFMADD231PS  Y14, i, acc \
	VMULPS       dm(BX), Y13, Y14 \
	VFNMADD231PS Y14, s, acc

// FINISH4 and FINISH2 end a block of Q4_K/Q5_K and Q2_K.
#define FINISH4 \
	MINS4(AX, Y0, P4_MN) \
	MINS4(DX, Y1, P4_MN) \
	MINS4(R12, Y2, P4_MN) \
	MINS4(R13, Y3, P4_MN) \
	DMIN1(AX, Y4, Y0, Y8, P4_DW, P4_DM) \
	DMIN1(DX, Y5, Y1, Y9, P4_DW, P4_DM) \
	DMIN1(R12, Y6, Y2, Y10, P4_DW, P4_DM) \
	DMIN1(R13, Y7, Y3, Y11, P4_DW, P4_DM)

#define FINISH2 \
	MINS8(AX, Y0, P2_MN) \
	MINS8(DX, Y1, P2_MN) \
	MINS8(R12, Y2, P2_MN) \
	MINS8(R13, Y3, P2_MN) \
	DMIN1(AX, Y4, Y0, Y8, P2_DW, P2_DM) \
	DMIN1(DX, Y5, Y1, Y9, P2_DW, P2_DM) \
	DMIN1(R12, Y6, Y2, Y10, P2_DW, P2_DM) \
	DMIN1(R13, Y7, Y3, Y11, P2_DW, P2_DM)

// CORR1 finishes one token's block for Q6_K and Q3_K: acc += (d·d_a)·
// (sums − correction).
#define CORR1(p, i, acc) \
	VPSUBD       P6_CORR(BX), i, i \
	VCVTDQ2PS    i, i \
	VBROADCASTSS A_D(p), Y13 \
	VMULPS       P6_DW(BX), Y13, Y13 \
	VFMADD231PS  Y13, i, acc

#define FINISH6 \
	CORR1(AX, Y4, Y8) \
	CORR1(DX, Y5, Y9) \
	CORR1(R12, Y6, Y10) \
	CORR1(R13, Y7, Y11)

// NEXTBLOCK steps the cursors to the next super-block.
#define NEXTBLOCK(pa, pw, blk) \
	ADDQ $pa, AX \
	ADDQ $pa, DX \
	ADDQ $pa, R12 \
	ADDQ $pa, R13 \
	ADDQ $pw, BX \
	DECQ CX \
	JNZ  blk

// func gemmQ4KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// Quants 0…15 against activations −128…127: eight chunks (16 products per
// int16 word, at most 16·15·128 = 30720 in magnitude) share a scale.
TEXT ·gemmQ4KAVX2(SB), NOSPLIT, $0-64
	KSETUP

quad:
	KQUAD(done)

blk:
	ZEROSUMS
	G8(UMUL, 0, P4_SC)
	G8(UMUL, 8, P4_SC+32)
	G8(UMUL, 16, P4_SC+64)
	G8(UMUL, 24, P4_SC+96)
	G8(UMUL, 32, P4_SC+128)
	G8(UMUL, 40, P4_SC+160)
	G8(UMUL, 48, P4_SC+192)
	G8(UMUL, 56, P4_SC+224)
	FINISH4
	NEXTBLOCK(AM_SIZE, P4_SIZE, blk)
	KSTORE(quad, done)

done:
	VZEROUPPER
	RET

// func gemmQ5KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// Quants 0…31: groups of four chunks (at most 8·31·128 = 31744).
TEXT ·gemmQ5KAVX2(SB), NOSPLIT, $0-64
	KSETUP

quad:
	KQUAD(done)

blk:
	ZEROSUMS
	G4(UMUL, 0, P4_SC)
	G4(UMUL, 4, P4_SC)
	G4(UMUL, 8, P4_SC+32)
	G4(UMUL, 12, P4_SC+32)
	G4(UMUL, 16, P4_SC+64)
	G4(UMUL, 20, P4_SC+64)
	G4(UMUL, 24, P4_SC+96)
	G4(UMUL, 28, P4_SC+96)
	G4(UMUL, 32, P4_SC+128)
	G4(UMUL, 36, P4_SC+128)
	G4(UMUL, 40, P4_SC+160)
	G4(UMUL, 44, P4_SC+160)
	G4(UMUL, 48, P4_SC+192)
	G4(UMUL, 52, P4_SC+192)
	G4(UMUL, 56, P4_SC+224)
	G4(UMUL, 60, P4_SC+224)
	FINISH4
	NEXTBLOCK(AM_SIZE, P4_SIZE, blk)
	KSTORE(quad, done)

done:
	VZEROUPPER
	RET

// SUB16x2 is a 16-element sub-block j of Q6_K in two groups of two chunks.
#define SUB16x2(j) \
	G2(SMUL, 4*(j), P6_SC+32*(j)) \
	G2(SMUL, 4*(j)+2, P6_SC+32*(j))

// func gemmQ6KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// Quants −32…31 against activations 0…255: groups of two chunks (at most
// 4·32·255 = 32640).
TEXT ·gemmQ6KAVX2(SB), NOSPLIT, $0-64
	KSETUP

quad:
	KQUAD(done)

blk:
	ZEROSUMS
	SUB16x2(0)
	SUB16x2(1)
	SUB16x2(2)
	SUB16x2(3)
	SUB16x2(4)
	SUB16x2(5)
	SUB16x2(6)
	SUB16x2(7)
	SUB16x2(8)
	SUB16x2(9)
	SUB16x2(10)
	SUB16x2(11)
	SUB16x2(12)
	SUB16x2(13)
	SUB16x2(14)
	SUB16x2(15)
	FINISH6
	NEXTBLOCK(A8_SIZE, P6_SIZE, blk)
	KSTORE(quad, done)

done:
	VZEROUPPER
	RET

// SUB16(MUL, j): a 16-element sub-block j in one group of four chunks.
#define SUB16(MUL, j, sc) G4(MUL, 4*(j), (sc)+32*(j))

// func gemmQ3KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// Quants −4…3 against activations 0…255 (at most 8·4·255 = 8160 per group).
TEXT ·gemmQ3KAVX2(SB), NOSPLIT, $0-64
	KSETUP

quad:
	KQUAD(done)

blk:
	ZEROSUMS
	SUB16(SMUL, 0, P6_SC)
	SUB16(SMUL, 1, P6_SC)
	SUB16(SMUL, 2, P6_SC)
	SUB16(SMUL, 3, P6_SC)
	SUB16(SMUL, 4, P6_SC)
	SUB16(SMUL, 5, P6_SC)
	SUB16(SMUL, 6, P6_SC)
	SUB16(SMUL, 7, P6_SC)
	SUB16(SMUL, 8, P6_SC)
	SUB16(SMUL, 9, P6_SC)
	SUB16(SMUL, 10, P6_SC)
	SUB16(SMUL, 11, P6_SC)
	SUB16(SMUL, 12, P6_SC)
	SUB16(SMUL, 13, P6_SC)
	SUB16(SMUL, 14, P6_SC)
	SUB16(SMUL, 15, P6_SC)
	FINISH6
	NEXTBLOCK(A8_SIZE, P6_SIZE, blk)
	KSTORE(quad, done)

done:
	VZEROUPPER
	RET

// func gemmQ2KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// Quants 0…3 against activations −128…127; the mins act through the
// token's 16 bsums.
TEXT ·gemmQ2KAVX2(SB), NOSPLIT, $0-64
	KSETUP

quad:
	KQUAD(done)

blk:
	ZEROSUMS
	SUB16(UMUL, 0, P2_SC)
	SUB16(UMUL, 1, P2_SC)
	SUB16(UMUL, 2, P2_SC)
	SUB16(UMUL, 3, P2_SC)
	SUB16(UMUL, 4, P2_SC)
	SUB16(UMUL, 5, P2_SC)
	SUB16(UMUL, 6, P2_SC)
	SUB16(UMUL, 7, P2_SC)
	SUB16(UMUL, 8, P2_SC)
	SUB16(UMUL, 9, P2_SC)
	SUB16(UMUL, 10, P2_SC)
	SUB16(UMUL, 11, P2_SC)
	SUB16(UMUL, 12, P2_SC)
	SUB16(UMUL, 13, P2_SC)
	SUB16(UMUL, 14, P2_SC)
	SUB16(UMUL, 15, P2_SC)
	FINISH2
	NEXTBLOCK(A2_SIZE, P2_SIZE, blk)
	KSTORE(quad, done)

done:
	VZEROUPPER
	RET
