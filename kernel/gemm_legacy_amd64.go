//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"sync"
	"unsafe"

	"zhiyan/tensor"
)

// Batch kernels for the legacy block types (Q8_0, Q4_0, Q5_0 × Q8_0; Q4_1,
// Q5_1 × Q8_1), in the style of ggml's repacked 8-row gemm: a group of 8
// weight rows is repacked so that one 32-byte vector holds 4 consecutive
// quants of each of the 8 rows, and each token's 4 matching activation
// quants are broadcast against it. VPMADDUBSW then leaves row i's partial
// sums in dword lane i, the block's 8 chunks add up lane-wise, and one
// conversion and one FMA (by the 8 rows' d_w times the token's d_a) finish
// 8 (row, token) block products; the 8 results of a token are 8 adjacent
// outputs, stored with one vector store.
//
// VPMADDUBSW multiplies unsigned by signed bytes. The activations are made
// unsigned by adding 128 (q+128 in 0…255) and the weights are stored signed,
// so each block sum is Σw·(q+128) = Σw·q + 128·Σw; 128·Σw is stored per row
// and subtracted. The weights are kept small enough that the int16 pair sums
// cannot saturate: Q4_0 and Q4_1 as q-8 (|w| ≤ 8), Q5_0 and Q5_1 as q-16,
// Q8_0 split into 16·h + l with h, l in -8…8. Q4_1 and Q5_1 then add back
// off·Σq_a (computed exactly when the activations are prepared) and m·s.
// Every block sum is exact, so results differ from tensor.VecDot only in how
// the float32 terms d_w·d_a·Σ are rounded and added.
//
// Work is done in k-chunks of kb blocks: the activations of (up to 128)
// tokens for the chunk are prepared once (they stay in L2), then each 8-row
// group is packed (into L1) and run over every token.

func init() {
	if !hasAVX2 {
		return
	}
	for _, k := range legacyGemms {
		gemmKernels[k.t] = k.gemm
		packers[k.t] = k
	}
}

//go:noescape
func gemmPrepQ8_0(dst, a *byte, aStride, T, kb int)

//go:noescape
func gemmPrepQ8_1(dst, a *byte, aStride, T, kb, off int)

