//go:build amd64 && !purego

#include "textflag.h"

// Row-dot kernels for the legacy 32-element block types, all with the frame
//
//	func gemvXXXAVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
//
// (see gemv_legacy_amd64.go for the maths). Rows go four at a time, so that
// each activation block is loaded, converted and (for offset formats)
// summed once for four weight rows. Per block, each row's integer dot
// product is formed in int16/int32 lanes; the four rows are then folded
// with horizontal adds so that row r sits in lanes r (elements 0–15) and
// r+4 (elements 16–31) of one vector, which one VCVTDQ2PS and one FMA with
// the vector of the rows' scales add to the accumulator Y10. A last group of
// fewer than four rows is done one row at a time with a row stride of 0 (the
// row four times over), so every row's result is the same whichever group
// it falls in. Q5_0, bound by its vector work, takes the activation's share
// from a table made once per call instead (see Q5_0TAB).
//
// Registers:
//	DI  out cursor          SI  first weight row of the group
//	DX  row stride (0 for single rows), R11 3·stride
//	R8  activation row      R9  blocks per row (≥ 1)
//	R10 rows left           R12 activation cursor, R13 weight cursor
//	R14 prefetch cursor     CX  block counter, AX BX scratch
//	Y0–Y3 per-row sums      Y4 activation scale(s), Y5 activation quants
//	Y6 row scales           Y7 Y8 scratch
//	Y9 offset sums (Q4_0, Q5_0) or a permutation (Q4_1, Q5_1)
//	Y10 accumulator         Y11 Σm·s accumulator (Q4_1, Q5_1)
//	Y12 0x0f bytes          Y13 nibble shift counts
//	Y14 qh bit masks        Y15 int16 ones
//
// R14 is free in ABI0 code (the wrapper restores g on return).

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

DATA eights8<>+0(SB)/8, $0x0808080808080808
DATA eights8<>+8(SB)/8, $0x0808080808080808
DATA eights8<>+16(SB)/8, $0x0808080808080808
DATA eights8<>+24(SB)/8, $0x0808080808080808
GLOBL eights8<>(SB), RODATA|NOPTR, $32

DATA sixteens8<>+0(SB)/8, $0x1010101010101010
DATA sixteens8<>+8(SB)/8, $0x1010101010101010
DATA sixteens8<>+16(SB)/8, $0x1010101010101010
DATA sixteens8<>+24(SB)/8, $0x1010101010101010
GLOBL sixteens8<>(SB), RODATA|NOPTR, $32

DATA low4<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA low4<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA low4<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA low4<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL low4<>(SB), RODATA|NOPTR, $32

// Dword shift counts that leave the low 128-bit lane alone and move each
// byte's high nibble down in the upper lane: with the same 16 bytes in both
// lanes and a mask of 0x0f this yields elements 0–15 then 16–31.
DATA nibShift<>+0(SB)/8, $0
DATA nibShift<>+8(SB)/8, $0
DATA nibShift<>+16(SB)/8, $0x0000000400000004
DATA nibShift<>+24(SB)/8, $0x0000000400000004
GLOBL nibShift<>(SB), RODATA|NOPTR, $32

// qhBytes spreads byte k of the (broadcast) qh word over elements 8k…8k+7;
// qhBits then picks bit j%8 for element j.
DATA qhBytes<>+0(SB)/8, $0x0000000000000000
DATA qhBytes<>+8(SB)/8, $0x0101010101010101
DATA qhBytes<>+16(SB)/8, $0x0202020202020202
DATA qhBytes<>+24(SB)/8, $0x0303030303030303
GLOBL qhBytes<>(SB), RODATA|NOPTR, $32

DATA qhBits<>+0(SB)/8, $0x8040201008040201
DATA qhBits<>+8(SB)/8, $0x8040201008040201
DATA qhBits<>+16(SB)/8, $0x8040201008040201
DATA qhBits<>+24(SB)/8, $0x8040201008040201
GLOBL qhBits<>(SB), RODATA|NOPTR, $32

// evenLanes gathers d·e of rows 0–3 from [d0·e, m0·s, d1·e, m1·s, …] into
// lanes 0–3 and 4–7; oddLanes gathers the m·s.
DATA evenLanes<>+0(SB)/8, $0x0000000200000000
DATA evenLanes<>+8(SB)/8, $0x0000000600000004
DATA evenLanes<>+16(SB)/8, $0x0000000200000000
DATA evenLanes<>+24(SB)/8, $0x0000000600000004
GLOBL evenLanes<>(SB), RODATA|NOPTR, $32

