//go:build amd64 && !purego

#include "textflag.h"
#include "gemm_kquant_amd64.h"

// Weight packing for the K-quant batch kernels of gemm_kquant_amd64.s,
// which describes it; the layouts are in gemm_kquant_amd64.h.

DATA kgLow4<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kgLow4<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kgLow4<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kgLow4<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL kgLow4<>(SB), RODATA|NOPTR, $32

DATA kgB03<>+0(SB)/8, $0x0303030303030303
DATA kgB03<>+8(SB)/8, $0x0303030303030303
DATA kgB03<>+16(SB)/8, $0x0303030303030303
DATA kgB03<>+24(SB)/8, $0x0303030303030303
GLOBL kgB03<>(SB), RODATA|NOPTR, $32

DATA kgB04<>+0(SB)/8, $0x0404040404040404
DATA kgB04<>+8(SB)/8, $0x0404040404040404
DATA kgB04<>+16(SB)/8, $0x0404040404040404
DATA kgB04<>+24(SB)/8, $0x0404040404040404
GLOBL kgB04<>(SB), RODATA|NOPTR, $32

DATA kgB10<>+0(SB)/8, $0x1010101010101010
DATA kgB10<>+8(SB)/8, $0x1010101010101010
DATA kgB10<>+16(SB)/8, $0x1010101010101010
DATA kgB10<>+24(SB)/8, $0x1010101010101010
GLOBL kgB10<>(SB), RODATA|NOPTR, $32

DATA kgB20<>+0(SB)/8, $0x2020202020202020
DATA kgB20<>+8(SB)/8, $0x2020202020202020
DATA kgB20<>+16(SB)/8, $0x2020202020202020
DATA kgB20<>+24(SB)/8, $0x2020202020202020
GLOBL kgB20<>(SB), RODATA|NOPTR, $32

DATA kgB30<>+0(SB)/8, $0x3030303030303030
DATA kgB30<>+8(SB)/8, $0x3030303030303030
DATA kgB30<>+16(SB)/8, $0x3030303030303030
DATA kgB30<>+24(SB)/8, $0x3030303030303030
GLOBL kgB30<>(SB), RODATA|NOPTR, $32

DATA kgOnes8<>+0(SB)/8, $0x0101010101010101
DATA kgOnes8<>+8(SB)/8, $0x0101010101010101
DATA kgOnes8<>+16(SB)/8, $0x0101010101010101
DATA kgOnes8<>+24(SB)/8, $0x0101010101010101
GLOBL kgOnes8<>(SB), RODATA|NOPTR, $32

// Q4_K/Q5_K scale decoding (12 bytes q0…q11 → scales 0–7, mins 0–7):
// kgSMLow gathers q0–3, q8–11, q4–7, q8–11, whose last dword kgSMShift
// moves down a nibble and kgSMMask cuts to 6 or 4 bits; kgSMHigh places
// the top two bits of q0–3 and q4–7 (moved to bits 4–5) under scales and
// mins 4–7.
DATA kgSMLow<>+0(SB)/8, $0x0b0a090803020100
DATA kgSMLow<>+8(SB)/8, $0x0b0a090807060504
GLOBL kgSMLow<>(SB), RODATA|NOPTR, $16

DATA kgSMShift<>+0(SB)/8, $0
DATA kgSMShift<>+8(SB)/8, $0x0000000400000000
GLOBL kgSMShift<>(SB), RODATA|NOPTR, $16

DATA kgSMMask<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kgSMMask<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kgSMMask<>(SB), RODATA|NOPTR, $16

DATA kgSMHigh<>+0(SB)/8, $0x0302010080808080
DATA kgSMHigh<>+8(SB)/8, $0x0706050480808080
GLOBL kgSMHigh<>(SB), RODATA|NOPTR, $16

// Q3_K scale decoding: kgQ3Hi repeats scale bytes 8–11, kgQ3Shift moves
// the two bits of scales 4q…4q+3 (bits 2q, 2q+1) to the bottom of each
// byte.
DATA kgQ3Hi<>+0(SB)/8, $0x0b0a09080b0a0908
DATA kgQ3Hi<>+8(SB)/8, $0x0b0a09080b0a0908
GLOBL kgQ3Hi<>(SB), RODATA|NOPTR, $16

