//go:build amd64 && !purego

#include "textflag.h"

// Batch (prefill) kernels for the legacy 32-element block types; see
// gemm_legacy_amd64.go for the plan and the maths. Three kinds of routine:
//
//	gemmPrep*  copy a k-chunk of T activation rows into the layout the
//	           kernels read: per block the 32 quants plus 128 (so that
//	           VPMADDUBSW can take them as its unsigned operand), the scale
//	           as float32 and, for Q8_1, s as float32 and off·Σq as int32.
//	gemmPack*  repack a k-chunk of 8 weight rows: per block eight 32-byte
//	           "chunks", chunk k holding elements 4k…4k+3 of rows 0…7 as
//	           signed bytes, then the 8 row scales as float32, the 8 row
//	           corrections 128·Σw as int32 and (Q4_1, Q5_1) the 8 row
//	           offsets m as float32.
//	gemm*AVX2  multiply one packed 8-row group by T prepared tokens, two
//	           tokens at a time. Per block and token, VPMADDUBSW of chunk k
//	           with the token's broadcast quants 4k…4k+3 gives each row's
//	           pair sums in its own dword lane, so eight of them add up (in
//	           int16 while that cannot overflow) to one vector holding the
//	           eight rows' block sums: one conversion and one FMA serve
//	           eight (row, token) pairs, and no horizontal sums are needed.

// Packed block layouts (bytes): chunks, then float32 d, int32 corr, float32 m.
#define PK_DW 256
#define PK_CORR 288
#define PK_M 320
#define PK8_DW 512
#define PK8_CORR 544

// Prepared activation block layouts: quants+128, float32 d, float32 s, int32 off·Σq.
#define PA_D 32
#define PA_S 36
#define PA_SUM 40

DATA gmX80<>+0(SB)/8, $0x8080808080808080
DATA gmX80<>+8(SB)/8, $0x8080808080808080
DATA gmX80<>+16(SB)/8, $0x8080808080808080
DATA gmX80<>+24(SB)/8, $0x8080808080808080
GLOBL gmX80<>(SB), RODATA|NOPTR, $32

DATA gmLow4<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA gmLow4<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA gmLow4<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA gmLow4<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL gmLow4<>(SB), RODATA|NOPTR, $32

DATA gmOnes8<>+0(SB)/8, $0x0101010101010101
DATA gmOnes8<>+8(SB)/8, $0x0101010101010101
DATA gmOnes8<>+16(SB)/8, $0x0101010101010101
DATA gmOnes8<>+24(SB)/8, $0x0101010101010101
GLOBL gmOnes8<>(SB), RODATA|NOPTR, $32

DATA gmEights8<>+0(SB)/8, $0x0808080808080808
DATA gmEights8<>+8(SB)/8, $0x0808080808080808
DATA gmEights8<>+16(SB)/8, $0x0808080808080808
DATA gmEights8<>+24(SB)/8, $0x0808080808080808
GLOBL gmEights8<>(SB), RODATA|NOPTR, $32

DATA gmSixteens8<>+0(SB)/8, $0x1010101010101010
DATA gmSixteens8<>+8(SB)/8, $0x1010101010101010
DATA gmSixteens8<>+16(SB)/8, $0x1010101010101010
DATA gmSixteens8<>+24(SB)/8, $0x1010101010101010
GLOBL gmSixteens8<>(SB), RODATA|NOPTR, $32

DATA gmOnes16<>+0(SB)/8, $0x0001000100010001
DATA gmOnes16<>+8(SB)/8, $0x0001000100010001
DATA gmOnes16<>+16(SB)/8, $0x0001000100010001
DATA gmOnes16<>+24(SB)/8, $0x0001000100010001
GLOBL gmOnes16<>(SB), RODATA|NOPTR, $32

