// Package kernel holds the numeric building blocks of a forward pass: the one
// place where matrix products happen (per tensor type, threaded), and the
// element-wise operations around them. It knows tensors, not files or models.
package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// job is a piece of work split by index range across the pool's goroutines;
// worker is the index of the goroutine running it, for per-thread scratch.
type job interface {
	run(worker, lo, hi int)
}

// spinChecks is how many times an idle worker looks for new work before it
// parks: long enough to bridge the short single-threaded steps between the
// matrix products of a forward pass (tens of microseconds), short enough not
// to burn a core between tokens.
const spinChecks = 1 << 15

// Pool is a fixed set of worker goroutines. Workers spin briefly for the
// next job and then park, so the many small jobs of a decode step are not
// each paid for with a wake-up; dispatching allocates nothing. A Pool runs
// one job at a time; it is not safe for concurrent use.
type Pool struct {
	threads int

	// The current job, published by incrementing gen.
	j        job
	n, grain int
	used     int // workers given a chunk
	gen      atomic.Uint32
	pending  atomic.Int32 // workers that have not finished the current job
	closed   atomic.Bool

	mu       sync.Mutex
	wake     *sync.Cond
	sleeping int // parked workers, guarded by mu

	mm  matmulJob
	att attentionJob
}

// NewPool starts threads-1 workers; the calling goroutine is the last one.
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	p := &Pool{threads: threads}
	p.wake = sync.NewCond(&p.mu)
	for w := 1; w < threads; w++ {
		go p.worker(w)
	}
	return p
}

// Threads is the number of goroutines that run a job.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers. It is idempotent.
func (p *Pool) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.mu.Lock()
	p.gen.Add(1)
	p.wake.Broadcast()
	p.mu.Unlock()
}

func (p *Pool) worker(w int) {
	var seen uint32
	for {
		seen = p.await(seen)
		if p.closed.Load() {
			return
		}
		if lo, hi := p.chunk(w); lo < hi {
			p.j.run(w, lo, hi)
		}
		p.pending.Add(-1)
	}
}

// await returns the generation of the next job after seen.
func (p *Pool) await(seen uint32) uint32 {
	for i := range spinChecks {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%256 == 255 {
			runtime.Gosched()
		}
	}
	p.mu.Lock()
	for p.gen.Load() == seen {
		p.sleeping++
		p.wake.Wait()
		p.sleeping--
	}
	p.mu.Unlock()
	return p.gen.Load()
}

// chunk is worker w's share of the current job: contiguous ranges whose
// boundaries are multiples of the grain, one per worker.
func (p *Pool) chunk(w int) (lo, hi int) {
	if w >= p.used {
		return 0, 0
	}
	units := (p.n + p.grain - 1) / p.grain
	per, extra := units/p.used, units%p.used
	lo = w*per + min(w, extra)
	hi = lo + per
	if w < extra {
		hi++
	}
	return min(lo*p.grain, p.n), min(hi*p.grain, p.n)
}

// parallel runs j over [0, n) split by chunk. Each index has exactly one
// writer, so results do not depend on the thread count.
func (p *Pool) parallel(j job, n, grain int) {
	grain = max(grain, 1)
	units := (n + grain - 1) / grain
	used := min(p.threads, units)
	if used <= 1 {
		j.run(0, 0, n)
		return
	}
	p.j, p.n, p.grain, p.used = j, n, grain, used
	p.pending.Store(int32(p.threads - 1))
	p.gen.Add(1)
	p.mu.Lock()
	if p.sleeping > 0 {
		p.wake.Broadcast()
	}
	p.mu.Unlock()
	if lo, hi := p.chunk(0); lo < hi {
		j.run(0, lo, hi)
	}
	for i := 0; p.pending.Load() != 0; i++ {
		if i%256 == 255 {
			runtime.Gosched()
		}
	}
	p.j = nil
}