DATA kgQ3Shift<>+0(SB)/8, $0x0000000200000000
DATA kgQ3Shift<>+8(SB)/8, $0x0000000600000004
GLOBL kgQ3Shift<>(SB), RODATA|NOPTR, $16

// ---- argument macros ----
// They sit before the first TEXT so that go vet (asmdecl), which reads the
// file line by line, does not check them against an unrelated frame.

// LOADOFFS loads the pack routines' arguments: DI dst, SI w, CX kb and the
// offsets of rows 0…7 in R8 R9 R10 R11 R12 R13 DX BX.
#define LOADOFFS \
	MOVQ dst+0(FP), DI \
	MOVQ w+8(FP), SI \
	MOVQ offs+16(FP), AX \
	MOVQ kb+24(FP), CX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11 \
	MOVQ 32(AX), R12 \
	MOVQ 40(AX), R13 \
	MOVQ 48(AX), DX \
	MOVQ 56(AX), BX

// The pack routines' frame macros: Q4_K and Q5_K decode the scales and
// mins of the 8 rows to 0(SP)…127(SP) (see "weight packing").

// SCB_SP is SCB_W (below) for the decoded scales of row i.
#define SCB_SP(i, y, off, EXT) \
	VMOVQ      (off+16*(i))(SP), X8 \
	VPUNPCKLBW X8, X8, X8 \
	EXT        X8, y

// SCMIN decodes the twelve scale bytes at off(SI)(r) into scales 0–7 and
// mins 0–7 (bytes) at o(SP).
#define SCMIN(r, o, off) \
	VMOVDQU off(SI)(r*1), X8 \
	VPSHUFB kgSMLow<>(SB), X8, X9 \
	VPSRLVD kgSMShift<>(SB), X9, X9 \
	VPAND   kgSMMask<>(SB), X9, X9 \
	VPSRLD  $2, X8, X8 \
	VPAND   kgB30<>(SB), X8, X8 \
	VPSHUFB kgSMHigh<>(SB), X8, X8 \
	VPOR    X9, X8, X8 \
	VMOVDQU X8, (o)(SP)

// SCALEMIN8 writes the scale and min vectors of Q4_K and Q5_K.
#define SCALEMIN8 \
	SCMIN(R8, 0, 4) \
	SCMIN(R9, 16, 4) \
	SCMIN(R10, 32, 4) \
	SCMIN(R11, 48, 4) \
	SCMIN(R12, 64, 4) \
	SCMIN(R13, 80, 4) \
	SCMIN(DX, 96, 4) \
	SCMIN(BX, 112, 4) \
	SCB_SP(0, Y0, 0, VPMOVZXBW) \
	SCB_SP(1, Y1, 0, VPMOVZXBW) \
	SCB_SP(2, Y2, 0, VPMOVZXBW) \
	SCB_SP(3, Y3, 0, VPMOVZXBW) \
	SCB_SP(4, Y4, 0, VPMOVZXBW) \
	SCB_SP(5, Y5, 0, VPMOVZXBW) \
	SCB_SP(6, Y6, 0, VPMOVZXBW) \
	SCB_SP(7, Y7, 0, VPMOVZXBW) \
	TRANSPOSE \
	STORECHUNKS(P4_SC) \
	VPMOVZXBW  8(SP), X0 \
	VPMOVZXBW  24(SP), X1 \
	VPMOVZXBW  40(SP), X2 \
	VPMOVZXBW  56(SP), X3 \
	VPMOVZXBW  72(SP), X4 \
	VPMOVZXBW  88(SP), X5 \
	VPMOVZXBW  104(SP), X6 \
	VPMOVZXBW  120(SP), X7 \
	TRANSPOSE \
	VMOVDQU    Y8, P4_MN(DI) \
	VMOVDQU    Y10, (P4_MN+32)(DI) \
	VMOVDQU    Y12, (P4_MN+64)(DI) \
	VMOVDQU    Y14, (P4_MN+96)(DI)

// ---- weight packing ----
// All pack routines take (dst, w *byte, offs *[8]int, kb int): row i of the
// group starts at w+offs[i] (the caller repeats the last row to fill a group
// of fewer than 8), kb super-blocks are packed. Registers:
//	DI dst, SI block cursor, CX blocks left, AX scratch
//	R8 R9 R10 R11 R12 R13 DX BX the offsets of rows 0…7
//	Y0–Y7 rows, then chunks; Y8–Y15 scratch
// The 128-byte frame holds the decoded scales of Q4_K and Q5_K.