DATA gmSixteens16<>+0(SB)/8, $0x0010001000100010
DATA gmSixteens16<>+8(SB)/8, $0x0010001000100010
DATA gmSixteens16<>+16(SB)/8, $0x0010001000100010
DATA gmSixteens16<>+24(SB)/8, $0x0010001000100010
GLOBL gmSixteens16<>(SB), RODATA|NOPTR, $32

// gmQhBytes spreads byte k of a broadcast qh word over elements 8k…8k+7;
// gmQhBits then picks bit j%8 for element j.
DATA gmQhBytes<>+0(SB)/8, $0x0000000000000000
DATA gmQhBytes<>+8(SB)/8, $0x0101010101010101
DATA gmQhBytes<>+16(SB)/8, $0x0202020202020202
DATA gmQhBytes<>+24(SB)/8, $0x0303030303030303
GLOBL gmQhBytes<>(SB), RODATA|NOPTR, $32

DATA gmQhBits<>+0(SB)/8, $0x8040201008040201
DATA gmQhBits<>+8(SB)/8, $0x8040201008040201
DATA gmQhBits<>+16(SB)/8, $0x8040201008040201
DATA gmQhBits<>+24(SB)/8, $0x8040201008040201
GLOBL gmQhBits<>(SB), RODATA|NOPTR, $32

// ---- argument macros ----
// They sit before the first TEXT so that go vet (asmdecl), which reads the
// file line by line, does not check them against an unrelated frame.

// LOADOFFS loads the pack routines' arguments (see "weight packing").
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

// KSETUP loads the kernels' arguments (see "kernels").
#define KSETUP \
	MOVQ    out+0(FP), DI \
	MOVQ    outStride+8(FP), R9 \
	MOVQ    act+24(FP), R8 \
	MOVQ    actStride+32(FP), R11 \
	MOVQ    T+48(FP), R10 \
	VMOVDQU gmOnes16<>(SB), Y14 \
	VMOVDQU gmSixteens16<>(SB), Y13

// KPAIR starts a token pair (jumping to done when no tokens are left).
#define KPAIR(done, two) \
	TESTQ  R10, R10 \
	JZ     done \
	MOVQ   R11, R12 \
	CMPQ   R10, $1 \
	JNE    two \
	XORQ   R12, R12 \
two: \
	MOVQ   w+16(FP), BX \
	MOVQ   R8, AX \
	LEAQ   (R8)(R12*1), DX \
	MOVQ   kb+40(FP), CX \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y7, Y7, Y7

// KSTORE stores (or adds) the pair's results and moves on.
#define KSTORE(pair, nacc, single) \
	CMPQ    accum+56(FP), $0 \
	JEQ     nacc \
	VADDPS  (DI), Y0, Y0 \
	CMPQ    R10, $1 \
	JEQ     nacc \
	VADDPS  (DI)(R9*1), Y7, Y7 \
nacc: \
	VMOVUPS Y0, (DI) \
	CMPQ    R10, $1 \
	JEQ     single \
	VMOVUPS Y7, (DI)(R9*1) \
	LEAQ    (DI)(R9*2), DI \
	LEAQ    (R8)(R11*2), R8 \
	SUBQ    $2, R10 \
	JMP     pair \
single:

// ---- activation preparation ----

