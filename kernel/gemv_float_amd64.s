//go:build amd64 && !purego

#include "textflag.h"

// Float gemv kernels (AVX2 + FMA + F16C). All three share one frame:
//
//	func gemvXXXAVX2(out *float32, w *byte, rowBytes int, a *byte, rows, n int)
//
// n is a positive multiple of 8. Registers:
//	DI out, SI first weight row of the current group, R9 rowBytes,
//	R10 3·rowBytes, R13 4·rowBytes, DX a, CX rows left, BX n;
//	inner loop: R8 weight cursor, R11 activation cursor, R12 elements left,
//	R14 prefetch address.
// Four rows at a time keep two accumulators each: row r in Y(2r), Y(2r+1).

#define GEMV_PROLOGUE \
	MOVQ out+0(FP), DI        \
	MOVQ w+8(FP), SI          \
	MOVQ rowBytes+16(FP), R9  \
	MOVQ a+24(FP), DX         \
	MOVQ rows+32(FP), CX      \
	MOVQ n+40(FP), BX         \
	LEAQ (R9)(R9*2), R10      \
	LEAQ (R9)(R9*1), R13      \
	ADDQ R13, R13

// PREFETCH_NEXT4 asks for the lines at the same offset in the next group's
// four rows. Rows of a few KiB are too short for the hardware prefetcher to
// lock on to, and this doubled the DRAM-bound speed of 4864×896 F16; past the
// last row the hints are harmless (prefetches never fault).
#define PREFETCH_NEXT4 \
	LEAQ       (R8)(R13*1), R14 \
	PREFETCHT0 (R14)            \
	PREFETCHT0 (R14)(R9*1)      \
	PREFETCHT0 (R14)(R9*2)      \
	PREFETCHT0 (R14)(R10*1)

#define ZERO8 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// REDUCE4 stores the four row sums held in Y0+Y1, Y2+Y3, Y4+Y5, Y6+Y7 to
// out[0..3]: the pairwise horizontal adds leave row r's sum in lane r.
#define REDUCE4 \
	VADDPS       Y1, Y0, Y0 \
	VADDPS       Y3, Y2, Y2 \
	VADDPS       Y5, Y4, Y4 \
	VADDPS       Y7, Y6, Y6 \
	VHADDPS      Y2, Y0, Y0 \
	VHADDPS      Y6, Y4, Y4 \
	VHADDPS      Y4, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVUPS      X0, (DI)

// REDUCE1 stores the sum of Y0+Y1 to out[0].
#define REDUCE1 \
	VADDPS       Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VMOVSS       X0, (DI)

// ---------------------------------------------------------------- F32 · F32