// HALVES8 converts the fp16 at off in each of the 8 rows' blocks to float32
// and stores them at to(DI).
#define HALVES8(off, to) \
	MOVWLZX   off(SI)(R8*1), AX \
	VMOVD     AX, X8 \
	VPINSRW   $1, off(SI)(R9*1), X8, X8 \
	VPINSRW   $2, off(SI)(R10*1), X8, X8 \
	VPINSRW   $3, off(SI)(R11*1), X8, X8 \
	VPINSRW   $4, off(SI)(R12*1), X8, X8 \
	VPINSRW   $5, off(SI)(R13*1), X8, X8 \
	VPINSRW   $6, off(SI)(DX*1), X8, X8 \
	VPINSRW   $7, off(SI)(BX*1), X8, X8 \
	VCVTPH2PS X8, Y8 \
	VMOVUPS   Y8, to(DI)

// ROWS8 applies ROW(offset register, row register, a, b) to the 8 rows.
#define ROWS8(ROW, a, b) \
	ROW(R8, Y0, a, b) \
	ROW(R9, Y1, a, b) \
	ROW(R10, Y2, a, b) \
	ROW(R11, Y3, a, b) \
	ROW(R12, Y4, a, b) \
	ROW(R13, Y5, a, b) \
	ROW(DX, Y6, a, b) \
	ROW(BX, Y7, a, b)

// TRANSPOSE turns rows Y0–Y7 (dword k = elements 4k…4k+3) into chunks
// (dword i = row i): chunks 0, 4, 1, 5, 2, 6, 3, 7 in Y8–Y15.
#define TRANSPOSE \
	VPUNPCKLDQ  Y1, Y0, Y8 \
	VPUNPCKHDQ  Y1, Y0, Y9 \
	VPUNPCKLDQ  Y3, Y2, Y10 \
	VPUNPCKHDQ  Y3, Y2, Y11 \
	VPUNPCKLDQ  Y5, Y4, Y12 \
	VPUNPCKHDQ  Y5, Y4, Y13 \
	VPUNPCKLDQ  Y7, Y6, Y14 \
	VPUNPCKHDQ  Y7, Y6, Y15 \
	VPUNPCKLQDQ Y10, Y8, Y0 \
	VPUNPCKHQDQ Y10, Y8, Y1 \
	VPUNPCKLQDQ Y11, Y9, Y2 \
	VPUNPCKHQDQ Y11, Y9, Y3 \
	VPUNPCKLQDQ Y14, Y12, Y4 \
	VPUNPCKHQDQ Y14, Y12, Y5 \
	VPUNPCKLQDQ Y15, Y13, Y6 \
	VPUNPCKHQDQ Y15, Y13, Y7 \
	VPERM2I128  $0x20, Y4, Y0, Y8 \
	VPERM2I128  $0x31, Y4, Y0, Y9 \
	VPERM2I128  $0x20, Y5, Y1, Y10 \
	VPERM2I128  $0x31, Y5, Y1, Y11 \
	VPERM2I128  $0x20, Y6, Y2, Y12 \
	VPERM2I128  $0x31, Y6, Y2, Y13 \
	VPERM2I128  $0x20, Y7, Y3, Y14 \
	VPERM2I128  $0x31, Y7, Y3, Y15

// STORECHUNKS stores the chunks TRANSPOSE left in Y8–Y15 in order at base.
#define STORECHUNKS(base) \
	VMOVDQU Y8, (base)(DI) \
	VMOVDQU Y9, (base+128)(DI) \
	VMOVDQU Y10, (base+32)(DI) \
	VMOVDQU Y11, (base+160)(DI) \
	VMOVDQU Y12, (base+64)(DI) \
	VMOVDQU Y13, (base+192)(DI) \
	VMOVDQU Y14, (base+96)(DI) \
	VMOVDQU Y15, (base+224)(DI)

// GROUP32 packs elements 32g…32g+31 of the 8 rows, ROW(r, y, a, b) making
// row r's 32 quants in y.
#define GROUP32(ROW, g, a, b) \
	ROWS8(ROW, a, b) \
	TRANSPOSE \
	STORECHUNKS(256*(g))

