//go:build amd64 && !purego

package kernel

import (
	"fmt"

	"zhiyan/tensor"
)

// Batch kernels for the K-quants (Q2_K…Q6_K × Q8_K), in the style of the
// legacy ones (gemm_legacy_amd64.go): a group of 8 weight rows is repacked
// so that one 32-byte "chunk" holds 4 consecutive quants of each of the 8
// rows, unpacked to one byte each, and each token's 4 matching activation
// quants are broadcast against it. VPMADDUBSW then leaves row i's pair sums
// in dword lane i, and the chunks of one sub-block add up lane-wise.
//
// The K-quants' sub-block scales (per 32 weights for Q4_K and Q5_K, per 16
// for the others) are small integers, so they apply exactly in the
// VPMADDWD that widens the int16 sums to int32: the packed scale vector
// holds row i's scale in both words of lane i. Each super-block's integer
// sum is thus exact, as in tensor.VecDot; one conversion and one FMA by
// d_w·d_a then finish 8 (row, token) products.
//
// VPMADDUBSW multiplies unsigned by signed bytes and saturates its int16
// pair sums, so each type picks the signed side and how many chunks share
// an int16 sum (see the .s file for the bounds):
//
//	Q4_K, Q5_K, Q2_K  weights as stored (unsigned), activations as they
//	                  are; the mins act through the activations' bsums
//	                  (per 32 quants for Q4_K and Q5_K, per 16 for Q2_K),
//	                  against min vectors packed like the scales.
//	Q6_K, Q3_K        weights signed (q−32, q−4·(1−h)), activations plus
//	                  128; the 128·Σ scale·q this adds is a per-row
//	                  constant, computed when packing and subtracted.
//
// Work is done in k-chunks of kb super-blocks: the activations of (up to
// 128) tokens for the chunk are prepared once (they stay in L2), then each
// 8-row group is packed (into L1) and run over every token, four tokens
// at a time (4 × 8 accumulators of 8 lanes: each chunk load serves four
// tokens, each broadcast eight rows).

func init() {
	if !hasAVX2 {
		return
	}
	for _, k := range kquantGemms {
		gemmKernels[k.t] = k.gemm
	}
}

//go:noescape
func gemmPrepQ8KMins(dst, a *byte, aStride, T, kb int)

//go:noescape
func gemmPrepQ8KBsums(dst, a *byte, aStride, T, kb int)

//go:noescape
func gemmPrepQ8K128(dst, a *byte, aStride, T, kb int)

//go:noescape
func gemmPackQ4K(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ5K(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ6K(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ3K(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmPackQ2K(dst, w *byte, offs *[8]int, kb int)

//go:noescape
func gemmQ4KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ5KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ6KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ3KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

//go:noescape
func gemmQ2KAVX2(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)

// kquantGemmKind describes one weight type's routines.
type kquantGemmKind struct {
	t       tensor.Type
	prep    func(dst, a *byte, aStride, T, kb int)
	pack    func(dst, w *byte, offs *[8]int, kb int)
	kernel  func(out *float32, outStride int, w, act *byte, actStride, kb, T, accum int)
	packed  int // bytes of one packed 8-row super-block
	prepped int // bytes of one prepared activation block
}

// Sizes as laid out in the .s file.
var kquantGemms = []*kquantGemmKind{
	{t: tensor.Q4_K, prep: gemmPrepQ8KMins, pack: gemmPackQ4K, kernel: gemmQ4KAVX2, packed: 2496, prepped: 276},
	{t: tensor.Q5_K, prep: gemmPrepQ8KMins, pack: gemmPackQ5K, kernel: gemmQ5KAVX2, packed: 2496, prepped: 276},
	{t: tensor.Q6_K, prep: gemmPrepQ8K128, pack: gemmPackQ6K, kernel: gemmQ6KAVX2, packed: 2624, prepped: 260},
	{t: tensor.Q3_K, prep: gemmPrepQ8K128, pack: gemmPackQ3K, kernel: gemmQ3KAVX2, packed: 2624, prepped: 260},
	{t: tensor.Q2_K, prep: gemmPrepQ8KBsums, pack: gemmPackQ2K, kernel: gemmQ2KAVX2, packed: 2880, prepped: 292},
}

// q8KBlockBytes is the size of a Q8_K activation block.
const q8KBlockBytes = 292

// gemm implements gemmFunc. The scratch, its pool and the blocking
// constants are shared with the legacy batch kernels.
func (k *kquantGemmKind) gemm(out []float32, outStride int, w []byte, rowBytes, rows int, a []byte, actStride, T, n int) {
	if rows <= 0 || T <= 0 {
		return
	}
	wb := k.t.BlockBytes()
	nb := n / tensor.QK_K
	if n%tensor.QK_K != 0 || n < 0 || rowBytes < nb*wb || actStride < nb*q8KBlockBytes || outStride < rows ||
		len(w) < (rows-1)*rowBytes+nb*wb || len(a) < (T-1)*actStride+nb*q8KBlockBytes || len(out) < (T-1)*outStride+rows {
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
	tb := evenSplit(T, gemmTokens)
	kb := evenSplit(nb, max(1, min(gemmPackBytes/k.packed, gemmActBytes/(tb*k.prepped))))
	s.pack = growBytes(s.pack, kb*k.packed)
	s.act = growBytes(s.act, tb*kb*k.prepped)
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
			k.prep(&s.act[0], &a[t0*actStride+k0*q8KBlockBytes], actStride, tn, kn)
			for r0 := 0; r0 < rows; r0 += 8 {
				g := min(8, rows-r0)
				for i := range s.offs {
					s.offs[i] = min(i, g-1) * rowBytes // a short group repeats its last row
				}
				k.pack(&s.pack[0], &w[r0*rowBytes+k0*wb], &s.offs, kn)
				if g == 8 {
					k.kernel(&out[t0*outStride+r0], 4*outStride, &s.pack[0], &s.act[0], kn*k.prepped, kn, tn, accum)
				} else {
					k.kernel(&s.part[8*t0], 32, &s.pack[0], &s.act[0], kn*k.prepped, kn, tn, accum)
				}
			}
		}
	}
	if full < rows {
		for t := range T {
			copy(out[t*outStride+full:t*outStride+rows], s.part[8*t:8*t+rows-full])
		}
	}
}
