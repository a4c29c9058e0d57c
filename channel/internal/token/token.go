// Package token caches a platform access token: one fetch at a time however
// many callers wait (single flight), refreshed a margin before it expires.
package token

import (
	"context"
	"sync"
	"time"
)

// Fetch obtains a fresh token and how long the platform says it lives.
type Fetch func(ctx context.Context) (tok string, ttl time.Duration, err error)

// retryAfter is how long a failed refresh is not retried while the previous
// token is still valid (the platforms cap token calls per day).
const retryAfter = 30 * time.Second

// Cache holds one token. The zero value is not usable; use New.
type Cache struct {
	fetch Fetch
	now   func() time.Time

	mu        sync.Mutex
	tok       string
	refreshAt time.Time // after this, fetch a new one
	expiresAt time.Time // after this, the token is dead
	call      *call     // the fetch in flight, if any
}

type call struct {
	done chan struct{}
	tok  string
	err  error
}

// New returns a cache over fetch. A nil now means time.Now.
func New(fetch Fetch, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{fetch: fetch, now: now}
}

// Get returns the cached token, fetching a new one when none is held or the
// refresh time has passed. Concurrent callers share one fetch. The fetch is
// not cancelled when the caller that started it gives up (others may wait).
func (c *Cache) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.tok != "" && c.now().Before(c.refreshAt) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	cl := c.call
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		c.call = cl
		go c.run(context.WithoutCancel(ctx), cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.tok, cl.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Invalidate drops tok if it is the one held, after the platform said it is
// invalid or expired. The next Get fetches anew.
func (c *Cache) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = ""
	}
}

func (c *Cache) run(ctx context.Context, cl *call) {
	tok, ttl, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	switch {
	case err == nil && tok != "":
		c.tok = tok
		c.expiresAt = now.Add(ttl)
		c.refreshAt = now.Add(ttl - margin(ttl))
		cl.tok = tok
	case c.tok != "" && now.Before(c.expiresAt):
		// The old token still works: keep serving it, try again later.
		c.refreshAt = now.Add(retryAfter)
		cl.tok = c.tok
	default:
		if err == nil {
			err = errEmpty
		}
		cl.err = err
	}
	c.call = nil
	close(cl.done)
}

// margin is how early a token is refreshed: 5 minutes for the usual
// two-hour tokens, a fifth of the lifetime for short ones.
func margin(ttl time.Duration) time.Duration {
	return min(5*time.Minute, ttl/5)
}

type emptyError struct{}

func (emptyError) Error() string { return "token: platform returned an empty token" }

var errEmpty error = emptyError{}

// Lazy is a Cache that an API client holds by value and builds on first use
// from its own fetch and clock, so the client's zero value plus its fields
// is ready to use.
type Lazy struct {
	once sync.Once
	c    *Cache
}

// Cache returns the cache, built over fetch and now on the first call.
func (l *Lazy) Cache(fetch Fetch, now func() time.Time) *Cache {
	l.once.Do(func() { l.c = New(fetch, now) })
	return l.c
}
