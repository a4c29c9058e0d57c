package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newClock() *fakeClock               { return &fakeClock{now: time.Unix(1700000000, 0)} }
func fixed(ttl time.Duration) (Fetch, *atomic.Int32) {
	var n atomic.Int32
	return func(context.Context) (string, time.Duration, error) {
		return fmt.Sprintf("tok%d", n.Add(1)), ttl, nil
	}, &n
}

func TestRefreshSchedule(t *testing.T) {
	for _, tt := range []struct {
		ttl     time.Duration
		refresh time.Duration // age at which the next Get fetches
	}{
		{2 * time.Hour, 2*time.Hour - 5*time.Minute},
		{time.Minute, 48 * time.Second},
		{0, 0},
	} {
		clk := newClock()
		fetch, n := fixed(tt.ttl)
		c := New(fetch, clk.Now)
		ctx := context.Background()
		c.Get(ctx)
		if tt.refresh > 0 {
			clk.Add(tt.refresh - time.Second)
			if tok, _ := c.Get(ctx); tok != "tok1" || n.Load() != 1 {
				t.Fatalf("ttl %s: before the refresh point got %s after %d fetches", tt.ttl, tok, n.Load())
			}
			clk.Add(time.Second)
		}
		if tok, _ := c.Get(ctx); tok != "tok2" || n.Load() != 2 {
			t.Fatalf("ttl %s: at the refresh point got %s after %d fetches", tt.ttl, tok, n.Load())
		}
	}
}

func TestSingleFlight(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	started := make(chan struct{}, 1)
	c := New(func(context.Context) (string, time.Duration, error) {
		n.Add(1)
		started <- struct{}{}
		<-release
		return "tok", time.Hour, nil
	}, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if tok, err := c.Get(context.Background()); tok != "tok" || err != nil {
				t.Errorf("Get = %q, %v", tok, err)
			}
		})
	}
	<-started
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d fetches for 16 concurrent callers, want 1", n.Load())
	}
}

func TestCallerCancel(t *testing.T) {
	release := make(chan struct{})
	c := New(func(ctx context.Context) (string, time.Duration, error) {
		<-release
		return "tok", time.Hour, ctx.Err() // the fetch outlives its first caller
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Get(ctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get = %v", err)
	}
	close(release)
	if tok, err := c.Get(context.Background()); tok != "tok" || err != nil {
		t.Fatalf("Get after the cancelled caller = %q, %v", tok, err)
	}
}

func TestFailureKeepsValidToken(t *testing.T) {
	clk := newClock()
	fail := atomic.Bool{}
	var n atomic.Int32
	c := New(func(context.Context) (string, time.Duration, error) {
		n.Add(1)
		if fail.Load() {
			return "", 0, errors.New("platform down")
		}
		return "good", 2 * time.Hour, nil
	}, clk.Now)
	ctx := context.Background()
	c.Get(ctx)
	fail.Store(true)
	clk.Add(2*time.Hour - time.Minute) // past refresh, not yet expired
	if tok, err := c.Get(ctx); tok != "good" || err != nil {
		t.Fatalf("refresh failure with a live token: %q, %v", tok, err)
	}
	if tok, _ := c.Get(ctx); tok != "good" || n.Load() != 2 {
		t.Fatalf("retried at once: %d fetches", n.Load())
	}
	clk.Add(2 * time.Minute) // dead now
	if _, err := c.Get(ctx); err == nil {
		t.Fatal("dead token served")
	}
	fail.Store(false)
	if tok, err := c.Get(ctx); tok != "good" || err != nil {
		t.Fatalf("recovery: %q, %v", tok, err)
	}
	// An empty token is an error, not a cached "".
	c2 := New(func(context.Context) (string, time.Duration, error) { return "", time.Hour, nil }, nil)
	if _, err := c2.Get(ctx); err == nil {
		t.Fatal("empty token accepted")
	}
}

func TestInvalidate(t *testing.T) {
	fetch, n := fixed(time.Hour)
	c := New(fetch, nil)
	ctx := context.Background()
	c.Get(ctx)
	c.Invalidate("someone else's")
	if tok, _ := c.Get(ctx); tok != "tok1" {
		t.Fatal("Invalidate of another token dropped ours")
	}
	c.Invalidate("tok1")
	if tok, _ := c.Get(ctx); tok != "tok2" || n.Load() != 2 {
		t.Fatalf("after Invalidate: %q, %d fetches", tok, n.Load())
	}
}
