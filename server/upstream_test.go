package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/internal/golden"
)

// upstreamPair is a zhiyan serving the golden qwen2-mini as "qwen" (the
// upstream, which wants key "up-key") and another that serves it as "far"
// through the first.
type upstreamPair struct {
	front, back *httptest.Server
	frontLog    *syncBuffer

	mu      sync.Mutex
	headers []http.Header // every request the upstream received
	bodies  []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newUpstreamPair starts both; cfg configures the front, whose upstream
// "far" is added, with more upstreams of the back named in extra
// (name → remote model and key, as "remote key").
func newUpstreamPair(t *testing.T, cfg Config, extra map[string]string) *upstreamPair {
	t.Helper()
	p := &upstreamPair{frontLog: &syncBuffer{}}
	back, err := New(Config{Models: []string{modelCopy(t, golden.Path(t, qwen2Mini), "qwen", "")}, APIKeys: []string{"up-key"},
		KeepAlive: time.Minute, Parallel: 2, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	p.back = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		p.headers = append(p.headers, r.Header.Clone())
		p.bodies = append(p.bodies, string(body))
		p.mu.Unlock()
		back.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.back.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		back.Shutdown(ctx)
	})
	cfg.Upstreams = append(cfg.Upstreams, Upstream{Name: "far", BaseURL: p.back.URL + "/v1/", APIKey: "up-key", RemoteModel: "qwen"})
	for name, rk := range extra {
		remote, key, _ := strings.Cut(rk, " ")
		cfg.Upstreams = append(cfg.Upstreams, Upstream{Name: name, BaseURL: p.back.URL + "/v1", APIKey: key, RemoteModel: remote})
	}
	cfg.Logger = slog.New(slog.NewTextHandler(p.frontLog, nil))
	_, p.front = testServer(t, cfg)
	return p
}

// direct asks the upstream itself.
func (p *upstreamPair) direct(t *testing.T, path string, body any) (*http.Response, []byte) {
	t.Helper()
	return do(t, "POST", p.back.URL+path, body, http.Header{"Authorization": {"Bearer up-key"}})
}

// without returns v (a JSON object) less the keys that differ between two
// answers to the same request, and cached-token counts.
func without(t *testing.T, data []byte, keys ...string) map[string]any {
	t.Helper()
	m := decode[map[string]any](t, data)
	for _, k := range keys {
		delete(m, k)
	}
	if u, ok := m["usage"].(map[string]any); ok {
		delete(u, "prompt_tokens_details") // the second asking may find its prompt cached
	}
	return m
}

// TestUpstreamOpenAI: /v1 requests for the upstream model answer exactly
// what the upstream does (ids and times aside), streams event by event.
func TestUpstreamOpenAI(t *testing.T) {
	p := newUpstreamPair(t, Config{}, nil)
	chat := chatBody("Tell me a story about a cat", 12)
	tests := []struct {
		name, path string
		body       map[string]any
		stream     bool
	}{
		{"chat", "/v1/chat/completions", chat, false},
		{"chat stream", "/v1/chat/completions", maps(chat, "stream", true), true},
		{"chat stream with usage", "/v1/chat/completions", maps(chat, "stream", true, "stream_options", map[string]any{"include_usage": true}), true},
		{"chat, unknown fields kept", "/v1/chat/completions", maps(chat, "n", 2, "temperature", 0.8, "seed", 7, "some_extension", "x"), false},
		{"completion", "/v1/completions", map[string]any{"model": "qwen", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}, false},
		{"completion stream", "/v1/completions", map[string]any{"model": "qwen", "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stream": true}, true},
		{"embeddings", "/v1/embeddings", map[string]any{"model": "qwen", "input": []string{"a cat", "a dog"}}, false},
		{"upstream refusal", "/v1/chat/completions", maps(chat, "temperature", 5), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResp, want := p.direct(t, tt.path, tt.body)
			gotResp, got := post(t, p.front.URL+tt.path, maps(tt.body, "model", "far"))
			if gotResp.StatusCode != wantResp.StatusCode {
				t.Fatalf("status %d %s, upstream's %d %s", gotResp.StatusCode, got, wantResp.StatusCode, want)
			}
			if !tt.stream {
				if g, w := without(t, got, "id", "created"), without(t, want, "id", "created"); !reflect.DeepEqual(g, w) {
					t.Fatalf("got  %s\nwant %s", got, want)
				}
				return
			}
			if ct := gotResp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("Content-Type %q", ct)
			}
			g, w := sseData(t, got), sseData(t, want)
			if len(g) != len(w) || len(g) < 3 || g[len(g)-1] != "[DONE]" {
				t.Fatalf("%d events, upstream sent %d:\n%s\nwant\n%s", len(g), len(w), got, want)
			}
			for i := range g[:len(g)-1] {
				if a, b := without(t, []byte(g[i]), "id", "created"), without(t, []byte(w[i]), "id", "created"); !reflect.DeepEqual(a, b) {
					t.Fatalf("event %d: %s, upstream's %s", i, g[i], w[i])
				}
			}
		})
	}
	p.mu.Lock()
	kept := slices.ContainsFunc(p.bodies, func(b string) bool {
		return strings.Contains(b, `"some_extension":"x"`) && strings.Contains(b, `"model":"qwen"`)
	})
	p.mu.Unlock()
	if !kept {
		t.Error("an unknown field was not forwarded, or the model not replaced")
	}
	_, metrics := do(t, "GET", p.front.URL+"/metrics", nil, nil)
	for _, want := range []string{`zhiyan_upstream_requests_total{model="far",code="200"} 7`, `zhiyan_upstream_requests_total{model="far",code="400"} 1`,
		`zhiyan_upstream_requests_active{model="far"} 0`, `zhiyan_generated_tokens_total{model="far"}`, `zhiyan_prompt_tokens_total{model="far"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("front metrics lack %s:\n%s", want, metrics)
		}
	}
}

// ollamaText joins an Ollama answer's text and returns its last object.
func ollamaText(t *testing.T, body []byte, chatAPI bool) (text string, last map[string]any, objects int) {
	t.Helper()
	objs := ndjson(t, body)
	var b strings.Builder
	for _, o := range objs {
		if chatAPI {
			msg, _ := o["message"].(map[string]any)
			s, _ := msg["content"].(string)
			b.WriteString(s)
		} else {
			s, _ := o["response"].(string)
			b.WriteString(s)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("no objects in %s", body)
	}
	return b.String(), objs[len(objs)-1], len(objs)
}

// TestUpstreamOllama: Ollama's routes for the upstream model convert to
// OpenAI requests and back, and answer what the upstream's own Ollama
// routes do.
func TestUpstreamOllama(t *testing.T) {
	p := newUpstreamPair(t, Config{}, nil)
	opts := map[string]any{"temperature": 0, "num_predict": 10}
	msgs := []map[string]any{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a fruit"}}
	tests := []struct {
		name, path string
		body       map[string]any
		chatAPI    bool
		streamed   bool
	}{
		{"chat stream", "/api/chat", map[string]any{"model": "qwen", "messages": msgs, "options": opts}, true, true},
		{"chat", "/api/chat", map[string]any{"model": "qwen", "messages": msgs, "options": opts, "stream": false}, true, false},
		{"generate stream", "/api/generate", map[string]any{"model": "qwen", "system": "Be brief.", "prompt": "Name a fruit", "options": opts}, false, true},
		{"generate raw", "/api/generate", map[string]any{"model": "qwen", "prompt": "Once upon a time", "raw": true, "options": opts, "stream": false}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResp, want := p.direct(t, tt.path, tt.body)
			gotResp, got := post(t, p.front.URL+tt.path, maps(tt.body, "model", "far"))
			if gotResp.StatusCode != 200 || wantResp.StatusCode != 200 {
				t.Fatalf("status %d %s, upstream's %d %s", gotResp.StatusCode, got, wantResp.StatusCode, want)
			}
			gt, glast, n := ollamaText(t, got, tt.chatAPI)
			wt, wlast, _ := ollamaText(t, want, tt.chatAPI)
			if gt != wt || gt == "" {
				t.Errorf("text %q, upstream's %q", gt, wt)
			}
			if tt.streamed && n < 3 {
				t.Errorf("%d objects: not streamed\n%s", n, got)
			}
			for _, k := range []string{"done", "done_reason", "eval_count", "prompt_eval_count"} {
				if glast[k] != wlast[k] {
					t.Errorf("%s = %v, upstream's %v", k, glast[k], wlast[k])
				}
			}
			if glast["model"] != "far" || glast["total_duration"] == nil {
				t.Errorf("last object %v: want model far and a total_duration", glast)
			}
		})
	}
	t.Run("embed", func(t *testing.T) {
		body := map[string]any{"model": "qwen", "input": []string{"a cat", "a dog"}}
		_, want := p.direct(t, "/api/embed", body)
		resp, got := post(t, p.front.URL+"/api/embed", maps(body, "model", "far"))
		g, w := decode[ollamaEmbedResponse](t, got), decode[ollamaEmbedResponse](t, want)
		if resp.StatusCode != 200 || len(g.Embeddings) != 2 || !reflect.DeepEqual(g.Embeddings, w.Embeddings) || g.PromptEvalCount != w.PromptEvalCount || g.Model != "far" {
			t.Fatalf("got %d %.300s\nwant %.300s", resp.StatusCode, got, want)
		}
		_, got = post(t, p.front.URL+"/api/embeddings", map[string]any{"model": "far", "prompt": "a cat"})
		if e := decode[ollamaEmbeddingsResponse](t, got); len(e.Embedding) != len(w.Embeddings[0]) || float32(e.Embedding[0]) != w.Embeddings[0][0] {
			t.Fatalf("/api/embeddings: %.300s", got)
		}
	})
	t.Run("load", func(t *testing.T) {
		resp, got := post(t, p.front.URL+"/api/generate", map[string]any{"model": "far"})
		if o := decode[map[string]any](t, got); resp.StatusCode != 200 || o["done_reason"] != "load" || o["model"] != "far" {
			t.Fatalf("load = %d %s", resp.StatusCode, got)
		}
	})
}

// TestUpstreamTools: tool calls come back in Ollama's shape, and a
// conversation with Ollama-style calls (no ids) and results goes up.
func TestUpstreamToolMessages(t *testing.T) {
	msgs, err := upstreamMessages([]ollamaMessage{
		{Role: "user", Content: "weather?"},
		{Role: "assistant", ToolCalls: []ollamaToolCall{
			{Function: ollamaFunction{Name: "weather", Arguments: json.RawMessage(`{"city": "Paris"}`)}},
			{Function: ollamaFunction{Name: "time", Arguments: json.RawMessage(`{}`)}}}},
		{Role: "tool", ToolName: "time", Content: "noon"},
		{Role: "tool", Content: "sunny"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(msgs)
	want := `[{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":"","tool_calls":[{"id":"call_1_0","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},` +
		`{"id":"call_1_1","type":"function","function":{"name":"time","arguments":"{}"}}]},` +
		`{"role":"tool","content":"noon","tool_call_id":"call_1_1"},{"role":"tool","content":"sunny","tool_call_id":"call_1_0"}]`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// Streamed fragments of two calls, as vLLM sends them.
	o := &ollamaRelay{u: &upstream{Upstream: Upstream{Name: "far"}}, chatAPI: true, s: &Server{}, ctx: t.Context()}
	for _, ev := range []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"weather","arguments":""}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": "}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"time","arguments":"{}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}`,
	} {
		if err := o.chunk([]byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	o.s.metrics = newServerMetrics(o.s)
	final, _ := json.Marshal(o.final())
	for _, want := range []string{`"tool_calls":[{"id":"c1","function":{"index":0,"name":"weather","arguments":{"city":"Paris"}}},{"id":"c2","function":{"index":1,"name":"time","arguments":{}}}]`,
		`"done_reason":"stop"`, `"prompt_eval_count":5`, `"eval_count":9`} {
		if !strings.Contains(string(final), want) {
			t.Errorf("final %s lacks %s", final, want)
		}
	}
}

// TestUpstreamErrors: the upstream's refusals keep their status (a 5xx or
// a refused key becomes 502), an unreachable or silent upstream is 502 or
// 504, in each API's error shape.
func TestUpstreamErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/v1"
	l.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		<-r.Context().Done()
	}))
	defer slow.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"))
	}))
	defer broken.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}`))
	}))
	defer failing.Close()
	p := newUpstreamPair(t, Config{UpstreamTimeout: 300 * time.Millisecond, Upstreams: []Upstream{
		{Name: "down", BaseURL: down}, {Name: "slow", BaseURL: slow.URL}, {Name: "broken", BaseURL: broken.URL}, {Name: "failing", BaseURL: failing.URL},
	}}, map[string]string{"ghost": "no-such-model up-key", "badkey": "qwen wrong-key"})
	tests := []struct {
		model  string
		status int
		code   string
		msg    string
	}{
		{"ghost", 404, "model_not_found", "no-such-model"},
		{"badkey", 502, "upstream_error", "refused our credentials (401)"},
		{"down", 502, "upstream_error", "cannot reach the server of model down"},
		{"slow", 504, "upstream_timeout", "sent nothing for 300ms"},
		{"failing", 502, "upstream_error", "upstream error: CUDA out of memory"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			resp, data := post(t, p.front.URL+"/v1/chat/completions", maps(chatBody("hi", 4), "model", tt.model))
			if e := openAIErr(t, data); resp.StatusCode != tt.status || str(e.Code) != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("/v1: %d %s, want %d %s %q", resp.StatusCode, data, tt.status, tt.code, tt.msg)
			}
			resp, data = post(t, p.front.URL+"/api/chat", map[string]any{"model": tt.model, "messages": []map[string]any{{"role": "user", "content": "hi"}}})
			if e := decode[ollamaError](t, data); resp.StatusCode != tt.status || !strings.Contains(e.Error, tt.msg) {
				t.Errorf("/api: %d %s, want %d %q", resp.StatusCode, data, tt.status, tt.msg)
			}
		})
	}
	t.Run("stream broken", func(t *testing.T) {
		resp, data := post(t, p.front.URL+"/api/chat", map[string]any{"model": "broken", "messages": []map[string]any{{"role": "user", "content": "hi"}}})
		objs := ndjson(t, data)
		if resp.StatusCode != 200 || len(objs) != 2 || !strings.Contains(objs[1]["error"].(string), "ended early") {
			t.Fatalf("%d %s: want the text, then an error", resp.StatusCode, data)
		}
	})
	if log := p.frontLog.String(); !strings.Contains(log, "host="+strings.TrimPrefix(p.back.URL, "http://")) ||
		strings.Contains(log, p.back.URL) || strings.Contains(log, "up-key") || strings.Contains(log, "wrong-key") {
		t.Errorf("the log should name upstream hosts, and neither paths nor keys:\n%s", log)
	}
}

// TestUpstreamKeys: the configured key goes upstream; the client's
// credentials never do.
func TestUpstreamKeys(t *testing.T) {
	p := newUpstreamPair(t, Config{APIKeys: []string{"client-key"}}, map[string]string{"keyless": "qwen "})
	for _, model := range []string{"far", "keyless"} {
		post := func(path string, body any) (*http.Response, []byte) {
			return do(t, "POST", p.front.URL+path, body, http.Header{"Authorization": {"Bearer client-key"}, "X-Api-Key": {"client-key"}})
		}
		resp, data := post("/v1/chat/completions", maps(chatBody("hi", 2), "model", model))
		want := map[string]int{"far": 200, "keyless": 502}[model] // the upstream wants its key
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s, want %d", model, resp.StatusCode, data, want)
		}
		post("/api/chat", map[string]any{"model": model, "messages": []map[string]any{{"role": "user", "content": "hi"}}, "options": map[string]any{"num_predict": 2}})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.headers) != 4 {
		t.Fatalf("upstream got %d requests, want 4", len(p.headers))
	}
	for i, h := range p.headers {
		wantAuth := []string{"Bearer up-key", "Bearer up-key", "", ""}[i]
		if got := h.Get("Authorization"); got != wantAuth {
			t.Errorf("request %d: Authorization %q, want %q", i, got, wantAuth)
		}
		for k, vs := range h {
			if strings.Contains(strings.Join(vs, " "), "client-key") {
				t.Errorf("request %d: the client's key went upstream in %s", i, k)
			}
		}
	}
}

// TestUpstreamDisconnect: a client leaving a relayed stream cancels the
// upstream's generation: its slot frees and nothing completes there.
func TestUpstreamDisconnect(t *testing.T) {
	p := newUpstreamPair(t, Config{}, nil)
	tests := []struct{ name, path, body string }{
		{"openai", "/v1/chat/completions", `{"model":"far","messages":[{"role":"user","content":"go on"}],"max_tokens":480,"temperature":0,"stream":true}`},
		{"ollama", "/api/chat", `{"model":"far","messages":[{"role":"user","content":"go on"}],"options":{"num_predict":480,"temperature":0}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, "POST", p.front.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, 1)
			if _, err := resp.Body.Read(first); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, first read: %v", resp.StatusCode, err)
			}
			busy := `zhiyan_slots_busy{model="qwen"} 1`
			if _, m := do(t, "GET", p.back.URL+"/metrics", nil, http.Header{"Authorization": {"Bearer up-key"}}); !strings.Contains(string(m), busy) {
				t.Fatalf("upstream metrics while streaming lack %s:\n%s", busy, m)
			}
			cancel()
			resp.Body.Close()
			start := time.Now()
			for {
				_, m := do(t, "GET", p.back.URL+"/metrics", nil, http.Header{"Authorization": {"Bearer up-key"}})
				if strings.Contains(string(m), `zhiyan_slots_busy{model="qwen"} 0`) {
					if strings.Contains(string(m), `zhiyan_generated_tokens_total{model="qwen"}`) {
						t.Fatalf("the upstream finished the generation instead of stopping it:\n%s", m)
					}
					break
				}
				if time.Since(start) > 3*time.Second {
					t.Fatalf("upstream slot still busy %v after the client left:\n%s", time.Since(start), m)
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("upstream slot freed %v after the disconnect", time.Since(start))
		})
	}
	_, m := do(t, "GET", p.front.URL+"/metrics", nil, nil)
	if !strings.Contains(string(m), `zhiyan_upstream_requests_active{model="far"} 0`) {
		t.Errorf("front metrics:\n%s", m)
	}
}

