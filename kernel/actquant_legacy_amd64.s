//go:build amd64 && !purego

#include "textflag.h"

// Activation quantizers Q8_0 and Q8_1 (AVX2 + F16C), one block per pass:
//
//	func quantizeQ8_xAVX2(dst *byte, src *float32, nb int)
//
// Per block of 32 floats in Y0–Y3: amax in every lane of Y4, id = 127/amax
// in Y5, d = amax/127 in X6's low float, the rounded int32 quants back in
// Y0–Y3. id is replaced by 0 where it is +Inf: for amax = 0 that is what the
// reference does, and for amax < 127/MaxFloat32 the reference's int8(±Inf or
// NaN) gives 0 on amd64 as well, where VCVTPS2DQ would give −128. VROUNDPS
// mode 0 is round half to even, whatever MXCSR says; the packs cannot
// saturate as |q| ≤ 127.

DATA absMask<>+0(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+8(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+16(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $32

DATA f127<>+0(SB)/4, $127.0
GLOBL f127<>(SB), RODATA|NOPTR, $4

DATA fInf<>+0(SB)/4, $0x7f800000
GLOBL fInf<>(SB), RODATA|NOPTR, $4

// packPerm undoes the lane interleaving of VPACKSSDW + VPACKSSWB.
DATA packPerm<>+0(SB)/8, $0x0000000400000000
DATA packPerm<>+8(SB)/8, $0x0000000500000001
DATA packPerm<>+16(SB)/8, $0x0000000600000002
DATA packPerm<>+24(SB)/8, $0x0000000700000003
GLOBL packPerm<>(SB), RODATA|NOPTR, $32

#define QSETUP \
	MOVQ         dst+0(FP), DI \
	MOVQ         src+8(FP), SI \
	MOVQ         nb+16(FP), CX \
	VMOVDQU      absMask<>(SB), Y12 \
	VBROADCASTSS f127<>(SB), Y13 \
	VMOVDQU      packPerm<>(SB), Y14 \
	VBROADCASTSS fInf<>(SB), Y11

#define QBLOCK \
	VMOVUPS    (SI), Y0 \
	VMOVUPS    32(SI), Y1 \
	VMOVUPS    64(SI), Y2 \
	VMOVUPS    96(SI), Y3 \
	VANDPS     Y12, Y0, Y4 \
	VANDPS     Y12, Y1, Y5 \
	VANDPS     Y12, Y2, Y6 \
	VANDPS     Y12, Y3, Y7 \
	VMAXPS     Y5, Y4, Y4 \
	VMAXPS     Y7, Y6, Y6 \
	VMAXPS     Y6, Y4, Y4 \
	VPERM2F128 $1, Y4, Y4, Y5 \
	VMAXPS     Y5, Y4, Y4 \
	VPERMILPS  $0x4e, Y4, Y5 \
	VMAXPS     Y5, Y4, Y4 \
	VPERMILPS  $0xb1, Y4, Y5 \
	VMAXPS     Y5, Y4, Y4 \
	VDIVPS     Y4, Y13, Y5 \
	VCMPPS     $1, Y11, Y5, Y6 \
	VANDPS     Y6, Y5, Y5 \
	VDIVSS     X13, X4, X6 \
	VMULPS     Y5, Y0, Y0 \
	VMULPS     Y5, Y1, Y1 \
	VMULPS     Y5, Y2, Y2 \
	VMULPS     Y5, Y3, Y3 \
	VROUNDPS   $0, Y0, Y0 \
	VROUNDPS   $0, Y1, Y1 \
	VROUNDPS   $0, Y2, Y2 \
	VROUNDPS   $0, Y3, Y3 \
	VCVTPS2DQ  Y0, Y0 \
	VCVTPS2DQ  Y1, Y1 \
	VCVTPS2DQ  Y2, Y2 \
	VCVTPS2DQ  Y3, Y3

// QSTORE packs the quants in Y0–Y3 to 32 bytes at q.
#define QSTORE(q) \
	VPACKSSDW Y1, Y0, Y0 \
	VPACKSSDW Y3, Y2, Y2 \
	VPACKSSWB Y2, Y0, Y0 \
	VPERMD    Y0, Y14, Y0 \
	VMOVDQU   Y0, q

// func quantizeQ8_0AVX2(dst *byte, src *float32, nb int)
TEXT ·quantizeQ8_0AVX2(SB), NOSPLIT, $0-24
	QSETUP

q80qloop:
	QBLOCK
	VCVTPS2PH $0, X6, X7
	VMOVD     X7, AX
	MOVW      AX, (DI)
	QSTORE(2(DI))
	ADDQ      $128, SI
	ADDQ      $34, DI
	DECQ      CX
	JNZ       q80qloop
	VZEROUPPER
	RET

// func quantizeQ8_1AVX2(dst *byte, src *float32, nb int)
TEXT ·quantizeQ8_1AVX2(SB), NOSPLIT, $0-24
	QSETUP

q81qloop:
	QBLOCK
	VCVTPS2PH    $0, X6, X7
	VMOVD        X7, AX
	MOVW         AX, (DI)
	VPADDD       Y1, Y0, Y8
	VPADDD       Y3, Y2, Y9
	VPADDD       Y9, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD       X9, X8, X8
	VPHADDD      X8, X8, X8
	VPHADDD      X8, X8, X8
	VCVTDQ2PS    X8, X8
	VMULSS       X8, X6, X8
	VCVTPS2PH    $0, X8, X8
	VMOVD        X8, AX
	MOVW         AX, 2(DI)
	QSTORE(4(DI))
	ADDQ         $128, SI
	ADDQ         $36, DI
	DECQ         CX
	JNZ          q81qloop
	VZEROUPPER
	RET
