package web

import (
	"sync"
	"time"
)

// limiter counts events per key over a sliding window, in this process
// (replicas each count their own: a limit is per replica).
type limiter struct {
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	events map[string][]time.Time // oldest first, all within the window
}

// maxKeys is the number of keys above which allow sweeps stale ones.
const maxKeys = 10000

func newLimiter(window time.Duration, now func() time.Time) *limiter {
	return &limiter{window: window, now: now, events: map[string][]time.Time{}}
}

// allow records an event for key unless limit events happened within the
// window, and reports whether it did.
func (l *limiter) allow(key string, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	if len(l.events) > maxKeys {
		// Many keys (failed sign-ins under made-up names): drop the
		// ones whose events are all past, so memory stays bounded.
		for k := range l.events {
			l.prune(k, t)
		}
	}
	ev := l.prune(key, t)
	if len(ev) >= limit {
		return false
	}
	l.events[key] = append(ev, t)
	return true
}

// count is the number of events of key within the window.
func (l *limiter) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.prune(key, l.now()))
}

func (l *limiter) prune(key string, t time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && t.Sub(ev[i]) >= l.window {
		i++
	}
	ev = ev[i:]
	if len(ev) == 0 {
		delete(l.events, key)
		return nil
	}
	l.events[key] = ev
	return ev
}
