//go:build amd64 && !purego

#include "textflag.h"

// Element-wise float32 kernels (AVX2 + FMA). Lengths are element counts;
// every function handles any length, the last n%8 elements with VEX scalar
// instructions (never legacy SSE, see engine notes on mixing penalties).

// func dotF32AVX2(a, b *float32, n int) float32
// Four 8-lane FMA accumulators, added pairwise at the end.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ        CX, $32
	JLT         dot8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dot8:
	CMPQ        CX, $8
	JLT         dotsum
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dot1:
	TESTQ       CX, CX
	JZ          dotend
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         dot1

dotend:
	VZEROUPPER
	VMOVSS X0, ret+24(FP)
	RET

// func axpyF32AVX2(y *float32, alpha float32, x *float32, n int)
// y += alpha·x with a rounded product and a rounded sum (no FMA), exactly as
// the Go loop y[i] += alpha*x[i] computes it.
TEXT ·axpyF32AVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	VBROADCASTSS alpha+8(FP), Y15
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX

axpy32:
	CMPQ    CX, $32
	JLT     axpy8
	VMULPS  (SI), Y15, Y0
	VMULPS  32(SI), Y15, Y1
	VMULPS  64(SI), Y15, Y2
	VMULPS  96(SI), Y15, Y3
	VADDPS  (DI), Y0, Y0
	VADDPS  32(DI), Y1, Y1
	VADDPS  64(DI), Y2, Y2
	VADDPS  96(DI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     axpy32

axpy8:
	CMPQ    CX, $8
	JLT     axpy1
	VMULPS  (SI), Y15, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     axpy8

axpy1:
	TESTQ  CX, CX
	JZ     axpyend
	VMULSS (SI), X15, X0
	VADDSS (DI), X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, SI
	ADDQ   $4, DI
	DECQ   CX
	JMP    axpy1

axpyend:
	VZEROUPPER
	RET

// func sumSquaresF32AVX2(x *float32, n int) float64
// Σ float64(x[i]·x[i]): each square rounded to float32, as ggml's RMSNorm
// does, then widened and summed in 16 float64 lanes.
TEXT ·sumSquaresF32AVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

ssq16:
	CMPQ         CX, $16
	JLT          ssq8
	VMOVUPS      (SI), Y4
	VMOVUPS      32(SI), Y6
	VMULPS       Y4, Y4, Y4
	VMULPS       Y6, Y6, Y6
	VCVTPS2PD    X4, Y5
	VEXTRACTF128 $1, Y4, X4
	VCVTPS2PD    X4, Y4
	VCVTPS2PD    X6, Y7
	VEXTRACTF128 $1, Y6, X6
	VCVTPS2PD    X6, Y6
	VADDPD       Y5, Y0, Y0
	VADDPD       Y4, Y1, Y1
	VADDPD       Y7, Y2, Y2
	VADDPD       Y6, Y3, Y3
	ADDQ         $64, SI
	SUBQ         $16, CX
	JMP          ssq16

ssq8:
	CMPQ         CX, $8
	JLT          ssqsum
	VMOVUPS      (SI), Y4
	VMULPS       Y4, Y4, Y4
	VCVTPS2PD    X4, Y5
	VEXTRACTF128 $1, Y4, X4
	VCVTPS2PD    X4, Y4
	VADDPD       Y5, Y0, Y0
	VADDPD       Y4, Y1, Y1
	ADDQ         $32, SI
	SUBQ         $8, CX

ssqsum:
	VADDPD       Y1, Y0, Y0
	VADDPD       Y3, Y2, Y2
	VADDPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0

ssq1:
	TESTQ     CX, CX
	JZ        ssqend
	VMOVSS    (SI), X1
	VMULSS    X1, X1, X1
	VCVTSS2SD X1, X1, X1
	VADDSD    X1, X0, X0
	ADDQ      $4, SI
	DECQ      CX
	JMP       ssq1

ssqend:
	VZEROUPPER
	VMOVSD X0, ret+16(FP)
	RET

// func scaleMulF32AVX2(dst, x *float32, s float32, w *float32, n int)
// dst = (x·s)·w, each product rounded to float32, as RMSNorm's Go loop.
TEXT ·scaleMulF32AVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	VBROADCASTSS s+16(FP), Y15
	MOVQ         w+24(FP), DX
	MOVQ         n+32(FP), CX

smul32:
	CMPQ    CX, $32
	JLT     smul8
	VMULPS  (SI), Y15, Y0
	VMULPS  32(SI), Y15, Y1
	VMULPS  64(SI), Y15, Y2
	VMULPS  96(SI), Y15, Y3
	VMULPS  (DX), Y0, Y0
	VMULPS  32(DX), Y1, Y1
	VMULPS  64(DX), Y2, Y2
	VMULPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     smul32

smul8:
	CMPQ    CX, $8
	JLT     smul1
	VMULPS  (SI), Y15, Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     smul8

smul1:
	TESTQ  CX, CX
	JZ     smulend
	VMULSS (SI), X15, X0
	VMULSS (DX), X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, SI
	ADDQ   $4, DX
	ADDQ   $4, DI
	DECQ   CX
	JMP    smul1

smulend:
	VZEROUPPER
	RET

// func addF32AVX2(dst, x *float32, n int)
TEXT ·addF32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

add32:
	CMPQ    CX, $32
	JLT     add8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS  (SI), Y0, Y0
	VADDPS  32(SI), Y1, Y1
	VADDPS  64(SI), Y2, Y2
	VADDPS  96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     add32

add8:
	CMPQ    CX, $8
	JLT     add1
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     add8

add1:
	TESTQ  CX, CX
	JZ     addend
	VMOVSS (DI), X0
	VADDSS (SI), X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, SI
	ADDQ   $4, DI
	DECQ   CX
	JMP    add1

addend:
	VZEROUPPER
	RET

// func weightedSumF32AVX2(out, w, v *float32, np, stride, cols int)
// out[j] = Σ_{p<np} w[p]·v[p·stride+j] for j < cols (a multiple of 8),
// accumulated in p order from zero with a rounded product and a rounded sum,
// exactly as clearing out and applying the Go AXPY for each p would. Column
// blocks of 64 stay in eight registers while p runs, so out is written once.
TEXT ·weightedSumF32AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ np+24(FP), CX
	MOVQ stride+32(FP), R9
	SHLQ $2, R9
	MOVQ cols+40(FP), BX

ws64:
	CMPQ   BX, $64
	JLT    ws8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   CX, R12

ws64p:
	TESTQ        R12, R12
	JZ           ws64store
	VBROADCASTSS (R10), Y15
	VMULPS       (R11), Y15, Y8
	VMULPS       32(R11), Y15, Y9
	VMULPS       64(R11), Y15, Y10
	VMULPS       96(R11), Y15, Y11
	VMULPS       128(R11), Y15, Y12
	VMULPS       160(R11), Y15, Y13
	VMULPS       192(R11), Y15, Y14
	VADDPS       Y8, Y0, Y0
	VMULPS       224(R11), Y15, Y8
	VADDPS       Y9, Y1, Y1
	VADDPS       Y10, Y2, Y2
	VADDPS       Y11, Y3, Y3
	VADDPS       Y12, Y4, Y4
	VADDPS       Y13, Y5, Y5
	VADDPS       Y14, Y6, Y6
	VADDPS       Y8, Y7, Y7
	ADDQ         $4, R10
	ADDQ         R9, R11
	DECQ         R12
	JMP          ws64p

ws64store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, DX
	SUBQ    $64, BX
	JMP     ws64

ws8:
	CMPQ   BX, $8
	JLT    wsend
	VXORPS Y0, Y0, Y0
	MOVQ   SI, R10
	MOVQ   DX, R11
	MOVQ   CX, R12

ws8p:
	TESTQ        R12, R12
	JZ           ws8store
	VBROADCASTSS (R10), Y15
	VMULPS       (R11), Y15, Y8
	VADDPS       Y8, Y0, Y0
	ADDQ         $4, R10
	ADDQ         R9, R11
	DECQ         R12
	JMP          ws8p

ws8store:
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, BX
	JMP     ws8

wsend:
	VZEROUPPER
	RET
