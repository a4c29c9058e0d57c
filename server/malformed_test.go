package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestMalformedRequests: bad requests get 4xx in OpenAI's shape, naming the
// field where there is one, and never 500; nothing is generated.
func TestMalformedRequests(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	chat := func(extra string) string { return `{"model":"qwen",` + msgs + extra + `}` }
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tests := []struct {
		name   string
		path   string
		body   string
		ctype  string
		status int
		param  string // "" = not checked
		code   string // "" = not checked
	}{
		{"empty body", "/v1/chat/completions", "", "", 400, "", ""},
		{"open brace", "/v1/chat/completions", "{", "", 400, "", ""},
		{"not an object", "/v1/chat/completions", "[1,2]", "", 400, "", ""},
		{"two values", "/v1/chat/completions", chat("") + "{}", "", 400, "", ""},
		{"trailing garbage", "/v1/chat/completions", chat("") + "x", "", 400, "", ""},
		{"missing model", "/v1/chat/completions", `{` + msgs + `}`, "", 400, "model", ""},
		{"unknown model", "/v1/chat/completions", `{"model":"nope",` + msgs + `}`, "", 404, "model", "model_not_found"},
		{"model with a path", "/v1/chat/completions", `{"model":"../../etc/passwd",` + msgs + `}`, "", 400, "model", ""},
		{"missing messages", "/v1/chat/completions", `{"model":"qwen"}`, "", 400, "messages", ""},
		{"empty messages", "/v1/chat/completions", `{"model":"qwen","messages":[]}`, "", 400, "messages", ""},
		{"messages not a list", "/v1/chat/completions", `{"model":"qwen","messages":"hi"}`, "", 400, "messages", ""},
		{"unknown role", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"wizard","content":"hi"}]}`, "", 400, "messages[0].role", ""},
		{"no role", "/v1/chat/completions", `{"model":"qwen","messages":[{"content":"hi"}]}`, "", 400, "messages[0].role", ""},
		{"user without content", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user"}]}`, "", 400, "messages[0].content", ""},
		{"content a number", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user","content":5}]}`, "", 400, "messages[0].content", ""},
		{"image part", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]}`, "", 400, "messages[0].content[0]", ""},
		{"n zero", "/v1/chat/completions", chat(`,"n":0`), "", 400, "n", ""},
		{"n negative", "/v1/chat/completions", chat(`,"n":-1`), "", 400, "n", ""},
		{"n too big", "/v1/chat/completions", chat(`,"n":9`), "", 400, "n", ""},
		{"max_tokens negative", "/v1/chat/completions", chat(`,"max_tokens":-1`), "", 400, "max_tokens", ""},
		{"max_tokens zero", "/v1/chat/completions", chat(`,"max_completion_tokens":0`), "", 400, "max_completion_tokens", ""},
		{"max_tokens 1e12", "/v1/chat/completions", chat(`,"max_tokens":1e12`), "", 400, "max_tokens", ""},
		{"max_tokens a string", "/v1/chat/completions", chat(`,"max_tokens":"10"`), "", 400, "max_tokens", ""},
		{"temperature negative", "/v1/chat/completions", chat(`,"temperature":-1`), "", 400, "temperature", ""},
		{"temperature a string", "/v1/chat/completions", chat(`,"temperature":"x"`), "", 400, "temperature", ""},
		{"temperature NaN", "/v1/chat/completions", chat(`,"temperature":NaN`), "", 400, "", ""},
		{"temperature 3", "/v1/chat/completions", chat(`,"temperature":3`), "", 400, "temperature", ""},
		{"top_p 2", "/v1/chat/completions", chat(`,"top_p":2`), "", 400, "top_p", ""},
		{"presence_penalty 5", "/v1/chat/completions", chat(`,"presence_penalty":5`), "", 400, "presence_penalty", ""},
		{"five stops", "/v1/chat/completions", chat(`,"stop":["a","b","c","d","e"]`), "", 400, "stop", ""},
		{"hundred stops", "/v1/chat/completions", chat(`,"stop":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 100), ",") + `]`), "", 400, "stop", ""},
		{"stop a number", "/v1/chat/completions", chat(`,"stop":5`), "", 400, "stop", ""},
		{"logit_bias bad key", "/v1/chat/completions", chat(`,"logit_bias":{"abc":1}`), "", 400, "logit_bias", ""},
		{"logit_bias out of range", "/v1/chat/completions", chat(`,"logit_bias":{"5":101}`), "", 400, "logit_bias", ""},
		{"logit_bias beyond vocabulary", "/v1/chat/completions", chat(`,"logit_bias":{"99999999":1}`), "", 400, "logit_bias", ""},
		{"top_logprobs without logprobs", "/v1/chat/completions", chat(`,"top_logprobs":2`), "", 400, "top_logprobs", ""},
		{"top_logprobs 21", "/v1/chat/completions", chat(`,"logprobs":true,"top_logprobs":21`), "", 400, "top_logprobs", ""},
		{"bad response_format", "/v1/chat/completions", chat(`,"response_format":{"type":"xml"}`), "", 400, "response_format.type", ""},
		{"json_schema without schema", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}`), "", 400, "response_format.json_schema.schema", ""},
		{"unsupported schema keyword", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"not":{}}}}`), "", 400, "response_format.json_schema.schema", ""},
		{"tools on a model without tools", "/v1/chat/completions", chat(`,"tools":[{"type":"function","function":{"name":"f"}}]`), "", 400, "tools", ""},
		{"tool without a name", "/v1/chat/completions", chat(`,"tools":[{"type":"function","function":{}}]`), "", 400, "tools[0].function.name", ""},
		{"tool_choice unknown", "/v1/chat/completions", chat(`,"tool_choice":"sometimes"`), "", 400, "tool_choice", ""},
		{"tool_choice names a missing function", "/v1/chat/completions", chat(`,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}`), "", 400, "tool_choice", ""},
		{"stream_options without stream", "/v1/chat/completions", chat(`,"stream_options":{"include_usage":true}`), "", 400, "stream_options", ""},
		{"think not a bool", "/v1/chat/completions", chat(`,"think":"maybe"`), "", 400, "think", ""},
		{"invalid UTF-8", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user","content":"` + "\xff\xfe" + `"}]}`, "", 400, "", ""},
		{"10k-deep nesting", "/v1/chat/completions", `{"model":"qwen","x":` + deep + `,` + msgs + `}`, "", 400, "", ""},
		{"wrong Content-Type", "/v1/chat/completions", chat(""), "application/xml", 400, "", ""},
		{"9 MiB body", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user","content":"` + strings.Repeat("a", 9<<20) + `"}]}`, "", 413, "", ""},
		{"prompt too long", "/v1/chat/completions", `{"model":"qwen","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 600) + `"}]}`, "", 400, "messages", "context_length_exceeded"},
		{"completion suffix", "/v1/completions", `{"model":"qwen","prompt":"a","suffix":"b"}`, "", 400, "suffix", ""},
		{"completion without prompt", "/v1/completions", `{"model":"qwen"}`, "", 400, "prompt", ""},
		{"completion prompt an object", "/v1/completions", `{"model":"qwen","prompt":{"a":1}}`, "", 400, "prompt", ""},
		{"completion token out of vocabulary", "/v1/completions", `{"model":"qwen","prompt":[1,2,99999999]}`, "", 400, "prompt", ""},
		{"completion echo with logprobs", "/v1/completions", `{"model":"qwen","prompt":"a","echo":true,"logprobs":1}`, "", 400, "echo", ""},
		{"embeddings dimensions", "/v1/embeddings", `{"model":"qwen","input":"a","dimensions":8}`, "", 400, "dimensions", ""},
		{"embeddings empty input", "/v1/embeddings", `{"model":"qwen","input":""}`, "", 400, "input", ""},
		{"embeddings bad encoding", "/v1/embeddings", `{"model":"qwen","input":"a","encoding_format":"hex"}`, "", 400, "encoding_format", ""},
		{"unknown route", "/v1/nothing", `{}`, "", 404, "", ""},
		{"GET on a POST route", "/v1/chat/completions", "", "GET", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.ctype == "GET" {
				method, tt.ctype = http.MethodGet, ""
			}
			req, _ := http.NewRequest(method, ts.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var data []byte
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(buf)
				data = append(data, buf[:n]...)
				if err != nil {
					break
				}
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, data)
			}
			e := openAIErr(t, data)
			if e.Message == "" || e.Type == "" {
				t.Errorf("error %+v lacks a message or type", e)
			}
			if tt.param != "" && str(e.Param) != tt.param {
				t.Errorf("param = %s, want %s (%s)", str(e.Param), tt.param, e.Message)
			}
			if tt.code != "" && str(e.Code) != tt.code {
				t.Errorf("code = %s, want %s (%s)", str(e.Code), tt.code, e.Message)
			}
		})
	}
}
