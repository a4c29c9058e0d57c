package server

import (
	"strings"
	"testing"
	"time"
)

func TestOllamaChatStream(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	body := map[string]any{"model": "qwen", "messages": []map[string]any{{"role": "user", "content": "hi"}},
		"options": map[string]any{"temperature": 0, "num_predict": 6}}
	resp, data := post(t, ts.URL+"/api/chat", body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	objs := ndjson(t, data)
	var content strings.Builder
	for i, o := range objs {
		msg, _ := o["message"].(map[string]any)
		if o["model"] != "qwen" || o["created_at"] == nil || msg["role"] != "assistant" {
			t.Fatalf("object %d = %v", i, o)
		}
		content.WriteString(msg["content"].(string))
		if done := o["done"] == true; done != (i == len(objs)-1) {
			t.Fatalf("object %d has done %v", i, o["done"])
		}
	}
	last := objs[len(objs)-1]
	if last["done_reason"] != "length" || last["eval_count"] != 6.0 || last["prompt_eval_count"].(float64) < 1 {
		t.Fatalf("final object %v: want done_reason length, eval_count 6", last)
	}
	for _, k := range []string{"total_duration", "prompt_eval_duration", "eval_duration"} {
		if v, _ := last[k].(float64); v <= 0 {
			t.Errorf("final %s = %v, want > 0 nanoseconds", k, last[k])
		}
	}
	// stream:false gives the same text in one object.
	_, data = post(t, ts.URL+"/api/chat", maps(body, "stream", false))
	r := decode[ollamaChatResponse](t, data)
	if !r.Done || r.Message.Content != content.String() || r.EvalCount != 6 {
		t.Errorf("stream:false = %s, want content %q", data, content.String())
	}
}

func TestOllamaGenerate(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	body := map[string]any{"model": "qwen", "prompt": "Once upon a time", "stream": false, "options": map[string]any{"temperature": 0, "num_predict": 4, "seed": 3}}
	_, data := post(t, ts.URL+"/api/generate", body)
	templated := decode[ollamaGenerateResponse](t, data)
	if !templated.Done || templated.EvalCount != 4 || templated.Response == "" {
		t.Fatalf("generate = %s", data)
	}
	_, data = post(t, ts.URL+"/api/generate", maps(body, "raw", true))
	raw := decode[ollamaGenerateResponse](t, data)
	// raw skips the template: fewer prompt tokens.
	if raw.PromptEvalCount >= templated.PromptEvalCount {
		t.Errorf("raw prompt has %d tokens, templated %d", raw.PromptEvalCount, templated.PromptEvalCount)
	}
	resp, data := post(t, ts.URL+"/api/generate", maps(body, "stream", true))
	objs := ndjson(t, data)
	var text strings.Builder
	for _, o := range objs {
		text.WriteString(o["response"].(string))
	}
	if resp.StatusCode != 200 || text.String() != templated.Response || objs[len(objs)-1]["done"] != true {
		t.Errorf("streamed %q, want %q", text.String(), templated.Response)
	}

	// An empty prompt loads; with keep_alive 0 it unloads.
	_, data = post(t, ts.URL+"/api/generate", map[string]any{"model": "qwen"})
	if r := decode[ollamaGenerateResponse](t, data); !r.Done || r.DoneReason != "load" || len(s.models.running()) != 1 {
		t.Fatalf("load = %s, %d running", data, len(s.models.running()))
	}
	_, data = post(t, ts.URL+"/api/generate", map[string]any{"model": "qwen", "keep_alive": 0})
	if r := decode[ollamaGenerateResponse](t, data); r.DoneReason != "unload" || len(s.models.running()) != 0 {
		t.Fatalf("unload = %s, %d running", data, len(s.models.running()))
	}
}

func TestOllamaNumCtx(t *testing.T) {
	// --ctx beyond the model's 512 positions is capped to them.
	s, ts := qwenServer(t, Config{Context: 100000})
	msgs := []map[string]any{{"role": "user", "content": strings.Repeat("word ", 40)}}
	tests := []struct {
		name    string
		options map[string]any
		status  int
		reason  string
	}{
		{"larger than the server's context", map[string]any{"num_ctx": 100000}, 400, ""},
		{"prompt does not fit", map[string]any{"num_ctx": 16}, 400, ""},
		{"fits; generation stops at num_ctx", map[string]any{"num_ctx": 60, "temperature": 0}, 200, "length"},
		{"negative", map[string]any{"num_ctx": -1}, 400, ""},
		{"wrong type", map[string]any{"num_ctx": "big"}, 400, ""},
		{"temperature out of range", map[string]any{"temperature": -3}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := post(t, ts.URL+"/api/chat", map[string]any{"model": "qwen", "messages": msgs, "stream": false, "options": tt.options})
			if ms := s.models.running(); len(ms) == 1 && ms[0].sched.Context() != 512 {
				t.Fatalf("scheduler context %d, want the model's 512", ms[0].sched.Context())
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, data)
			}
			if tt.status != 200 {
				if e := decode[ollamaError](t, data); e.Error == "" {
					t.Fatalf("error body %s", data)
				}
				return
			}
			r := decode[ollamaChatResponse](t, data)
			if r.DoneReason != tt.reason || r.PromptEvalCount+r.EvalCount != 60 {
				t.Errorf("done_reason %q, %d+%d tokens; want %q and exactly num_ctx in all", r.DoneReason, r.PromptEvalCount, r.EvalCount, tt.reason)
			}
		})
	}
}

