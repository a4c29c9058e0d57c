package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhiyan/channel"
)

// fakeWeCom plays /cgi-bin/gettoken and /cgi-bin/message/send.
type fakeWeCom struct {
	tokens   atomic.Int32
	killNext atomic.Bool
	code     int // errcode for sends when non-zero (60020: untrusted IP)

	mu   sync.Mutex
	sent []map[string]any
}

func (f *fakeWeCom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cgi-bin/gettoken":
		if r.URL.Query().Get("corpid") != "ww1" || r.URL.Query().Get("corpsecret") != "sec" {
			fmt.Fprint(w, `{"errcode":40001,"errmsg":"invalid secret"}`)
			return
		}
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":"T%d","expires_in":7200}`, f.tokens.Add(1))
	case "/cgi-bin/message/send":
		if r.URL.Query().Get("access_token") != fmt.Sprintf("T%d", f.tokens.Load()) || f.killNext.Swap(false) {
			fmt.Fprint(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
			return
		}
		if f.code != 0 {
			fmt.Fprintf(w, `{"errcode":%d,"errmsg":"not allow to access from your ip"}`, f.code)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.sent = append(f.sent, m)
		f.mu.Unlock()
		if m["touser"] == "ghost" {
			fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","invaliduser":"ghost"}`)
			return
		}
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","invaliduser":""}`)
	default:
		http.NotFound(w, r)
	}
}

func newClient(t *testing.T, f *fakeWeCom, now func() time.Time) *Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{CorpID: "ww1", Secret: "sec", AgentID: 1000002, BaseURL: srv.URL, HTTP: srv.Client(), Now: now}
}

func TestSendText(t *testing.T) {
	f := &fakeWeCom{}
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	c := newClient(t, f, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ctx := context.Background()
	for range 3 {
		if err := c.SendText(ctx, "zhangsan", "你好 <x>"); err != nil {
			t.Fatal(err)
		}
	}
	if f.tokens.Load() != 1 {
		t.Fatalf("%d token fetches for 3 sends, want 1", f.tokens.Load())
	}
	got, _ := json.Marshal(f.sent[0])
	const want = `{"agentid":1000002,"msgtype":"text","text":{"content":"你好 \u003cx\u003e"},"touser":"zhangsan"}`
	if string(got) != want {
		t.Fatalf("sent %s\nwant %s", got, want)
	}
	// Refreshed once past expiry minus the margin.
	mu.Lock()
	now = now.Add(7200*time.Second - 4*time.Minute)
	mu.Unlock()
	if err := c.SendText(ctx, "zhangsan", "x"); err != nil || f.tokens.Load() != 2 {
		t.Fatalf("after the refresh point: %v, %d fetches", err, f.tokens.Load())
	}
	// Expired token: refetched and retried once.
	f.killNext.Store(true)
	if err := c.SendText(ctx, "zhangsan", "y"); err != nil || f.tokens.Load() != 3 {
		t.Fatalf("after 42001: %v, %d fetches", err, f.tokens.Load())
	}
	if err := c.SendText(ctx, "ghost", "z"); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("SendText to an invalid user = %v", err)
	}
	if err := c.SendText(ctx, "zhangsan", strings.Repeat("字", 683)); err == nil {
		t.Fatal("SendText accepted 2049 bytes")
	}
}

func TestSendTextErrors(t *testing.T) {
	f := &fakeWeCom{code: 60020}
	c := newClient(t, f, nil)
	var api *channel.APIError
	if err := c.SendText(context.Background(), "zhangsan", "x"); !errors.As(err, &api) || api.Code != 60020 {
		t.Fatalf("untrusted IP: %v, want APIError 60020", err)
	}
	c = newClient(t, &fakeWeCom{}, nil)
	c.Secret = "wrong"
	if err := c.SendText(context.Background(), "zhangsan", "x"); !errors.As(err, &api) || api.Op != "gettoken" {
		t.Fatalf("bad secret: %v, want APIError from gettoken", err)
	}
	// A second failure on a fresh token is not retried forever.
	f2 := &fakeWeCom{}
	c = newClient(t, f2, nil)
	c.HTTP = &http.Client{Transport: killAll{f2, c.HTTP.Transport}}
	if err := c.SendText(context.Background(), "zhangsan", "x"); !errors.As(err, &api) || api.Code != 42001 {
		t.Fatalf("token always dead: %v, want APIError 42001", err)
	}
	if n := f2.tokens.Load(); n != 2 {
		t.Fatalf("%d token fetches, want 2 (one retry)", n)
	}
}

// killAll marks every send's token dead.
type killAll struct {
	f  *fakeWeCom
	rt http.RoundTripper
}

func (k killAll) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/message/send") {
		k.f.killNext.Store(true)
	}
	return k.rt.RoundTrip(r)
}
