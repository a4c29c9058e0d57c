//go:build amd64 && !purego

#include "textflag.h"
#include "gemv_kquant_amd64.h"

// Row-dot kernels for the K-quants with one scale per 16 quants (Q6_K, Q3_K,
// Q2_K) against Q8_K activations; see gemv_kquant_amd64.go. Q6_K, common
// in Q4_K_M and Q5_K_M files, goes four rows at a time as Q4_K does (see
// gemv_kquant_amd64.h); Q3_K and Q2_K go one row at a time, prefetching four
// rows ahead, with the registers
//
//	DI  out cursor           CX  end of out
//	SI  current weight row   R8  rowBytes
//	DX  activation row       R9  end of the activation row
//	R10 weight block cursor  R11 activation block cursor
//	Y15 0x0f bytes, Y14 row accumulator, Y13 d·y.d, Y12 dmin·y.d (Q2_K),
//	Y10/Y11 block integer sums, Y3 the block's 16 scales as words with the
//	even ones in the low lane and the odd ones in the high lane.
//
// VPMADDUBSW needs unsigned weights: Q6_K's quants are used as stored
// (q+32, 0…63) and Q3_K's as two unsigned parts; the offsets are multiplied
// with the activations apart and subtracted from the int16 pair sums before
// the scales apply, so that every lane holds a partial sum of the true
// products, as in tensor.VecDot. A 32-byte group of activations covers two
// 16-quant sub-blocks, one per lane, so the lane-wise scale layout of Y3
// gives each group its two scales with a single VPSHUFB (Q6_K keeps a row's
// scale vector on the stack).

