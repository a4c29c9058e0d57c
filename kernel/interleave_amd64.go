//go:build amd64 && !purego

package kernel

import (
	"encoding/binary"
	"fmt"

	"zhiyan/tensor"
)

// The interleaved Q4_0 and Q5_0 layouts (Matrix.MoveTo). A group of four
// rows is stored block by block, four file blocks' bytes a block:
//
//	d[4]     the four rows' fp16 scales
//	qh[2]    Q5_0 only: two qwords of fifth bits, rows 0 and 1, then 2 and 3
//	qs[4]    the four rows' 16 quant bytes, as in the file
//
// In the qword of rows 2p+e (e = 0, 1), the fifth bits of elements 8g…8g+7
// of row 2p+e (the file's qh byte g) are bit x4Bit[e][g] of its eight
// bytes, element 8g+k in byte k. Broadcast to every qword lane and shifted
// right by 0–3 or left by 4–1, a lane holds eight elements' bits at bit 4
// of their bytes, where the quant's fifth bit belongs: a shift and a mask,
// where the file's order needs a byte shuffle, a mask and a compare. The
// order suits the decode kernel, which works on two rows' elements 0–15
// (right shifts: row 2p, then 2p+1) and 16–31 (left shifts) at once.
var x4Bit = [2][4]int{{4, 5, 0, 1}, {6, 7, 2, 3}}

func init() {
	if !hasAVX2 {
		return
	}
	interleavings[tensor.Q4_0] = legacyX4(tensor.Q4_0, gemvQ4_0x4AVX2, x4Few(tensor.Q4_0, 8, gemmFewQ4_0x4AVX2), q4_0x4Gemm)
	interleavings[tensor.Q5_0] = legacyX4(tensor.Q5_0, gemvQ5_0x4AVX2, x4Few(tensor.Q5_0, 16, gemmFewQ5_0x4AVX2), q5_0x4Gemm)
}

// gemvQ4_0x4AVX2 and gemvQ5_0x4AVX2 set out (four per group) to the dot
// products of the rows of groups interleaved groups at w, rows of
// nb ≤ x4Blocks blocks, with the Q8_0 activation a. Each block's sum is
// exact, as in the file layout's kernels; the float32 additions go in
// another order.
//
//go:noescape
func gemvQ4_0x4AVX2(out *float32, w *byte, a *byte, nb, groups int)

//go:noescape
func gemvQ5_0x4AVX2(out *float32, w *byte, a *byte, nb, groups int)

// x4Blocks is the longest row, in blocks, the interleaved kernels take: the
// activation table in their frame holds that many (100 bytes a block).
const x4Blocks = q5_0TabBlocks

// legacyX4 describes the interleaved layout of Q4_0 or Q5_0.
func legacyX4(t tensor.Type, kernel func(out *float32, w, a *byte, nb, groups int), few gemmFunc, batch *legacyGemmKind) *interleaving {
	bb := t.BlockBytes()
	f := &x4Format{t: t, bb: bb, hb: bb - 18, kernel: kernel}
	return &interleaving{
		repack:     f.repack,
		rowData:    f.rowData,
		dequantize: f.dequantize,
		gemv:       f.gemv,
		few:        few,
		fewMax:     fewMaxT,
		gemm:       batch.gemm,
		packAll:    batch.packAll,
		maxCols:    32 * x4Blocks,
	}
}

// x4Format is the interleaved layout of one 32-element block type.
type x4Format struct {
	t      tensor.Type
	bb     int // bytes of a file block: 18 or 22
	hb     int // fifth-bit bytes in a file block: 0 or 4
	kernel func(out *float32, w, a *byte, nb, groups int)
}

// qs is where the quants start in an interleaved block.
func (f *x4Format) qs() int { return 8 + 4*f.hb }

func (f *x4Format) repack(dst, src []byte, rowBytes, nb int) {
	bb, hb, qs := f.bb, f.hb, f.qs()
	for b := range nb {
		o := dst[b*4*bb : (b+1)*4*bb]
		var qh [4][4]byte
		for r := range 4 {
			blk := src[r*rowBytes+b*bb : r*rowBytes+(b+1)*bb]
			copy(o[2*r:2*r+2], blk[:2])
			copy(qh[r][:], blk[2:2+hb])
			copy(o[qs+16*r:qs+16*r+16], blk[2+hb:])
		}
		if hb > 0 {
			binary.LittleEndian.PutUint64(o[8:], pairBits(qh[0], qh[1]))
			binary.LittleEndian.PutUint64(o[16:], pairBits(qh[2], qh[3]))
		}
	}
}

// block writes block b of row r (< 4) of a group in the file's layout.
func (f *x4Format) block(dst, group []byte, r, b int) {
	bb, hb, qs := f.bb, f.hb, f.qs()
	o := group[b*4*bb : (b+1)*4*bb]
	copy(dst[:2], o[2*r:2*r+2])
	if hb > 0 {
		q := binary.LittleEndian.Uint64(o[8+8*(r/2):])
		for g, bit := range x4Bit[r%2] {
			// Gather bit `bit` of the eight bytes into one byte.
			dst[2+g] = byte((q >> bit & 0x0101010101010101) * 0x0102040810204080 >> 56)
		}
	}
	copy(dst[2+hb:bb], o[qs+16*r:qs+16*r+16])
}

func (f *x4Format) rowData(dst, group []byte, nb, r int) {
	for b := range nb {
		f.block(dst[b*f.bb:(b+1)*f.bb], group, r, b)
	}
}

func (f *x4Format) dequantize(dst []float32, group []byte, nb, r int) {
	var blk [22]byte // a block at a time, on the stack: decoding allocates nothing
	for b := range nb {
		f.block(blk[:f.bb], group, r, b)
		tensor.Dequantize(f.t, dst[32*b:32*(b+1)], blk[:f.bb])
	}
}

func (f *x4Format) gemv(out []float32, w, a []byte, n int) {
	nb := n / 32
	if len(out)%4 != 0 || n%32 != 0 || nb > x4Blocks || len(w) < len(out)*nb*f.bb || len(a) < nb*34 {
		panic(fmt.Sprintf("kernel: interleaved %s gemv of %d rows × %d: weight (%d B) or activation (%d B) too short, or not whole groups",
			f.t, len(out), n, len(w), len(a)))
	}
	if len(out) == 0 {
		return
	}
	if nb == 0 {
		clear(out)
		return
	}
	f.kernel(&out[0], &w[0], &a[0], nb, len(out)/4)
}

// spread8[x] has bit k of x at bit 8k.
var spread8 = func() (t [256]uint64) {
	for x := range t {
		for k := range 8 {
			t[x] |= uint64(x>>k&1) << (8 * k)
		}
	}
	return t
}()

// pairBits is the fifth-bit qword of rows 2p and 2p+1 with the file's qh
// bytes even and odd.
func pairBits(even, odd [4]byte) uint64 {
	var q uint64
	for g := range 4 {
		q |= spread8[even[g]]<<x4Bit[0][g] | spread8[odd[g]]<<x4Bit[1][g]
	}
	return q
}
