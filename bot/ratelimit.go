package bot

import (
	"sync"
	"time"
)

// limiter allows each user n messages per window (a sliding window).
type limiter struct {
	n      int // 0 = unlimited
	window time.Duration

	mu   sync.Mutex
	sent map[int64][]time.Time // per user, oldest first, within the window
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, sent: map[int64][]time.Time{}}
}

// allow records a message of user at now and reports whether it is within
// the limit. Refused messages do not count.
func (l *limiter) allow(user int64, now time.Time) bool {
	if l.n <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.sent[user]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-l.window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.n {
		l.sent[user] = ts
		return false
	}
	l.sent[user] = append(ts, now)
	return true
}