// func gemmPrepQ8_0(dst, a *byte, aStride, T, kb int)
TEXT ·gemmPrepQ8_0(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    aStride+16(FP), DX
	MOVQ    T+24(FP), R9
	VMOVDQU gmX80<>(SB), Y15

p80tok:
	MOVQ SI, R8
	MOVQ kb+32(FP), CX

p80blk:
	VPXOR     2(R8), Y15, Y0
	VMOVDQU   Y0, (DI)
	MOVWLZX   (R8), AX
	VMOVD     AX, X1
	VCVTPH2PS X1, X1
	VMOVSS    X1, PA_D(DI)
	ADDQ      $34, R8
	ADDQ      $36, DI
	DECQ      CX
	JNZ       p80blk

	ADDQ DX, SI
	DECQ R9
	JNZ  p80tok
	VZEROUPPER
	RET

// func gemmPrepQ8_1(dst, a *byte, aStride, T, kb, off int)
// off·Σq is formed from Σ(q+128) (VPSADBW) minus 32·128.
TEXT ·gemmPrepQ8_1(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    a+8(FP), SI
	MOVQ    aStride+16(FP), DX
	MOVQ    T+24(FP), R9
	MOVQ    off+40(FP), R10
	VMOVDQU gmX80<>(SB), Y15
	VPXOR   Y14, Y14, Y14

p81tok:
	MOVQ SI, R8
	MOVQ kb+32(FP), CX

p81blk:
	VPXOR        4(R8), Y15, Y0
	VMOVDQU      Y0, (DI)
	VPSADBW      Y14, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDQ       X1, X0, X0
	VMOVQ        X0, AX
	SUBQ         $4096, AX
	IMULQ        R10, AX
	MOVL         AX, PA_SUM(DI)
	MOVL         (R8), AX
	VMOVD        AX, X1
	VCVTPH2PS    X1, X1
	VMOVSD       X1, PA_D(DI)
	ADDQ         $36, R8
	ADDQ         $44, DI
	DECQ         CX
	JNZ          p81blk

	ADDQ DX, SI
	DECQ R9
	JNZ  p81tok
	VZEROUPPER
	RET

// ---- weight packing ----
// All pack routines take (dst, w *byte, offs *[8]int, kb int): row i of the
// group starts at w+offs[i] (the caller repeats the last row to fill a group
// of fewer than 8), kb blocks are packed. Registers:
//	DI dst, SI block cursor, CX blocks left, AX scratch
//	R8 R9 R10 R11 R12 R13 DX BX the offsets of rows 0…7
//	Y0–Y7 rows, then chunks; Y8–Y15 scratch

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

// NIBBLES sets y to the 32 4-bit quants of the 16 bytes at off(SI)(r):
// low nibbles are elements 0–15, high nibbles 16–31.
#define NIBBLES(off, r, y) \
	VMOVDQU     off(SI)(r*1), X8 \
	VPSRLW      $4, X8, X9 \
	VINSERTI128 $1, X9, Y8, y \
	VPAND       gmLow4<>(SB), y, y

#define Q4ROW(off, r, y) \
	NIBBLES(off, r, y) \
	VPSUBB gmEights8<>(SB), y, y

// Q5ROW adds bit j of the qh word at hoff to element j as 16, minus 16.
#define Q5ROW(hoff, off, r, y) \
	NIBBLES(off, r, y) \
	VPBROADCASTD hoff(SI)(r*1), Y10 \
	VPSHUFB      gmQhBytes<>(SB), Y10, Y10 \
	VPAND        gmQhBits<>(SB), Y10, Y10 \
	VPCMPEQB     gmQhBits<>(SB), Y10, Y10 \
	VPAND        gmSixteens8<>(SB), Y10, Y10 \
	VPOR         Y10, y, y \
	VPSUBB       gmSixteens8<>(SB), y, y

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

// STORECHUNKS stores the chunks TRANSPOSE left in Y8–Y15 in order.
#define STORECHUNKS \
	VMOVDQU     Y8, 0(DI) \
	VMOVDQU     Y9, 128(DI) \
	VMOVDQU     Y10, 32(DI) \
	VMOVDQU     Y11, 160(DI) \
	VMOVDQU     Y12, 64(DI) \
	VMOVDQU     Y13, 192(DI) \
	VMOVDQU     Y14, 96(DI) \
	VMOVDQU     Y15, 224(DI)

// ROWSUMS sets Y1 to 128·Σ (chunks Y8–Y15) per row as int32, times mult
// (int16 ones or sixteens). The int16 partial sums stay within ±16·128·16.
#define ROWSUMS(mult) \
	VMOVDQU    gmX80<>(SB), Y0 \
	VPMADDUBSW Y8, Y0, Y1 \
	VPMADDUBSW Y9, Y0, Y2 \
	VPMADDUBSW Y10, Y0, Y3 \
	VPMADDUBSW Y11, Y0, Y4 \
	VPADDW     Y2, Y1, Y1 \
	VPADDW     Y4, Y3, Y3 \
	VPMADDUBSW Y12, Y0, Y2 \
	VPMADDUBSW Y13, Y0, Y4 \
	VPADDW     Y2, Y1, Y1 \
	VPADDW     Y4, Y3, Y3 \
	VPMADDUBSW Y14, Y0, Y2 \
	VPMADDUBSW Y15, Y0, Y4 \
	VPADDW     Y2, Y1, Y1 \
	VPADDW     Y4, Y3, Y3 \
	VPADDW     Y3, Y1, Y1 \
	VPMADDWD   mult, Y1, Y1

// PACKEND finishes a packed block from the eight rows in Y0–Y7 and loops:
// bb is the block size read, pb the packed block size.
#define PACKEND(bb, pb, loop) \
	TRANSPOSE \
	STORECHUNKS \
	ROWSUMS(gmOnes16<>(SB)) \
	VMOVDQU Y1, PK_CORR(DI) \
	ADDQ    $bb, SI \
	ADDQ    $pb, DI \
	DECQ    CX \
	JNZ     loop \
	VZEROUPPER \
	RET

// PACK4 packs a 4-bit type: ROW(r, y) unpacks one row's block into signed
// bytes; bb is the block size, pb the packed block size.
#define PACK4(ROW, bb, pb, moff, loop) \
	LOADOFFS \
loop: \
	HALVES8(0, PK_DW) \
	moff \
	ROW(R8, Y0) \
	ROW(R9, Y1) \
	ROW(R10, Y2) \
	ROW(R11, Y3) \
	ROW(R12, Y4) \
	ROW(R13, Y5) \
	ROW(DX, Y6) \
	ROW(BX, Y7) \
	PACKEND(bb, pb, loop)

#define ROWQ4_0(r, y) Q4ROW(2, r, y)
#define ROWQ5_0(r, y) Q5ROW(2, 6, r, y)
#define ROWQ4_1(r, y) Q4ROW(4, r, y)
#define ROWQ5_1(r, y) Q5ROW(4, 8, r, y)
#define NOM
#define MOFF HALVES8(2, PK_M)

// func gemmPackQ4_0(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ4_0(SB), NOSPLIT, $0-32
	PACK4(ROWQ4_0, 18, 320, NOM, pq40)

// func gemmPackQ5_0(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ5_0(SB), NOSPLIT, $0-32
	PACK4(ROWQ5_0, 22, 320, NOM, pq50)

// Interleaved Q4_0 and Q5_0 (see interleave_amd64.go): rows 0–3 come from
// the group at offs[0], rows 4–7 from the group at offs[4] (the same group
// again when only four rows are left). Each fifth-bit qword is broadcast
// and shifted right by one set of counts and left by another (64 where the
// other does the lane), which leaves every element's bit at bit 4.

DATA gmX4RightE<>+0(SB)/8, $0
DATA gmX4RightE<>+8(SB)/8, $1
DATA gmX4RightE<>+16(SB)/8, $64
DATA gmX4RightE<>+24(SB)/8, $64
GLOBL gmX4RightE<>(SB), RODATA|NOPTR, $32

DATA gmX4LeftE<>+0(SB)/8, $64
DATA gmX4LeftE<>+8(SB)/8, $64
DATA gmX4LeftE<>+16(SB)/8, $4
DATA gmX4LeftE<>+24(SB)/8, $3
GLOBL gmX4LeftE<>(SB), RODATA|NOPTR, $32

DATA gmX4RightO<>+0(SB)/8, $2
DATA gmX4RightO<>+8(SB)/8, $3
DATA gmX4RightO<>+16(SB)/8, $64
DATA gmX4RightO<>+24(SB)/8, $64
GLOBL gmX4RightO<>(SB), RODATA|NOPTR, $32

DATA gmX4LeftO<>+0(SB)/8, $64
DATA gmX4LeftO<>+8(SB)/8, $64
DATA gmX4LeftO<>+16(SB)/8, $2
DATA gmX4LeftO<>+24(SB)/8, $1
GLOBL gmX4LeftO<>(SB), RODATA|NOPTR, $32

// Q5X4ROW unpacks row r of the Q5_0 group at g(SI) into signed bytes q-16
// in y; right and left are the fifth-bit shift counts of its parity.
#define Q5X4ROW(g, r, right, left, y) \
	NIBBLES((24+16*r), g, y) \
	VPBROADCASTQ (8+8*(r/2))(SI)(g*1), Y10 \
	VPSRLVQ      right, Y10, Y11 \
	VPSLLVQ      left, Y10, Y10 \
	VPOR         Y11, Y10, Y10 \
	VPAND        gmSixteens8<>(SB), Y10, Y10 \
	VPOR         Y10, y, y \
	VPSUBB       gmSixteens8<>(SB), y, y

#define Q5X4GROUP(g, y0, y1, y2, y3) \
	Q5X4ROW(g, 0, gmX4RightE<>(SB), gmX4LeftE<>(SB), y0) \
	Q5X4ROW(g, 1, gmX4RightO<>(SB), gmX4LeftO<>(SB), y1) \
	Q5X4ROW(g, 2, gmX4RightE<>(SB), gmX4LeftE<>(SB), y2) \
	Q5X4ROW(g, 3, gmX4RightO<>(SB), gmX4LeftO<>(SB), y3)

#define Q4X4GROUP(g, y0, y1, y2, y3) \
	Q4ROW(8, g, y0) \
	Q4ROW(24, g, y1) \
	Q4ROW(40, g, y2) \
	Q4ROW(56, g, y3)

// PACKX4 packs two interleaved groups: GROUP unpacks one group's four rows,
// bb is the interleaved block size.
#define PACKX4(GROUP, bb, loop) \
	LOADOFFS \
loop: \
	VMOVQ     (SI)(R8*1), X8 \
	VPINSRQ   $1, (SI)(R12*1), X8, X8 \
	VCVTPH2PS X8, Y8 \
	VMOVUPS   Y8, PK_DW(DI) \
	GROUP(R8, Y0, Y1, Y2, Y3) \
	GROUP(R12, Y4, Y5, Y6, Y7) \
	PACKEND(bb, 320, loop)

// func gemmPackQ4_0x4(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ4_0x4(SB), NOSPLIT, $0-32
	PACKX4(Q4X4GROUP, 72, pq40x4)

// func gemmPackQ5_0x4(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ5_0x4(SB), NOSPLIT, $0-32
	PACKX4(Q5X4GROUP, 88, pq50x4)

// func gemmPackQ4_1(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ4_1(SB), NOSPLIT, $0-32
	PACK4(ROWQ4_1, 20, 352, MOFF, pq41)

// func gemmPackQ5_1(dst, w *byte, offs *[8]int, kb int)
TEXT ·gemmPackQ5_1(SB), NOSPLIT, $0-32
	PACK4(ROWQ5_1, 24, 352, MOFF, pq51)

// Q8_0 weights w in [-128, 127] are split as 16·h + l with l the low nibble
// sign-extended (-8…7) and h = (w - l)/16 in [-8, 8], so that products with
// activations up to 255 add up in int16 without overflow. SPLIT8 splits
// chunk c (in register y) into h at 32c(DI) and l at 256+32c(DI), adding
// 128·(pair sums) of h to Y6 and of l to Y7. Constants: Y2 0x0f bytes, Y3
// eights, Y4 ones, Y5 0x80.
//	h = ((w+128)>>4) - 8 + bit 3 of w
//	l = ((w & 15) ^ 8) - 8
#define SPLIT8(y, c) \
	VPXOR      Y5, y, Y0 \
	VPSRLW     $4, Y0, Y0 \
	VPAND      Y2, Y0, Y0 \
	VPSUBB     Y3, Y0, Y0 \
	VPSRLW     $3, y, Y1 \
	VPAND      Y4, Y1, Y1 \
	VPADDB     Y1, Y0, Y0 \
	VMOVDQU    Y0, (32*c)(DI) \
	VPMADDUBSW Y0, Y5, Y0 \
	VPADDW     Y0, Y6, Y6 \
	VPAND      Y2, y, Y1 \
	VPXOR      Y3, Y1, Y1 \
	VPSUBB     Y3, Y1, Y1 \
	VMOVDQU    Y1, (256+32*c)(DI) \
	VPMADDUBSW Y1, Y5, Y1 \
	VPADDW     Y1, Y7, Y7

#define Q8ROW(r, y) VMOVDQU 2(SI)(r*1), y

// func gemmPackQ8_0(dst, w *byte, offs *[8]int, kb int)
// The h chunks go first (bytes 0–255), the l chunks next (256–511); the
// row correction is 128·(16·Σh + Σl) = 128·Σw. The int16 partial sums of
// 128·h stay within ±16·128·8.
TEXT ·gemmPackQ8_0(SB), NOSPLIT, $0-32
	LOADOFFS

pq80:
	HALVES8(0, PK8_DW)
	Q8ROW(R8, Y0)
	Q8ROW(R9, Y1)
	Q8ROW(R10, Y2)
	Q8ROW(R11, Y3)
	Q8ROW(R12, Y4)
	Q8ROW(R13, Y5)
	Q8ROW(DX, Y6)
	Q8ROW(BX, Y7)
	TRANSPOSE
	VMOVDQU  gmLow4<>(SB), Y2
	VMOVDQU  gmEights8<>(SB), Y3
	VMOVDQU  gmOnes8<>(SB), Y4
	VMOVDQU  gmX80<>(SB), Y5
	VPXOR    Y6, Y6, Y6
	VPXOR    Y7, Y7, Y7
	SPLIT8(Y8, 0)
	SPLIT8(Y9, 4)
	SPLIT8(Y10, 1)
	SPLIT8(Y11, 5)
	SPLIT8(Y12, 2)
	SPLIT8(Y13, 6)
	SPLIT8(Y14, 3)
	SPLIT8(Y15, 7)
	VPMADDWD gmSixteens16<>(SB), Y6, Y6
	VPMADDWD gmOnes16<>(SB), Y7, Y7
	VPADDD   Y7, Y6, Y6
	VMOVDQU  Y6, PK8_CORR(DI)
	ADDQ     $34, SI
	ADDQ     $576, DI
	DECQ     CX
	JNZ      pq80
	VZEROUPPER
	RET

// ---- kernels ----
// func gemmXXXAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
// sets (accum = 0) or adds to (accum = 1) the 8 floats at out + t·outStride
// (bytes) the products of the packed group w with prepared token t < T.
// Tokens go in pairs; an odd last token runs as a pair with itself and only
// its first result is stored. Registers:
//	DI out cursor, R9 outStride, R8 token-pair activations, R11 actStride
//	R10 tokens left, R12 second token's offset, AX DX the two tokens'
//	block cursors, BX packed block cursor, CX blocks left
//	Y0 Y7 float accumulators of the two tokens
//	Y2 Y9 (token 0) Y5 Y10 (token 1) int16 and then int32 block sums
//	Y6 Y11 chunks, Y1 Y4 Y12 scratch, Y3 Y8 scales
//	Y13 int16 sixteens (Q8_0), Y14 int16 ones

// CH2 adds chunk k's products for both tokens to the int16 sums s0, s1;
// CH2FIRST sets the sums to them.
#define CH2(k, s0, s1) \
	VMOVDQU      (32*k)(BX), Y6 \
	VPBROADCASTD (4*k)(AX), Y1 \
	VPBROADCASTD (4*k)(DX), Y4 \
	VPMADDUBSW   Y6, Y1, Y1 \
	VPMADDUBSW   Y6, Y4, Y4 \
	VPADDW       Y1, s0, s0 \
	VPADDW       Y4, s1, s1

#define CH2FIRST(k, s0, s1) \
	VMOVDQU      (32*k)(BX), Y6 \
	VPBROADCASTD (4*k)(AX), s0 \
	VPBROADCASTD (4*k)(DX), s1 \
	VPMADDUBSW   Y6, s0, s0 \
	VPMADDUBSW   Y6, s1, s1

// SUMS8: all eight chunks in int16 (|w| ≤ 8: 16·255·8 < 2¹⁵), then int32.
#define SUMS8 \
	CH2FIRST(0, Y2, Y5) \
	CH2(1, Y2, Y5) \
	CH2(2, Y2, Y5) \
	CH2(3, Y2, Y5) \
	CH2(4, Y2, Y5) \
	CH2(5, Y2, Y5) \
	CH2(6, Y2, Y5) \
	CH2(7, Y2, Y5) \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y14, Y5, Y5

// SUMS44: chunks 0–3 and 4–7 apart in int16 (|w| ≤ 16: 8·255·16 < 2¹⁵).
#define SUMS44 \
	CH2FIRST(0, Y2, Y5) \
	CH2(1, Y2, Y5) \
	CH2(2, Y2, Y5) \
	CH2(3, Y2, Y5) \
	CH2FIRST(4, Y9, Y10) \
	CH2(5, Y9, Y10) \
	CH2(6, Y9, Y10) \
	CH2(7, Y9, Y10) \
	VPMADDWD Y14, Y2, Y2 \
	VPMADDWD Y14, Y5, Y5 \
	VPMADDWD Y14, Y9, Y9 \
	VPMADDWD Y14, Y10, Y10 \
	VPADDD   Y9, Y2, Y2 \
	VPADDD   Y10, Y5, Y5

// Q8_0: h chunks at k, l chunks at 256+k; Σ = 16·Σh·a + Σl·a.
#define CH8(k) \
	VMOVDQU      (32*k)(BX), Y6 \
	VMOVDQU      (256+32*k)(BX), Y11 \
	VPBROADCASTD (4*k)(AX), Y1 \
	VPBROADCASTD (4*k)(DX), Y4 \
	VPMADDUBSW   Y6, Y1, Y12 \
	VPMADDUBSW   Y11, Y1, Y1 \
	VPADDW       Y12, Y2, Y2 \
	VPADDW       Y1, Y9, Y9 \
	VPMADDUBSW   Y6, Y4, Y12 \
	VPMADDUBSW   Y11, Y4, Y4 \
	VPADDW       Y12, Y5, Y5 \
	VPADDW       Y4, Y10, Y10

#define SUMSQ8 \
	VMOVDQU      (BX), Y6 \
	VMOVDQU      256(BX), Y11 \
	VPBROADCASTD (AX), Y1 \
	VPBROADCASTD (DX), Y4 \
	VPMADDUBSW   Y6, Y1, Y2 \
	VPMADDUBSW   Y11, Y1, Y9 \
	VPMADDUBSW   Y6, Y4, Y5 \
	VPMADDUBSW   Y11, Y4, Y10 \
	CH8(1) \
	CH8(2) \
	CH8(3) \
	CH8(4) \
	CH8(5) \
	CH8(6) \
	CH8(7) \
	VPMADDWD     Y13, Y2, Y2 \
	VPMADDWD     Y14, Y9, Y9 \
	VPMADDWD     Y13, Y5, Y5 \
	VPMADDWD     Y14, Y10, Y10 \
	VPADDD       Y9, Y2, Y2 \
	VPADDD       Y10, Y5, Y5

// SCALE removes the rows' 128·Σw, converts the exact block sums and adds
// them times d_w·d_a to the accumulators.
#define SCALE(dw, corr) \
	VMOVDQU      corr(BX), Y6 \
	VPSUBD       Y6, Y2, Y2 \
	VPSUBD       Y6, Y5, Y5 \
	VCVTDQ2PS    Y2, Y2 \
	VCVTDQ2PS    Y5, Y5 \
	VMOVUPS      dw(BX), Y6 \
	VBROADCASTSS PA_D(AX), Y3 \
	VBROADCASTSS PA_D(DX), Y8 \
	VMULPS       Y6, Y3, Y3 \
	VMULPS       Y6, Y8, Y8 \
	VFMADD231PS  Y3, Y2, Y0 \
	VFMADD231PS  Y8, Y5, Y7

// For Q4_1 and Q5_1 the packed quants are q - off, so the token's off·Σa is
// added back before SCALE, and m·s after it.
#define OFFSUM \
	VPBROADCASTD PA_SUM(AX), Y1 \
	VPBROADCASTD PA_SUM(DX), Y4 \
	VPADDD       Y1, Y2, Y2 \
	VPADDD       Y4, Y5, Y5

#define MINS \
	VMOVUPS      PK_M(BX), Y6 \
	VBROADCASTSS PA_S(AX), Y3 \
	VBROADCASTSS PA_S(DX), Y8 \
	VFMADD231PS  Y6, Y3, Y0 \
	VFMADD231PS  Y6, Y8, Y7

// func gemmQ8_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
TEXT ·gemmQ8_0AVX2(SB), NOSPLIT, $0-64
	KSETUP

pair:
	KPAIR(done, two)

blk:
	SUMSQ8
	SCALE(PK8_DW, PK8_CORR)
	ADDQ $36, AX
	ADDQ $36, DX
	ADDQ $576, BX
	DECQ CX
	JNZ  blk
	KSTORE(pair, nacc, single)

done:
	VZEROUPPER
	RET

// func gemmQ4_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
TEXT ·gemmQ4_0AVX2(SB), NOSPLIT, $0-64
	KSETUP

pair:
	KPAIR(done, two)

blk:
	SUMS8
	SCALE(PK_DW, PK_CORR)
	ADDQ $36, AX
	ADDQ $36, DX
	ADDQ $320, BX
	DECQ CX
	JNZ  blk
	KSTORE(pair, nacc, single)

done:
	VZEROUPPER
	RET

// func gemmQ5_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
TEXT ·gemmQ5_0AVX2(SB), NOSPLIT, $0-64
	KSETUP

pair:
	KPAIR(done, two)

blk:
	SUMS44
	SCALE(PK_DW, PK_CORR)
	ADDQ $36, AX
	ADDQ $36, DX
	ADDQ $320, BX
	DECQ CX
	JNZ  blk
	KSTORE(pair, nacc, single)

done:
	VZEROUPPER
	RET

// func gemmQ4_1AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
TEXT ·gemmQ4_1AVX2(SB), NOSPLIT, $0-64
	KSETUP

pair:
	KPAIR(done, two)

blk:
	SUMS8
	OFFSUM
	SCALE(PK_DW, PK_CORR)
	MINS
	ADDQ $44, AX
	ADDQ $44, DX
	ADDQ $352, BX
	DECQ CX
	JNZ  blk
	KSTORE(pair, nacc, single)

done:
	VZEROUPPER
	RET

// func gemmQ5_1AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
TEXT ·gemmQ5_1AVX2(SB), NOSPLIT, $0-64
	KSETUP

pair:
	KPAIR(done, two)

blk:
	SUMS44
	OFFSUM
	SCALE(PK_DW, PK_CORR)
	MINS
	ADDQ $44, AX
	ADDQ $44, DX
	ADDQ $352, BX
	DECQ CX
	JNZ  blk
	KSTORE(pair, nacc, single)

done:
	VZEROUPPER
	RET
