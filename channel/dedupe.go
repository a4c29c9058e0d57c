package channel

import (
	"sync"
	"time"
)

// Dedupe remembers keys (MsgId, event_id…) for a fixed time so that a
// platform's redeliveries are recognised. It holds at most max keys; when
// full, the oldest key is forgotten early. It is safe for concurrent use.
//
// It lives in memory only: the store that survives restarts comes later and
// can sit in front of it.
type Dedupe struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time // key → expiry
	order []dedupeEntry        // insertion order = expiry order (one ttl)
	head  int                  // first live index in order
}

type dedupeEntry struct {
	key     string
	expires time.Time
}

// NewDedupe returns a cache keeping keys for ttl, at most max of them. A nil
// now means time.Now. ttl and max must be positive.
func NewDedupe(ttl time.Duration, max int, now func() time.Time) *Dedupe {
	if ttl <= 0 || max <= 0 {
		panic("channel: NewDedupe needs a positive ttl and max")
	}
	if now == nil {
		now = time.Now
	}
	return &Dedupe{ttl: ttl, max: max, now: now, seen: make(map[string]time.Time)}
}

// Seen reports whether key was recorded less than ttl ago. If not, it records
// key now and returns false: the first delivery is "not seen", retries are.
// The empty key is never recorded (it identifies nothing) and is never seen.
func (d *Dedupe) Seen(key string) bool {
	if key == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expire(now)
	if exp, ok := d.seen[key]; ok && now.Before(exp) {
		return true
	}
	for len(d.seen) >= d.max {
		d.drop()
	}
	exp := now.Add(d.ttl)
	d.seen[key] = exp
	d.order = append(d.order, dedupeEntry{key, exp})
	return false
}

// Forget removes key, so that its next delivery counts as new (for example
// when handling it failed and the platform's retry should be processed).
func (d *Dedupe) Forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, key)
	// The entry in order stays; drop and expire skip keys no longer mapped
	// to that entry's expiry.
}

// Len is the number of keys held.
func (d *Dedupe) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(d.now())
	return len(d.seen)
}

// expire forgets every key whose time has come.
func (d *Dedupe) expire(now time.Time) {
	for d.head < len(d.order) && !now.Before(d.order[d.head].expires) {
		d.drop()
	}
}

// drop forgets the oldest entry and compacts order once half of it is dead.
func (d *Dedupe) drop() {
	if d.head >= len(d.order) {
		return
	}
	e := d.order[d.head]
	d.order[d.head] = dedupeEntry{}
	d.head++
	if exp, ok := d.seen[e.key]; ok && exp.Equal(e.expires) {
		delete(d.seen, e.key)
	}
	if d.head > 64 && d.head*2 > len(d.order) {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}
