package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"zhiyan/server"
)

// TestMalformedExtra: server/malformed_test.go holds the OpenAI table (60
// cases over loopback). These are the plan's cases it lacks — duplicate
// keys, 10 000 messages, a 1 MiB message — and the same hostility against
// Ollama's routes, whose errors have Ollama's shape {"error":"…"}. None is
// a 500, and none generates a token.
func TestMalformedExtra(t *testing.T) {
	lv := start(t, server.Config{Models: []string{modelCopy(t, "qwen", "")}})
	many := make([]map[string]string, 10000)
	for i := range many {
		many[i] = map[string]string{"role": "user", "content": "hi"}
	}
	manyJSON, _ := json.Marshal(many)
	user := func(content string) string {
		return `{"model":"qwen","messages":[{"role":"user","content":"` + content + `"}]}`
	}
	ol := func(extra string) string {
		return `{"model":"qwen","messages":[{"role":"user","content":"hi"}]` + extra + `}`
	}
	tests := []struct {
		name   string
		path   string
		body   string
		ctype  string
		status int
	}{
		{"duplicate keys, the last names a missing model", "/v1/chat/completions", `{"model":"qwen","model":"nope","messages":[{"role":"user","content":"hi"}]}`, "", 404},
		{"10 000 messages", "/v1/chat/completions", `{"model":"qwen","messages":` + string(manyJSON) + `}`, "", 400},
		{"1 MiB message", "/v1/chat/completions", user(strings.Repeat("word ", 1<<18)), "", 400},
		{"completion of 1 MiB", "/v1/completions", `{"model":"qwen","prompt":"` + strings.Repeat("a ", 1<<19) + `"}`, "", 400},

		{"ollama: empty body", "/api/chat", "", "", 400},
		{"ollama: open brace", "/api/chat", "{", "", 400},
		{"ollama: not an object", "/api/chat", "[]", "", 400},
		{"ollama: missing model", "/api/chat", `{"messages":[{"role":"user","content":"hi"}]}`, "", 400},
		{"ollama: unknown model", "/api/chat", `{"model":"nope","messages":[]}`, "", 404},
		{"ollama: messages a string", "/api/chat", `{"model":"qwen","messages":"hi"}`, "", 400},
		{"ollama: unknown role", "/api/chat", `{"model":"qwen","messages":[{"role":"wizard","content":"hi"}]}`, "", 400},
		{"ollama: temperature a string", "/api/chat", ol(`,"options":{"temperature":"hot"}`), "", 400},
		{"ollama: num_predict a string", "/api/chat", ol(`,"options":{"num_predict":"ten"}`), "", 400},
		{"ollama: options a list", "/api/chat", ol(`,"options":[1]`), "", 400},
		{"ollama: num_ctx negative", "/api/chat", ol(`,"options":{"num_ctx":-5}`), "", 400},
		{"ollama: bad keep_alive", "/api/chat", ol(`,"keep_alive":"whenever"`), "", 400},
		{"ollama: bad format", "/api/chat", ol(`,"format":"yaml"`), "", 400},
		{"ollama: unsupported schema", "/api/chat", ol(`,"format":{"not":{}}`), "", 400},
		{"ollama: think a number", "/api/chat", ol(`,"think":7`), "", 400},
		{"ollama: invalid UTF-8", "/api/chat", `{"model":"qwen","messages":[{"role":"user","content":"` + "\xc3\x28" + `"}]}`, "", 400},
		{"ollama: wrong Content-Type", "/api/chat", ol(""), "image/png", 400},
		{"ollama: 9 MiB body", "/api/chat", `{"model":"qwen","messages":[{"role":"user","content":"` + strings.Repeat("a", 9<<20) + `"}]}`, "", 413},
		{"ollama: prompt too long", "/api/generate", `{"model":"qwen","prompt":"` + strings.Repeat("hello ", 600) + `","stream":false}`, "", 400},
		{"ollama: generate prompt a number", "/api/generate", `{"model":"qwen","prompt":5}`, "", 400},
		{"ollama: embed input an object", "/api/embed", `{"model":"qwen","input":{"a":1}}`, "", 400},
		{"ollama: show without a model", "/api/show", `{}`, "", 400},
		{"ollama: model name with a path", "/api/show", `{"model":"../../etc/passwd"}`, "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, lv.url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := lv.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, data)
			}
			if strings.HasPrefix(tt.path, "/v1/") {
				if err := checkOpenAIError(data); err != nil {
					t.Fatal(err)
				}
				return
			}
			var e map[string]any
			if err := json.Unmarshal(data, &e); err != nil || len(e) != 1 {
				t.Fatalf("Ollama error body %.300s: want {\"error\":\"…\"}", data)
			}
			if msg, _ := e["error"].(string); msg == "" {
				t.Fatalf("Ollama error body %.300s has no message", data)
			}
		})
	}
	if n := lv.metric(t, "zhiyan_generated_tokens_total", `model="qwen"`); n > 0 {
		t.Errorf("%v tokens generated for malformed requests", n)
	}
}
