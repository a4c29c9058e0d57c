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
	chunks   int          // ranges the job is cut into
	next     atomic.Int32 // the next chunk to claim
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
		p.runChunks(w)
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

// chunksPerWorker cuts a job finer than one range per worker: on a shared
// machine the OS often delays one of our threads, and the others then take
// its remaining chunks instead of waiting for it.
const chunksPerWorker = 4

// runChunks claims chunks of the current job until none is left.
func (p *Pool) runChunks(w int) {
	for {
		c := int(p.next.Add(1)) - 1
		if c >= p.chunks {
			return
		}
		lo, hi := p.chunk(c)
		p.j.run(w, lo, hi)
	}
}

// chunk is the range of chunk c: contiguous, its boundaries multiples of
// the grain, the chunks as even as the grain allows.
func (p *Pool) chunk(c int) (lo, hi int) {
	units := (p.n + p.grain - 1) / p.grain
	per, extra := units/p.chunks, units%p.chunks
	lo = c*per + min(c, extra)
	hi = lo + per
	if c < extra {
		hi++
	}
	return min(lo*p.grain, p.n), min(hi*p.grain, p.n)
}

// parallel runs j over [0, n) cut into chunks that the workers claim in
// turn. Each index has exactly one writer, so results do not depend on the
// thread count or on who ran what.
func (p *Pool) parallel(j job, n, grain int) {
	grain = max(grain, 1)
	units := (n + grain - 1) / grain
	if p.threads == 1 || units <= 1 {
		j.run(0, 0, n)
		return
	}
	p.j, p.n, p.grain = j, n, grain
	p.chunks = min(units, p.threads*chunksPerWorker)
	p.next.Store(0)
	p.pending.Store(int32(p.threads - 1))
	p.gen.Add(1)
	p.mu.Lock()
	if p.sleeping > 0 {
		p.wake.Broadcast()
	}
	p.mu.Unlock()
	p.runChunks(0)
	for i := 0; p.pending.Load() != 0; i++ {
		if i%256 == 255 {
			runtime.Gosched()
		}
	}
	p.j = nil
}

// For runs fn over [0, n) in chunks whose boundaries are multiples of
// grain, on the pool's threads; worker is the index of the thread running
// the chunk, for per-thread scratch. Like every job of a Pool, it must not
// run concurrently with another.
func (p *Pool) For(n, grain int, fn func(worker, lo, hi int)) {
	p.parallel(funcJob(fn), n, grain)
}

type funcJob func(worker, lo, hi int)

func (f funcJob) run(worker, lo, hi int) { f(worker, lo, hi) }