DATA oddLanes<>+0(SB)/8, $0x0000000300000001
DATA oddLanes<>+8(SB)/8, $0x0000000700000005
DATA oddLanes<>+16(SB)/8, $0x0000000300000001
DATA oddLanes<>+24(SB)/8, $0x0000000700000005
GLOBL oddLanes<>(SB), RODATA|NOPTR, $32

// ---- shared pieces ----

#define LOADARGS \
	MOVQ    out+0(FP), DI \
	MOVQ    w+8(FP), SI \
	MOVQ    rowBytes+16(FP), DX \
	MOVQ    a+24(FP), R8 \
	MOVQ    nb+32(FP), R9 \
	MOVQ    rows+40(FP), R10 \
	LEAQ    (DX)(DX*2), R11 \
	VMOVDQU low4<>(SB), Y12 \
	VMOVDQU nibShift<>(SB), Y13 \
	VMOVDQU qhBits<>(SB), Y14 \
	VMOVDQU ones16<>(SB), Y15

// NEXTGROUP starts a group: four rows from SI, or while fewer than four are
// left one row with stride 0; it jumps to done when no rows are left. The
// prefetch cursor starts one group ahead, two for rows under 2 KiB.
#define NEXTGROUP(done, four, far) \
	CMPQ   R10, $4 \
	JGE    four \
	TESTQ  R10, R10 \
	JZ     done \
	XORQ   DX, DX \
	XORQ   R11, R11 \
four: \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	MOVQ  SI, R13 \
	MOVQ  R8, R12 \
	LEAQ  (SI)(DX*4), R14 \
	CMPQ  DX, $2048 \
	JAE   far \
	LEAQ  (R14)(DX*4), R14 \
far:

// STOREGROUP adds the two halves of Y10, stores four results (or one for a
// single row) and goes on to the next group.
#define STOREGROUP(group, single) \
	VEXTRACTF128 $1, Y10, X0 \
	VADDPS       X10, X0, X0 \
	TESTQ        DX, DX \
	JZ           single \
	VMOVUPS      X0, (DI) \
	ADDQ         $16, DI \
	LEAQ         (SI)(DX*4), SI \
	SUBQ         $4, R10 \
	JMP          group \
single: \
	VMOVSS       X0, (DI) \
	ADDQ         $4, DI \
	ADDQ         rowBytes+16(FP), SI \
	DECQ         R10 \
	JMP          group

// PREFETCHROWS requests the bytes of a later group at the same offset in
// each row, then moves on by one block. Short rows (896 columns are 952
// bytes of Q8_0) otherwise give the hardware prefetchers four streams too
// short to lock on to: from memory this is worth 30–70%. A group ahead
// (≥ 8 KiB) suits long rows; short ones gained another ~10% from two.
#define PREFETCHROWS(step) \
	PREFETCHT0 (R14) \
	PREFETCHT0 (R14)(DX*1) \
	PREFETCHT0 (R14)(DX*2) \
	PREFETCHT0 (R14)(R11*1) \
	ADDQ       $step, R14

// SCALES4 sets Y6 to the four rows' fp16 scales at (R13) as floats, rows
// 0–3 in lanes 0–3 and again in lanes 4–7.
#define SCALES4 \
	MOVWLZX      (R13), AX \
	MOVWLZX      (R13)(DX*1), BX \
	SHLQ         $16, BX \
	ORQ          BX, AX \
	MOVWLZX      (R13)(DX*2), BX \
	SHLQ         $32, BX \
	ORQ          BX, AX \
	MOVWLZX      (R13)(R11*1), BX \
	SHLQ         $48, BX \
	ORQ          BX, AX \
	VMOVQ        AX, X6 \
	VPBROADCASTQ X6, X6 \
	VCVTPH2PS    X6, Y6

// A80 loads the Q8_0 activation block at (R12): scale into Y6 (times the
// row scales), quants into Y5.
#define A80 \
	VPBROADCASTW (R12), X4 \
	VCVTPH2PS    X4, Y4 \
	VMULPS       Y4, Y6, Y6 \
	VMOVDQU      2(R12), Y5

