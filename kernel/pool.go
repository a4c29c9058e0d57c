// Package kernel holds the numeric building blocks of a forward pass: the one
// place where matrix products happen (per tensor type, threaded), and the
// element-wise operations around them. It knows tensors, not files or models.
package kernel

import "sync"

// job is a piece of work split by index range across the pool's goroutines.
// worker is the index of the goroutine running it, for per-thread scratch.
type job interface {
	run(worker, lo, hi int)
}

type task struct {
	j              job
	worker, lo, hi int
}

// Pool is a fixed set of worker goroutines. Dispatching work to it does not
// allocate, so a decode step can run with zero allocations. A Pool runs one
// job at a time; it is not safe for concurrent use.
type Pool struct {
	threads int
	tasks   chan task
	wg      sync.WaitGroup
	mm      matmulJob
	att     attentionJob
	close   sync.Once
}

// NewPool starts threads-1 workers; the calling goroutine is the last one.
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	p := &Pool{threads: threads, tasks: make(chan task, threads)}
	for i := 1; i < threads; i++ {
		go func() {
			for t := range p.tasks {
				t.j.run(t.worker, t.lo, t.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

// Threads is the number of goroutines that run a job.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers.
func (p *Pool) Close() {
	p.close.Do(func() { close(p.tasks) })
}

// parallel runs j over [0, n) in contiguous chunks whose boundaries are
// multiples of grain, one chunk per thread. Each index has exactly one
// writer, so results do not depend on the thread count.
func (p *Pool) parallel(j job, n, grain int) {
	if grain < 1 {
		grain = 1
	}
	units := (n + grain - 1) / grain
	threads := min(p.threads, units)
	if threads <= 1 {
		j.run(0, 0, n)
		return
	}
	per := units / threads
	extra := units % threads
	lo := 0
	var mine task
	for i := 0; i < threads; i++ {
		u := per
		if i < extra {
			u++
		}
		hi := min(lo+u*grain, n)
		if i == threads-1 {
			mine = task{j, 0, lo, hi}
		} else {
			p.wg.Add(1)
			p.tasks <- task{j, i + 1, lo, hi}
		}
		lo = hi
	}
	mine.j.run(0, mine.lo, mine.hi)
	p.wg.Wait()
}