//go:noescape
func gemmPackQ8_0(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ4_0(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ5_0(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ4_0x4(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ5_0x4(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ4_1(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ5_1(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmQ8_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ4_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ5_0AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ4_1AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ5_1AVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

// legacyGemmKind describes one weight type's routines.
type legacyGemmKind struct {
	t      tensor.Type
	pack   func(dst, w *byte, offs *[8]int, kb int)
	kernel func(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
	packed int // bytes of one packed 8-row block
	off    int // Q8_1 only: the weights' offset (8 or 16), for off·Σq_a
	// x4 marks the kind for rows interleaved four at a time
	// (interleave_amd64.go): pack reads the groups at offs[0] and offs[4].
	x4 bool
}

var legacyGemms = []*legacyGemmKind{
	{t: tensor.Q8_0, pack: gemmPackQ8_0, kernel: gemmQ8_0AVX2, packed: 576},
	{t: tensor.Q4_0, pack: gemmPackQ4_0, kernel: gemmQ4_0AVX2, packed: 320},
	{t: tensor.Q5_0, pack: gemmPackQ5_0, kernel: gemmQ5_0AVX2, packed: 320},
	{t: tensor.Q4_1, pack: gemmPackQ4_1, kernel: gemmQ4_1AVX2, packed: 352, off: 8},
	{t: tensor.Q5_1, pack: gemmPackQ5_1, kernel: gemmQ5_1AVX2, packed: 352, off: 16},
}

// The Q4_0 and Q5_0 batch kernels for interleaved rows.
var (
	q4_0x4Gemm = &legacyGemmKind{t: tensor.Q4_0, pack: gemmPackQ4_0x4, kernel: gemmQ4_0AVX2, packed: 320, x4: true}
	q5_0x4Gemm = &legacyGemmKind{t: tensor.Q5_0, pack: gemmPackQ5_0x4, kernel: gemmQ5_0AVX2, packed: 320, x4: true}
)

// groupOffsets sets the pack routine's row offsets for a group of g ≤ 8
// rows: a short group repeats its last row (its last group, interleaved).
func (k *legacyGemmKind) groupOffsets(offs *[8]int, g, rowBytes int) {
	for i := range offs {
		if k.x4 {
			offs[i] = min(i/4*4, (g-1)/4*4) * rowBytes
		} else {
			offs[i] = min(i, g-1) * rowBytes
		}
	}
}

// blockStep is how far one block on moves a pack routine's rows.
func (k *legacyGemmKind) blockStep() int {
	if k.x4 {
		return 4 * k.t.BlockBytes()
	}
	return k.t.BlockBytes()
}

const (
	// gemmPackBytes bounds a packed k-chunk of one row group, so that it
	// stays in L1 (32 KiB) beside the activations streaming past it.
	gemmPackBytes = 20 << 10
	// gemmActBytes bounds the prepared activations of a k-chunk, so that
	// they stay in L2 (512 KiB) while every row group runs over them.
	gemmActBytes = 256 << 10
	// gemmTokens bounds the tokens run over one packed chunk. Longer
	// batches go in blocks of about this many tokens, each packing the
	// weights again (a few per cent), rather than shrinking the k-chunks
	// until the outputs' partial sums, reloaded once per k-chunk, cost more.
	gemmTokens = 128
)

// prepBytes is the size of one prepared activation block (see the .s file).
func (k *legacyGemmKind) prepBytes() int {
	if k.off != 0 {
		return 44
	}
	return 36
}

// gemmScratch is one call's working memory, pooled so calls allocate
// nothing once warm.
type gemmScratch struct {
	pack []byte    // one packed k-chunk of a row group, 64-byte aligned
	act  []byte    // the prepared k-chunk of a block of tokens
	part []float32 // results of a last group of fewer than 8 rows, T×8
	offs [8]int    // byte offsets of a group's rows (here, not on the stack: the pack call is indirect)
}

var gemmScratchPool = sync.Pool{New: func() any { return new(gemmScratch) }}

// growBytes returns n bytes of b (reallocated if too small), 64-byte aligned.
func growBytes(b []byte, n int) []byte {
	if cap(b) < n+64 {
		b = make([]byte, n+64)
	}
	b = b[:n+64]
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & 63)
	return b[off : off+n]
}

// evenSplit returns the size of the parts when n is cut into the fewest
// parts of at most max, made as equal as possible.
func evenSplit(n, max int) int {
	parts := (n + max - 1) / max
	return (n + parts - 1) / parts
}

// gemm implements gemmFunc.
func (k *legacyGemmKind) gemm(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	if rows <= 0 || T <= 0 {
		return
	}
	wb := k.t.BlockBytes()
	ab := k.t.VecDotType().BlockBytes()
	nb := n / 32
	if n%32 != 0 || n < 0 || rowBytes < nb*wb || actStride < nb*ab || outStride < rows || k.x4 && (rows%4 != 0 || rowBytes != nb*wb) ||
		len(w) < (rows-1)*rowBytes+nb*wb || len(a) < (T-1)*actStride+nb*ab || len(out) < (T-1)*outStride+rows {
		panic(fmt.Sprintf("kernel: %s gemm of %d rows × %d × %d tokens: weight (%d B, stride %d), activation (%d B, stride %d) or output (%d, stride %d) too short",
			k.t, rows, n, T, len(w), rowBytes, len(a), actStride, len(out), outStride))
	}
	if nb == 0 {
		for t := range T {
			clear(out[t*outStride : t*outStride+rows])
		}
		return
	}

	s := gemmScratchPool.Get().(*gemmScratch)
	defer gemmScratchPool.Put(s)
	k.run(s, out, outStride, rows, a, actStride, T, nb, func(r0, k0, kn int) *byte {
		k.groupOffsets(&s.offs, min(8, rows-r0), rowBytes)
		k.pack(&s.pack[0], &w[r0*rowBytes+k0*k.blockStep()], &s.offs, kn)
		return &s.pack[0]
	})
}

// run is the loop of a batch product: token blocks, k-chunks of prepared
// activations, 8-row groups whose packed k-chunk group(r0, k0, kn) returns.
func (k *legacyGemmKind) run(s *gemmScratch, out []float32, outStride, rows int, a []byte, actStride, T, nb int, group func(r0, k0, kn int) *byte) {
	ab := k.t.VecDotType().BlockBytes()
	tb := evenSplit(T, gemmTokens)
	pb := k.prepBytes()
	kb := evenSplit(nb, max(1, min(gemmPackBytes/k.packed, gemmActBytes/(tb*pb))))
	s.pack = growBytes(s.pack, kb*k.packed)
	s.act = growBytes(s.act, tb*kb*pb)
	full := rows &^ 7
	if full < rows && cap(s.part) < 8*T {
		s.part = make([]float32, 8*T)
	}

	for t0 := 0; t0 < T; t0 += tb {
		tn := min(tb, T-t0)
		for k0 := 0; k0 < nb; k0 += kb {
			kn := min(kb, nb-k0)
			accum := 0
			if k0 > 0 {
				accum = 1
			}
			if k.off == 0 {
				gemmPrepQ8_0(&s.act[0], &a[t0*actStride+k0*ab], actStride, tn, kn)
			} else {
				gemmPrepQ8_1(&s.act[0], &a[t0*actStride+k0*ab], actStride, tn, kn, k.off)
			}
			for r0 := 0; r0 < rows; r0 += 8 {
				w := group(r0, k0, kn)
				if r0+8 <= rows {
					k.kernel(&out[t0*outStride+r0], 4*outStride, w, &s.act[0], kn*pb, kn, tn, accum)
				} else {
					k.kernel(&s.part[8*t0], 32, w, &s.act[0], kn*pb, kn, tn, accum)
				}
			}
		}
	}
	if full < rows {
		for t := range T {
			copy(out[t*outStride+full:t*outStride+rows], s.part[8*t:])
		}
	}
}

// pack packs every 8-row group of a matrix whole, in the layout the kernels
// read, so that batch products need not pack the weights at every call.
func (k *legacyGemmKind) packAll(w []byte, rowBytes, rows, n int) []byte {
	nb := n / 32
	groups := (rows + 7) / 8
	dst := growBytes(nil, groups*nb*k.packed)
	var offs [8]int
	for g := range groups {
		r0 := g * 8
		k.groupOffsets(&offs, min(8, rows-r0), rowBytes)
		k.pack(&dst[g*nb*k.packed], &w[r0*rowBytes], &offs, nb)
	}
	return dst
}

// gemmPacked is gemm over weights packed by packAll: rows [r0, r0+rows) of
// the matrix, r0 a multiple of 8.
func (k *legacyGemmKind) gemmPacked(out []float32, outStride int, packed []byte, r0, rows int, a []byte, actStride, T, n int) {
	nb := n / 32
	if r0%8 != 0 || len(packed) < ((r0+rows+7)/8)*nb*k.packed {
		panic(fmt.Sprintf("kernel: %s packed gemm of rows %d+%d: not a group boundary, or %d packed bytes too few", k.t, r0, rows, len(packed)))
	}
	if rows <= 0 || T <= 0 || nb == 0 {
		return
	}
	s := gemmScratchPool.Get().(*gemmScratch)
	defer gemmScratchPool.Put(s)
	k.run(s, out, outStride, rows, a, actStride, T, nb, func(g0, k0, kn int) *byte {
		return &packed[((r0+g0)/8*nb+k0)*k.packed]
	})
}
