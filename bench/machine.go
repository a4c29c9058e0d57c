package bench

import (
	"sync"
	"time"

	"zhiyan/internal/sysmem"
)

// The machine limits the engine is measured against, taken in the same run
// as the engine's own numbers so that their ratio stays meaningful on a
// shared, noisy machine.

// MemoryBandwidth measures how fast threads goroutines can read a buffer far
// larger than the caches, in bytes per second (best of reps passes). The
// buffer is memory of the kind model weights are moved into (sysmem), so
// that the ratio of decoding to it compares like with like.
func MemoryBandwidth(threads, reps int) float64 {
	const size = 256 << 20
	buf, free, err := sysmem.Map(size)
	if err != nil {
		buf, free = make([]byte, size), func() error { return nil }
	}
	defer free()
	for i := range buf {
		buf[i] = byte(i)
	}
	chunk := size / threads &^ 63
	best := 0.0
	var sink uint64
	var mu sync.Mutex
	for range reps {
		var wg sync.WaitGroup
		start := time.Now()
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := readSum(buf[t*chunk : (t+1)*chunk])
				mu.Lock()
				sink += s
				mu.Unlock()
			}()
		}
		wg.Wait()
		best = max(best, float64(chunk*threads)/time.Since(start).Seconds())
	}
	_ = sink
	return best
}

// FMAPeak measures float32 fused multiply-add throughput of threads
// goroutines, in FLOP per second (two per multiply-add; best of reps).
func FMAPeak(threads, reps int) float64 {
	const iters = 20_000_000
	best := 0.0
	for range reps {
		var wg sync.WaitGroup
		start := time.Now()
		for range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fmaLoop(iters)
			}()
		}
		wg.Wait()
		best = max(best, float64(threads)*iters*fmaFlopsPerIter()/time.Since(start).Seconds())
	}
	return best
}