// SCB_W makes row r's row of TRANSPOSE for 8 scale bytes at off: each
// byte, widened by EXT, fills both words of its dword.
#define SCB_W(r, y, off, EXT) \
	VMOVQ      (off)(SI)(r*1), X8 \
	VPUNPCKLBW X8, X8, X8 \
	EXT        X8, y

// Q4LO, Q4HI: row r's low or high nibbles of the 32 bytes at off.
#define Q4LO(r, y, off, x) \
	VMOVDQU (off)(SI)(r*1), y \
	VPAND   kgLow4<>(SB), y, y

#define Q4HI(r, y, off, x) \
	VMOVDQU (off)(SI)(r*1), y \
	VPSRLW  $4, y, y \
	VPAND   kgLow4<>(SB), y, y

// func gemmPackQ4K(dst, w *byte, offs *[8]int, kb int)
// Quants as stored (0…15).
TEXT ·gemmPackQ4K(SB), NOSPLIT, $128-32
	LOADOFFS

pq4:
	HALVES8(0, P4_DW)
	HALVES8(2, P4_DM)
	SCALEMIN8
	GROUP32(Q4LO, 0, 16, 0)
	GROUP32(Q4HI, 1, 16, 0)
	GROUP32(Q4LO, 2, 48, 0)
	GROUP32(Q4HI, 3, 48, 0)
	GROUP32(Q4LO, 4, 80, 0)
	GROUP32(Q4HI, 5, 80, 0)
	GROUP32(Q4LO, 6, 112, 0)
	GROUP32(Q4HI, 7, 112, 0)
	ADDQ $144, SI
	ADDQ $P4_SIZE, DI
	DECQ CX
	JNZ  pq4
	VZEROUPPER
	RET

// Shifts that move bit b of each byte of Y8 to bit 4 (Q5_K) or bits b,
// b+1 to bits 4–5 (Q6_K). Word shifts are fine: the bits that cross into a
// neighbouring byte are masked off.
#define SH_L4 VPSLLW $4, Y8, Y8
#define SH_L3 VPSLLW $3, Y8, Y8
#define SH_L2 VPSLLW $2, Y8, Y8
#define SH_L1 VPSLLW $1, Y8, Y8
#define SH_0
#define SH_R1 VPSRLW $1, Y8, Y8
#define SH_R2 VPSRLW $2, Y8, Y8
#define SH_R3 VPSRLW $3, Y8, Y8

// Q5LO, Q5HI: Q4LO, Q4HI of the bytes at off plus the qh bit that SH moves
// to bit 4, as 16.
#define Q5LO(r, y, off, SH) \
	Q4LO(r, y, off, 0) \
	VMOVDQU 16(SI)(r*1), Y8 \
	SH \
	VPAND   kgB10<>(SB), Y8, Y8 \
	VPOR    Y8, y, y

#define Q5HI(r, y, off, SH) \
	Q4HI(r, y, off, 0) \
	VMOVDQU 16(SI)(r*1), Y8 \
	SH \
	VPAND   kgB10<>(SB), Y8, Y8 \
	VPOR    Y8, y, y

// func gemmPackQ5K(dst, w *byte, offs *[8]int, kb int)
// Quants as stored (0…31): elements 64n…64n+31 take bit 2n of qh, the
// next 32 bit 2n+1.
TEXT ·gemmPackQ5K(SB), NOSPLIT, $128-32
	LOADOFFS

pq5:
	HALVES8(0, P4_DW)
	HALVES8(2, P4_DM)
	SCALEMIN8
	GROUP32(Q5LO, 0, 48, SH_L4)
	GROUP32(Q5HI, 1, 48, SH_L3)
	GROUP32(Q5LO, 2, 80, SH_L2)
	GROUP32(Q5HI, 3, 80, SH_L1)
	GROUP32(Q5LO, 4, 112, SH_0)
	GROUP32(Q5HI, 5, 112, SH_R1)
	GROUP32(Q5LO, 6, 144, SH_R2)
	GROUP32(Q5HI, 7, 144, SH_R3)
	ADDQ $176, SI
	ADDQ $P4_SIZE, DI
	DECQ CX
	JNZ  pq5
	VZEROUPPER
	RET

