// Row-group framework of the four-row K-quant gemv kernels
// (gemv_kquant_amd64.s, gemv_kquant16_amd64.s); register use is described
// there. All take the frame
//
//	func(out *float32, w, a *byte, rows, rowBytes, nb int)
//
// A group is four rows from SI, rowBytes apart, or, once fewer than four
// are left, one row four times over (stride 0), so that a row's result is
// the same whichever group it falls in.

// KQ_ARGS4 loads the arguments and the 0x0f mask.
#define KQ_ARGS4 \
	MOVQ    out+0(FP), DI; \
	MOVQ    w+8(FP), SI; \
	MOVQ    rows+24(FP), R13; \
	MOVQ    rowBytes+32(FP), DX; \
	MOVQ    nb+40(FP), R9; \
	IMUL3Q  $292, R9, R9; \
	ADDQ    a+16(FP), R9; \
	LEAQ    (DX)(DX*2), R11; \
	VMOVDQU ·kqLow4(SB), Y15

// KQ_GROUP4 starts a group, or jumps to done when no rows are left. The
// prefetch cursor runs one group (four rows) ahead.
#define KQ_GROUP4(done, four) \
	CMPQ   R13, $4; \
	JGE    four; \
	TESTQ  R13, R13; \
	JZ     done; \
	XORQ   DX, DX; \
	XORQ   R11, R11; \
four: \
	MOVQ   SI, R10; \
	MOVQ   a+16(FP), R12; \
	LEAQ   (SI)(DX*4), R14; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13; \
	VXORPS Y14, Y14, Y14

// KQ_PREFETCH4_3 and _4 request the next group's lines at the offset of
// the current block: three or four lines a row cover blocks of up to 192 or
// 256 bytes. Rows of 2–4 KiB give the hardware prefetchers streams too
// short to lock on to: from memory this was worth 1.5–2×.
#define KQ_PREFETCH4_3 \
	PREFETCHT1 (R14); \
	PREFETCHT1 64(R14); \
	PREFETCHT1 128(R14); \
	PREFETCHT1 (R14)(DX*1); \
	PREFETCHT1 64(R14)(DX*1); \
	PREFETCHT1 128(R14)(DX*1); \
	PREFETCHT1 (R14)(DX*2); \
	PREFETCHT1 64(R14)(DX*2); \
	PREFETCHT1 128(R14)(DX*2); \
	PREFETCHT1 (R14)(R11*1); \
	PREFETCHT1 64(R14)(R11*1); \
	PREFETCHT1 128(R14)(R11*1)

#define KQ_PREFETCH4_4 \
	KQ_PREFETCH4_3; \
	PREFETCHT1 192(R14); \
	PREFETCHT1 192(R14)(DX*1); \
	PREFETCHT1 192(R14)(DX*2); \
	PREFETCHT1 192(R14)(R11*1)

// KQ_BLOCKEND4 adds each row's block sum (Y5–Y8) times its d·y.d, stored at
// doff+8r(SP), to the row's accumulator.
#define KQ_BLOCKEND4(doff) \
	VCVTDQ2PS    Y5, Y5; \
	VBROADCASTSS doff(SP), Y0; \
	VFMADD231PS  Y0, Y5, Y11; \
	VCVTDQ2PS    Y6, Y6; \
	VBROADCASTSS doff+8(SP), Y1; \
	VFMADD231PS  Y1, Y6, Y12; \
	VCVTDQ2PS    Y7, Y7; \
	VBROADCASTSS doff+16(SP), Y2; \
	VFMADD231PS  Y2, Y7, Y13; \
	VCVTDQ2PS    Y8, Y8; \
	VBROADCASTSS doff+24(SP), Y3; \
	VFMADD231PS  Y3, Y8, Y14

// KQ_NEXT4 steps to the next block of bb weight bytes.
#define KQ_NEXT4(bb, loop) \
	ADDQ $bb, R10; \
	ADDQ $bb, R14; \
	ADDQ $292, R12; \
	CMPQ R12, R9; \
	JB   loop

// KQ_SUM4 sets X0 to the four rows' sums: each row's eight lanes are added
// pairwise ((0+1)+(2+3))+((4+5)+(6+7)), whatever its place in the group.
#define KQ_SUM4 \
	VHADDPS      Y12, Y11, Y0; \
	VHADDPS      Y14, Y13, Y1; \
	VHADDPS      Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0

// KQ_MINS4 subtracts from X0 the min terms of rows 0–1 (Y9) and 2–3 (Y10),
// four lanes a row, added as (0+1)+(2+3).
#define KQ_MINS4 \
	VHADDPS      Y10, Y9, Y1; \
	VEXTRACTF128 $1, Y1, X2; \
	VHADDPS      X2, X1, X1; \
	VPERMILPS    $0xd8, X1, X1; \
	VSUBPS       X1, X0, X0

// KQ_STORE4 stores X0 (four results, or one for a single row) and goes on
// to the next group.
#define KQ_STORE4(group, single) \
	TESTQ   DX, DX; \
	JZ      single; \
	VMOVUPS X0, (DI); \
	ADDQ    $16, DI; \
	LEAQ    (SI)(DX*4), SI; \
	SUBQ    $4, R13; \
	JMP     group; \
single: \
	VMOVSS  X0, (DI); \
	ADDQ    $4, DI; \
	ADDQ    rowBytes+32(FP), SI; \
	DECQ    R13; \
	JMP     group