// OFFSETSUMS sets Y9 to off·(activation pair sums), folded as HADD4W folds
// the rows, for formats whose quants are stored with an offset.
#define OFFSETSUMS(off) \
	VMOVDQU    off, Y9 \
	VPMADDUBSW Y5, Y9, Y9 \
	VPHADDW    Y9, Y9, Y9 \
	VPHADDW    Y9, Y9, Y9

// NIBBLES sets Y7 to the 32 unsigned 4-bit quants of the 16 bytes at q.
#define NIBBLES(q) \
	VBROADCASTI128 q, Y7 \
	VPSRLVD        Y13, Y7, Y7 \
	VPAND          Y12, Y7, Y7

// FIFTHBIT adds 16 to the quants in Y7 whose bit is set in the qh word at h.
#define FIFTHBIT(h) \
	VPBROADCASTD h, Y8 \
	VPSHUFB      qhBytes<>(SB), Y8, Y8 \
	VPAND        Y14, Y8, Y8 \
	VPCMPEQB     Y14, Y8, Y8 \
	VPAND        sixteens8<>(SB), Y8, Y8 \
	VPOR         Y8, Y7, Y7

// HADD4W folds the int16 pair products of rows 0–3 (Y0–Y3) into Y0, row r
// in words 2r, 2r+1 of each 128-bit lane. Each word then holds four pair
// products; with unsigned quants ≤ 31 that is at most 4·2·31·127 < 2¹⁵.
#define HADD4W \
	VPHADDW Y1, Y0, Y0 \
	VPHADDW Y3, Y2, Y2 \
	VPHADDW Y2, Y0, Y0

// FMA4 converts the int32 row sums in Y0 and adds them times Y6 to Y10.
#define FMA4 \
	VCVTDQ2PS   Y0, Y0 \
	VFMADD231PS Y6, Y0, Y10

// ---- Q5_0 · Q8_0 with a table of the activation's share ----
// Q5_0 is limited by its vector work rather than by memory, so the
// activation's share of each block (d as float32 and the offset sums of
// OFFSETSUMS) is worked out once per call instead of once per four rows,
// into a table in the frame: d of block b at 4b(SP), its offset sums at
// 2048+32b(SP). CX runs over 4b. The rows' scales are gathered with
// VPINSRD (d and the first half of qh convert together; VPERMPS keeps the
// d lanes). Prefetching every other block (44 bytes, less than a line)
// still reaches every line and measured a little faster.

// FIFTHBITR is FIFTHBIT with 0x10 bytes in Y9.
#define FIFTHBITR(h) \
	VPBROADCASTD h, Y8 \
	VPSHUFB      qhBytes<>(SB), Y8, Y8 \
	VPAND        Y14, Y8, Y8 \
	VPCMPEQB     Y14, Y8, Y8 \
	VPAND        Y9, Y8, Y8 \
	VPOR         Y8, Y7, Y7

// ACTD stores the d of the activation block at R12 as float32 at
// (SP)(CX*1).
#define ACTD \
	MOVWLZX   (R12), AX \
	VMOVD     AX, X4 \
	VCVTPH2PS X4, X4 \
	VMOVSS    X4, (SP)(CX*1)

// Q5_0TAB is the body of the table kernel.
#define Q5_0TAB \
	LOADARGS \
	MOVQ    R8, R12 \
	XORQ    CX, CX \
	SHLQ    $2, R9 \
	VMOVDQU sixteens8<>(SB), Y9 \
table: \
	ACTD \
	VPMADDUBSW 2(R12), Y9, Y8 \
	VPHADDW    Y8, Y8, Y8 \
	VPHADDW    Y8, Y8, Y8 \
	VMOVDQU    Y8, 2048(SP)(CX*8) \
	ADDQ       $34, R12 \
	ADDQ       $4, CX \
	CMPQ       CX, R9 \
	JB         table \
group: \
	NEXTGROUP(done, four, far) \
	XORQ CX, CX \
block: \
	TESTQ        $4, CX \
	JNZ          odd \
	PREFETCHT0   (R14) \
	PREFETCHT0   (R14)(DX*1) \
	PREFETCHT0   (R14)(DX*2) \
	PREFETCHT0   (R14)(R11*1) \
