//go:build amd64 && !purego

#include "textflag.h"

// Exp-based element-wise kernels (AVX2 + FMA): SwiGLU and the three passes
// of softmax. Every function handles any length n ≥ 1; the last n%8
// elements go through masked loads and stores (VMASKMOVPS) so that they get
// the same vector exp, or through VEX scalar instructions (never legacy
// SSE, see the engine notes on mixing penalties).

// Scalar constants of EXP8, broadcast into Y6–Y15 by EXPSETUP.
DATA expConst<>+0(SB)/4, $0x42b20000  // 89: above ln(MaxFloat32), so e^x rounds to +Inf
DATA expConst<>+4(SB)/4, $0xc2d00000  // −104: below ln(2^−150), so e^x rounds to 0
DATA expConst<>+8(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expConst<>+12(SB)/4, $0x4b400000 // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
DATA expConst<>+16(SB)/4, $0x3f317200 // ln2hi = 0.693145751953125, 15 significant bits: n·ln2hi is exact
DATA expConst<>+20(SB)/4, $0x35bfbe8e // ln2lo = float32(ln2 − ln2hi)
DATA expConst<>+24(SB)/4, $0x3f800000 // 1.0
DATA expConst<>+28(SB)/4, $0x3ab68883 // c6
DATA expConst<>+32(SB)/4, $0x3c0905b6 // c5
DATA expConst<>+36(SB)/4, $0x3d2aaa8d // c4
GLOBL expConst<>(SB), RODATA|NOPTR, $40

// The polynomial's remaining coefficients, used as memory operands.
DATA expC3<>+0(SB)/8, $0x3e2aaa6e3e2aaa6e // c3
DATA expC3<>+8(SB)/8, $0x3e2aaa6e3e2aaa6e
DATA expC3<>+16(SB)/8, $0x3e2aaa6e3e2aaa6e
DATA expC3<>+24(SB)/8, $0x3e2aaa6e3e2aaa6e
GLOBL expC3<>(SB), RODATA|NOPTR, $32

DATA expC2<>+0(SB)/8, $0x3f0000003f000000 // c2 = 0.5
DATA expC2<>+8(SB)/8, $0x3f0000003f000000
DATA expC2<>+16(SB)/8, $0x3f0000003f000000
DATA expC2<>+24(SB)/8, $0x3f0000003f000000
GLOBL expC2<>(SB), RODATA|NOPTR, $32

DATA expSign<>+0(SB)/8, $0x8000000080000000
DATA expSign<>+8(SB)/8, $0x8000000080000000
DATA expSign<>+16(SB)/8, $0x8000000080000000
DATA expSign<>+24(SB)/8, $0x8000000080000000
GLOBL expSign<>(SB), RODATA|NOPTR, $32

// Eight all-ones lanes then eight zero lanes: the 32 bytes at
// expMask<>+32−4r select the first r lanes.
DATA expMask<>+0(SB)/8, $0xffffffffffffffff
DATA expMask<>+8(SB)/8, $0xffffffffffffffff
DATA expMask<>+16(SB)/8, $0xffffffffffffffff
DATA expMask<>+24(SB)/8, $0xffffffffffffffff
DATA expMask<>+32(SB)/8, $0
DATA expMask<>+40(SB)/8, $0
DATA expMask<>+48(SB)/8, $0
DATA expMask<>+56(SB)/8, $0
GLOBL expMask<>(SB), RODATA|NOPTR, $64

#define EXPSETUP \
	VBROADCASTSS expConst<>+0(SB), Y6   \
	VBROADCASTSS expConst<>+4(SB), Y7   \
	VBROADCASTSS expConst<>+8(SB), Y8   \
	VBROADCASTSS expConst<>+12(SB), Y9  \
	VBROADCASTSS expConst<>+16(SB), Y10 \
	VBROADCASTSS expConst<>+20(SB), Y11 \
	VBROADCASTSS expConst<>+24(SB), Y12 \
	VBROADCASTSS expConst<>+28(SB), Y13 \
	VBROADCASTSS expConst<>+32(SB), Y14 \
	VBROADCASTSS expConst<>+36(SB), Y15

// EXP8 sets x = e^x in 8 lanes, clobbering Y1–Y3; Y6–Y15 hold EXPSETUP's
// constants. e^x = 2^n · e^r with n = round(x·log2e) and r = x − n·ln2 in
// [−ln2/2, ln2/2]; e^r ≈ 1 + r + r²·(c2 + c3·r + … + c6·r⁴), whose
// coefficients interpolate (e^r − 1 − r)/r² at the 5 Chebyshev nodes of
// [−0.3466, 0.3466] (truncation error ~1e-9, far below float32 rounding).
// 2^n is applied as 2^(n>>1) · 2^(n−n>>1): both factors are normal for the
// clamped x, the first product is exact, and the second rounds once, to
// +Inf on overflow and to the nearest subnormal or 0 on underflow.
// VMINPS/VMAXPS return their second source (x) when it is NaN, so NaN
// propagates through the clamp and the polynomial.
#define EXP8(x) \
	VMINPS       x, Y6, x          \ // x = min(89, x)
	VMAXPS       x, Y7, x          \ // x = max(−104, x)
	VMOVAPS      Y9, Y1            \
	VFMADD231PS  Y8, x, Y1         \ // Y1 = x·log2e + 1.5·2^23
	VSUBPS       Y9, Y1, Y2        \ // Y2 = n as a float
	VFNMADD231PS Y10, Y2, x        \ // x −= n·ln2hi (exact)
	VFNMADD231PS Y11, Y2, x        \ // x = r = x − n·ln2lo
	VPSUBD       Y9, Y1, Y1        \ // Y1 = n as an int32
	VPSRAD       $1, Y1, Y2        \ // Y2 = n1 = n>>1
	VPSUBD       Y2, Y1, Y1        \ // Y1 = n2 = n − n1
	VPSLLD       $23, Y2, Y2       \
	VPADDD       Y12, Y2, Y2       \ // Y2 = 2^n1
	VPSLLD       $23, Y1, Y1       \
	VPADDD       Y12, Y1, Y1       \ // Y1 = 2^n2
	VMOVAPS      Y14, Y3           \
	VFMADD231PS  Y13, x, Y3        \ // Y3 = c5 + c6·r
	VFMADD213PS  Y15, x, Y3        \ // Horner: Y3 = Y3·r + c
	VFMADD213PS  expC3<>(SB), x, Y3 \
	VFMADD213PS  expC2<>(SB), x, Y3 \
	VFMADD213PS  Y12, x, Y3        \
	VFMADD213PS  Y12, x, Y3        \ // Y3 = e^r
	VMULPS       Y2, Y3, Y3        \
	VMULPS       Y1, Y3, x

// MASK sets y to the lane mask of the first CX (1..7) lanes, using AX.
#define MASK(y) \
	LEAQ    expMask<>+32(SB), AX \
	SHLQ    $2, CX               \
	SUBQ    CX, AX               \
	VMOVDQU (AX), y

// func swigluF32AVX2(gate, up *float32, n int)
// gate = gate / (1 + e^−gate) · up, rounding each operation as Go does.
TEXT ·swigluF32AVX2(SB), NOSPLIT, $0-24
	MOVQ gate+0(FP), DI
	MOVQ up+8(FP), SI
	MOVQ n+16(FP), CX
	EXPSETUP

swiglu8:
	CMPQ    CX, $8
	JLT     swiglutail
	VMOVUPS (DI), Y4
	VXORPS  expSign<>(SB), Y4, Y0 // −g
	EXP8(Y0)
	VADDPS  Y12, Y0, Y0           // 1 + e^−g
	VDIVPS  Y0, Y4, Y4            // g / (1 + e^−g)
	VMULPS  (SI), Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     swiglu8

swiglutail:
	TESTQ      CX, CX
	JZ         swigluend
	MASK(Y5)
	VMASKMOVPS (DI), Y5, Y4 // lanes past n read as 0 and are not stored
	VXORPS     expSign<>(SB), Y4, Y0
	EXP8(Y0)
	VADDPS     Y12, Y0, Y0
	VDIVPS     Y0, Y4, Y4
	VMASKMOVPS (SI), Y5, Y1
	VMULPS     Y1, Y4, Y4
	VMASKMOVPS Y4, Y5, (DI)

swigluend:
	VZEROUPPER
	RET

// func scaleMaxF32AVX2(x *float32, n int, scale float32) float32
// x *= scale; returns max(x), which is unspecified if x holds a NaN.
TEXT ·scaleMaxF32AVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y4
	MOVL         $0xff800000, AX
	VMOVD        AX, X5
	VBROADCASTSS X5, Y5           // running max, −Inf
	VMOVAPS      Y5, Y6

scalemax16:
	CMPQ    CX, $16
	JLT     scalemax8
	VMULPS  (DI), Y4, Y0
	VMULPS  32(DI), Y4, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMAXPS  Y0, Y5, Y5
	VMAXPS  Y1, Y6, Y6
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     scalemax16

scalemax8:
	CMPQ    CX, $8
	JLT     scalemaxreduce
	VMULPS  (DI), Y4, Y0
	VMOVUPS Y0, (DI)
	VMAXPS  Y0, Y5, Y5
	ADDQ    $32, DI
	SUBQ    $8, CX

scalemaxreduce:
	VMAXPS       Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VMAXPS       X6, X5, X5
	VPERMILPS    $0x4e, X5, X6 // swap the 64-bit halves
	VMAXPS       X6, X5, X5
	VMOVSHDUP    X5, X6
	VMAXSS       X6, X5, X5

scalemax1:
	TESTQ  CX, CX
	JZ     scalemaxend
	VMOVSS (DI), X0
	VMULSS X4, X0, X0
	VMOVSS X0, (DI)
	VMAXSS X0, X5, X5
	ADDQ   $4, DI
	DECQ   CX
	JMP    scalemax1

scalemaxend:
	VZEROUPPER
	VMOVSS X5, ret+24(FP)
	RET

// func softmaxExpF32AVX2(x *float32, n int, maxv float32) float64
// x = e^(x − maxv); returns Σ x in float64 (four lanes, added at the end).
TEXT ·softmaxExpF32AVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS maxv+16(FP), Y4
	VXORPD       Y5, Y5, Y5
	EXPSETUP

softmax8:
	CMPQ         CX, $8
	JLT          softmaxtail
	VMOVUPS      (DI), Y0
	VSUBPS       Y4, Y0, Y0
	EXP8(Y0)
	VMOVUPS      Y0, (DI)
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y2, Y1, Y1
	VADDPD       Y1, Y5, Y5
	ADDQ         $32, DI
	SUBQ         $8, CX
	JMP          softmax8

softmaxtail:
	TESTQ        CX, CX
	JZ           softmaxsum
	MASK(Y1)
	VMASKMOVPS   (DI), Y1, Y0
	VSUBPS       Y4, Y0, Y0
	EXP8(Y0)
	VMOVDQU      (AX), Y1      // the mask again (EXP8 clobbered it)
	VANDPS       Y1, Y0, Y0    // lanes past n add 0 to the sum
	VMASKMOVPS   Y0, Y1, (DI)
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y2, Y1, Y1
	VADDPD       Y1, Y5, Y5

softmaxsum:
	VEXTRACTF128 $1, Y5, X1
	VADDPD       X1, X5, X5
	VPERMILPD    $1, X5, X1
	VADDSD       X1, X5, X5
	VZEROUPPER
	VMOVSD       X5, ret+24(FP)
	RET

// func scaleF32AVX2(x *float32, n int, s float32)
// x *= s.
TEXT ·scaleF32AVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y4

scale32:
	CMPQ    CX, $32
	JLT     scale8
	VMULPS  (DI), Y4, Y0
	VMULPS  32(DI), Y4, Y1
	VMULPS  64(DI), Y4, Y2
	VMULPS  96(DI), Y4, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     scale32

scale8:
	CMPQ    CX, $8
	JLT     scale1
	VMULPS  (DI), Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     scale8

scale1:
	TESTQ  CX, CX
	JZ     scaleend
	VMOVSS (DI), X0
	VMULSS X4, X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	DECQ   CX
	JMP    scale1

scaleend:
	VZEROUPPER
	RET
