//go:build amd64 && !purego

#include "textflag.h"

// Q8_K activation quantizer, bit-identical to tensor.QuantizeActivations
// (ggml's quantize_row_q8_K_ref). Per 256-float block:
//
//  1. amax = max |x| (NaNs never win: VMAXPS returns its second source, the
//     running maximum, when an input is NaN);
//  2. vmax = the first x with |x| = amax, iscale = −127/vmax;
//  3. q = min(127, nearest_int(iscale·x)) with ggml's nearest_int: the low 23
//     bits of the float32 sum iscale·x + 1.5·2²³, minus 2²²; kept as its low
//     byte, like the reference's int8 conversion (only NaN or infinite
//     products reach values outside −127…127);
//  4. bsums = sums of 16 consecutive q, d = 1/iscale.
//
// An all-zero (or all-NaN) block is written as zeros.

DATA kqAbs<>+0(SB)/4, $0x7fffffff
GLOBL kqAbs<>(SB), RODATA|NOPTR, $4

DATA kqMagic<>+0(SB)/4, $0x4b400000 // 12582912.0 = 1.5·2²³
GLOBL kqMagic<>(SB), RODATA|NOPTR, $4

DATA kqMant<>+0(SB)/4, $0x007fffff
GLOBL kqMant<>(SB), RODATA|NOPTR, $4

DATA kqHalfMant<>+0(SB)/4, $0x00400000
GLOBL kqHalfMant<>(SB), RODATA|NOPTR, $4

DATA kq127<>+0(SB)/4, $127
GLOBL kq127<>(SB), RODATA|NOPTR, $4

DATA kqByte<>+0(SB)/4, $0xff
GLOBL kqByte<>(SB), RODATA|NOPTR, $4

DATA kqMinus127<>+0(SB)/4, $0xc2fe0000 // −127.0
GLOBL kqMinus127<>(SB), RODATA|NOPTR, $4

DATA kqOne<>+0(SB)/4, $0x3f800000 // 1.0
GLOBL kqOne<>(SB), RODATA|NOPTR, $4

DATA kqOnes8<>+0(SB)/4, $0x01010101
GLOBL kqOnes8<>(SB), RODATA|NOPTR, $4

// kqPackOrder undoes the lane interleaving of VPACKUSDW + VPACKUSWB.
DATA kqPackOrder<>+0(SB)/8, $0x0000000400000000
DATA kqPackOrder<>+8(SB)/8, $0x0000000500000001
DATA kqPackOrder<>+16(SB)/8, $0x0000000600000002
DATA kqPackOrder<>+24(SB)/8, $0x0000000700000003
GLOBL kqPackOrder<>(SB), RODATA|NOPTR, $32

// QUANT8 quantizes the 8 floats at off(BX) into the dword lanes of r.
#define QUANT8(off, r) \
	VMULPS off(BX), Y2, r; \
	VADDPS Y14, r, r; \
	VPAND Y13, r, r; \
	VPSUBD Y12, r, r; \
	VPMINSD Y11, r, r; \
	VPAND Y10, r, r

// func quantQ8KAVX2(dst *byte, src *float32, nb int)
//
// Register use: DI output block, SI input block, CX blocks left, BX/DX/AX
// cursors; Y15 abs mask, Y14 1.5·2²³, Y13 0x7fffff, Y12 2²², Y11 127,
// Y10 0xff, Y9 pack order, Y8 0x01 bytes, Y2 iscale.
TEXT ·quantQ8KAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	VBROADCASTSS kqAbs<>(SB), Y15
	VBROADCASTSS kqMagic<>(SB), Y14
	VPBROADCASTD kqMant<>(SB), Y13
	VPBROADCASTD kqHalfMant<>(SB), Y12
	VPBROADCASTD kq127<>(SB), Y11
	VPBROADCASTD kqByte<>(SB), Y10
	VMOVDQU kqPackOrder<>(SB), Y9
	VPBROADCASTD kqOnes8<>(SB), Y8

block:
	// 1. amax in four running maxima.
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, BX
	LEAQ 1024(SI), DX

amax:
	VANDPS (BX), Y15, Y4
	VANDPS 32(BX), Y15, Y5
	VANDPS 64(BX), Y15, Y6
	VANDPS 96(BX), Y15, Y7
	VMAXPS Y0, Y4, Y0
	VMAXPS Y1, Y5, Y1
	VMAXPS Y2, Y6, Y2
	VMAXPS Y3, Y7, Y3
	ADDQ $128, BX
	CMPQ BX, DX
	JB   amax

	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVD X0, AX
	TESTL AX, AX
	JZ    zero

	// 2. The first element whose |x| equals amax.
	VBROADCASTSS X0, Y0
	MOVQ SI, BX

find:
	VANDPS (BX), Y15, Y4
	VCMPPS $0, Y0, Y4, Y4
	VMOVMSKPS Y4, AX
	TESTL AX, AX
	JNZ   found
	ADDQ  $32, BX
	JMP   find

found:
	BSFL AX, AX
	VMOVSS (BX)(AX*4), X1
	VMOVSS kqMinus127<>(SB), X2
	VDIVSS X1, X2, X2
	VMOVSS kqOne<>(SB), X3
	VDIVSS X2, X3, X3
	VMOVSS X3, (DI)
	VBROADCASTSS X2, Y2

	// 3. Quantize 32 floats per iteration into 32 bytes.
	MOVQ SI, BX
	LEAQ 4(DI), AX

quant:
	QUANT8(0, Y4)
	QUANT8(32, Y5)
	QUANT8(64, Y6)
	QUANT8(96, Y7)
	VPACKUSDW Y5, Y4, Y4
	VPACKUSDW Y7, Y6, Y6
	VPACKUSWB Y6, Y4, Y4
	VPERMD Y4, Y9, Y4
	VMOVDQU Y4, (AX)
	ADDQ $128, BX
	ADDQ $32, AX
	CMPQ BX, DX
	JB   quant

	// 4. bsums: pair sums of the stored bytes (VPMADDUSBW against ones),
	// then three rounds of VPHADDW leave the even-numbered sums in the low
	// lane and the odd ones in the high lane; interleave them.
	VPMADDUBSW 4(DI), Y8, Y0
	VPMADDUBSW 36(DI), Y8, Y1
	VPMADDUBSW 68(DI), Y8, Y2
	VPMADDUBSW 100(DI), Y8, Y3
	VPMADDUBSW 132(DI), Y8, Y4
	VPMADDUBSW 164(DI), Y8, Y5
	VPMADDUBSW 196(DI), Y8, Y6
	VPMADDUBSW 228(DI), Y8, Y7
	VPHADDW Y1, Y0, Y0
	VPHADDW Y3, Y2, Y2
	VPHADDW Y5, Y4, Y4
	VPHADDW Y7, Y6, Y6
	VPHADDW Y2, Y0, Y0
	VPHADDW Y6, Y4, Y4
	VPHADDW Y4, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU X2, 260(DI)
	VMOVDQU X3, 276(DI)
	JMP next

zero:
	VPXOR Y0, Y0, Y0
	VMOVDQU Y0, (DI)
	VMOVDQU Y0, 32(DI)
	VMOVDQU Y0, 64(DI)
	VMOVDQU Y0, 96(DI)
	VMOVDQU Y0, 128(DI)
	VMOVDQU Y0, 160(DI)
	VMOVDQU Y0, 192(DI)
	VMOVDQU Y0, 224(DI)
	VMOVDQU Y0, 256(DI)
	VMOVDQU X0, 276(DI)

next:
	ADDQ $1024, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  block

	VZEROUPPER
	RET