odd: \
	ADDQ         $22, R14 \
	VMOVD        (R13), X6 \
	VPINSRD      $1, (R13)(DX*1), X6, X6 \
	VPINSRD      $2, (R13)(DX*2), X6, X6 \
	VPINSRD      $3, (R13)(R11*1), X6, X6 \
	VCVTPH2PS    X6, Y6 \
	VMOVDQU      evenLanes<>(SB), Y4 \
	VPERMPS      Y6, Y4, Y6 \
	VBROADCASTSS (SP)(CX*1), Y4 \
	VMULPS       Y4, Y6, Y6 \
	VMOVDQU      2(R12), Y5 \
	NIBBLES(6(R13)) \
	FIFTHBITR(2(R13)) \
	VPMADDUBSW   Y5, Y7, Y0 \
	NIBBLES(6(R13)(DX*1)) \
	FIFTHBITR(2(R13)(DX*1)) \
	VPMADDUBSW   Y5, Y7, Y1 \
	NIBBLES(6(R13)(DX*2)) \
	FIFTHBITR(2(R13)(DX*2)) \
	VPMADDUBSW   Y5, Y7, Y2 \
	NIBBLES(6(R13)(R11*1)) \
	FIFTHBITR(2(R13)(R11*1)) \
	VPMADDUBSW   Y5, Y7, Y3 \
	HADD4W \
	VPSUBW       2048(SP)(CX*8), Y0, Y0 \
	VPMADDWD     Y15, Y0, Y0 \
	FMA4 \
	ADDQ         $34, R12 \
	ADDQ         $22, R13 \
	ADDQ         $4, CX \
	CMPQ         CX, R9 \
	JB           block \
	STOREGROUP(group, single) \
done: \
	VZEROUPPER \
	RET

// ---- Q4_0 and Q5_0 · Q8_0 over rows interleaved four at a time ----
// See interleave_amd64.go for the layout: per block the four rows' d, for
// Q5_0 their fifth bits in two qwords, then their quants, so the weights
// are one stream. Rows go in pairs: one 32-byte load holds two rows'
// quants, whose low nibbles (elements 0–15 of both rows) and high nibbles
// (16–31) meet activation vectors that repeat elements 0–15 and 16–31 in
// both 128-bit lanes, and add up to one vector of both rows' int16 sums.
// One VPHADDW then folds the two pairs into [row 0, row 2 | row 1, row 3],
// a quarter of the four-row fold's work. A fifth-bit qword broadcast and
// shifted right (for elements 0–15) or left (16–31) by a count per qword
// lane leaves every element's bit at bit 4 of its byte. The activation's
// share of each block — d as float32 at 4b(SP), and at 2048+96b(SP) the
// offset sums in the fold's word order and the two repeated halves — is
// worked out once per call. Prefetching into L2 (T2) a few KiB ahead
// measured best; into L1 it held up to the line fill buffers.
//
// Registers: DI out, R13 weights, R8 activation row, R9 4·blocks, R10
// groups left, R12 activation cursor, R11 block table cursor, CX 4·block;
// Y6 scales, Y10 accumulator [r0 r0 r2 r2 | r1 r1 r3 r3] (two partial
// sums a row), Y9 0x10 bytes (the offset bytes while the table is made),
// Y11 Y14 left and right shift counts, Y12 0x0f bytes, X13 the scale
// shuffle, Y15 int16 ones.

DATA x4Right<>+0(SB)/8, $0
DATA x4Right<>+8(SB)/8, $1
DATA x4Right<>+16(SB)/8, $2
DATA x4Right<>+24(SB)/8, $3
GLOBL x4Right<>(SB), RODATA|NOPTR, $32

DATA x4Left<>+0(SB)/8, $4
DATA x4Left<>+8(SB)/8, $3
DATA x4Left<>+16(SB)/8, $2
DATA x4Left<>+24(SB)/8, $1
GLOBL x4Left<>(SB), RODATA|NOPTR, $32

// x4Scales turns the four rows' fp16 d into [d0 d0 d2 d2 d1 d1 d3 d3],
// the accumulator's lane order.
DATA x4Scales<>+0(SB)/8, $0x0504050401000100
DATA x4Scales<>+8(SB)/8, $0x0706070603020302
GLOBL x4Scales<>(SB), RODATA|NOPTR, $16

