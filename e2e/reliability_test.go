package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"go.uber.org/goleak"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/server"
)

// soakDuration is how long the streaming soak runs: 60 s, or
// ZHIYAN_E2E_SOAK (a Go duration) to shorten it locally.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("ZHIYAN_E2E_SOAK")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("ZHIYAN_E2E_SOAK=%q: want a positive Go duration", v)
	}
	return d
}

func streamBody(user string, maxTokens int) map[string]any {
	return map[string]any{
		"model":          "qwen",
		"messages":       []map[string]any{{"role": "user", "content": user}},
		"max_tokens":     maxTokens,
		"temperature":    0,
		"stream":         true,
		"stream_options": map[string]any{"include_usage": true},
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// settle waits for the goroutine count to come back to base (± slack).
func settle(base, slack int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamingSoak (plan C6 L1): 32 clients stream greedy chats for 60 s
// against 4 slots and a queue of 16. Every accepted stream is well-formed,
// complete, valid UTF-8 and byte-identical to the engine's own greedy
// output; every refusal is a 503 JSON error before any body byte. Heap and
// goroutines come back afterwards; nothing leaks once the server is shut
// down.
func TestStreamingSoak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const clients, maxTokens = 32, 24
	dur := soakDuration(t)
	lv := start(t, server.Config{Parallel: 4, Models: []string{modelCopy(t, "qwen", "")}})
	prompts := []string{"Hello", "Name three colours.", "你好，世界", "Write a haiku about Go.", "Count to ten: 1, 2,", "Résumé of the 🙂 emoji"}
	want := map[string]reference{}
	for _, p := range prompts {
		want[p] = engineChat(t, lv.models[0], []chat.Message{{Role: "user", Content: p}}, maxTokens)
	}
	// Warm up (load the model), then take the baselines.
	if _, err := postStream(t.Context(), lv.hc, lv.url, streamBody(prompts[0], maxTokens)); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBase, goBase := ms.HeapAlloc, runtime.NumGoroutine()

	var (
		mu                 sync.Mutex
		ttfts              []time.Duration
		accepted, rejected atomic.Int64
		failures           []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				prompt := prompts[(c+i)%len(prompts)]
				res, err := postStream(context.Background(), lv.hc, lv.url, streamBody(prompt, maxTokens))
				switch {
				case err != nil:
					fail("client %d request %d (%q): status %d: %v", c, i, prompt, res.status, err)
					return
				case res.status == http.StatusServiceUnavailable:
					rejected.Add(1)
					if res.retryAfter == "" {
						fail("503 without Retry-After: %s", res.errBody)
					}
					time.Sleep(time.Duration(10+c) * time.Millisecond) // back off, staggered
				case res.status != http.StatusOK:
					fail("client %d: status %d: %s", c, res.status, res.errBody)
					return
				default:
					accepted.Add(1)
					w := want[prompt]
					if res.content != w.text || res.finish != w.reason || !res.usage {
						fail("client %d prompt %q: content %q finish %q usage %v; want the engine's %q (%s) and usage", c, prompt, res.content, res.finish, res.usage, w.text, w.reason)
					}
					mu.Lock()
					ttfts = append(ttfts, res.ttft)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%v: %d streams accepted, %d refused with 503; time to first token p50 %v, p99 %v",
		dur, accepted.Load(), rejected.Load(), percentile(ttfts, 0.5), percentile(ttfts, 0.99))
	if accepted.Load() < clients {
		t.Errorf("only %d streams were accepted in %v", accepted.Load(), dur)
	}
	if q := lv.metric(t, "zhiyan_requests_queued", `model="qwen"`); q != 0 {
		t.Errorf("queue gauge %v after the load, want 0", q)
	}
	if b := lv.metric(t, "zhiyan_slots_busy", `model="qwen"`); b != 0 {
		t.Errorf("busy-slots gauge %v after the load, want 0", b)
	}
	lv.hc.CloseIdleConnections()
	if n := settle(goBase, 10, 2*time.Second); n > goBase+10 {
		t.Errorf("%d goroutines 2 s after the load, baseline %d", n, goBase)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > heapBase+20<<20 {
		t.Errorf("heap %d MiB after the load, baseline %d MiB", ms.HeapAlloc>>20, heapBase>>20)
	}
	lv.shutdown(t)
}

// TestOverload (plan C6 L2): 200 clients at once against one slot and a
// queue of 4. Each gets either a complete stream or a quick 503 JSON error
// with Retry-After; the queue drains to 0.
func TestOverload(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const clients, maxTokens = 200, 16
	lv := start(t, server.Config{Parallel: 1, Models: []string{modelCopy(t, "qwen", "")}})
	want := engineChat(t, lv.models[0], []chat.Message{{Role: "user", Content: "Hello"}}, maxTokens)
	if _, err := postStream(t.Context(), lv.hc, lv.url, streamBody("Hello", maxTokens)); err != nil { // load the model
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: 0}}
	defer hc.CloseIdleConnections()
	type outcome struct {
		res streamResult
		err error
	}
	out := make([]outcome, clients)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			<-gate
			res, err := postStream(context.Background(), hc, lv.url, streamBody("Hello", maxTokens))
			out[i] = outcome{res, err}
		})
	}
	close(gate)
	wg.Wait()
	var ok, busy int
	var refusals []time.Duration
	for i, o := range out {
		switch {
		case o.err != nil:
			t.Errorf("client %d: status %d: %v", i, o.res.status, o.err)
		case o.res.status == http.StatusOK:
			ok++
			if o.res.content != want.text {
				t.Errorf("client %d: content %q, want %q", i, o.res.content, want.text)
			}
		case o.res.status == http.StatusServiceUnavailable:
			busy++
			refusals = append(refusals, o.res.total)
			if o.res.retryAfter == "" || !strings.Contains(string(o.res.errBody), "server_is_overloaded") {
				t.Errorf("client %d: 503 (Retry-After %q): %s", i, o.res.retryAfter, o.res.errBody)
			}
		default:
			t.Errorf("client %d: status %d: %s", i, o.res.status, o.res.errBody)
		}
	}
	p50, p99 := percentile(refusals, 0.5), percentile(refusals, 0.99)
	t.Logf("%d clients: %d streamed, %d refused; refusal latency p50 %v, p99 %v", clients, ok, busy, p50, p99)
	if ok+busy != clients || ok < 5 || busy == 0 {
		t.Errorf("%d streamed + %d refused of %d clients: want all answered, at least the 5 admitted streamed", ok, busy, clients)
	}
	// A refusal costs no generation: it must not wait behind the streams.
	if p99 > time.Second {
		t.Errorf("refusals took up to %v (p99): want them answered at once", p99)
	}
	if q := lv.metric(t, "zhiyan_requests_queued", `model="qwen"`); q != 0 {
		t.Errorf("queue gauge %v after the burst, want 0", q)
	}
	lv.shutdown(t)
}

