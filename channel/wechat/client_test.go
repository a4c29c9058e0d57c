package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhiyan/channel"
)

// fakeMP plays the Official Account API: /cgi-bin/token and
// /cgi-bin/message/custom/send.
type fakeMP struct {
	tokens    atomic.Int32 // token calls
	expiresIn int
	killNext  atomic.Bool // answer the next send with 40001
	tokenErr  bool

	mu   sync.Mutex
	sent []map[string]any
	raw  []string
}

func (f *fakeMP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cgi-bin/token":
		q := r.URL.Query()
		if q.Get("grant_type") != "client_credential" || q.Get("appid") != "wxapp" || q.Get("secret") != "s3cret" || f.tokenErr {
			fmt.Fprint(w, `{"errcode":40013,"errmsg":"invalid appid"}`)
			return
		}
		n := f.tokens.Add(1)
		fmt.Fprintf(w, `{"access_token":"TOKEN%d","expires_in":%d}`, n, f.expiresIn)
	case "/cgi-bin/message/custom/send":
		tok := r.URL.Query().Get("access_token")
		if tok != fmt.Sprintf("TOKEN%d", f.tokens.Load()) || f.killNext.Swap(false) {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.sent = append(f.sent, m)
		f.raw = append(f.raw, string(b))
		f.mu.Unlock()
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	default:
		http.NotFound(w, r)
	}
}

func newClient(t *testing.T, f *fakeMP, now func() time.Time) *Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{AppID: "wxapp", AppSecret: "s3cret", BaseURL: srv.URL, HTTP: srv.Client(), Now: now}
}

func TestClientSendText(t *testing.T) {
	f := &fakeMP{expiresIn: 7200}
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	c := newClient(t, f, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ctx := context.Background()
	for i := range 3 {
		if err := c.SendText(ctx, "oUser", fmt.Sprintf("<第%d条> & more", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.Load(); n != 1 {
		t.Fatalf("%d token fetches for 3 sends, want 1 (cached)", n)
	}
	want := map[string]any{"touser": "oUser", "msgtype": "text", "text": map[string]any{"content": "<第0条> & more"}}
	if got, _ := json.Marshal(f.sent[0]); string(got) != mustJSON(want) {
		t.Fatalf("sent %s, want %s", got, mustJSON(want))
	}
	if !strings.Contains(f.raw[0], "<第0条> & more") {
		t.Fatalf("body %s escapes HTML characters", f.raw[0])
	}

	// 5 minutes before expiry the token is refreshed.
	mu.Lock()
	now = now.Add(7200*time.Second - 5*time.Minute - time.Second)
	mu.Unlock()
	if err := c.SendText(ctx, "oUser", "x"); err != nil || f.tokens.Load() != 1 {
		t.Fatalf("just before the refresh point: %v, %d fetches", err, f.tokens.Load())
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if err := c.SendText(ctx, "oUser", "x"); err != nil || f.tokens.Load() != 2 {
		t.Fatalf("past the refresh point: %v, %d fetches, want 2", err, f.tokens.Load())
	}

	// A token the platform declares dead is dropped and the call retried once.
	f.killNext.Store(true)
	if err := c.SendText(ctx, "oUser", "y"); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 3 {
		t.Fatalf("%d fetches after a 40001, want 3", n)
	}
	if len(f.sent) != 6 {
		t.Fatalf("%d messages delivered, want 6", len(f.sent))
	}

	if err := c.SendText(ctx, "oUser", strings.Repeat("a", MaxTextBytes+1)); err == nil {
		t.Fatal("SendText accepted an over-long text")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestClientSingleFlight(t *testing.T) {
	f := &fakeMP{expiresIn: 7200}
	c := newClient(t, f, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.AccessToken(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every caller either joined the one fetch or found its token cached.
	if n := f.tokens.Load(); n != 1 {
		t.Fatalf("%d token fetches for 20 concurrent callers, want 1", n)
	}
}

func TestClientErrors(t *testing.T) {
	f := &fakeMP{expiresIn: 7200, tokenErr: true}
	c := newClient(t, f, nil)
	err := c.SendText(context.Background(), "oUser", "x")
	var api *channel.APIError
	if !errors.As(err, &api) || api.Code != 40013 {
		t.Fatalf("SendText with a bad secret = %v, want APIError 40013", err)
	}
	if _, err := (&Client{BaseURL: "http://127.0.0.1:1"}).AccessToken(context.Background()); !errors.Is(err, channel.ErrConfig) {
		t.Fatalf("AccessToken without credentials = %v, want ErrConfig", err)
	}
	// A dead server: an error, not a hang or a panic.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	c = &Client{AppID: "a", AppSecret: "b", BaseURL: srv.URL}
	if _, err := c.AccessToken(context.Background()); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("AccessToken from a 502 = %v", err)
	}
}