// CORRSUB adds Σ over sub-block j's four chunks of each row's quants,
// times its scale, to Y7 (Y15: unsigned ones).
#define CORRSUB(j) \
	VPMADDUBSW (128*(j))(DI), Y15, Y0 \
	VPMADDUBSW (128*(j)+32)(DI), Y15, Y1 \
	VPMADDUBSW (128*(j)+64)(DI), Y15, Y2 \
	VPMADDUBSW (128*(j)+96)(DI), Y15, Y3 \
	VPADDW     Y1, Y0, Y0 \
	VPADDW     Y3, Y2, Y2 \
	VPADDW     Y2, Y0, Y0 \
	VPMADDWD   (P6_SC+32*(j))(DI), Y0, Y0 \
	VPADDD     Y0, Y7, Y7

// CORR16 stores the rows' 128·Σ_j scale_j·Σ(quants of sub-block j), which
// the kernels subtract because the activations come plus 128.
#define CORR16 \
	VMOVDQU kgOnes8<>(SB), Y15 \
	VPXOR   Y7, Y7, Y7 \
	CORRSUB(0) \
	CORRSUB(1) \
	CORRSUB(2) \
	CORRSUB(3) \
	CORRSUB(4) \
	CORRSUB(5) \
	CORRSUB(6) \
	CORRSUB(7) \
	CORRSUB(8) \
	CORRSUB(9) \
	CORRSUB(10) \
	CORRSUB(11) \
	CORRSUB(12) \
	CORRSUB(13) \
	CORRSUB(14) \
	CORRSUB(15) \
	VPSLLD  $7, Y7, Y7 \
	VMOVDQU Y7, P6_CORR(DI)

// Q6LO, Q6HI: the low or high nibbles of the 32 ql bytes at off, plus the
// two qh bits (at qoff) that SH moves to bits 4–5, minus 32.
#define Q6LO(r, y, off, qoff, SH) \
	Q4LO(r, y, off, 0) \
	VMOVDQU (qoff)(SI)(r*1), Y8 \
	SH \
	VPAND   kgB30<>(SB), Y8, Y8 \
	VPOR    Y8, y, y \
	VPSUBB  kgB20<>(SB), y, y

#define Q6HI(r, y, off, qoff, SH) \
	Q4HI(r, y, off, 0) \
	VMOVDQU (qoff)(SI)(r*1), Y8 \
	SH \
	VPAND   kgB30<>(SB), Y8, Y8 \
	VPOR    Y8, y, y \
	VPSUBB  kgB20<>(SB), y, y

// Q6_K element 128n+32k+l: ql[64n+l] (k even) or ql[64n+32+l] (k odd), low
// nibble for k < 2; bits 2k, 2k+1 of qh[32n+l].
#define Q6G0(r, y, n, x) Q6LO(r, y, 64*(n), 128+32*(n), SH_L4)
#define Q6G1(r, y, n, x) Q6LO(r, y, 64*(n)+32, 128+32*(n), SH_L2)
#define Q6G2(r, y, n, x) Q6HI(r, y, 64*(n), 128+32*(n), SH_0)
#define Q6G3(r, y, n, x) Q6HI(r, y, 64*(n)+32, 128+32*(n), SH_R2)

// func gemmPackQ6K(dst, w *byte, offs *[8]int, kb int)
// Quants minus 32 (−32…31), signed scales.
TEXT ·gemmPackQ6K(SB), NOSPLIT, $0-32
	LOADOFFS

pq6:
	HALVES8(208, P6_DW)
	ROWS8(SCB_W, 192, VPMOVSXBW)
	TRANSPOSE
	STORECHUNKS(P6_SC)
	ROWS8(SCB_W, 200, VPMOVSXBW)
	TRANSPOSE
	STORECHUNKS(P6_SC+256)
	GROUP32(Q6G0, 0, 0, 0)
	GROUP32(Q6G1, 1, 0, 0)
	GROUP32(Q6G2, 2, 0, 0)
	GROUP32(Q6G3, 3, 0, 0)
	GROUP32(Q6G0, 4, 1, 0)
	GROUP32(Q6G1, 5, 1, 0)
	GROUP32(Q6G2, 6, 1, 0)
	GROUP32(Q6G3, 7, 1, 0)
	CORR16
	ADDQ $210, SI
	ADDQ $P6_SIZE, DI
	DECQ CX
	JNZ  pq6
	VZEROUPPER
	RET

