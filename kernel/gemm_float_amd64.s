//go:build amd64 && !purego

#include "textflag.h"

// Float gemm kernels (AVX2 + FMA + F16C) for prefill. All six share a frame:
//
//	func gemmXXXxRAVX2(out *float32, outStride int, w *byte, wStride int, a *byte, actStride, T, k, acc int)
//
// w is a panel of float32 weight rows (4 for x4, 1 for x1), wStride bytes
// apart; the Go side widens F16/BF16 weights into it once per call so the
// inner loop converts only activations. a holds T activation rows of the
// type in the name, actStride bytes apart. k is a positive multiple of 8.
// acc is 0 to store the sums or -1 to add them to what out holds.
//
// Registers: DI out of the current token group, BX outStride in bytes,
// SI w, R9 wStride, R10 3·wStride, DX a of the current token group,
// AX actStride, CX tokens left, R14 k/8, R13 acc; inner loop: R8 weight
// cursor, R11 activation cursor, R12 steps left.
//
// The 4×3 tile keeps one 8-lane accumulator per (row r, token t) in
// Y(3r+t), the three tokens' activations in Y12–Y14 and the current weight
// row in Y15: per 8 elements, 3 activation conversions and 4 loads feed 12
// FMAs. The last T%3 tokens take a 4×2 or 4×1 tile; x1 runs 1×3 and 1×1
// tiles for the rows past a multiple of 4.

#define PROLOGUE \
	MOVQ out+0(FP), DI          \
	MOVQ outStride+8(FP), BX    \
	SHLQ $2, BX                 \
	MOVQ w+16(FP), SI           \
	MOVQ wStride+24(FP), R9     \
	LEAQ (R9)(R9*2), R10        \
	MOVQ a+32(FP), DX           \
	MOVQ actStride+40(FP), AX   \
	MOVQ T+48(FP), CX           \
	MOVQ k+56(FP), R14          \
	SHRQ $3, R14                \
	MOVQ acc+64(FP), R13

// Activation loaders: widen 8 elements at mem to float32 lanes of y.
#define ACT_F32(mem, y) VMOVUPS mem, y
#define ACT_F16(mem, y) VCVTPH2PS mem, y
#define ACT_BF16(mem, y) VPMOVZXWD mem, y; VPSLLD $16, y, y

#define ZERO12 \
	VXORPS Y0, Y0, Y0    \
	VXORPS Y1, Y1, Y1    \
	VXORPS Y2, Y2, Y2    \
	VXORPS Y3, Y3, Y3    \
	VXORPS Y4, Y4, Y4    \
	VXORPS Y5, Y5, Y5    \
	VXORPS Y6, Y6, Y6    \
	VXORPS Y7, Y7, Y7    \
	VXORPS Y8, Y8, Y8    \
	VXORPS Y9, Y9, Y9    \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11

#define ZERO8 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

#define ZERO4 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

// STEP43 multiplies 8 elements of 4 weight rows by 3 activation rows.
#define STEP43(ACT) \
	ACT((R11), Y12)               \
	ACT((R11)(AX*1), Y13)         \
	ACT((R11)(AX*2), Y14)         \
	VMOVUPS     (R8), Y15         \
	VFMADD231PS Y15, Y12, Y0      \
	VFMADD231PS Y15, Y13, Y1      \
	VFMADD231PS Y15, Y14, Y2      \
	VMOVUPS     (R8)(R9*1), Y15   \
	VFMADD231PS Y15, Y12, Y3      \
	VFMADD231PS Y15, Y13, Y4      \
	VFMADD231PS Y15, Y14, Y5      \
	VMOVUPS     (R8)(R9*2), Y15   \
	VFMADD231PS Y15, Y12, Y6      \
	VFMADD231PS Y15, Y13, Y7      \
	VFMADD231PS Y15, Y14, Y8      \
	VMOVUPS     (R8)(R10*1), Y15  \
	VFMADD231PS Y15, Y12, Y9      \
	VFMADD231PS Y15, Y13, Y10     \
	VFMADD231PS Y15, Y14, Y11

