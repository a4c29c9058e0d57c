package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
)

const qwen2Mini = "qwen2-mini/qwen2-mini-F32.gguf"

// testServer serves cfg over loopback; both close when the test ends.
func testServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, ts
}

// qwenServer serves the golden qwen2-mini (ChatML, no tools) as "qwen".
func qwenServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Models = append(cfg.Models, modelCopy(t, golden.Path(t, qwen2Mini), "qwen", ""))
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = time.Minute
	}
	return testServer(t, cfg)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

var copyMu sync.Mutex

// modelCopy writes src as NAME.gguf in a temporary directory, with its chat
// template replaced by the named file of chat's testdata when template is
// not "".
func modelCopy(t *testing.T, src, name, template string) string {
	t.Helper()
	copyMu.Lock()
	defer copyMu.Unlock()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KVs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if template != "" {
		src, err := os.ReadFile(filepath.Join("..", "chat", "testdata", "templates", "templates", template))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Set("tokenizer.chat_template", string(src)); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), name+".gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// post sends body (a string is sent as it is, anything else as JSON).
func post(t *testing.T, url string, body any) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodPost, url, body, nil)
}

func do(t *testing.T, method, url string, body any, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// decode unmarshals data into a T or fails.
func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

// sseData splits an SSE body into its data payloads, checking the framing.
func sseData(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimRight(string(body), "\n"), "\n\n") {
		if !strings.HasPrefix(ev, "data: ") || strings.Contains(ev, "\n") {
			t.Fatalf("malformed SSE event %q in\n%s", ev, body)
		}
		out = append(out, strings.TrimPrefix(ev, "data: "))
	}
	return out
}

// ndjson splits an NDJSON body into objects.
func ndjson(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		out = append(out, decode[map[string]any](t, sc.Bytes()))
	}
	return out
}

// openAIErr decodes an OpenAI error body, checking its shape.
func openAIErr(t *testing.T, data []byte) openAIErrorBody {
	t.Helper()
	var e map[string]map[string]any
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("error body %s: %v", data, err)
	}
	body, ok := e["error"]
	if !ok || len(e) != 1 {
		t.Fatalf("error body %s: want exactly {\"error\":{…}}", data)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := body[k]; !ok {
			t.Fatalf("error body %s lacks %q", data, k)
		}
	}
	return decode[openAIError](t, data).Error
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func TestHealth(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	resp, body := do(t, http.MethodGet, ts.URL+"/health", nil, nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Fatalf("GET /health = %d %s, want 200 {\"status\":\"ok\"}", resp.StatusCode, body)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, _ = do(t, http.MethodGet, ts.URL+"/health", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /health after Shutdown = %d, want 503", resp.StatusCode)
	}
	resp, body = post(t, ts.URL+"/v1/chat/completions", chatBody("hi", 2))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("chat after Shutdown = %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	openAIErr(t, body)
}

// chatBody is a greedy chat request for "qwen".
func chatBody(user string, maxTokens int) map[string]any {
	return map[string]any{
		"model":       "qwen",
		"messages":    []map[string]any{{"role": "user", "content": user}},
		"max_tokens":  maxTokens,
		"temperature": 0,
	}
}

func TestGuard(t *testing.T) {
	_, ts := qwenServer(t, Config{Addr: "127.0.0.1:0", APIKeys: []string{"sekret"}})
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		host   string
		want   int
		code   string
	}{
		{"no key", "GET", "/v1/models", nil, "", 401, "missing_api_key"},
		{"wrong key", "GET", "/v1/models", bearer("nope"), "", 401, "invalid_api_key"},
		{"right key", "GET", "/v1/models", bearer("sekret"), "", 200, ""},
		{"health is public", "GET", "/health", nil, "", 200, ""},
		{"ollama route needs the key", "GET", "/api/tags", nil, "", 401, ""},
		{"rebinding host", "GET", "/v1/models", bearer("sekret"), "attacker.example", 403, "host_not_allowed"},
		{"rebinding name of loopback", "GET", "/v1/models", bearer("sekret"), "127.0.0.1.nip.io", 403, "host_not_allowed"},
		{"localhost", "GET", "/v1/models", bearer("sekret"), "localhost:11435", 200, ""},
		{"foreign web page", "GET", "/v1/models", http.Header{"Authorization": {"Bearer sekret"}, "Origin": {"http://attacker.example"}}, "", 403, "origin_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
			if tt.want >= 400 && strings.HasPrefix(tt.path, "/v1/") {
				if e := openAIErr(t, body); tt.code != "" && str(e.Code) != tt.code {
					t.Errorf("code = %s, want %s", str(e.Code), tt.code)
				}
			}
			if tt.want >= 400 && strings.HasPrefix(tt.path, "/api/") {
				if e := decode[ollamaError](t, body); e.Error == "" {
					t.Errorf("Ollama error body %s has no message", body)
				}
			}
		})
	}
}