func TestOllamaModelRoutes(t *testing.T) {
	_, ts := templatedServer(t)
	_, data := do(t, "GET", ts+"/api/tags", nil, nil)
	var tags struct{ Models []ollamaListModel }
	tags = decode[struct{ Models []ollamaListModel }](t, data)
	if len(tags.Models) != 3 || tags.Models[0].Name != "qwen25" || tags.Models[0].Details.Format != "gguf" || tags.Models[0].Details.Family != "qwen2" || tags.Models[0].Size == 0 {
		t.Fatalf("tags = %s", data)
	}

	resp, data := post(t, ts+"/api/show", map[string]any{"model": "qwen3:latest"})
	show := decode[ollamaShowResponse](t, data)
	if resp.StatusCode != 200 || !strings.Contains(show.Template, "<think>") || show.Details.ParameterSize == "" || show.Details.QuantizationLevel != "F32" {
		t.Fatalf("show = %d %s", resp.StatusCode, data)
	}
	if got := strings.Join(show.Capabilities, ","); got != "completion,tools,thinking,embedding" {
		t.Errorf("capabilities = %s, want completion,tools,thinking,embedding", got)
	}
	if show.ModelInfo["general.architecture"] != "qwen2" || show.ModelInfo["tokenizer.ggml.tokens"] != nil || show.ModelInfo["general.parameter_count"] == nil {
		t.Errorf("model_info: architecture %v, tokens %T, parameter_count %v", show.ModelInfo["general.architecture"], show.ModelInfo["tokenizer.ggml.tokens"], show.ModelInfo["general.parameter_count"])
	}
	_, data = post(t, ts+"/api/show", map[string]any{"name": "qwen3", "verbose": true})
	if toks, _ := decode[ollamaShowResponse](t, data).ModelInfo["tokenizer.ggml.tokens"].([]any); len(toks) < 1000 {
		t.Errorf("verbose model_info has %d tokens", len(toks))
	}

	// /api/ps lists a loaded model with its expiry and context.
	post(t, ts+"/api/generate", map[string]any{"model": "qwen25", "keep_alive": "10m"})
	_, data = do(t, "GET", ts+"/api/ps", nil, nil)
	ps := decode[struct{ Models []ollamaRunningModel }](t, data)
	if len(ps.Models) != 1 || ps.Models[0].Name != "qwen25" || ps.Models[0].ContextLength != 512 ||
		time.Until(ps.Models[0].ExpiresAt) < 9*time.Minute || time.Until(ps.Models[0].ExpiresAt) > 11*time.Minute {
		t.Fatalf("ps = %s", data)
	}

	tests := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/api/version", nil, 200},
		{"GET", "/", nil, 200},
		{"HEAD", "/", nil, 200},
		{"DELETE", "/api/delete", map[string]any{"model": "qwen25"}, 400},
		{"DELETE", "/api/delete", map[string]any{"model": "nope"}, 404},
		{"POST", "/api/pull", map[string]any{"model": "qwen3:0.6b"}, 501},
		{"POST", "/api/show", map[string]any{"model": "nope"}, 404},
		{"POST", "/api/show", map[string]any{}, 400},
		{"GET", "/api/nothing", nil, 404},
		{"GET", "/api/chat", nil, 405},
		{"POST", "/api/chat", map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": "x", "images": []string{"aGk="}}}}, 400},
		{"POST", "/api/chat", map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "x", "content": "x"}}}, 400},
		{"POST", "/api/chat", map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": "x"}}, "keep_alive": "soon"}, 400},
		{"POST", "/api/chat", map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": "x"}}, "format": "xml"}, 400},
		{"POST", "/api/generate", map[string]any{"model": "qwen25", "prompt": "x", "suffix": "y"}, 400},
		{"POST", "/api/generate", map[string]any{"model": "qwen25", "prompt": "x", "template": "{{ .Prompt }}"}, 400},
		{"POST", "/api/embed", map[string]any{"model": "qwen25", "input": "x", "dimensions": 3}, 400},
		{"POST", "/api/embed", map[string]any{"model": "qwen25", "input": strings.Repeat("word ", 600)}, 400},
	}
	for _, tt := range tests {
		resp, data := do(t, tt.method, ts+tt.path, tt.body, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, data, tt.status)
			continue
		}
		if tt.status >= 400 {
			if e := decode[ollamaError](t, data); e.Error == "" {
				t.Errorf("%s %s: error body %s", tt.method, tt.path, data)
			}
		}
	}
	_, data = do(t, "GET", ts+"/api/version", nil, nil)
	if v := decode[map[string]string](t, data)["version"]; v == "" {
		t.Errorf("version = %s", data)
	}
	// truncate:true embeds the first tokens instead of refusing.
	resp, data = post(t, ts+"/api/embed", map[string]any{"model": "qwen25", "input": strings.Repeat("word ", 600), "truncate": true})
	if resp.StatusCode != 200 || decode[ollamaEmbedResponse](t, data).PromptEvalCount != 512 {
		t.Errorf("truncated embed = %d %s", resp.StatusCode, data)
	}
}