// STEP42 multiplies 8 elements of 4 weight rows by 2 activation rows;
// row r, token t sums in Y(2r+t).
#define STEP42(ACT) \
	ACT((R11), Y12)               \
	ACT((R11)(AX*1), Y13)         \
	VMOVUPS     (R8), Y14         \
	VMOVUPS     (R8)(R9*1), Y15   \
	VFMADD231PS Y14, Y12, Y0      \
	VFMADD231PS Y14, Y13, Y1      \
	VFMADD231PS Y15, Y12, Y2      \
	VFMADD231PS Y15, Y13, Y3      \
	VMOVUPS     (R8)(R9*2), Y14   \
	VMOVUPS     (R8)(R10*1), Y15  \
	VFMADD231PS Y14, Y12, Y4      \
	VFMADD231PS Y14, Y13, Y5      \
	VFMADD231PS Y15, Y12, Y6      \
	VFMADD231PS Y15, Y13, Y7

// STEP41 multiplies 8 elements of 4 weight rows by 1 activation row.
#define STEP41(ACT) \
	ACT((R11), Y12)                 \
	VFMADD231PS (R8), Y12, Y0       \
	VFMADD231PS (R8)(R9*1), Y12, Y1 \
	VFMADD231PS (R8)(R9*2), Y12, Y2 \
	VFMADD231PS (R8)(R10*1), Y12, Y3

// STEP13 multiplies 8 elements of 1 weight row by 3 activation rows.
#define STEP13(ACT) \
	ACT((R11), Y12)          \
	ACT((R11)(AX*1), Y13)    \
	ACT((R11)(AX*2), Y14)    \
	VMOVUPS     (R8), Y15    \
	VFMADD231PS Y15, Y12, Y0 \
	VFMADD231PS Y15, Y13, Y1 \
	VFMADD231PS Y15, Y14, Y2

// STEP11 multiplies 8 elements of 1 weight row by 1 activation row.
#define STEP11(ACT) \
	ACT((R11), Y12) \
	VFMADD231PS (R8), Y12, Y0

// MASK sets X13 to all ones when acc is -1, else to zeros, so that the
// stores below add the old out value or +0 without a branch.
#define MASK \
	VMOVQ        R13, X13 \
	VPBROADCASTQ X13, X13

// SUM4 leaves in xa the sums of the lanes of a, b, c, d, in that order
// (the pairwise horizontal adds put accumulator i's total in lane i).
#define SUM4(a, b, c, d, xa) \
	VHADDPS      b, a, a  \
	VHADDPS      d, c, c  \
	VHADDPS      c, a, a  \
	VEXTRACTF128 $1, a, X15 \
	VADDPS       X15, xa, xa

// SUM1 leaves in lane 0 of x the sum of the lanes of y, added in the same
// order as SUM4 so that a result does not depend on the tile it came from
// (and so not on how callers split rows and tokens).
#define SUM1(y, x) \
	VHADDPS      y, y, y    \
	VHADDPS      y, y, y    \
	VEXTRACTF128 $1, y, X15 \
	VADDPS       X15, x, x

// STORE4 writes the 4 sums in x to mem, plus mem's old value if acc.
#define STORE4(x, mem) \
	VANDPS  mem, X13, X14 \
	VADDPS  X14, x, x     \
	VMOVUPS x, mem

// STORE1 writes the sum in lane 0 of x to mem, plus mem's old value if acc.
#define STORE1(x, mem) \
	VMOVSS mem, X14       \
	VANDPS X13, X14, X14  \
	VADDSS X14, x, x      \
	VMOVSS x, mem

#define STORE43 \
	MASK                           \
	SUM4(Y0, Y3, Y6, Y9, X0)       \
	STORE4(X0, (DI))               \
	SUM4(Y1, Y4, Y7, Y10, X1)      \
	STORE4(X1, (DI)(BX*1))         \
	SUM4(Y2, Y5, Y8, Y11, X2)      \
	STORE4(X2, (DI)(BX*2))

#define STORE42 \
	MASK                     \
	SUM4(Y0, Y2, Y4, Y6, X0) \
	STORE4(X0, (DI))         \
	SUM4(Y1, Y3, Y5, Y7, X1) \
	STORE4(X1, (DI)(BX*1))