TEXT ·gemvF32AVX2(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE

f32rows4:
	CMPQ CX, $4
	JLT  f32rows1
	MOVQ SI, R8
	MOVQ DX, R11
	MOVQ BX, R12
	ZERO8

f32loop4:
	CMPQ        R12, $16
	JLT         f32tail4
	PREFETCH_NEXT4
	VMOVUPS     (R11), Y8
	VMOVUPS     32(R11), Y9
	VFMADD231PS (R8), Y8, Y0
	VFMADD231PS 32(R8), Y9, Y1
	VFMADD231PS (R8)(R9*1), Y8, Y2
	VFMADD231PS 32(R8)(R9*1), Y9, Y3
	VFMADD231PS (R8)(R9*2), Y8, Y4
	VFMADD231PS 32(R8)(R9*2), Y9, Y5
	VFMADD231PS (R8)(R10*1), Y8, Y6
	VFMADD231PS 32(R8)(R10*1), Y9, Y7
	ADDQ        $64, R8
	ADDQ        $64, R11
	SUBQ        $16, R12
	JMP         f32loop4

f32tail4:
	TESTQ       R12, R12
	JZ          f32done4
	VMOVUPS     (R11), Y8
	VFMADD231PS (R8), Y8, Y0
	VFMADD231PS (R8)(R9*1), Y8, Y2
	VFMADD231PS (R8)(R9*2), Y8, Y4
	VFMADD231PS (R8)(R10*1), Y8, Y6

f32done4:
	REDUCE4
	ADDQ $16, DI
	ADDQ R13, SI
	SUBQ $4, CX
	JMP  f32rows4

f32rows1:
	TESTQ  CX, CX
	JZ     f32end
	MOVQ   SI, R8
	MOVQ   DX, R11
	MOVQ   BX, R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f32loop1:
	CMPQ        R12, $16
	JLT         f32tail1
	VMOVUPS     (R11), Y8
	VMOVUPS     32(R11), Y9
	VFMADD231PS (R8), Y8, Y0
	VFMADD231PS 32(R8), Y9, Y1
	ADDQ        $64, R8
	ADDQ        $64, R11
	SUBQ        $16, R12
	JMP         f32loop1

f32tail1:
	TESTQ       R12, R12
	JZ          f32done1
	VMOVUPS     (R11), Y8
	VFMADD231PS (R8), Y8, Y0

f32done1:
	REDUCE1
	ADDQ $4, DI
	ADDQ R9, SI
	DECQ CX
	JMP  f32rows1

f32end:
	VZEROUPPER
	RET

// ---------------------------------------------------------------- F16 · F16

// Halves are widened with VCVTPH2PS (exact) and multiplied in f32 lanes.
TEXT ·gemvF16AVX2(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE

f16rows4:
	CMPQ CX, $4
	JLT  f16rows1
	MOVQ SI, R8
	MOVQ DX, R11
	MOVQ BX, R12
	ZERO8

f16loop4:
	CMPQ        R12, $16
	JLT         f16tail4
	PREFETCH_NEXT4
	VCVTPH2PS   (R11), Y8
	VCVTPH2PS   16(R11), Y9
	VCVTPH2PS   (R8), Y10
	VCVTPH2PS   16(R8), Y11
	VCVTPH2PS   (R8)(R9*1), Y12
	VCVTPH2PS   16(R8)(R9*1), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y9, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y9, Y3
	VCVTPH2PS   (R8)(R9*2), Y10
	VCVTPH2PS   16(R8)(R9*2), Y11
	VCVTPH2PS   (R8)(R10*1), Y12
	VCVTPH2PS   16(R8)(R10*1), Y13
	VFMADD231PS Y10, Y8, Y4
	VFMADD231PS Y11, Y9, Y5
	VFMADD231PS Y12, Y8, Y6
	VFMADD231PS Y13, Y9, Y7
	ADDQ        $32, R8
	ADDQ        $32, R11
	SUBQ        $16, R12
	JMP         f16loop4

f16tail4:
	TESTQ       R12, R12
	JZ          f16done4
	VCVTPH2PS   (R11), Y8
	VCVTPH2PS   (R8), Y10
	VCVTPH2PS   (R8)(R9*1), Y11
	VCVTPH2PS   (R8)(R9*2), Y12
	VCVTPH2PS   (R8)(R10*1), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y12, Y8, Y4
	VFMADD231PS Y13, Y8, Y6

f16done4:
	REDUCE4
	ADDQ $16, DI
	ADDQ R13, SI
	SUBQ $4, CX
	JMP  f16rows4

f16rows1:
	TESTQ  CX, CX
	JZ     f16end
	MOVQ   SI, R8
	MOVQ   DX, R11
	MOVQ   BX, R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f16loop1:
	CMPQ        R12, $16
	JLT         f16tail1
	VCVTPH2PS   (R11), Y8
	VCVTPH2PS   16(R11), Y9
	VCVTPH2PS   (R8), Y10
	VCVTPH2PS   16(R8), Y11
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y9, Y1
	ADDQ        $32, R8
	ADDQ        $32, R11
	SUBQ        $16, R12
	JMP         f16loop1

f16tail1:
	TESTQ       R12, R12
	JZ          f16done1
	VCVTPH2PS   (R11), Y8
	VCVTPH2PS   (R8), Y10
	VFMADD231PS Y10, Y8, Y0

f16done1:
	REDUCE1
	ADDQ $4, DI
	ADDQ R9, SI
	DECQ CX
	JMP  f16rows1

f16end:
	VZEROUPPER
	RET

// --------------------------------------------------------------- BF16 · BF16

// A bfloat16 is the top half of a float32. The main loop takes 16 elements
// (32 bytes) at once and splits them into even elements (dword << 16) and
// odd elements (dword & 0xFFFF0000); weights and activations are split the
// same way, so the lanes still pair matching elements. Y15 holds the mask.
TEXT ·gemvBF16AVX2(SB), NOSPLIT, $0-48
	GEMV_PROLOGUE
	VPCMPEQD Y15, Y15, Y15
	VPSLLD   $16, Y15, Y15

bf16rows4:
	CMPQ CX, $4
	JLT  bf16rows1
	MOVQ SI, R8
	MOVQ DX, R11
	MOVQ BX, R12
	ZERO8

bf16loop4:
	CMPQ        R12, $16
	JLT         bf16tail4
	PREFETCH_NEXT4
	VMOVDQU     (R11), Y8
	VPSLLD      $16, Y8, Y9
	VPAND       Y15, Y8, Y8
	VMOVDQU     (R8), Y10
	VMOVDQU     (R8)(R9*1), Y12
	VPSLLD      $16, Y10, Y11
	VPAND       Y15, Y10, Y10
	VPSLLD      $16, Y12, Y13
	VPAND       Y15, Y12, Y12
	VFMADD231PS Y11, Y9, Y0
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y13, Y9, Y2
	VFMADD231PS Y12, Y8, Y3
	VMOVDQU     (R8)(R9*2), Y10
	VMOVDQU     (R8)(R10*1), Y12
	VPSLLD      $16, Y10, Y11
	VPAND       Y15, Y10, Y10
	VPSLLD      $16, Y12, Y13
	VPAND       Y15, Y12, Y12
	VFMADD231PS Y11, Y9, Y4
	VFMADD231PS Y10, Y8, Y5
	VFMADD231PS Y13, Y9, Y6
	VFMADD231PS Y12, Y8, Y7
	ADDQ        $32, R8
	ADDQ        $32, R11
	SUBQ        $16, R12
	JMP         bf16loop4

	// Eight elements left: widen them in order (zero-extend, shift).
bf16tail4:
	TESTQ       R12, R12
	JZ          bf16done4
	VPMOVZXWD   (R11), Y8
	VPSLLD      $16, Y8, Y8
	VPMOVZXWD   (R8), Y10
	VPMOVZXWD   (R8)(R9*1), Y11
	VPMOVZXWD   (R8)(R9*2), Y12
	VPMOVZXWD   (R8)(R10*1), Y13
	VPSLLD      $16, Y10, Y10
	VPSLLD      $16, Y11, Y11
	VPSLLD      $16, Y12, Y12
	VPSLLD      $16, Y13, Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y12, Y8, Y4
	VFMADD231PS Y13, Y8, Y6

bf16done4:
	REDUCE4
	ADDQ $16, DI
	ADDQ R13, SI
	SUBQ $4, CX
	JMP  bf16rows4

bf16rows1:
	TESTQ  CX, CX
	JZ     bf16end
	MOVQ   SI, R8
	MOVQ   DX, R11
	MOVQ   BX, R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

bf16loop1:
	CMPQ        R12, $16
	JLT         bf16tail1
	VMOVDQU     (R11), Y8
	VPSLLD      $16, Y8, Y9
	VPAND       Y15, Y8, Y8
	VMOVDQU     (R8), Y10
	VPSLLD      $16, Y10, Y11
	VPAND       Y15, Y10, Y10
	VFMADD231PS Y11, Y9, Y0
	VFMADD231PS Y10, Y8, Y1
	ADDQ        $32, R8
	ADDQ        $32, R11
	SUBQ        $16, R12
	JMP         bf16loop1

bf16tail1:
	TESTQ       R12, R12
	JZ          bf16done1
	VPMOVZXWD   (R11), Y8
	VPSLLD      $16, Y8, Y8
	VPMOVZXWD   (R8), Y10
	VPSLLD      $16, Y10, Y10
	VFMADD231PS Y10, Y8, Y0

bf16done1:
	REDUCE1
	ADDQ $4, DI
	ADDQ R9, SI
	DECQ CX
	JMP  bf16rows1

bf16end:
	VZEROUPPER
	RET

// ------------------------------------------------------ F32 → F16 activations

// func f16FromF32AVX2(dst *byte, src *float32, n int)
// n is a positive multiple of 8. Immediate 0 selects round to nearest even
// regardless of MXCSR.
TEXT ·f16FromF32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cvtloop32:
	CMPQ      CX, $32
	JLT       cvtloop8
	VMOVUPS   (SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   64(SI), Y2
	VMOVUPS   96(SI), Y3
	VCVTPS2PH $0, Y0, (DI)
	VCVTPS2PH $0, Y1, 16(DI)
	VCVTPS2PH $0, Y2, 32(DI)
	VCVTPS2PH $0, Y3, 48(DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	SUBQ      $32, CX
	JMP       cvtloop32

cvtloop8:
	TESTQ     CX, CX
	JZ        cvtend
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JMP       cvtloop8

cvtend:
	VZEROUPPER
	RET
