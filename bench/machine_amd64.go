//go:build amd64 && !purego

package bench

import "golang.org/x/sys/cpu"

// readSum reads every byte of b with 256-bit loads; len(b) is a multiple of 64.
//
//go:noescape
func readSumAVX2(b []byte) uint64

// fmaLoopAVX2 runs iters rounds of 12 independent 8-wide FMA chains.
//
//go:noescape
func fmaLoopAVX2(iters int)

var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// fmaFlopsPerIter is the floating-point work of one fmaLoop iteration.
func fmaFlopsPerIter() float64 {
	if hasAVX2 {
		return 12 * 8 * 2
	}
	return fmaGoFlops
}

func readSum(b []byte) uint64 {
	if hasAVX2 {
		return readSumAVX2(b)
	}
	return readSumGo(b)
}

func fmaLoop(iters int) {
	if hasAVX2 {
		fmaLoopAVX2(iters)
		return
	}
	fmaLoopGo(iters)
}
