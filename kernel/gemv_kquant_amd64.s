//go:build amd64 && !purego

#include "textflag.h"
#include "gemv_kquant_amd64.h"

// Row-dot kernels for Q4_K and Q5_K weights against Q8_K activations (see
// gemv_kquant_amd64.go for the contract). Rows go four at a time, as in
// gemv_legacy_amd64.s: four streams of weights with software prefetch one
// group ahead, the activations' per-block work (d, bsums) and the
// super-scales done once for four rows, and the 6-bit scales and mins of
// two rows decoded in one register. Registers:
//
//	DI  out cursor           SI  first weight row of the group
//	DX  row stride (0 for single rows), R11 3·stride
//	R10 weight block cursor  R12 activation block cursor
//	R9  end of activations   R13 rows left, R14 prefetch cursor
//	Y15 0x0f bytes           Y11–Y14 float accumulators of rows 0–3
//	Y9, Y10 min terms of rows 0–1 and 2–3 (a row per 128-bit lane)
//	Y5–Y8 block integer sums of rows 0–3, Y0–Y4 scratch (Y4 holds 32
//	activations shared by the four rows)
//
// The frame holds, per block, the 8 scales of each row as pairs of equal
// words (rows 0 and 1 interleaved by lane at 0–63, rows 2 and 3 at 64–127),
// [d·y.d, dmin·y.d] of rows 0–3 at 128–159 and the pair sums of the bsums at
// 160–191.

DATA ·kqLow4+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·kqLow4+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL ·kqLow4(SB), RODATA|NOPTR, $32

DATA kqBit4<>+0(SB)/8, $0x1010101010101010
DATA kqBit4<>+8(SB)/8, $0x1010101010101010
DATA kqBit4<>+16(SB)/8, $0x1010101010101010
DATA kqBit4<>+24(SB)/8, $0x1010101010101010
GLOBL kqBit4<>(SB), RODATA|NOPTR, $32

// Constants of SCALEMIN2, the same in both lanes: kqSMLow gathers q0–3,
// q8–11, q4–7, q8–11, whose last dword kqSMShift moves down a nibble and
// kqSMMask cuts to 6 or 4 bits; kqSMHigh places the top bits of q0–3 and
// q4–7 (already at bits 4–5) under scales and mins 4–7.
DATA kqSMLow<>+0(SB)/8, $0x0b0a090803020100
DATA kqSMLow<>+8(SB)/8, $0x0b0a090807060504
DATA kqSMLow<>+16(SB)/8, $0x0b0a090803020100
DATA kqSMLow<>+24(SB)/8, $0x0b0a090807060504
GLOBL kqSMLow<>(SB), RODATA|NOPTR, $32

DATA kqSMShift<>+0(SB)/8, $0
DATA kqSMShift<>+8(SB)/8, $0x0000000400000000
DATA kqSMShift<>+16(SB)/8, $0
DATA kqSMShift<>+24(SB)/8, $0x0000000400000000
GLOBL kqSMShift<>(SB), RODATA|NOPTR, $32