// Q4X4PAIR sets P to the int16 sums of the row pair whose quants are at q
// (T1 is clobbered).
#define Q4X4PAIR(q, h, P, T1) \
	VMOVDQU    q, T1 \
	VPAND      Y12, T1, P \
	VPSRLW     $4, T1, T1 \
	VPAND      Y12, T1, T1 \
	VPMADDUBSW 32(R11), P, P \
	VPMADDUBSW 64(R11), T1, T1 \
	VPADDW     T1, P, P

// Q5X4PAIR is Q4X4PAIR with the fifth bits of the qword at h (Y8 and T2
// are clobbered too).
#define Q5X4PAIR(q, h, P, T1) \
	VMOVDQU      q, T1 \
	VPAND        Y12, T1, P \
	VPSRLW       $4, T1, T1 \
	VPAND        Y12, T1, T1 \
	VPBROADCASTQ h, Y7 \
	VPSRLVQ      Y14, Y7, Y8 \
	VPAND        Y9, Y8, Y8 \
	VPOR         Y8, P, P \
	VPSLLVQ      Y11, Y7, Y7 \
	VPAND        Y9, Y7, Y7 \
	VPOR         Y7, T1, T1 \
	VPMADDUBSW   32(R11), P, P \
	VPMADDUBSW   64(R11), T1, T1 \
	VPADDW       T1, P, P

// X4GEMV is the body of an interleaved kernel: off the quants' offset
// bytes, bb the interleaved block size, qs where the quants start in it,
// PAIR the pair macro.
#define X4GEMV(off, bb, qs, PAIR) \
	MOVQ    out+0(FP), DI \
	MOVQ    w+8(FP), R13 \
	MOVQ    a+16(FP), R8 \
	MOVQ    nb+24(FP), R9 \
	MOVQ    groups+32(FP), R10 \
	VMOVDQU low4<>(SB), Y12 \
	VMOVDQU x4Right<>(SB), Y14 \
	VMOVDQU x4Left<>(SB), Y11 \
	VMOVDQU x4Scales<>(SB), X13 \
	VMOVDQU ones16<>(SB), Y15 \
	VMOVDQU off, Y9 \
	MOVQ    R8, R12 \
	LEAQ    2048(SP), R11 \
	XORQ    CX, CX \
	SHLQ    $2, R9 \
table: \
	ACTD \
	VBROADCASTI128 2(R12), Y4 \
	VBROADCASTI128 18(R12), Y5 \
	VMOVDQU        Y4, 32(R11) \
	VMOVDQU        Y5, 64(R11) \
	VPMADDUBSW     Y4, Y9, Y4 \
	VPMADDUBSW     Y5, Y9, Y5 \
	VPADDW         Y5, Y4, Y4 \
	VPHADDW        Y4, Y4, Y4 \
	VMOVDQU        Y4, (R11) \
	ADDQ           $34, R12 \
	ADDQ           $96, R11 \
	ADDQ           $4, CX \
	CMPQ           CX, R9 \
	JB             table \
	VMOVDQU        sixteens8<>(SB), Y9 \
group: \
	TESTQ  R10, R10 \
	JZ     done \
	VXORPS Y10, Y10, Y10 \
	LEAQ   2048(SP), R11 \
	XORQ   CX, CX \
block: \
	PREFETCHT2   4096(R13) \
	PREFETCHT2   4160(R13) \
	VPBROADCASTQ (R13), X6 \
	VPSHUFB      X13, X6, X6 \
	VCVTPH2PS    X6, Y6 \
	VBROADCASTSS (SP)(CX*1), Y4 \
	VMULPS       Y4, Y6, Y6 \
	PAIR(qs(R13), 8(R13), Y0, Y1) \
	PAIR((qs+32)(R13), 16(R13), Y2, Y3) \
	VPHADDW      Y2, Y0, Y0 \
	VPSUBW       (R11), Y0, Y0 \
	VPMADDWD     Y15, Y0, Y0 \
	VCVTDQ2PS    Y0, Y0 \
	VFMADD231PS  Y6, Y0, Y10 \
	ADDQ         $bb, R13 \
	ADDQ         $96, R11 \
	ADDQ         $4, CX \
	CMPQ         CX, R9 \
	JB           block \
	VHADDPS      Y10, Y10, Y10 \
	VEXTRACTF128 $1, Y10, X1 \
	VUNPCKLPS    X1, X10, X0 \
	VMOVUPS      X0, (DI) \
	ADDQ         $16, DI \
	DECQ         R10 \
	JMP          group \
done: \
	VZEROUPPER \
	RET

