package bench

import (
	"encoding/binary"
)

// Portable stand-ins for the assembly measurements; slower, so ratios
// against them flatter the engine on machines without them.

func readSumGo(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for i := 0; i+32 <= len(b); i += 32 {
		s0 ^= binary.LittleEndian.Uint64(b[i:])
		s1 ^= binary.LittleEndian.Uint64(b[i+8:])
		s2 ^= binary.LittleEndian.Uint64(b[i+16:])
		s3 ^= binary.LittleEndian.Uint64(b[i+24:])
	}
	return s0 ^ s1 ^ s2 ^ s3
}

const fmaGoFlops = 8 * 2

var fmaSink float32

func fmaLoopGo(iters int) {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	x, y := float32(1.0000001), float32(0.9999999)
	for range iters {
		a0 = a0*x + y
		a1 = a1*x + y
		a2 = a2*x + y
		a3 = a3*x + y
		a4 = a4*x + y
		a5 = a5*x + y
		a6 = a6*x + y
		a7 = a7*x + y
	}
	fmaSink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}