DATA kqSMMask<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kqSMMask<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kqSMMask<>+16(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kqSMMask<>+24(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kqSMMask<>(SB), RODATA|NOPTR, $32

DATA kqSM30<>+0(SB)/8, $0x3030303030303030
DATA kqSM30<>+8(SB)/8, $0x3030303030303030
DATA kqSM30<>+16(SB)/8, $0x3030303030303030
DATA kqSM30<>+24(SB)/8, $0x3030303030303030
GLOBL kqSM30<>(SB), RODATA|NOPTR, $32

DATA kqSMHigh<>+0(SB)/8, $0x0302010080808080
DATA kqSMHigh<>+8(SB)/8, $0x0706050480808080
DATA kqSMHigh<>+16(SB)/8, $0x0302010080808080
DATA kqSMHigh<>+24(SB)/8, $0x0706050480808080
GLOBL kqSMHigh<>(SB), RODATA|NOPTR, $32

// DMIN4 stores [d·y.d, dmin·y.d] of rows 0–3 at 128(SP) and the pair sums
// bsum_2j + bsum_2j+1 (j = 0…7, in both lanes) at 160(SP).
#define DMIN4 \
	VMOVD          (R10), X0; \
	VPINSRD        $1, (R10)(DX*1), X0, X0; \
	VPINSRD        $2, (R10)(DX*2), X0, X0; \
	VPINSRD        $3, (R10)(R11*1), X0, X0; \
	VCVTPH2PS      X0, Y0; \
	VBROADCASTSS   (R12), Y1; \
	VMULPS         Y1, Y0, Y0; \
	VMOVUPS        Y0, 128(SP); \
	VBROADCASTI128 260(R12), Y0; \
	VBROADCASTI128 276(R12), Y1; \
	VPHADDW        Y1, Y0, Y0; \
	VMOVDQU        Y0, 160(SP)

// SCALEMIN2 decodes the twelve scale/min bytes of two rows (at wa and wb),
// one row per lane, into scales 0–7 and mins 0–7. Scales 0–3 are q0–3 & 63
// and mins 0–3 q4–7 & 63; scales 4–7 take their low nibble from q8–11 and
// their top two bits from q0–3, mins 4–7 the high nibble of q8–11 and the
// top bits of q4–7. The scales go to soff(SP) and soff+32(SP) as pairs of
// equal words, for PAIR's VPBROADCASTD (a plain load); the mins are applied
// at once: macc += dmin·Σ_j min_j·(bsum_2j + bsum_2j+1), per lane, dmin of
// the two rows being at dma(SP) and dmb(SP).
#define SCALEMIN2(wa, wb, soff, dma, dmb, macc) \
	VMOVDQU      wa, X0; \
	VINSERTI128  $1, wb, Y0, Y0; \
	VPSHUFB      kqSMLow<>(SB), Y0, Y1; \
	VPSRLVD      kqSMShift<>(SB), Y1, Y1; \
	VPAND        kqSMMask<>(SB), Y1, Y1; \
	VPSRLD       $2, Y0, Y0; \
	VPAND        kqSM30<>(SB), Y0, Y0; \
	VPSHUFB      kqSMHigh<>(SB), Y0, Y0; \
	VPOR         Y1, Y0, Y0; \
	VPXOR        Y2, Y2, Y2; \
	VPUNPCKLBW   Y0, Y0, Y1; \
	VPUNPCKLBW   Y2, Y1, Y3; \
	VMOVDQU      Y3, soff(SP); \
	VPUNPCKHBW   Y2, Y1, Y3; \
	VMOVDQU      Y3, soff+32(SP); \
	VPUNPCKHBW   Y2, Y0, Y1; \
	VPMADDWD     160(SP), Y1, Y1; \
	VCVTDQ2PS    Y1, Y1; \
	VBROADCASTSS dma(SP), Y3; \
	VBROADCASTSS dmb(SP), Y4; \
	VBLENDPS     $0xf0, Y4, Y3, Y3; \
	VFMADD231PS  Y3, Y1, macc

// KQ_HEADER4 is the per-block work before the quants (scale bytes at off).
#define KQ_HEADER4(off) \
	KQ_PREFETCH4_3; \
	DMIN4; \
	SCALEMIN2(off(R10), off(R10)(DX*1), 0, 132, 140, Y9); \
	SCALEMIN2(off(R10)(DX*2), off(R10)(R11*1), 64, 148, 156, Y10); \
	VPXOR Y5, Y5, Y5; \
	VPXOR Y6, Y6, Y6; \
	VPXOR Y7, Y7, Y7; \
	VPXOR Y8, Y8, Y8

// NIBBLES loads 32 bytes of 4-bit quants at q into Y0 (low) and Y1 (high).
#define NIBBLES(q) \
	VMOVDQU q, Y0; \
	VPSRLW  $4, Y0, Y1; \
	VPAND   Y15, Y0, Y0; \
	VPAND   Y15, Y1, Y1

// PAIR multiplies 64 quants of a row (low nibbles in Y0, high nibbles in
// Y1, as unsigned bytes) by the activations (the first 32 in Y4, loaded
// once for the four rows, the next at aoff+32(R12)) and adds them, weighted
// by the scales at sa(SP) and sb(SP), to acc.
#define PAIR(aoff, sa, sb, acc) \
	VPMADDUBSW   Y4, Y0, Y0; \
	VPMADDUBSW   aoff+32(R12), Y1, Y1; \
	VPBROADCASTD sa(SP), Y2; \
	VPBROADCASTD sb(SP), Y3; \
	VPMADDWD     Y2, Y0, Y0; \
	VPMADDWD     Y3, Y1, Y1; \
	VPADDD       Y0, acc, acc; \
	VPADDD       Y1, acc, acc

// Q4K_PAIR: quants 64k…64k+63 of the four rows; so is the offset of their
// scales 2k and 2k+1 in row 0's slots.
#define Q4K_PAIR(k, so) \
	VMOVDQU 4+64*k(R12), Y4; \
	NIBBLES(16+32*k(R10)); \
	PAIR(4+64*k, so, so+4, Y5); \
	NIBBLES(16+32*k(R10)(DX*1)); \
	PAIR(4+64*k, 16+so, 20+so, Y6); \
	NIBBLES(16+32*k(R10)(DX*2)); \
	PAIR(4+64*k, 64+so, 68+so, Y7); \
	NIBBLES(16+32*k(R10)(R11*1)); \
	PAIR(4+64*k, 80+so, 84+so, Y8)

// func gemvQ4KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
TEXT ·gemvQ4KAVX2(SB), NOSPLIT, $192-48
	KQ_ARGS4

q4kgroup:
	KQ_GROUP4(q4kdone, q4kfour)

q4kblock:
	KQ_HEADER4(4)
	Q4K_PAIR(0, 0)
	Q4K_PAIR(1, 8)
	Q4K_PAIR(2, 32)
	Q4K_PAIR(3, 40)
	KQ_BLOCKEND4(128)
	KQ_NEXT4(144, q4kblock)

	KQ_SUM4
	KQ_MINS4
	KQ_STORE4(q4kgroup, q4ksingle)

q4kdone:
	VZEROUPPER
	RET

// FIFTH ORs the fifth bit of 32 quants, moved to bit 4 of each byte of Y2,
// into q.
#define FIFTH(q) \
	VPAND kqBit4<>(SB), Y2, Y2; \
	VPOR  Y2, q, q

// The Q5K_BITS macros add the fifth bits of quants 64k…64k+63 of a row to
// its nibbles in Y0 and Y1: bit 2k (the first 32) or 2k+1 (the next 32) of
// qh[l] at h, moved to bit 4 by shifting the qh words left by ls0 and ls1
// (k = 0, 1), by 0 and 1 to the right (k = 2) or by 2 and 3 (k = 3).
#define Q5K_BITS_L(h, ls0, ls1) \
	VMOVDQU h, Y3; \
	VPSLLW  $ls0, Y3, Y2; \
	FIFTH(Y0); \
	VPSLLW  $ls1, Y3, Y2; \
	FIFTH(Y1)

#define Q5K_BITS_2(h) \
	VMOVDQU h, Y3; \
	VPAND   kqBit4<>(SB), Y3, Y2; \
	VPOR    Y2, Y0, Y0; \
	VPSRLW  $1, Y3, Y2; \
	FIFTH(Y1)

#define Q5K_BITS_3(h) \
	VMOVDQU h, Y3; \
	VPSRLW  $2, Y3, Y2; \
	FIFTH(Y0); \
	VPSRLW  $3, Y3, Y2; \
	FIFTH(Y1)

// func gemvQ5KAVX2(out *float32, w, a *byte, rows, rowBytes, nb int)
TEXT ·gemvQ5KAVX2(SB), NOSPLIT, $192-48
	KQ_ARGS4

q5kgroup:
	KQ_GROUP4(q5kdone, q5kfour)

q5kblock:
	KQ_HEADER4(4)

	VMOVDQU 4(R12), Y4
	NIBBLES(48(R10))
	Q5K_BITS_L(16(R10), 4, 3)
	PAIR(4, 0, 4, Y5)
	NIBBLES(48(R10)(DX*1))
	Q5K_BITS_L(16(R10)(DX*1), 4, 3)
	PAIR(4, 16, 20, Y6)
	NIBBLES(48(R10)(DX*2))
	Q5K_BITS_L(16(R10)(DX*2), 4, 3)
	PAIR(4, 64, 68, Y7)
	NIBBLES(48(R10)(R11*1))
	Q5K_BITS_L(16(R10)(R11*1), 4, 3)
	PAIR(4, 80, 84, Y8)

	VMOVDQU 68(R12), Y4
	NIBBLES(80(R10))
	Q5K_BITS_L(16(R10), 2, 1)
	PAIR(68, 8, 12, Y5)
	NIBBLES(80(R10)(DX*1))
	Q5K_BITS_L(16(R10)(DX*1), 2, 1)
	PAIR(68, 24, 28, Y6)
	NIBBLES(80(R10)(DX*2))
	Q5K_BITS_L(16(R10)(DX*2), 2, 1)
	PAIR(68, 72, 76, Y7)
	NIBBLES(80(R10)(R11*1))
	Q5K_BITS_L(16(R10)(R11*1), 2, 1)
	PAIR(68, 88, 92, Y8)

	VMOVDQU 132(R12), Y4
	NIBBLES(112(R10))
	Q5K_BITS_2(16(R10))
	PAIR(132, 32, 36, Y5)
	NIBBLES(112(R10)(DX*1))
	Q5K_BITS_2(16(R10)(DX*1))
	PAIR(132, 48, 52, Y6)
	NIBBLES(112(R10)(DX*2))
	Q5K_BITS_2(16(R10)(DX*2))
	PAIR(132, 96, 100, Y7)
	NIBBLES(112(R10)(R11*1))
	Q5K_BITS_2(16(R10)(R11*1))
	PAIR(132, 112, 116, Y8)

	VMOVDQU 196(R12), Y4
	NIBBLES(144(R10))
	Q5K_BITS_3(16(R10))
	PAIR(196, 40, 44, Y5)
	NIBBLES(144(R10)(DX*1))
	Q5K_BITS_3(16(R10)(DX*1))
	PAIR(196, 56, 60, Y6)
	NIBBLES(144(R10)(DX*2))
	Q5K_BITS_3(16(R10)(DX*2))
	PAIR(196, 104, 108, Y7)
	NIBBLES(144(R10)(R11*1))
	Q5K_BITS_3(16(R10)(R11*1))
	PAIR(196, 120, 124, Y8)

	KQ_BLOCKEND4(128)
	KQ_NEXT4(176, q5kblock)

	KQ_SUM4
	KQ_MINS4
	KQ_STORE4(q5kgroup, q5ksingle)

q5kdone:
	VZEROUPPER
	RET
