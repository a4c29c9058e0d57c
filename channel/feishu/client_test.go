package feishu

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

// fakeOpen plays the token and reply endpoints of the open platform.
type fakeOpen struct {
	tokens   atomic.Int32
	killNext atomic.Bool

	mu      sync.Mutex
	replies []map[string]string
	paths   []string
}

func (f *fakeOpen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal" {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		if r.Method != "POST" || in["app_id"] != "cli_1" || in["app_secret"] != "sec" {
			fmt.Fprint(w, `{"code":10014,"msg":"app secret invalid"}`)
			return
		}
		fmt.Fprintf(w, `{"code":0,"msg":"ok","tenant_access_token":"t-%d","expire":7200}`, f.tokens.Add(1))
		return
	}
	id, ok := strings.CutPrefix(r.URL.EscapedPath(), "/open-apis/im/v1/messages/")
	if !ok || !strings.HasSuffix(id, "/reply") {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != fmt.Sprintf("Bearer t-%d", f.tokens.Load()) || f.killNext.Swap(false) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":99991663,"msg":"Invalid access token for authorization."}`)
		return
	}
	var in map[string]string
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.replies = append(f.replies, in)
	f.paths = append(f.paths, r.URL.EscapedPath())
	f.mu.Unlock()
	if strings.HasPrefix(id, "om_gone") {
		fmt.Fprint(w, `{"code":230011,"msg":"The message was withdrawn."}`)
		return
	}
	fmt.Fprint(w, `{"code":0,"msg":"success","data":{"message_id":"om_reply"}}`)
}

func newClient(t *testing.T, f *fakeOpen) *Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &Client{AppID: "cli_1", AppSecret: "sec", BaseURL: srv.URL + "/", HTTP: srv.Client()}
}

func TestReplyText(t *testing.T) {
	f := &fakeOpen{}
	c := newClient(t, f)
	ctx := context.Background()
	id, err := c.ReplyText(ctx, "om_1", "你好\n\"世界\" <b>", "evt-1")
	if err != nil || id != "om_reply" {
		t.Fatalf("ReplyText = %q, %v", id, err)
	}
	var content struct{ Text string }
	if err := json.Unmarshal([]byte(f.replies[0]["content"]), &content); err != nil || content.Text != "你好\n\"世界\" <b>" {
		t.Fatalf("content %q (%v)", f.replies[0]["content"], err)
	}
	if f.replies[0]["msg_type"] != "text" || f.replies[0]["uuid"] != "evt-1" || f.paths[0] != "/open-apis/im/v1/messages/om_1/reply" {
		t.Fatalf("request %v at %s", f.replies[0], f.paths[0])
	}
	if _, err := c.ReplyText(ctx, "om_2", "x", ""); err != nil {
		t.Fatal(err)
	}
	if _, has := f.replies[1]["uuid"]; has {
		t.Fatal("empty idempotency key sent as uuid")
	}
	if f.tokens.Load() != 1 {
		t.Fatalf("%d token fetches, want 1", f.tokens.Load())
	}
	// A message id cannot escape its path segment.
	if _, err := c.ReplyText(ctx, "../../x", "x", ""); err != nil {
		t.Fatal(err)
	}
	if got := f.paths[2]; got != "/open-apis/im/v1/messages/..%2F..%2Fx/reply" {
		t.Fatalf("path %s", got)
	}
	// Invalid token (HTTP 400 + code): refetched, retried once.
	f.killNext.Store(true)
	if _, err := c.ReplyText(ctx, "om_3", "x", ""); err != nil || f.tokens.Load() != 2 {
		t.Fatalf("after 99991663: %v, %d fetches", err, f.tokens.Load())
	}
	var api *channel.APIError
	if _, err := c.ReplyText(ctx, "om_gone", "x", ""); !errors.As(err, &api) || api.Code != 230011 {
		t.Fatalf("withdrawn message: %v", err)
	}
	if _, err := c.ReplyText(ctx, "", "x", ""); err == nil {
		t.Fatal("empty message id accepted")
	}
	if _, err := c.ReplyText(ctx, "om_1", strings.Repeat("a", MaxTextBytes+1), ""); err == nil {
		t.Fatal("over-long text accepted")
	}
}

func TestTokenRefresh(t *testing.T) {
	f := &fakeOpen{}
	c := newClient(t, f)
	var mu sync.Mutex
	clock := time.Unix(now, 0)
	c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ctx := context.Background()
	for _, step := range []struct {
		advance time.Duration
		fetches int32
	}{{0, 1}, {time.Hour, 1}, {54*time.Minute + 59*time.Second, 1}, {time.Second, 2}, {time.Minute, 2}} {
		mu.Lock()
		clock = clock.Add(step.advance)
		mu.Unlock()
		tok, err := c.TenantAccessToken(ctx)
		if err != nil || f.tokens.Load() != step.fetches || tok != fmt.Sprintf("t-%d", step.fetches) {
			t.Fatalf("after +%s: %q, %v, %d fetches; want %d", step.advance, tok, err, f.tokens.Load(), step.fetches)
		}
	}
	c2 := newClient(t, f)
	c2.AppSecret = "bad"
	var api *channel.APIError
	if _, err := c2.TenantAccessToken(ctx); !errors.As(err, &api) || api.Code != 10014 {
		t.Fatalf("bad secret: %v", err)
	}
}