// TestUpstreamModels: upstream models are listed and described, and hide
// a local model of the same name.
func TestUpstreamModels(t *testing.T) {
	p := newUpstreamPair(t, Config{Models: []string{modelCopy(t, golden.Path(t, qwen2Mini), "far", "")}}, nil)
	_, data := do(t, "GET", p.front.URL+"/v1/models", nil, nil)
	if l := decode[modelList](t, data); len(l.Data) != 1 || l.Data[0].ID != "far" || l.Data[0].OwnedBy != "upstream" {
		t.Errorf("/v1/models = %s", data)
	}
	if resp, data := do(t, "GET", p.front.URL+"/v1/models/far", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(data), `"owned_by":"upstream"`) {
		t.Errorf("/v1/models/far = %d %s", resp.StatusCode, data)
	}
	_, data = do(t, "GET", p.front.URL+"/api/tags", nil, nil)
	tags := decode[struct{ Models []ollamaListModel }](t, data)
	if len(tags.Models) != 1 || tags.Models[0].Name != "far" || tags.Models[0].Details.Family != "upstream" || len(tags.Models[0].Digest) != 64 {
		t.Errorf("/api/tags = %s", data)
	}
	resp, data := post(t, p.front.URL+"/api/show", map[string]any{"model": "far:latest"})
	if show := decode[ollamaShowResponse](t, data); resp.StatusCode != 200 || show.Details.Family != "upstream" || len(show.Capabilities) == 0 {
		t.Errorf("/api/show = %d %s", resp.StatusCode, data)
	}
}

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		spec string
		want Upstream
		err  string
	}{
		{"big=http://10.0.0.5:8000/v1", Upstream{Name: "big", BaseURL: "http://10.0.0.5:8000/v1"}, ""},
		{"qwen3:32b=https://gpu.example/v1#Qwen/Qwen3-32B", Upstream{Name: "qwen3:32b", BaseURL: "https://gpu.example/v1", RemoteModel: "Qwen/Qwen3-32B"}, ""},
		{"big=ftp://h/v1", Upstream{}, "http or https"},
		{"big=unix:///run/x.sock", Upstream{}, "http or https"},
		{"big=http://user:pw@h/v1", Upstream{}, "credentials"},
		{"big=http://h/v1?x=1", Upstream{}, "query"},
		{"big=http:///v1", Upstream{}, "not a URL"},
		{"=http://h/v1", Upstream{}, "empty"},
		{"a b=http://h/v1", Upstream{}, "spaces"},
		{"http://h/v1", Upstream{}, "NAME=URL"},
	}
	for _, tt := range tests {
		got, err := ParseUpstream(tt.spec)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseUpstream(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseUpstream(%q) = %+v, %v; want an error with %q", tt.spec, got, err, tt.err)
		}
	}
	if got := UpstreamKeyEnv("qwen3:32b-Fast"); got != "ZHIYAN_UPSTREAM_KEY_QWEN3_32B_FAST" {
		t.Errorf("UpstreamKeyEnv = %s", got)
	}
	if _, err := New(Config{Upstreams: []Upstream{{Name: "a", BaseURL: "http://h/v1"}, {Name: "a:latest", BaseURL: "http://g/v1"}}}); err == nil {
		t.Error("New accepted an upstream name twice")
	}
}