// kqWordBcast entry k (32 bytes) is a VPSHUFB mask that copies 16-bit word k
// of each 128-bit lane to all eight words of that lane.
DATA kqWordBcast<>+0x00(SB)/8, $0x0100010001000100
DATA kqWordBcast<>+0x08(SB)/8, $0x0100010001000100
DATA kqWordBcast<>+0x10(SB)/8, $0x0100010001000100
DATA kqWordBcast<>+0x18(SB)/8, $0x0100010001000100
DATA kqWordBcast<>+0x20(SB)/8, $0x0302030203020302
DATA kqWordBcast<>+0x28(SB)/8, $0x0302030203020302
DATA kqWordBcast<>+0x30(SB)/8, $0x0302030203020302
DATA kqWordBcast<>+0x38(SB)/8, $0x0302030203020302
DATA kqWordBcast<>+0x40(SB)/8, $0x0504050405040504
DATA kqWordBcast<>+0x48(SB)/8, $0x0504050405040504
DATA kqWordBcast<>+0x50(SB)/8, $0x0504050405040504
DATA kqWordBcast<>+0x58(SB)/8, $0x0504050405040504
DATA kqWordBcast<>+0x60(SB)/8, $0x0706070607060706
DATA kqWordBcast<>+0x68(SB)/8, $0x0706070607060706
DATA kqWordBcast<>+0x70(SB)/8, $0x0706070607060706
DATA kqWordBcast<>+0x78(SB)/8, $0x0706070607060706
DATA kqWordBcast<>+0x80(SB)/8, $0x0908090809080908
DATA kqWordBcast<>+0x88(SB)/8, $0x0908090809080908
DATA kqWordBcast<>+0x90(SB)/8, $0x0908090809080908
DATA kqWordBcast<>+0x98(SB)/8, $0x0908090809080908
DATA kqWordBcast<>+0xa0(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kqWordBcast<>+0xa8(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kqWordBcast<>+0xb0(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kqWordBcast<>+0xb8(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA kqWordBcast<>+0xc0(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kqWordBcast<>+0xc8(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kqWordBcast<>+0xd0(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kqWordBcast<>+0xd8(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA kqWordBcast<>+0xe0(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kqWordBcast<>+0xe8(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kqWordBcast<>+0xf0(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA kqWordBcast<>+0xf8(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL kqWordBcast<>(SB), RODATA|NOPTR, $256

// kqEvenOdd orders 16 bytes as the even then the odd ones.
DATA kqEvenOdd<>+0(SB)/8, $0x0e0c0a0806040200
DATA kqEvenOdd<>+8(SB)/8, $0x0f0d0b0907050301
GLOBL kqEvenOdd<>(SB), RODATA|NOPTR, $16

DATA kqBytes30<>+0(SB)/8, $0x3030303030303030
DATA kqBytes30<>+8(SB)/8, $0x3030303030303030
DATA kqBytes30<>+16(SB)/8, $0x3030303030303030
DATA kqBytes30<>+24(SB)/8, $0x3030303030303030
GLOBL kqBytes30<>(SB), RODATA|NOPTR, $32

DATA kqBytes20<>+0(SB)/8, $0x2020202020202020
DATA kqBytes20<>+8(SB)/8, $0x2020202020202020
DATA kqBytes20<>+16(SB)/8, $0x2020202020202020
DATA kqBytes20<>+24(SB)/8, $0x2020202020202020
GLOBL kqBytes20<>(SB), RODATA|NOPTR, $32

// Q3_K scale decoding: kqQ3Hi repeats scale bytes 8–11, kqQ3Shift moves the
// two bits of scales 4q…4q+3 (bits 2q, 2q+1) to the bottom of each byte.
DATA kqQ3Hi<>+0(SB)/8, $0x0b0a09080b0a0908
DATA kqQ3Hi<>+8(SB)/8, $0x0b0a09080b0a0908
GLOBL kqQ3Hi<>(SB), RODATA|NOPTR, $16

DATA kqQ3Shift<>+0(SB)/8, $0x0000000200000000
DATA kqQ3Shift<>+8(SB)/8, $0x0000000600000004
GLOBL kqQ3Shift<>(SB), RODATA|NOPTR, $16

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

#define KQ_ROWSTART \
	VXORPS Y14, Y14, Y14; \
	MOVQ SI, R10; \
	MOVQ DX, R11

#define KQ_ROWEND(loop) \
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

// KQ_PREFETCH1 requests the lines four rows ahead at the current block
// (blocks of up to 128 bytes), so that rows too short for the hardware
// prefetchers come from memory at speed.
#define KQ_PREFETCH1 \
	PREFETCHT0 (R10)(R8*4); \
	PREFETCHT0 64(R10)(R8*4)

// SCALES16 takes 16 signed byte scales in X2 and sets Y3 (see above).
#define SCALES16 \
	VPSHUFB kqEvenOdd<>(SB), X2, X2; \
	VPMOVSXBW X2, Y3

// GROUP multiplies the 32 unsigned quants in q by the activations at
// aoff(R11), weights them with scales 2g (low lane) and 2g+1 (high lane),
// where moff = 32g, and adds them to acc.
#define GROUP(q, aoff, moff, acc) \
	VPMADDUBSW aoff(R11), q, q; \
	VPSHUFB kqWordBcast<>+moff(SB), Y3, Y9; \
	VPMADDWD Y9, q, q; \
	VPADDD q, acc, acc

// BLOCKEND adds d·(Y10+Y11) to the row accumulator.
#define BLOCKEND \
	VPADDD Y11, Y10, Y10; \
	VCVTDQ2PS Y10, Y10; \
	VFMADD231PS Y10, Y13, Y14

// NEXT steps to the next block of bb weight bytes.
#define NEXT(bb, loop) \
	ADDQ $bb, R10; \
	ADDQ $292, R11; \
	CMPQ R11, R9; \
	JB loop

// Q6K_MUL does one row's share of a Q6_K group of 32 quants: it puts their
// low four bits (Y0) and top two (Y1, at bits 4–5 once masked) together,
// multiplies them by the group's activations (Y4), takes off 32·(pair sums
// of the activations) (Y9), so that the quants act as stored minus 32,
// weights the two 16-quant halves by the row's scales 2g and 2g+1 (its scale
// vector at sv(SP), Y3 the group's VPSHUFB mask) and adds to acc.
#define Q6K_MUL(sv, acc) \
	VPAND      Y10, Y1, Y1; \
	VPOR       Y1, Y0, Y0; \
	VPMADDUBSW Y4, Y0, Y0; \
	VPSUBW     Y9, Y0, Y0; \
	VMOVDQU    sv(SP), Y2; \
	VPSHUFB    Y3, Y2, Y2; \
	VPMADDWD   Y2, Y0, Y0; \
	VPADDD     Y0, acc, acc

// Q6K_LO and Q6K_HI load a row's ql bytes at ql (low or high nibbles) and
// its qh bytes at qh for Q6K_MUL, LO shifting them left by ls, HI leaving
// the shift to the caller.
#define Q6K_LO(ql, qh, ls) \
	VMOVDQU ql, Y0; \
	VPAND   Y15, Y0, Y0; \
	VMOVDQU qh, Y1; \
	VPSLLW  $ls, Y1, Y1

#define Q6K_HI(ql, qh) \
	VMOVDQU ql, Y0; \
	VPSRLW  $4, Y0, Y0; \
	VPAND   Y15, Y0, Y0; \
	VMOVDQU qh, Y1

// Q6K_GROUP_LO and _HI: quants 128n+32k…+31 of the four rows. Quant 32k+l
// of a half takes its low four bits from ql[l] (k even) or ql[l+32] (k
// odd), low nibble for k < 2, and bits 2k, 2k+1 of qh[l] as bits 4–5.
// Q6K_OFFSETS loads the group's activations, mask and offset sums once for
// the four rows.
#define Q6K_OFFSETS(n, k) \
	VMOVDQU    4+128*n+32*k(R12), Y4; \
	VMOVDQU    kqWordBcast<>+128*n+32*k(SB), Y3; \
	VMOVDQU    kqBytes20<>(SB), Y9; \
	VPMADDUBSW Y4, Y9, Y9

#define Q6K_GROUP_LO(n, k, ql, ls) \
	Q6K_OFFSETS(n, k); \
	Q6K_LO(ql(R10), 128+32*n(R10), ls); \
	Q6K_MUL(0, Y5); \
	Q6K_LO(ql(R10)(DX*1), 128+32*n(R10)(DX*1), ls); \
	Q6K_MUL(32, Y6); \
	Q6K_LO(ql(R10)(DX*2), 128+32*n(R10)(DX*2), ls); \
	Q6K_MUL(64, Y7); \
	Q6K_LO(ql(R10)(R11*1), 128+32*n(R10)(R11*1), ls); \
	Q6K_MUL(96, Y8)

#define Q6K_GROUP_HI(n, k, ql, SHIFT) \
	Q6K_OFFSETS(n, k); \
	Q6K_HI(ql(R10), 128+32*n(R10)); \
	SHIFT; \
	Q6K_MUL(0, Y5); \
	Q6K_HI(ql(R10)(DX*1), 128+32*n(R10)(DX*1)); \
	SHIFT; \
	Q6K_MUL(32, Y6); \
	Q6K_HI(ql(R10)(DX*2), 128+32*n(R10)(DX*2)); \
	SHIFT; \
	Q6K_MUL(64, Y7); \
	Q6K_HI(ql(R10)(R11*1), 128+32*n(R10)(R11*1)); \
	SHIFT; \
	Q6K_MUL(96, Y8)

#define NOSHIFT
#define SHIFT2 VPSRLW $2, Y1, Y1

#define Q6K_HALF(n) \
	Q6K_GROUP_LO(n, 0, 64*n, 4); \
	Q6K_GROUP_LO(n, 1, 64*n+32, 2); \
	Q6K_GROUP_HI(n, 2, 64*n, NOSHIFT); \
	Q6K_GROUP_HI(n, 3, 64*n+32, SHIFT2)

// Q6K_SCALES stores the 16 scales of the row block at w, as words with the
// even ones in the low lane and the odd ones in the high lane, at off(SP).
#define Q6K_SCALES(w, off) \
	VMOVDQU   w, X0; \
	VPSHUFB   kqEvenOdd<>(SB), X0, X0; \
	VPMOVSXBW X0, Y0; \
	VMOVDQU   Y0, off(SP)

// func gemvQ6KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
//
// Four rows at a time (see gemv_kquant_amd64.h): Y11–Y14 accumulate rows
// 0–3, Y5–Y8 hold their block sums; for the current group of 32 quants Y4
// holds the activations, Y9 their offset sums and Y3 the scale mask; Y10
// holds 0x30 bytes. The frame holds each row's scale vector (32r(SP)) and,
// at 128(SP), the rows' d·y.d (the odd lanes).
TEXT ·gemvQ6KAVX2(SB), NOSPLIT, $160-48
	KQ_ARGS4

q6kgroup:
	KQ_GROUP4(q6kdone, q6kfour)

q6kblock:
	KQ_PREFETCH4_4

	// d is the last two bytes of the block; the dword before it holds
	// scales 14–15 too, whose conversions are not used.
	VMOVD        206(R10), X0
	VPINSRD      $1, 206(R10)(DX*1), X0, X0
	VPINSRD      $2, 206(R10)(DX*2), X0, X0
	VPINSRD      $3, 206(R10)(R11*1), X0, X0
	VCVTPH2PS    X0, Y0
	VBROADCASTSS (R12), Y1
	VMULPS       Y1, Y0, Y0
	VMOVUPS      Y0, 128(SP)

	Q6K_SCALES(192(R10), 0)
	Q6K_SCALES(192(R10)(DX*1), 32)
	Q6K_SCALES(192(R10)(DX*2), 64)
	Q6K_SCALES(192(R10)(R11*1), 96)
	VMOVDQU kqBytes30<>(SB), Y10
	VPXOR   Y5, Y5, Y5
	VPXOR   Y6, Y6, Y6
	VPXOR   Y7, Y7, Y7
	VPXOR   Y8, Y8, Y8

	Q6K_HALF(0)
	Q6K_HALF(1)

	KQ_BLOCKEND4(132)
	KQ_NEXT4(210, q6kblock)

	KQ_SUM4
	KQ_STORE4(q6kgroup, q6ksingle)

q6kdone:
	VZEROUPPER
	RET

// Q3K_GROUP: quants 128n+32k…+31 of a Q3_K block, k = 0…3: bits 2k, 2k+1 of
// qs[l] (q = qs shifted right by 2k) minus 4 unless bit 4n+k of hmask[l] is
// set (h = hmask shifted to put that bit at bit 2). The two parts are
// multiplied apart, as unsigned bytes, and subtracted in 16 bits, so that
// every lane holds a partial sum of the true products. Y12 holds 0x03
// bytes, Y1 0x04 bytes.
#define Q3K_GROUP(n, k, q, h, acc) \
	VPAND Y12, q, Y4; \
	VPANDN Y1, h, Y8; \
	VPMADDUBSW 4+128*n+32*k(R11), Y4, Y4; \
	VPMADDUBSW 4+128*n+32*k(R11), Y8, Y8; \
	VPSUBW Y8, Y4, Y4; \
	VPSHUFB kqWordBcast<>+128*n+32*k(SB), Y3, Y9; \
	VPMADDWD Y9, Y4, Y4; \
	VPADDD Y4, acc, acc

// func gemvQ3KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
TEXT ·gemvQ3KAVX2(SB), NOSPLIT, $0-48
	KQ_ARGS
	VPCMPEQB Y12, Y12, Y12
	VPABSB Y12, Y1
	VPADDB Y1, Y1, Y12
	VPADDB Y1, Y12, Y12
	VPSLLW $2, Y1, Y1

q3krow:
	KQ_ROWSTART

q3kblock:
	KQ_PREFETCH1
	MOVWLZX 108(R10), AX
	VMOVD AX, X0
	VCVTPH2PS X0, X0
	VMULSS (R11), X0, X0
	VBROADCASTSS X0, Y13

	// Scale j: low nibble of byte j (j < 8) or high nibble of byte j−8,
	// bits 4–5 from bits 2(j/4), 2(j/4)+1 of byte 8+j%4; minus 32.
	VMOVQ 96(R10), X2
	VPINSRD $2, 104(R10), X2, X2
	VPSRLW $4, X2, X4
	VPUNPCKLQDQ X4, X2, X4
	VPAND X15, X4, X4
	VPSHUFB kqQ3Hi<>(SB), X2, X2
	VPSRLVD kqQ3Shift<>(SB), X2, X2
	VPSLLD $4, X2, X2
	VPAND kqBytes30<>(SB), X2, X2
	VPOR X4, X2, X2
	VPSUBB kqBytes20<>(SB), X2, X2
	SCALES16
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

	VMOVDQU (R10), Y6
	VMOVDQU 32(R10), Y5
	VPSLLW $2, Y6, Y8
	Q3K_GROUP(0, 0, Y5, Y8, Y10)
	VPSRLW $2, Y5, Y7
	VPSLLW $1, Y6, Y8
	Q3K_GROUP(0, 1, Y7, Y8, Y11)
	VPSRLW $4, Y5, Y7
	Q3K_GROUP(0, 2, Y7, Y6, Y10)
	VPSRLW $6, Y5, Y7
	VPSRLW $1, Y6, Y8
	Q3K_GROUP(0, 3, Y7, Y8, Y11)

	VMOVDQU 64(R10), Y5
	VPSRLW $2, Y6, Y8
	Q3K_GROUP(1, 0, Y5, Y8, Y10)
	VPSRLW $2, Y5, Y7
	VPSRLW $3, Y6, Y8
	Q3K_GROUP(1, 1, Y7, Y8, Y11)
	VPSRLW $4, Y5, Y7
	VPSRLW $4, Y6, Y8
	Q3K_GROUP(1, 2, Y7, Y8, Y10)
	VPSRLW $6, Y5, Y7
	VPSRLW $5, Y6, Y8
	Q3K_GROUP(1, 3, Y7, Y8, Y11)

	BLOCKEND
	NEXT(110, q3kblock)

	KQ_ROWEND(q3krow)
	VZEROUPPER
	RET

// Q2K_GROUP: quants 128n+32k…+31 of a Q2_K block, bits 2k, 2k+1 of qs[l]
// (q = qs shifted right by 2k). Y1 holds 0x03 bytes.
#define Q2K_GROUP(n, k, q, acc) \
	VPAND Y1, q, Y4; \
	GROUP(Y4, 4+128*n+32*k, 128*n+32*k, acc)

#define Q2K_HALF(n) \
	VMOVDQU 16+32*n(R10), Y5; \
	Q2K_GROUP(n, 0, Y5, Y10); \
	VPSRLW $2, Y5, Y7; \
	Q2K_GROUP(n, 1, Y7, Y11); \
	VPSRLW $4, Y5, Y7; \
	Q2K_GROUP(n, 2, Y7, Y10); \
	VPSRLW $6, Y5, Y7; \
	Q2K_GROUP(n, 3, Y7, Y11)

// func gemvQ2KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
//
// Q2_K's 16 sub-blocks each have a 4-bit scale (low nibble) and a 4-bit min
// (high nibble); the mins act through the bsums as for Q4_K.
TEXT ·gemvQ2KAVX2(SB), NOSPLIT, $0-48
	KQ_ARGS
	VPCMPEQB Y1, Y1, Y1
	VPABSB Y1, Y1
	VPADDB Y1, Y1, Y2
	VPADDB Y2, Y1, Y1

q2krow:
	KQ_ROWSTART

q2kblock:
	KQ_PREFETCH1
	VMOVD 80(R10), X0
	VCVTPH2PS X0, X0
	VBROADCASTSS (R11), X2
	VMULPS X2, X0, X0
	VBROADCASTSS X0, Y13
	VMOVSHDUP X0, X0
	VBROADCASTSS X0, Y12

	VMOVDQU (R10), X2
	VPSRLW $4, X2, X4
	VPAND X15, X4, X4
	VPMOVZXBW X4, Y4
	VPMADDWD 260(R11), Y4, Y4
	VCVTDQ2PS Y4, Y4
	VFNMADD231PS Y4, Y12, Y14
	VPAND X15, X2, X2
	VPSHUFB kqEvenOdd<>(SB), X2, X2
	VPMOVZXBW X2, Y3
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

	Q2K_HALF(0)
	Q2K_HALF(1)

	BLOCKEND
	NEXT(84, q2kblock)

	KQ_ROWEND(q2krow)
	VZEROUPPER
	RET