#define STORE41 \
	MASK                     \
	SUM4(Y0, Y1, Y2, Y3, X0) \
	STORE4(X0, (DI))

#define STORE13 \
	MASK                   \
	SUM1(Y0, X0)           \
	STORE1(X0, (DI))       \
	SUM1(Y1, X1)           \
	STORE1(X1, (DI)(BX*1)) \
	SUM1(Y2, X2)           \
	STORE1(X2, (DI)(BX*2))

#define STORE11 \
	MASK             \
	SUM1(Y0, X0)     \
	STORE1(X0, (DI))

// NEXT3 and NEXT1 move DI and DX on to the next group of 3 or 1 tokens.
#define NEXT3 \
	LEAQ (DI)(BX*2), DI \
	ADDQ BX, DI         \
	LEAQ (DX)(AX*2), DX \
	ADDQ AX, DX         \
	SUBQ $3, CX

#define NEXT1 \
	ADDQ BX, DI \
	ADDQ AX, DX \
	DECQ CX

#define START_TILE \
	MOVQ SI, R8  \
	MOVQ DX, R11 \
	MOVQ R14, R12

// ------------------------------------------------------------ F32 activations

TEXT ·gemmF32x4AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

f32x4tok3:
	CMPQ CX, $3
	JLT  f32x4tok2
	START_TILE
	ZERO12

f32x4loop3:
	STEP43(ACT_F32)
	ADDQ $32, R8
	ADDQ $32, R11
	DECQ R12
	JNZ  f32x4loop3
	STORE43
	NEXT3
	JMP  f32x4tok3

f32x4tok2:
	CMPQ CX, $2
	JLT  f32x4tok1
	START_TILE
	ZERO8

f32x4loop2:
	STEP42(ACT_F32)
	ADDQ $32, R8
	ADDQ $32, R11
	DECQ R12
	JNZ  f32x4loop2
	STORE42
	JMP  f32x4end

f32x4tok1:
	TESTQ CX, CX
	JZ    f32x4end
	START_TILE
	ZERO4

f32x4loop1:
	STEP41(ACT_F32)
	ADDQ $32, R8
	ADDQ $32, R11
	DECQ R12
	JNZ  f32x4loop1
	STORE41
	NEXT1
	JMP  f32x4tok1

f32x4end:
	VZEROUPPER
	RET

TEXT ·gemmF32x1AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

f32x1tok3:
	CMPQ CX, $3
	JLT  f32x1tok1
	START_TILE
	ZERO4

f32x1loop3:
	STEP13(ACT_F32)
	ADDQ $32, R8
	ADDQ $32, R11
	DECQ R12
	JNZ  f32x1loop3
	STORE13
	NEXT3
	JMP  f32x1tok3

f32x1tok1:
	TESTQ CX, CX
	JZ    f32x1end
	START_TILE
	ZERO4

f32x1loop1:
	STEP11(ACT_F32)
	ADDQ $32, R8
	ADDQ $32, R11
	DECQ R12
	JNZ  f32x1loop1
	STORE11
	NEXT1
	JMP  f32x1tok1

f32x1end:
	VZEROUPPER
	RET

// ------------------------------------------------------------ F16 activations

TEXT ·gemmF16x4AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

f16x4tok3:
	CMPQ CX, $3
	JLT  f16x4tok2
	START_TILE
	ZERO12