// Q3ROW: Q3_K element 128n+32k+l is bits 2k, 2k+1 of qs[32n+l] (at
// 32+32n) minus 4 unless bit 4n+k of hmask[l] is set. SH moves that bit
// to bit 2 of Y8.
#define Q3ROW(r, y, off, sh, SH) \
	VMOVDQU (off)(SI)(r*1), y \
	VPSRLW  $(sh), y, y \
	VPAND   kgB03<>(SB), y, y \
	VMOVDQU (SI)(r*1), Y8 \
	SH \
	VPAND   kgB04<>(SB), Y8, Y8 \
	VPOR    Y8, y, y \
	VPSUBB  kgB04<>(SB), y, y

#define SH3_L2 VPSLLW $2, Y8, Y8
#define SH3_L1 VPSLLW $1, Y8, Y8
#define SH3_0
#define SH3_R1 VPSRLW $1, Y8, Y8
#define SH3_R2 VPSRLW $2, Y8, Y8
#define SH3_R3 VPSRLW $3, Y8, Y8
#define SH3_R4 VPSRLW $4, Y8, Y8
#define SH3_R5 VPSRLW $5, Y8, Y8

#define Q3G(r, y, n, k, SH) Q3ROW(r, y, 32+32*(n), 2*(k), SH)
#define Q3G00(r, y, x, z) Q3G(r, y, 0, 0, SH3_L2)
#define Q3G01(r, y, x, z) Q3G(r, y, 0, 1, SH3_L1)
#define Q3G02(r, y, x, z) Q3G(r, y, 0, 2, SH3_0)
#define Q3G03(r, y, x, z) Q3G(r, y, 0, 3, SH3_R1)
#define Q3G10(r, y, x, z) Q3G(r, y, 1, 0, SH3_R2)
#define Q3G11(r, y, x, z) Q3G(r, y, 1, 1, SH3_R3)
#define Q3G12(r, y, x, z) Q3G(r, y, 1, 2, SH3_R4)
#define Q3G13(r, y, x, z) Q3G(r, y, 1, 3, SH3_R5)

// Q3SC decodes row r's 16 scales (6 bits, minus 32) as bytes into X8:
// scale j takes its low nibble from byte j (j < 8) or the high nibble of
// byte j−8, its bits 4–5 from bits 2(j/4), 2(j/4)+1 of byte 8+j%4.
#define Q3SC(r) \
	VMOVQ       96(SI)(r*1), X8 \
	VPINSRD     $2, 104(SI)(r*1), X8, X8 \
	VPSRLW      $4, X8, X9 \
	VPUNPCKLQDQ X9, X8, X9 \
	VPAND       kgLow4<>(SB), X9, X9 \
	VPSHUFB     kgQ3Hi<>(SB), X8, X8 \
	VPSRLVD     kgQ3Shift<>(SB), X8, X8 \
	VPSLLD      $4, X8, X8 \
	VPAND       kgB30<>(SB), X8, X8 \
	VPOR        X9, X8, X8 \
	VPSUBB      kgB20<>(SB), X8, X8

// Q3SCROW: row r's scales 8h…8h+7, sign-extended, as a row of TRANSPOSE.
#define Q3SCROW(r, y, h, x) \
	Q3SC(r) \
	VPSRLDQ    $(8*(h)), X8, X8 \
	VPUNPCKLBW X8, X8, X8 \
	VPMOVSXBW  X8, y

// func gemmPackQ3K(dst, w *byte, offs *[8]int, kb int)
// Quants −4…3, signed scales −32…31.
TEXT ·gemmPackQ3K(SB), NOSPLIT, $0-32
	LOADOFFS