// endBias is a logit_bias banning the end-of-turn tokens of lv's first
// model, so a stream runs to max_tokens.
func endBias(t *testing.T, lv *live) string {
	t.Helper()
	e, err := engine.Open(lv.models[0])
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var parts []string
	for _, tok := range []string{"<|im_end|>", "<|endoftext|>"} {
		if id, ok := e.Tokenizer.TokenID(tok); ok {
			parts = append(parts, fmt.Sprintf(`"%d":-100`, id))
		}
	}
	if len(parts) == 0 {
		t.Fatal("no end-of-turn token found")
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// openLongStream starts a long stream that cannot end early (bias from
// endBias) and reads n events; the caller cancels ctx to disconnect.
func openLongStream(t *testing.T, ctx context.Context, lv *live, bias string, n int) {
	t.Helper()
	body := strings.NewReader(`{"model":"qwen","messages":[{"role":"user","content":"Tell me a very long story."}],"max_tokens":400,"temperature":1,"seed":1,"logit_bias":` + bias + `,"stream":true}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, lv.url+"/v1/chat/completions", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := lv.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	for i := 0; i < n; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if strings.Contains(line, `"finish_reason":"`) || strings.Contains(line, "[DONE]") {
			t.Fatalf("the stream ended after %d events: the disconnect would test nothing", i)
		}
		if strings.HasPrefix(line, "data: ") {
			i++
		}
	}
}

// TestDisconnectFreesSlot (plan C6 F2): a client that leaves mid-stream
// frees its slot, as /metrics shows, within a decode step or so; the token
// counter stops; nothing leaks.
func TestDisconnectFreesSlot(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	lv := start(t, server.Config{Parallel: 2, Models: []string{modelCopy(t, "qwen", "")}})
	bias := endBias(t, lv)
	var worst time.Duration
	for _, k := range []int{1, 5, 50} {
		for rep := range 5 {
			ctx, cancel := context.WithCancel(t.Context())
			openLongStream(t, ctx, lv, bias, k)
			if b := lv.metric(t, "zhiyan_slots_busy", `model="qwen"`); b != 1 {
				t.Fatalf("busy slots %v while streaming, want 1", b)
			}
			cancel()
			left := time.Now()
			for lv.metric(t, "zhiyan_slots_busy", `model="qwen"`) != 0 {
				if time.Since(left) > 2*time.Second {
					t.Fatalf("k=%d rep %d: slot still busy %v after the client left", k, rep, time.Since(left))
				}
				time.Sleep(2 * time.Millisecond)
			}
			freed := time.Since(left)
			worst = max(worst, freed)
			tokens := lv.metric(t, "zhiyan_generated_tokens_total", `model="qwen"`)
			time.Sleep(50 * time.Millisecond)
			if again := lv.metric(t, "zhiyan_generated_tokens_total", `model="qwen"`); again != tokens {
				t.Errorf("k=%d: %v tokens generated after the slot was freed", k, again-tokens)
			}
		}
	}
	// Ollama's client stops reading when its callback fails: the NDJSON
	// stream's slot is freed the same way.
	client := lv.olClient(t)
	stop := errors.New("enough")
	for rep := range 3 {
		n := 0
		err := client.Chat(t.Context(), &api.ChatRequest{Model: "qwen", Messages: []api.Message{{Role: "user", Content: "Tell me a very long story."}},
			Options: map[string]any{"temperature": 1, "seed": rep, "num_predict": 400}}, func(r api.ChatResponse) error {
			if r.Done {
				t.Errorf("the stream ended after %d responses: the disconnect would test nothing", n)
			}
			if n++; n == 5 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("Chat: %v, want the callback's error", err)
		}
		left := time.Now()
		for lv.metric(t, "zhiyan_slots_busy", `model="qwen"`) != 0 {
			if time.Since(left) > 2*time.Second {
				t.Fatalf("ollama rep %d: slot still busy %v after the client left", rep, time.Since(left))
			}
			time.Sleep(2 * time.Millisecond)
		}
		worst = max(worst, time.Since(left))
	}
	t.Logf("slot freed at worst %v after a disconnect", worst)
	if worst > 250*time.Millisecond {
		t.Errorf("a slot took %v to free after its client left: want within a decode step (≤ 250 ms)", worst)
	}
	lv.shutdown(t)
}

// TestBusyIsTypedSDKError: with every slot and queue place taken, the
// OpenAI SDK (retries off) gets a typed 503; once the streams go, the
// same request succeeds.
func TestBusyIsTypedSDKError(t *testing.T) {
	lv := start(t, server.Config{Parallel: 1, Models: []string{modelCopy(t, "qwen", "")}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	openLongStream(t, ctx, lv, endBias(t, lv), 1) // the slot
	for range 4 {                                 // the queue
		wg.Go(func() {
			body := strings.NewReader(`{"model":"qwen","messages":[{"role":"user","content":"x"}],"max_tokens":8,"stream":true}`)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, lv.url+"/v1/chat/completions", body)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := lv.hc.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for lv.metric(t, "zhiyan_requests_queued", `model="qwen"`) != 4 {
		if time.Now().After(deadline) {
			t.Fatal("the queue did not fill")
		}
		time.Sleep(5 * time.Millisecond)
	}
	client := lv.oaClient()
	_, err := client.Chat.Completions.New(context.Background(), greedyParams("qwen", 4, openai.UserMessage("hi")))
	e := wantAPIError(t, err, http.StatusServiceUnavailable, "server_is_overloaded")
	if e.Response.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	cancel()
	wg.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for lv.metric(t, "zhiyan_requests_queued", `model="qwen"`)+lv.metric(t, "zhiyan_slots_busy", `model="qwen"`) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slot and queue did not empty after the clients left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := client.Chat.Completions.New(context.Background(), greedyParams("qwen", 4, openai.UserMessage("hi"))); err != nil {
		t.Errorf("after the load: %v", err)
	}
}

// TestHostChecks: DNS rebinding is refused (an attacker's name resolving
// to 127.0.0.1), loopback names are served.
func TestHostChecks(t *testing.T) {
	lv := start(t, server.Config{Models: []string{modelCopy(t, "qwen", "")}})
	port := lv.url[strings.LastIndex(lv.url, ":")+1:]
	tests := []struct {
		host, path string
		want       int
	}{
		{"attacker.example", "/v1/models", 403},
		{"attacker.example:" + port, "/v1/chat/completions", 403},
		{"attacker.example", "/api/tags", 403},
		{"attacker.example", "/metrics", 403},
		{"127.0.0.1.nip.io:" + port, "/v1/models", 403},
		{"x.internal", "/v1/models", 403},
		{"localhost:" + port, "/v1/models", 200},
		{"127.0.0.1:" + port, "/api/tags", 200},
		{"[::1]:" + port, "/v1/models", 200},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			method, body := http.MethodGet, ""
			if tt.path == "/v1/chat/completions" {
				method, body = http.MethodPost, `{"model":"qwen","messages":[{"role":"user","content":"hi"}],"max_tokens":1}`
			}
			req, _ := http.NewRequest(method, lv.url+tt.path, strings.NewReader(body))
			req.Host = tt.host
			resp, err := lv.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data := make([]byte, 1<<16)
			n, _ := resp.Body.Read(data)
			data = data[:n]
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, data)
			}
			if tt.want == 403 && strings.HasPrefix(tt.path, "/v1/") {
				if err := checkOpenAIError(data); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
