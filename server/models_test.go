package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"zhiyan/internal/golden"
)

// countHandler counts log records by message.
type countHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countHandler) WithGroup(string) slog.Handler            { return h }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	return nil
}

func (h *countHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

func twoModelServer(t *testing.T, cfg Config) (*Server, string, *countHandler) {
	t.Helper()
	src := golden.Path(t, qwen2Mini)
	h := &countHandler{n: map[string]int{}}
	cfg.Logger = slog.New(h)
	cfg.Models = []string{modelCopy(t, src, "a", ""), modelCopy(t, src, "b", "")}
	s, ts := testServer(t, cfg)
	return s, ts.URL, h
}

func running(s *Server) string {
	var names []string
	for _, m := range s.models.running() {
		names = append(names, m.name)
	}
	return strings.Join(names, ",")
}

func chatTo(model string, maxTokens int) map[string]any {
	return maps(chatBody("hi", maxTokens), "model", model)
}

func TestConcurrentFirstRequestsLoadOnce(t *testing.T) {
	s, url, logs := twoModelServer(t, Config{KeepAlive: time.Minute})
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 6 {
		wg.Go(func() {
			resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"a","messages":[{"role":"user","content":"hi"}],"max_tokens":2}`))
			if err == nil {
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if ok.Load() != 6 || logs.count("loaded model") != 1 || running(s) != "a" {
		t.Fatalf("%d/6 answered, %d loads, running %q; want 6, 1 load, a", ok.Load(), logs.count("loaded model"), running(s))
	}
}

func TestKeepAliveAndEviction(t *testing.T) {
	s, url, logs := twoModelServer(t, Config{KeepAlive: time.Minute, MaxLoaded: 1})
	post(t, url+"/v1/chat/completions", chatTo("a", 1))
	if running(s) != "a" {
		t.Fatalf("running %q after a request to a", running(s))
	}
	// b evicts the idle a (MaxLoaded 1).
	post(t, url+"/v1/chat/completions", chatTo("b", 1))
	if running(s) != "b" || logs.count("unloaded model") != 1 {
		t.Fatalf("running %q, %d unloads; want b after evicting a", running(s), logs.count("unloaded model"))
	}
	// While b is in use, a cannot be loaded: 503 with Retry-After.
	m, _, err := s.models.acquire(t.Context(), "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, data := post(t, url+"/v1/chat/completions", chatTo("a", 1))
	if e := openAIErr(t, data); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || str(e.Code) != "models_busy" {
		t.Fatalf("a while b is busy = %d %s", resp.StatusCode, data)
	}
	s.models.release(m)

	// keep_alive 0 unloads after the request; a short one expires.
	resp, data = post(t, url+"/api/chat", map[string]any{"model": "b", "messages": []map[string]any{{"role": "user", "content": "x"}}, "stream": false, "keep_alive": 0, "options": map[string]any{"num_predict": 1}})
	if resp.StatusCode != 200 || running(s) != "" {
		t.Fatalf("keep_alive 0: %d %s, running %q", resp.StatusCode, data, running(s))
	}
	post(t, url+"/api/chat", map[string]any{"model": "a", "messages": []map[string]any{{"role": "user", "content": "x"}}, "stream": false, "keep_alive": "50ms", "options": map[string]any{"num_predict": 1}})
	deadline := time.Now().Add(2 * time.Second)
	for running(s) != "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if running(s) != "" {
		t.Fatalf("a still loaded %v after a 50ms keep_alive", time.Second)
	}
	// keep_alive -1: kept, expiry far away.
	post(t, url+"/api/generate", map[string]any{"model": "a", "keep_alive": -1})
	if ms := s.models.running(); len(ms) != 1 || time.Until(s.models.expiry(ms[0])) < 24*time.Hour {
		t.Fatalf("keep_alive -1: running %q", running(s))
	}
}

func TestMemoryCheck(t *testing.T) {
	s, url, _ := twoModelServer(t, Config{})
	s.models.memAvailable = func() (uint64, bool) { return 1 << 20, true }
	resp, data := post(t, url+"/v1/chat/completions", chatTo("a", 1))
	if e := openAIErr(t, data); resp.StatusCode != 507 || str(e.Code) != "insufficient_memory" || !strings.Contains(e.Message, "MiB") {
		t.Fatalf("load without memory = %d %s, want 507 insufficient_memory", resp.StatusCode, data)
	}
	if running(s) != "" {
		t.Fatalf("running %q after a refused load", running(s))
	}
}

func TestBusyIs503(t *testing.T) {
	_, ts := qwenServer(t, Config{Parallel: 1})
	// One slot and a queue of 4: eight choices cannot all be admitted.
	resp, data := post(t, ts.URL+"/v1/chat/completions", maps(chatBody("hi", 50), "n", 8))
	if e := openAIErr(t, data); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || e.Code == nil {
		t.Fatalf("status %d (Retry-After %q): %s; want 503", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
}

// startStream posts a long streamed chat and returns the response once
// its first event arrived.
func startStream(t *testing.T, ctx context.Context, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	body := `{"model":"qwen","messages":[{"role":"user","content":"go on"}],"max_tokens":480,"temperature":0,"stream":true}`
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q: %v", line, err)
	}
	return resp, r
}

func TestDisconnectFreesSlot(t *testing.T) {
	s, ts := qwenServer(t, Config{Parallel: 2})
	ctx, cancel := context.WithCancel(t.Context())
	resp, _ := startStream(t, ctx, ts.URL)
	m := s.models.running()[0]
	if st := m.sched.Stats(); st.Busy != 1 {
		t.Fatalf("stats %+v while streaming, want one busy slot", st)
	}
	cancel()
	resp.Body.Close()
	start := time.Now()
	for m.sched.Stats().Busy != 0 {
		if time.Since(start) > time.Second {
			t.Fatalf("slot still busy %v after the client left", time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("slot freed %v after the disconnect", time.Since(start))
	_, data := do(t, "GET", ts.URL+"/metrics", nil, nil)
	if !strings.Contains(string(data), `zhiyan_slots_busy{model="qwen"} 0`) || !strings.Contains(string(data), `zhiyan_slots{model="qwen"} 2`) {
		t.Errorf("metrics after the disconnect:\n%s", data)
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	resp, r := startStream(t, t.Context(), ts.URL)
	defer resp.Body.Close()
	// The grace period is already over: the stream is ended at once.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(expired) }()
	rest, _ := io.ReadAll(r)
	rest = []byte(strings.TrimPrefix(string(rest), "\n")) // the first event's blank line
	events := sseData(t, rest)
	last := events[len(events)-1]
	if !strings.HasPrefix(last, `{"error":`) || strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("stream ended with %q (and [DONE]: %v); want an error event and no [DONE]", last, strings.Contains(string(rest), "[DONE]"))
	}
	if e := openAIErr(t, []byte(last)); str(e.Code) != "server_shutting_down" {
		t.Errorf("error event %s", last)
	}
	if err := <-done; err == nil {
		t.Errorf("Shutdown with an expired context = nil, want its error")
	}
	if running(s) != "" {
		t.Errorf("models still loaded after Shutdown: %s", running(s))
	}
}

func TestShutdownLetsStreamsFinish(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	req := `{"model":"qwen","messages":[{"role":"user","content":"go on"}],"max_tokens":40,"temperature":0,"stream":true}`
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	rest, _ := io.ReadAll(resp.Body)
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("stream did not finish: %q", rest)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}

// TestWriteDeadlineDoesNotOutliveStream: a keep-alive connection serves a
// second request after the first stream's write deadline has passed.
func TestWriteDeadlineDoesNotOutliveStream(t *testing.T) {
	_, ts := qwenServer(t, Config{WriteTimeout: 100 * time.Millisecond})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i, stream := range []bool{true, false} {
		body := fmt.Sprintf(`{"model":"qwen","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":%v}`, stream)
		resp, err := client.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(data), `"completion_tokens"`) && !strings.HasSuffix(string(data), "data: [DONE]\n\n") {
			t.Fatalf("request %d: %v %d %q", i, err, resp.StatusCode, data)
		}
		time.Sleep(250 * time.Millisecond)
	}
	client.CloseIdleConnections()
}

func TestMetrics(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	post(t, ts.URL+"/v1/chat/completions", chatBody("hi", 5))
	post(t, ts.URL+"/v1/chat/completions", maps(chatBody("hi", 5), "n", 0))
	resp, data := do(t, "GET", ts.URL+"/metrics", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	text := string(data)
	for _, want := range []string{
		`zhiyan_requests_total{route="POST /v1/chat/completions",code="200"} 1`,
		`zhiyan_requests_total{route="POST /v1/chat/completions",code="400"} 1`,
		`zhiyan_generated_tokens_total{model="qwen"} 5`,
		`zhiyan_time_to_first_token_seconds_count{model="qwen"} 1`,
		`zhiyan_inter_token_latency_seconds_count{model="qwen"} 4`,
		`zhiyan_requests_queued{model="qwen"} 0`,
		`zhiyan_slots_busy{model="qwen"} 0`,
		`zhiyan_models_loaded 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestConcurrentStreams: many clients at once over fewer slots all get
// complete, well-formed, valid UTF-8 streams with the greedy text a lone
// request gets; afterwards the server's goroutines are gone.
func TestConcurrentStreams(t *testing.T) {
	base := runtime.NumGoroutine()
	s, ts := qwenServer(t, Config{Parallel: 3})
	body := maps(chatBody("Tell me a story about 猫.", 30), "stream", true)
	_, data := post(t, ts.URL+"/v1/chat/completions", body)
	want := streamedContent(t, data)
	var wg sync.WaitGroup
	errs := make(chan string, 12)
	for i := range 12 {
		wg.Go(func() {
			b, _ := json.Marshal(body)
			resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode != 200:
				errs <- fmt.Sprintf("client %d: status %d %s", i, resp.StatusCode, data)
			case !utf8.Valid(data):
				errs <- fmt.Sprintf("client %d: invalid UTF-8", i)
			default:
				if got := streamedContent(t, data); got != want {
					errs <- fmt.Sprintf("client %d: %q, want %q", i, got, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ts.Close()
	http.DefaultClient.CloseIdleConnections()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after shutdown, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