f16x4loop3:
	STEP43(ACT_F16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  f16x4loop3
	STORE43
	NEXT3
	JMP  f16x4tok3

f16x4tok2:
	CMPQ CX, $2
	JLT  f16x4tok1
	START_TILE
	ZERO8

f16x4loop2:
	STEP42(ACT_F16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  f16x4loop2
	STORE42
	JMP  f16x4end

f16x4tok1:
	TESTQ CX, CX
	JZ    f16x4end
	START_TILE
	ZERO4

f16x4loop1:
	STEP41(ACT_F16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  f16x4loop1
	STORE41
	NEXT1
	JMP  f16x4tok1

f16x4end:
	VZEROUPPER
	RET

TEXT ·gemmF16x1AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

f16x1tok3:
	CMPQ CX, $3
	JLT  f16x1tok1
	START_TILE
	ZERO4

f16x1loop3:
	STEP13(ACT_F16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  f16x1loop3
	STORE13
	NEXT3
	JMP  f16x1tok3

f16x1tok1:
	TESTQ CX, CX
	JZ    f16x1end
	START_TILE
	ZERO4

f16x1loop1:
	STEP11(ACT_F16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  f16x1loop1
	STORE11
	NEXT1
	JMP  f16x1tok1

f16x1end:
	VZEROUPPER
	RET

// ----------------------------------------------------------- BF16 activations

TEXT ·gemmBF16x4AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

bf16x4tok3:
	CMPQ CX, $3
	JLT  bf16x4tok2
	START_TILE
	ZERO12

bf16x4loop3:
	STEP43(ACT_BF16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  bf16x4loop3
	STORE43
	NEXT3
	JMP  bf16x4tok3

bf16x4tok2:
	CMPQ CX, $2
	JLT  bf16x4tok1
	START_TILE
	ZERO8

bf16x4loop2:
	STEP42(ACT_BF16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  bf16x4loop2
	STORE42
	JMP  bf16x4end

bf16x4tok1:
	TESTQ CX, CX
	JZ    bf16x4end
	START_TILE
	ZERO4

bf16x4loop1:
	STEP41(ACT_BF16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  bf16x4loop1
	STORE41
	NEXT1
	JMP  bf16x4tok1

bf16x4end:
	VZEROUPPER
	RET

TEXT ·gemmBF16x1AVX2(SB), NOSPLIT, $0-72
	PROLOGUE

bf16x1tok3:
	CMPQ CX, $3
	JLT  bf16x1tok1
	START_TILE
	ZERO4

bf16x1loop3:
	STEP13(ACT_BF16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  bf16x1loop3
	STORE13
	NEXT3
	JMP  bf16x1tok3

bf16x1tok1:
	TESTQ CX, CX
	JZ    bf16x1end
	START_TILE
	ZERO4

bf16x1loop1:
	STEP11(ACT_BF16)
	ADDQ $32, R8
	ADDQ $16, R11
	DECQ R12
	JNZ  bf16x1loop1
	STORE11
	NEXT1
	JMP  bf16x1tok1

bf16x1end:
	VZEROUPPER
	RET

// ------------------------------------------------- weight panels to float32

// func f16ToF32AVX2(dst *float32, src *byte, n int)
// func bf16ToF32AVX2(dst *float32, src *byte, n int)
// n is a positive multiple of 8.
TEXT ·f16ToF32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

f16cvt32:
	CMPQ      CX, $32
	JLT       f16cvt8
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VCVTPH2PS 32(SI), Y2
	VCVTPH2PS 48(SI), Y3
	VMOVUPS   Y0, (DI)
	VMOVUPS   Y1, 32(DI)
	VMOVUPS   Y2, 64(DI)
	VMOVUPS   Y3, 96(DI)
	ADDQ      $64, SI
	ADDQ      $128, DI
	SUBQ      $32, CX
	JMP       f16cvt32

f16cvt8:
	TESTQ     CX, CX
	JZ        f16cvtend
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       f16cvt8

f16cvtend:
	VZEROUPPER
	RET

TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

bf16cvt32:
	CMPQ      CX, $32
	JLT       bf16cvt8
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPMOVZXWD 32(SI), Y2
	VPMOVZXWD 48(SI), Y3
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	VPSLLD    $16, Y2, Y2
	VPSLLD    $16, Y3, Y3
	VMOVUPS   Y0, (DI)
	VMOVUPS   Y1, 32(DI)
	VMOVUPS   Y2, 64(DI)
	VMOVUPS   Y3, 96(DI)
	ADDQ      $64, SI
	ADDQ      $128, DI
	SUBQ      $32, CX
	JMP       bf16cvt32

bf16cvt8:
	TESTQ     CX, CX
	JZ        bf16cvtend
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       bf16cvt8

bf16cvtend:
	VZEROUPPER
	RET