// ---- Q8_0 · Q8_0 ----
// |w| times w's sign applied to a (VPSIGNB) keeps each product while giving
// VPMADDUBSW the unsigned operand it needs; a never holds −128 (w may).
// Pair products reach 2·128·127, so rows are folded after widening to int32.

#define Q80SUM(q, dst) \
	VPABSB     q, Y7 \
	VPSIGNB    q, Y5, Y8 \
	VPMADDUBSW Y8, Y7, Y7 \
	VPMADDWD   Y15, Y7, dst

// func gemvQ8_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
TEXT ·gemvQ8_0AVX2(SB), NOSPLIT, $0-48
	LOADARGS

group:
	NEXTGROUP(done, four, far)
	MOVQ R9, CX

block:
	PREFETCHROWS(34)
	SCALES4
	A80
	Q80SUM(2(R13), Y0)
	Q80SUM(2(R13)(DX*1), Y1)
	Q80SUM(2(R13)(DX*2), Y2)
	Q80SUM(2(R13)(R11*1), Y3)
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPHADDD Y2, Y0, Y0
	FMA4
	ADDQ    $34, R12
	ADDQ    $34, R13
	DECQ    CX
	JNZ     block

	STOREGROUP(group, single)

done:
	VZEROUPPER
	RET

// ---- Q4_0 · Q8_0 and Q5_0 · Q8_0 ----
// The quants are used unsigned (0…15, 0…31) so VPMADDUBSW takes them as
// they are; the offset (8 or 16) times the activation sums is subtracted
// after the rows are folded, once for all four.

// func gemvQ4_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
TEXT ·gemvQ4_0AVX2(SB), NOSPLIT, $0-48
	LOADARGS

group:
	NEXTGROUP(done, four, far)
	MOVQ R9, CX

block:
	PREFETCHROWS(18)
	SCALES4
	A80
	OFFSETSUMS(eights8<>(SB))
	NIBBLES(2(R13))
	VPMADDUBSW Y5, Y7, Y0
	NIBBLES(2(R13)(DX*1))
	VPMADDUBSW Y5, Y7, Y1
	NIBBLES(2(R13)(DX*2))
	VPMADDUBSW Y5, Y7, Y2
	NIBBLES(2(R13)(R11*1))
	VPMADDUBSW Y5, Y7, Y3
	HADD4W
	VPSUBW     Y9, Y0, Y0
	VPMADDWD   Y15, Y0, Y0
	FMA4
	ADDQ       $34, R12
	ADDQ       $18, R13
	DECQ       CX
	JNZ        block

	STOREGROUP(group, single)

done:
	VZEROUPPER
	RET

// func gemvQ5_0AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
TEXT ·gemvQ5_0AVX2(SB), NOSPLIT, $0-48
	LOADARGS

group:
	NEXTGROUP(done, four, far)
	MOVQ R9, CX

block:
	PREFETCHROWS(22)
	SCALES4
	A80
	OFFSETSUMS(sixteens8<>(SB))
	NIBBLES(6(R13))
	FIFTHBIT(2(R13))
	VPMADDUBSW Y5, Y7, Y0
	NIBBLES(6(R13)(DX*1))
	FIFTHBIT(2(R13)(DX*1))
	VPMADDUBSW Y5, Y7, Y1
	NIBBLES(6(R13)(DX*2))
	FIFTHBIT(2(R13)(DX*2))
	VPMADDUBSW Y5, Y7, Y2
	NIBBLES(6(R13)(R11*1))
	FIFTHBIT(2(R13)(R11*1))
	VPMADDUBSW Y5, Y7, Y3
	HADD4W
	VPSUBW     Y9, Y0, Y0
	VPMADDWD   Y15, Y0, Y0
	FMA4
	ADDQ       $34, R12
	ADDQ       $22, R13
	DECQ       CX
	JNZ        block

	STOREGROUP(group, single)

done:
	VZEROUPPER
	RET

// func gemvQ5_0TabAVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
//
// gemvQ5_0AVX2 for rows of at most 512 blocks (see Q5_0TAB).
TEXT ·gemvQ5_0TabAVX2(SB), $18432-48
	Q5_0TAB