pq3:
	HALVES8(108, P6_DW)
	ROWS8(Q3SCROW, 0, 0)
	TRANSPOSE
	STORECHUNKS(P6_SC)
	ROWS8(Q3SCROW, 1, 0)
	TRANSPOSE
	STORECHUNKS(P6_SC+256)
	GROUP32(Q3G00, 0, 0, 0)
	GROUP32(Q3G01, 1, 0, 0)
	GROUP32(Q3G02, 2, 0, 0)
	GROUP32(Q3G03, 3, 0, 0)
	GROUP32(Q3G10, 4, 0, 0)
	GROUP32(Q3G11, 5, 0, 0)
	GROUP32(Q3G12, 6, 0, 0)
	GROUP32(Q3G13, 7, 0, 0)
	CORR16
	ADDQ $110, SI
	ADDQ $P6_SIZE, DI
	DECQ CX
	JNZ  pq3
	VZEROUPPER
	RET

// Q2ROW: Q2_K element 128n+32k+l is bits 2k, 2k+1 of qs[32n+l] (at 16+32n).
#define Q2ROW(r, y, off, sh) \
	VMOVDQU (off)(SI)(r*1), y \
	VPSRLW  $(sh), y, y \
	VPAND   kgB03<>(SB), y, y

#define Q2G0(r, y, n, x) Q2ROW(r, y, 16+32*(n), 0)
#define Q2G1(r, y, n, x) Q2ROW(r, y, 16+32*(n), 2)
#define Q2G2(r, y, n, x) Q2ROW(r, y, 16+32*(n), 4)
#define Q2G3(r, y, n, x) Q2ROW(r, y, 16+32*(n), 6)

// Q2SC: row r's scales (low nibbles) or mins (high nibbles, with SH_HI)
// 8h…8h+7 as a row of TRANSPOSE, each in both words of its lane.
#define Q2SC(r, y, h, SH) \
	VMOVQ      (8*(h))(SI)(r*1), X8 \
	SH \
	VPAND      kgLow4<>(SB), X8, X8 \
	VPUNPCKLBW X8, X8, X8 \
	VPMOVZXBW  X8, y

#define Q2SH_LO
#define Q2SH_HI VPSRLW $4, X8, X8
#define Q2SCLO(r, y, h, x) Q2SC(r, y, h, Q2SH_LO)

// Q2MN: row r's 16 mins as words; lane p of the transposed rows then holds
// mins 2p, 2p+1 (p < 4 from Q2MN(0), p ≥ 4 from Q2MN(1)).
#define Q2MN(r, y, h, x) \
	VMOVQ      (8*(h))(SI)(r*1), X8 \
	VPSRLW     $4, X8, X8 \
	VPAND      kgLow4<>(SB), X8, X8 \
	VPMOVZXBW  X8, y

// func gemmPackQ2K(dst, w *byte, offs *[8]int, kb int)
// Quants 0…3, scales and mins 0…15.
TEXT ·gemmPackQ2K(SB), NOSPLIT, $0-32
	LOADOFFS

pq2:
	HALVES8(80, P2_DW)
	HALVES8(82, P2_DM)
	ROWS8(Q2SCLO, 0, 0)
	TRANSPOSE
	STORECHUNKS(P2_SC)
	ROWS8(Q2SCLO, 1, 0)
	TRANSPOSE
	STORECHUNKS(P2_SC+256)
	ROWS8(Q2MN, 0, 0)
	TRANSPOSE
	VMOVDQU Y8, P2_MN(DI)
	VMOVDQU Y10, (P2_MN+32)(DI)
	VMOVDQU Y12, (P2_MN+64)(DI)
	VMOVDQU Y14, (P2_MN+96)(DI)
	ROWS8(Q2MN, 1, 0)
	TRANSPOSE
	VMOVDQU Y8, (P2_MN+128)(DI)
	VMOVDQU Y10, (P2_MN+160)(DI)
	VMOVDQU Y12, (P2_MN+192)(DI)
	VMOVDQU Y14, (P2_MN+224)(DI)
	GROUP32(Q2G0, 0, 0, 0)
	GROUP32(Q2G1, 1, 0, 0)
	GROUP32(Q2G2, 2, 0, 0)
	GROUP32(Q2G3, 3, 0, 0)
	GROUP32(Q2G0, 4, 1, 0)
	GROUP32(Q2G1, 5, 1, 0)
	GROUP32(Q2G2, 6, 1, 0)
	GROUP32(Q2G3, 7, 1, 0)
	ADDQ $84, SI
	ADDQ $P2_SIZE, DI
	DECQ CX
	JNZ  pq2
	VZEROUPPER
	RET
