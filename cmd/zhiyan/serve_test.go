package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/channel/dingtalk"
	"zhiyan/db"
	"zhiyan/internal/golden"
)

func TestServeRefusals(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	t.Setenv("ZHIYAN_HOME", filepath.Join(t.TempDir(), "models"))
	t.Setenv("ZHIYAN_API_KEY", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", model, "--no-web", "--host", "0.0.0.0", "--port", "0"}, 1, "without an API key"},
		{[]string{"serve", model, "--port", "http"}, 1, "port"},
		{[]string{"serve", "nothere.gguf", "--port", "0"}, 1, "no such file"},
		{[]string{"serve", "--gguf-dir", model, "--port", "0"}, 1, "not a directory"},
		{[]string{"serve", "--models", filepath.Dir(model), "--port", "0"}, 1, "--gguf-dir"},
		{[]string{"serve", "--nope"}, 2, "Usage"},
	} {
		_, stderr, code := zhiyan(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("zhiyan %q = exit %d, %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

// syncBuffer is a strings.Builder safe for the server's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `zhiyan serve args...` on a free port until the test
// ends (stopped as a signal would); it returns the base URL and the log.
func startServe(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	t.Setenv("ZHIYAN_PORT", "0")
	stopServe = make(chan struct{})
	outR, outW := io.Pipe()
	exit := make(chan int, 1)
	stderr := &syncBuffer{}
	go func() {
		exit <- mainExit(append([]string{"serve"}, args...), outW, stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the start-up line: %v (stderr %s)", err, stderr)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "zhiyan serving on ")
	if !ok || strings.HasSuffix(base, ":0") || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("start-up line %q", line)
	}
	go io.Copy(io.Discard, outR)
	t.Cleanup(func() {
		close(stopServe)
		select {
		case code := <-exit:
			if code != 0 {
				t.Errorf("serve: exit %d: %s", code, stderr)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
		stopServe = nil
		if _, err := http.Get(base + "/health"); err == nil {
			t.Errorf("still answering after shutdown")
		}
	})
	return base, stderr
}

func send(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// hostPort splits a base URL for ps's flags.
func hostPort(t *testing.T, base string) (string, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestServeAccounts: by default the web chat is served at / with accounts in
// SQLite in the models directory; --require-auth makes /v1 take the
// accounts' keys, whose quota the server keeps.
func TestServeAccounts(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	home := filepath.Join(t.TempDir(), "models")
	t.Setenv("ZHIYAN_HOME", home)
	t.Setenv("ZHIYAN_API_KEY", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	t.Setenv("ZHIYAN_DB", "")
	base, _ := startServe(t, model, "--require-auth")
	if code, body := send(t, "GET", base+"/", "", ""); code != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("GET / = %d %.80s", code, body)
	}
	if code, _ := send(t, "GET", base+"/v1/models", "", ""); code != 401 {
		t.Fatalf("/v1/models without credentials = %d, want 401", code)
	}
	d, err := db.Open(context.Background(), filepath.Join(home, "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u, err := d.CreateUser(context.Background(), "li", "a long passphrase", false)
	if err != nil {
		t.Fatal(err)
	}
	key, k, err := d.CreateAPIKey(context.Background(), u.ID, "script", db.KeyLimits{TokenQuota: 10})
	if err != nil {
		t.Fatal(err)
	}
	chatBody := `{"model":"qwen2-mini-F32","messages":[{"role":"user","content":"hi"}],"max_tokens":3}`
	if code, body := send(t, "POST", base+"/v1/chat/completions", key, chatBody); code != 200 {
		t.Fatalf("chat with an account key = %d %s", code, body)
	}
	keys, err := d.APIKeys(context.Background(), u.ID)
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || keys[0].TokensUsed < 4 {
		t.Fatalf("usage recorded: %+v, %v", keys, err)
	}
	if code, body := send(t, "POST", base+"/v1/chat/completions", key, chatBody); code != 429 || !strings.Contains(body, "insufficient_quota") {
		t.Errorf("past the quota = %d %s, want 429 insufficient_quota", code, body)
	}
	// A rate limit of 2 a minute lets exactly 2 requests through: each
	// counts once, though both the guard and the meter look at the key.
	limited, _, err := d.CreateAPIKey(context.Background(), u.ID, "limited", db.KeyLimits{RequestsPerMinute: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 200, 429} {
		if code, body := send(t, "GET", base+"/v1/models", limited, ""); code != want {
			t.Errorf("request %d with a 2/min key = %d %s, want %d", i+1, code, body, want)
		}
	}
	if code, _ := send(t, "GET", base+"/v1/models", "zy-not-a-key", ""); code != 401 {
		t.Errorf("an unknown key = %d, want 401", code)
	}
}

// TestServe serves a file given on the command line behind API keys and
// chats once.
func TestServe(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	t.Setenv("ZHIYAN_HOME", filepath.Join(t.TempDir(), "models"))
	t.Setenv("ZHIYAN_API_KEYS", "k1, k2")
	base, _ := startServe(t, model, "--parallel", "2", "--ctx", "256")
	code, body := send(t, "POST", base+"/v1/chat/completions", "k2", `{"model":"qwen2-mini-F32","messages":[{"role":"user","content":"hi"}],"max_tokens":3}`)
	if code != 200 || !strings.Contains(body, `"completion_tokens":3`) {
		t.Fatalf("chat = %d %s", code, body)
	}
	if code, _ := send(t, "GET", base+"/v1/models", "", ""); code != 401 {
		t.Fatalf("without a key: %d, want 401", code)
	}
	// ps sends the key from the environment.
	h, p := hostPort(t, base)
	if stdout, stderr, code := zhiyan(t, "ps", "--host", h, "--port", p); code != 0 || !strings.Contains(stdout, "qwen2-mini-F32") {
		t.Errorf("ps = exit %d %q %q", code, stdout, stderr)
	}
}

// TestServeStore: with no MODEL and no --gguf-dir the store is served; an
// empty one starts and says how to pull. A name given is pulled first and
// served by its name, and ps shows it once loaded.
func TestServeStore(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hub := testHub(t, "some/repo", "qwen2-mini.gguf", data)
	t.Setenv("HF_ENDPOINT", hub.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("ZHIYAN_SOURCE", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	t.Setenv("ZHIYAN_API_KEY", "")
	dir := filepath.Join(t.TempDir(), "store")

	t.Run("empty", func(t *testing.T) {
		base, log := startServe(t, "--models", dir)
		if code, body := send(t, "GET", base+"/v1/models", "", ""); code != 200 || !strings.Contains(body, `"data":[{"id":"zhiyan-tang:latest"`) || strings.Count(body, `"id"`) != 1 {
			t.Errorf("models of an empty store = %d %s, want the built-in model only", code, body)
		}
		if !strings.Contains(log.String(), "zhiyan pull") {
			t.Errorf("the log does not say how to pull a model:\n%s", log)
		}
		h, p := hostPort(t, base)
		if stdout, stderr, code := zhiyan(t, "ps", "--host", h, "--port", p); code != 0 || strings.TrimSpace(stdout) != "NAME   ID   SIZE   CONTEXT   UNTIL" {
			t.Errorf("ps with nothing loaded = exit %d %q %q", code, stdout, stderr)
		}
	})

	const name = "hf.co/some/repo:qwen2-mini.gguf"
	base, log := startServe(t, "--models", dir, "--ctx", "128", name)
	if !strings.Contains(log.String(), "pulling") {
		t.Errorf("serve NAME did not pull it:\n%s", log)
	}
	code, body := send(t, "POST", base+"/api/generate", "", `{"model":"`+name+`","prompt":"hi","stream":false,"options":{"num_predict":2}}`)
	if code != 200 || !strings.Contains(body, `"done":true`) {
		t.Fatalf("generate with the pulled name = %d %s", code, body)
	}
	_, body = send(t, "GET", base+"/v1/models", "", "")
	var list struct{ Data []struct{ ID string } }
	if json.Unmarshal([]byte(body), &list) != nil || len(list.Data) != 2 || list.Data[0].ID != name || list.Data[1].ID != "zhiyan-tang:latest" {
		t.Errorf("models = %s", body)
	}
	h, p := hostPort(t, base)
	stdout, stderr, code := zhiyan(t, "ps", "--host", h, "--port", p)
	if code != 0 || !strings.Contains(stdout, name) || !strings.Contains(stdout, "128") || !strings.Contains(stdout, "minutes from now") {
		t.Errorf("ps = exit %d %q %q", code, stdout, stderr)
	}
}

func TestPsWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close() // nothing listens there now
	_, stderr, code := zhiyan(t, "ps", "--port", port)
	if code != 1 || !strings.Contains(stderr, "no zhiyan server answers at http://127.0.0.1:"+port) {
		t.Errorf("ps without a server = exit %d %q", code, stderr)
	}
}

func TestUntilString(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, "Stopping..."},
		{now.Add(-time.Second), "Stopping..."},
		{now.Add(30 * time.Second), "Less than a minute from now"},
		{now.Add(90 * time.Second), "About a minute from now"},
		{now.Add(4*time.Minute + 59*time.Second), "4 minutes from now"},
		{now.Add(5 * time.Hour), "5 hours from now"},
		{now.Add(72 * time.Hour), "3 days from now"},
		{now.AddDate(100, 0, 0), "Forever"},
	} {
		if got := untilString(tt.in, now); got != tt.want {
			t.Errorf("untilString(now%+v) = %q, want %q", tt.in.Sub(now), got, tt.want)
		}
	}
}

// TestServeChannels: serve --config with a [channels] section answers a signed DingTalk message
// through its session webhook, refuses a forged one, and keeps the
// conversation in the accounts database.
func TestServeChannels(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	home := filepath.Join(t.TempDir(), "models")
	t.Setenv("ZHIYAN_HOME", home)
	t.Setenv("ZHIYAN_API_KEY", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	t.Setenv("ZHIYAN_DB", "")
	t.Setenv("TEST_DINGTALK_SECRET", "s3cret")
	answers := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Text struct{ Content string } }
		json.NewDecoder(r.Body).Decode(&m)
		answers <- m.Text.Content
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer hook.Close()
	cfg := filepath.Join(t.TempDir(), "zhiyan.toml")
	if err := os.WriteFile(cfg, []byte("[channels.dingtalk]\napp_secret = \"env:TEST_DINGTALK_SECRET\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startServe(t, model, "--config", cfg)
	post := func(secret string) int {
		ts := fmt.Sprint(time.Now().UnixMilli())
		body := fmt.Sprintf(`{"msgtype":"text","text":{"content":"你好"},"msgId":"m1","createAt":%s,"conversationType":"1",
			"conversationId":"c1","senderId":"u1","senderNick":"李","sessionWebhook":%q,"sessionWebhookExpiredTime":%d}`,
			ts, hook.URL, time.Now().Add(time.Hour).UnixMilli())
		req, _ := http.NewRequest("POST", base+"/channel/dingtalk", strings.NewReader(body))
		req.Header.Set("timestamp", ts)
		req.Header.Set("sign", dingtalk.Sign(secret, ts))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("forged"); code != 403 {
		t.Errorf("forged signature = %d, want 403", code)
	}
	if code := post("s3cret"); code != 200 {
		t.Fatalf("signed message = %d", code)
	}
	select {
	case a := <-answers:
		if strings.TrimSpace(a) == "" {
			t.Error("empty answer")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer through the session webhook")
	}
	select {
	case a := <-answers:
		t.Errorf("a second answer %q: the forged message reached the model", a)
	case <-time.After(200 * time.Millisecond):
	}
}