func TestUpstreamErrorBody(t *testing.T) {
	u := &upstream{Upstream: Upstream{Name: "far"}}
	tests := []struct {
		status int
		body   string
		want   apiError
	}{
		{404, `{"error":{"message":"The model x does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}`,
			apiError{status: 404, typ: "invalid_request_error", code: "model_not_found", param: "model", msg: "The model x does not exist"}},
		{400, `{"object":"error","message":"bad temperature","type":"BadRequestError","param":null,"code":400}`,
			apiError{status: 400, typ: "BadRequestError", msg: "bad temperature"}},
		{422, `{"detail":[{"loc":["body","messages"],"msg":"field required"}]}`,
			apiError{status: 422, typ: "invalid_request_error", msg: `invalid request: [{"loc":["body","messages"],"msg":"field required"}]`}},
		{400, `{"error":"model is required"}`, apiError{status: 400, typ: "invalid_request_error", msg: "model is required"}},
		{503, `<html>busy</html>`, apiError{status: 502, typ: "server_error", code: "upstream_error", msg: "upstream error: 503 Service Unavailable", retryAfter: 3}},
		{403, `{"detail":"Not authenticated"}`, apiError{status: 502, typ: "server_error", code: "upstream_error", msg: "upstream error: the server of model far refused our credentials (403): Not authenticated"}},
	}
	for _, tt := range tests {
		got := upstreamError(u, tt.status, http.Header{"Retry-After": {"3"}}, []byte(tt.body))
		tt.want.retryAfter = 3 // passed on whatever the status
		if *got != tt.want {
			t.Errorf("%d %s:\n got  %+v\n want %+v", tt.status, tt.body, *got, tt.want)
		}
	}
}

func TestSSEReader(t *testing.T) {
	in := ": ping\n\ndata: {\"a\":1}\r\n\r\n\n\nevent: x\ndata: one\ndata: two\n\ndata:\n\ndata: [DONE]"
	type ev struct{ raw, data string }
	want := []ev{{": ping\n\n", "<nil>"}, {"data: {\"a\":1}\r\n\r\n", `{"a":1}`}, {"event: x\ndata: one\ndata: two\n\n", "one\ntwo"},
		{"data:\n\n", ""}, {"data: [DONE]", "[DONE]"}}
	r := newSSEReader(strings.NewReader(in))
	var got []ev
	for {
		raw, data, err := r.next()
		d := "<nil>"
		if data != nil {
			d = string(data)
		}
		if len(raw) > 0 {
			got = append(got, ev{string(raw), d})
		}
		if err != nil {
			break
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