// ---- Q4_1 · Q8_1 and Q5_1 · Q8_1 ----
// Σ(d·q + m)·(e·a) = d·e·Σq·a + m·s with s = e·Σa from the Q8_1 block. The
// rows' (d, m) pairs and the activation's (e, s) convert together to
// [d0·e, m0·s, d1·e, m1·s, …]; its even lanes scale the quant sums and the
// whole vector goes into Y11, whose odd lanes collect Σm·s per row.

// A81 sets Y6 to the d·e of rows 0–3 (as SCALES4 lays them out) and Y5 to
// the activation quants, and adds [d0·e, m0·s, …] to Y11.
#define A81 \
	VMOVD        (R13), X6 \
	VPINSRD      $1, (R13)(DX*1), X6, X6 \
	VPINSRD      $2, (R13)(DX*2), X6, X6 \
	VPINSRD      $3, (R13)(R11*1), X6, X6 \
	VCVTPH2PS    X6, Y6 \
	VPBROADCASTD (R12), X4 \
	VCVTPH2PS    X4, Y4 \
	VMULPS       Y4, Y6, Y6 \
	VADDPS       Y6, Y11, Y11 \
	VPERMPS      Y6, Y9, Y6 \
	VMOVDQU      4(R12), Y5

// SIDESUMS adds row r's Σm·s (lane 2r+1 of Y11) to lane r of Y10 (the VEX
// 128-bit move clears the upper half).
#define SIDESUMS \
	VMOVDQU oddLanes<>(SB), Y7 \
	VPERMPS Y11, Y7, Y11 \
	VMOVAPS X11, X11 \
	VADDPS  Y11, Y10, Y10

// func gemvQ4_1AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
TEXT ·gemvQ4_1AVX2(SB), NOSPLIT, $0-48
	LOADARGS
	VMOVDQU evenLanes<>(SB), Y9

group:
	NEXTGROUP(done, four, far)
	MOVQ R9, CX

block:
	PREFETCHROWS(20)
	A81
	NIBBLES(4(R13))
	VPMADDUBSW Y5, Y7, Y0
	NIBBLES(4(R13)(DX*1))
	VPMADDUBSW Y5, Y7, Y1
	NIBBLES(4(R13)(DX*2))
	VPMADDUBSW Y5, Y7, Y2
	NIBBLES(4(R13)(R11*1))
	VPMADDUBSW Y5, Y7, Y3
	HADD4W
	VPMADDWD   Y15, Y0, Y0
	FMA4
	ADDQ       $36, R12
	ADDQ       $20, R13
	DECQ       CX
	JNZ        block

	SIDESUMS
	STOREGROUP(group, single)

done:
	VZEROUPPER
	RET

// func gemvQ5_1AVX2(out *float32, w *byte, rowBytes int, a *byte, nb, rows int)
TEXT ·gemvQ5_1AVX2(SB), NOSPLIT, $0-48
	LOADARGS
	VMOVDQU evenLanes<>(SB), Y9

group:
	NEXTGROUP(done, four, far)
	MOVQ R9, CX

block:
	PREFETCHROWS(24)
	A81
	NIBBLES(8(R13))
	FIFTHBIT(4(R13))
	VPMADDUBSW Y5, Y7, Y0
	NIBBLES(8(R13)(DX*1))
	FIFTHBIT(4(R13)(DX*1))
	VPMADDUBSW Y5, Y7, Y1
	NIBBLES(8(R13)(DX*2))
	FIFTHBIT(4(R13)(DX*2))
	VPMADDUBSW Y5, Y7, Y2
	NIBBLES(8(R13)(R11*1))
	FIFTHBIT(4(R13)(R11*1))
	VPMADDUBSW Y5, Y7, Y3
	HADD4W
	VPMADDWD   Y15, Y0, Y0
	FMA4
	ADDQ       $36, R12
	ADDQ       $24, R13
	DECQ       CX
	JNZ        block

	SIDESUMS
	STOREGROUP(group, single)

done:
	VZEROUPPER
	RET
// func gemvQ4_0x4AVX2(out *float32, w *byte, a *byte, nb, groups int)
TEXT ·gemvQ4_0x4AVX2(SB), $51200-40
	X4GEMV(eights8<>(SB), 72, 8, Q4X4PAIR)

// func gemvQ5_0x4AVX2(out *float32, w *byte, a *byte, nb, groups int)
TEXT ·gemvQ5_0x4AVX2(SB), $51200-40
	X4GEMV(sixteens8<>(SB), 88, 24, Q5X4PAIR)
