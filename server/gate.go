package server

import (
	"context"
	"sync/atomic"
)

// gate lets a fixed number of holders in at once and a bounded number wait;
// beyond that, requests are refused as busy rather than piling up.
type gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
}

func newGate(n, queue int) *gate {
	return &gate{slots: make(chan struct{}, n), queue: int64(queue)}
}

// embedQueue is how many embeddings may wait: as many as the schedulers
// queue generations (4 per slot, slots defaulting to 4).
func embedQueue(parallel int) int {
	if parallel <= 0 {
		parallel = 4
	}
	return 4 * parallel
}

// enter waits for a place; errBusy when too many wait already, ctx's cause
// when it ends first. A nil error must be paired with leave.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return errBusy
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (g *gate) leave() { <-g.slots }
