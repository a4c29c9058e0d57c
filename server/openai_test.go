package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/model"
	"zhiyan/sample"
)

// engineGreedy is what the engine generates directly for a chat: the
// reference the server's greedy output must equal.
func engineGreedy(t *testing.T, path string, msgs []chat.Message, maxTokens int) (string, int) {
	t.Helper()
	e, err := engine.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	text, err := e.ChatPrompt(msgs, engine.PromptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prompt := e.Tokenizer.Encode(text, true, true)
	s := e.NewSession(model.Options{Context: 512, Threads: 2})
	defer s.Close()
	p := sample.DefaultParams()
	p.Temperature = 0
	var b strings.Builder
	_, err = s.Generate(context.Background(), prompt, engine.Options{MaxTokens: maxTokens, Stop: e.Format.StopStrings(), Sampler: sample.New(p, e.Model.Config.Vocab)},
		func(s string) error { b.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), len(prompt)
}

func TestGreedyMatchesEngine(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	msgs := []chat.Message{{Role: "system", Content: "You are terse."}, {Role: "user", Content: "Name three colours. 你好！"}}
	want, promptTokens := engineGreedy(t, s.models.cli[0].path, msgs, 24)
	if want == "" {
		t.Fatal("the engine generated nothing: the comparison would be empty")
	}
	body := chatBody("", 24)
	body["messages"] = []map[string]any{{"role": "system", "content": msgs[0].Content}, {"role": "user", "content": msgs[1].Content}}

	t.Run("openai", func(t *testing.T) {
		resp, data := post(t, ts.URL+"/v1/chat/completions", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
		c := decode[chatCompletion](t, data)
		if got := str(c.Choices[0].Message.Content); got != want {
			t.Errorf("content = %q, want the engine's %q", got, want)
		}
		if c.Usage.PromptTokens != promptTokens || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || c.Usage.CompletionTokens < 1 {
			t.Errorf("usage = %+v, want %d prompt tokens and a consistent total", c.Usage, promptTokens)
		}
	})
	t.Run("openai stream", func(t *testing.T) {
		sb := maps(body, "stream", true)
		resp, data := post(t, ts.URL+"/v1/chat/completions", sb)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := streamedContent(t, data); got != want {
			t.Errorf("streamed content = %q, want %q", got, want)
		}
	})
	t.Run("ollama", func(t *testing.T) {
		ob := map[string]any{"model": "qwen", "messages": body["messages"], "stream": false, "options": map[string]any{"temperature": 0, "num_predict": 24}}
		resp, data := post(t, ts.URL+"/api/chat", ob)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
		if got := decode[ollamaChatResponse](t, data).Message.Content; got != want {
			t.Errorf("content = %q, want %q", got, want)
		}
	})
}

// maps returns a copy of m with k set to v.
func maps(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// streamedContent checks a chat stream's shape and returns its content:
// a role chunk first, deltas, one finish_reason, the usage chunk when asked
// for, then [DONE].
func streamedContent(t *testing.T, data []byte) string {
	t.Helper()
	events := sseData(t, data)
	if events[len(events)-1] != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", events[len(events)-1])
	}
	var b strings.Builder
	finishes := 0
	id := ""
	for i, ev := range events[:len(events)-1] {
		c := decode[chatChunk](t, []byte(ev))
		if c.Object != "chat.completion.chunk" || (id != "" && c.ID != id) {
			t.Fatalf("chunk %d: object %q id %q (first id %q)", i, c.Object, c.ID, id)
		}
		id = c.ID
		if len(c.Choices) == 0 {
			if c.Usage == nil || i != len(events)-2 {
				t.Fatalf("chunk %d has no choices and is not the final usage chunk: %s", i, ev)
			}
			continue
		}
		ch := c.Choices[0]
		if i == 0 && ch.Delta.Role != "assistant" {
			t.Fatalf("first chunk %s does not carry the role", ev)
		}
		if ch.Delta.Content != nil {
			b.WriteString(*ch.Delta.Content)
		}
		if ch.FinishReason != nil {
			finishes++
		}
	}
	if finishes != 1 {
		t.Fatalf("%d chunks with a finish_reason, want 1", finishes)
	}
	return b.String()
}

func TestChatStreamUsageAndN(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	body := maps(chatBody("count", 6), "stream", true, "stream_options", map[string]any{"include_usage": true}, "n", 3)
	resp, data := post(t, ts.URL+"/v1/chat/completions", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	events := sseData(t, data)
	texts := make([]string, 3)
	finish := make([]string, 3)
	var u *usage
	for _, ev := range events[:len(events)-1] {
		c := decode[chatChunk](t, []byte(ev))
		if c.Usage != nil {
			u = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				texts[ch.Index] += *ch.Delta.Content
			}
			if ch.FinishReason != nil {
				finish[ch.Index] = *ch.FinishReason
			}
		}
	}
	if u == nil || u.CompletionTokens != 18 || u.TotalTokens != u.PromptTokens+18 {
		t.Fatalf("usage %+v, want 18 completion tokens (3 choices of 6)", u)
	}
	for i := range 3 {
		if finish[i] != "length" || texts[i] != texts[0] {
			t.Errorf("choice %d: finish %q text %q; want length and the same greedy text as choice 0 (%q)", i, finish[i], texts[i], texts[0])
		}
	}
}

func TestLogprobs(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	resp, data := post(t, ts.URL+"/v1/chat/completions", maps(chatBody("hi", 5), "logprobs", true, "top_logprobs", 3))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	c := decode[chatCompletion](t, data)
	lp := c.Choices[0].Logprobs
	if lp == nil || len(lp.Content) != c.Usage.CompletionTokens {
		t.Fatalf("logprobs %+v for %d tokens", lp, c.Usage.CompletionTokens)
	}
	var text strings.Builder
	for i, e := range lp.Content {
		if len(e.TopLogprobs) != 3 || e.Logprob > 0 || string(intBytes(e.Bytes)) != e.Token {
			t.Fatalf("entry %d = %+v: want 3 alternatives, logprob ≤ 0, bytes spelling the token", i, e)
		}
		// Greedy: the chosen token is the most likely one.
		if e.TopLogprobs[0].Token != e.Token || e.TopLogprobs[0].Logprob != e.Logprob || e.TopLogprobs[1].Logprob > e.TopLogprobs[0].Logprob {
			t.Errorf("entry %d: token %q (%v), top %+v", i, e.Token, e.Logprob, e.TopLogprobs)
		}
		text.Write(intBytes(e.Bytes))
	}
	if got := str(c.Choices[0].Message.Content); text.String() != got {
		t.Errorf("logprob tokens spell %q, content is %q", text.String(), got)
	}
}

func intBytes(b []int) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		out[i] = byte(x)
	}
	return out
}

func TestCompletions(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	base := map[string]any{"model": "qwen", "prompt": "Once upon a time", "max_tokens": 5, "temperature": 0}
	resp, data := post(t, ts.URL+"/v1/completions", base)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	plain := decode[completion](t, data)
	if plain.Object != "text_completion" || len(plain.Choices) != 1 || *plain.Choices[0].FinishReason != "length" || plain.Usage.CompletionTokens != 5 {
		t.Fatalf("completion %s", data)
	}
	text := plain.Choices[0].Text

	_, data = post(t, ts.URL+"/v1/completions", maps(base, "echo", true))
	if got := decode[completion](t, data).Choices[0].Text; got != "Once upon a time"+text {
		t.Errorf("echo text = %q, want the prompt then %q", got, text)
	}

	_, data = post(t, ts.URL+"/v1/completions", maps(base, "stream", true))
	var streamed strings.Builder
	events := sseData(t, data)
	for _, ev := range events[:len(events)-1] {
		streamed.WriteString(decode[completion](t, []byte(ev)).Choices[0].Text)
	}
	if streamed.String() != text || events[len(events)-1] != "[DONE]" {
		t.Errorf("streamed %q (last event %q), want %q then [DONE]", streamed.String(), events[len(events)-1], text)
	}

	// Two prompts, one as token ids: choices numbered prompt by prompt.
	_, data = post(t, ts.URL+"/v1/completions", maps(base, "prompt", []any{"Once upon a time", []int{1, 2, 3}}, "n", 2, "logprobs", 2))
	multi := decode[completion](t, data)
	if len(multi.Choices) != 4 {
		t.Fatalf("%d choices, want 4: %s", len(multi.Choices), data)
	}
	for i, c := range multi.Choices {
		if c.Index != i || c.Logprobs == nil || len(c.Logprobs.Tokens) != 5 || len(c.Logprobs.TopLogprobs[0]) == 0 {
			t.Errorf("choice %d: %+v", i, c)
		}
	}
	if multi.Choices[0].Text != text || multi.Choices[1].Text != text {
		t.Errorf("texts %q, %q; want %q", multi.Choices[0].Text, multi.Choices[1].Text, text)
	}
}

func TestEmbeddings(t *testing.T) {
	s, ts := qwenServer(t, Config{})
	resp, data := post(t, ts.URL+"/v1/embeddings", map[string]any{"model": "qwen", "input": []string{"hello world", "你好"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var list struct {
		Data []struct {
			Index     int
			Embedding []float32
		}
		Usage embeddingUsage
	}
	list = decode[struct {
		Data []struct {
			Index     int
			Embedding []float32
		}
		Usage embeddingUsage
	}](t, data)
	e, err := engine.Open(s.models.cli[0].path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if len(list.Data) != 2 || list.Usage.PromptTokens == 0 {
		t.Fatalf("embeddings %s", data)
	}
	for i, d := range list.Data {
		if d.Index != i || len(d.Embedding) != e.Model.Config.Embd {
			t.Fatalf("item %d: index %d, %d dims, want %d", i, d.Index, len(d.Embedding), e.Model.Config.Embd)
		}
		var norm float64
		for _, v := range d.Embedding {
			norm += float64(v) * float64(v)
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("item %d has norm² %v, want 1", i, norm)
		}
	}
	// base64 carries the same floats; Ollama's /api/embed the same vectors.
	_, data = post(t, ts.URL+"/v1/embeddings", map[string]any{"model": "qwen", "input": "hello world", "encoding_format": "base64"})
	var b64 struct{ Data []struct{ Embedding string } }
	b64 = decode[struct{ Data []struct{ Embedding string } }](t, data)
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 4*len(list.Data[0].Embedding) {
		t.Fatalf("base64 embedding: %v, %d bytes", err, len(raw))
	}
	for i, v := range list.Data[0].Embedding {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != v {
			t.Fatalf("base64 float %d = %v, want %v", i, got, v)
		}
	}
	_, data = post(t, ts.URL+"/api/embed", map[string]any{"model": "qwen", "input": "hello world"})
	ol := decode[ollamaEmbedResponse](t, data)
	if len(ol.Embeddings) != 1 || !equalFloats(ol.Embeddings[0], list.Data[0].Embedding) {
		t.Errorf("/api/embed differs from /v1/embeddings")
	}
	_, data = post(t, ts.URL+"/api/embeddings", map[string]any{"model": "qwen", "prompt": "hello world"})
	legacy := decode[ollamaEmbeddingsResponse](t, data)
	if len(legacy.Embedding) != len(list.Data[0].Embedding) || float32(legacy.Embedding[0]) != list.Data[0].Embedding[0] {
		t.Errorf("/api/embeddings differs from /v1/embeddings")
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestModelRoutes(t *testing.T) {
	_, ts := qwenServer(t, Config{})
	_, data := do(t, "GET", ts.URL+"/v1/models", nil, nil)
	list := decode[modelList](t, data)
	if len(list.Data) != 1 || list.Data[0] != (modelObject{ID: "qwen", Object: "model", Created: list.Data[0].Created, OwnedBy: "zhiyan"}) {
		t.Fatalf("GET /v1/models = %s", data)
	}
	resp, data := do(t, "GET", ts.URL+"/v1/models/qwen", nil, nil)
	if resp.StatusCode != 200 || decode[modelObject](t, data).ID != "qwen" {
		t.Fatalf("GET /v1/models/qwen = %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, "GET", ts.URL+"/v1/models/nope", nil, nil)
	if e := openAIErr(t, data); resp.StatusCode != 404 || str(e.Code) != "model_not_found" {
		t.Fatalf("GET /v1/models/nope = %d %s, want 404 model_not_found", resp.StatusCode, data)
	}
	resp, data = post(t, ts.URL+"/v1/chat/completions", maps(chatBody("hi", 1), "model", "nope"))
	if e := openAIErr(t, data); resp.StatusCode != 404 || str(e.Code) != "model_not_found" {
		t.Fatalf("chat with an unknown model = %d %s, want 404 model_not_found", resp.StatusCode, data)
	}
}
