//go:build !amd64 || purego

package bench

func fmaFlopsPerIter() float64 { return fmaGoFlops }

func readSum(b []byte) uint64 { return readSumGo(b) }

func fmaLoop(iters int) { fmaLoopGo(iters) }
