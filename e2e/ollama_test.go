package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"zhiyan/chat"
	"zhiyan/server"
)

// olClient is Ollama's Go client for lv.
func (lv *live) olClient(t *testing.T) *api.Client {
	t.Helper()
	u, err := url.Parse(lv.url)
	if err != nil {
		t.Fatal(err)
	}
	return api.NewClient(u, lv.hc)
}

// ollamaServer serves qwen2-mini as "qwen" (ChatML), "qwen25" (Qwen2.5's
// template, tools) and "qwen3" (Qwen3's: thinking that think:false turns
// off).
func ollamaServer(t *testing.T) *live {
	t.Helper()
	return start(t, server.Config{MaxLoaded: 3, Models: []string{
		modelCopy(t, "qwen", ""),
		modelCopy(t, "qwen25", "Qwen-Qwen2.5-7B-Instruct.jinja"),
		modelCopy(t, "qwen3", "Qwen-Qwen3-0.6B.jinja"),
	}})
}

func ptr[T any](v T) *T { return &v }

// wantStatus checks err is the client's api.StatusError with status.
func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var se api.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want api.StatusError %d", err, err, status)
	}
	if se.StatusCode != status || se.ErrorMessage == "" {
		t.Fatalf("StatusError %d %q, want %d with a message", se.StatusCode, se.ErrorMessage, status)
	}
}

func TestOllamaChatGreedyMatchesEngine(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	const maxTokens = 24
	msgs := []chat.Message{{Role: "system", Content: "You are terse."}, {Role: "user", Content: "Name three colours. 你好！"}}
	want := engineChat(t, modelPath(t, lv, "qwen"), msgs, maxTokens)
	for _, stream := range []bool{false, true} {
		req := &api.ChatRequest{
			Model:    "qwen",
			Messages: []api.Message{{Role: "system", Content: msgs[0].Content}, {Role: "user", Content: msgs[1].Content}},
			Stream:   ptr(stream),
			Options:  map[string]any{"temperature": 0, "num_predict": maxTokens},
		}
		var content strings.Builder
		var last api.ChatResponse
		n := 0
		err := client.Chat(context.Background(), req, func(r api.ChatResponse) error {
			if last.Done {
				t.Errorf("a response after the final one: %+v", r)
			}
			content.WriteString(r.Message.Content)
			if r.Model != "qwen" || r.Message.Role != "assistant" || r.CreatedAt.IsZero() {
				t.Errorf("response %+v", r)
			}
			last = r
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if !stream && n != 1 || stream && n < 2 {
			t.Errorf("stream=%v: %d responses", stream, n)
		}
		if content.String() != want.text {
			t.Errorf("stream=%v: content %q, want the engine's %q", stream, content.String(), want.text)
		}
		if !last.Done || last.DoneReason != want.reason || last.PromptEvalCount != want.promptTokens || last.EvalCount != want.tokens ||
			last.TotalDuration <= 0 || last.EvalDuration <= 0 {
			t.Errorf("stream=%v: final %+v, want done %q with %d+%d tokens and durations", stream, last, want.reason, want.promptTokens, want.tokens)
		}
	}
}

func TestOllamaGenerate(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	const prompt = "Once upon a time"
	want := engineText(t, modelPath(t, lv, "qwen"), prompt, 12)
	for _, stream := range []bool{false, true} {
		// raw: the prompt as it is, so the engine's output on the same text
		// is the reference.
		req := &api.GenerateRequest{Model: "qwen", Prompt: prompt, Raw: true, Stream: ptr(stream),
			Options: map[string]any{"temperature": 0, "num_predict": 12}}
		var text strings.Builder
		var last api.GenerateResponse
		err := client.Generate(context.Background(), req, func(r api.GenerateResponse) error {
			text.WriteString(r.Response)
			last = r
			return nil
		})
		if err != nil {
			t.Fatalf("stream=%v: %v", stream, err)
		}
		if text.String() != want.text || !last.Done || last.DoneReason != want.reason || last.EvalCount != want.tokens || last.PromptEvalCount != want.promptTokens {
			t.Errorf("stream=%v: %q, final %+v; want %q (%s, %d+%d tokens)", stream, text.String(), last, want.text, want.reason, want.promptTokens, want.tokens)
		}
	}
	// With the template and a system prompt.
	var r api.GenerateResponse
	err := client.Generate(context.Background(), &api.GenerateRequest{Model: "qwen", Prompt: "Hi", System: "Be brief.", Stream: ptr(false),
		Options: map[string]any{"temperature": 0, "num_predict": 4}}, func(g api.GenerateResponse) error { r = g; return nil })
	if err != nil || !r.Done || r.EvalCount < 1 || r.PromptEvalCount <= want.promptTokens {
		t.Errorf("templated generate: %+v, %v", r, err)
	}
}

func TestOllamaModelRoutes(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	ctx := context.Background()

	list, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
		if m.Size <= 0 || m.Details.Format != "gguf" || m.Details.Family != "qwen2" || m.ModifiedAt.IsZero() {
			t.Errorf("tags entry %+v", m)
		}
		checkDigest(t, "/api/tags", m.Name, m.Digest)
	}
	if strings.Join(names, ",") != "qwen,qwen25,qwen3" {
		t.Errorf("tags %v", names)
	}

	show, err := client.Show(ctx, &api.ShowRequest{Model: "qwen3"})
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]bool{}
	for _, c := range show.Capabilities {
		caps[string(c)] = true
	}
	if !strings.Contains(show.Template, "<think>") || show.Details.QuantizationLevel != "F32" || show.ModelInfo["general.architecture"] != "qwen2" ||
		!caps["completion"] || !caps["tools"] || !caps["thinking"] {
		t.Errorf("show qwen3: template has <think> %v, details %+v, capabilities %v, architecture %v",
			strings.Contains(show.Template, "<think>"), show.Details, caps, show.ModelInfo["general.architecture"])
	}
	_, err = client.Show(ctx, &api.ShowRequest{Model: "nope"})
	wantStatus(t, err, http.StatusNotFound)

	// Nothing runs until a request loads a model; then ps lists it with
	// the keep_alive asked for.
	ps, err := client.ListRunning(ctx)
	if err != nil || len(ps.Models) != 0 {
		t.Fatalf("ps before any request: %+v, %v", ps, err)
	}
	err = client.Generate(ctx, &api.GenerateRequest{Model: "qwen25", KeepAlive: &api.Duration{Duration: 10 * time.Minute}}, func(api.GenerateResponse) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ps, err = client.ListRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Models) != 1 || ps.Models[0].Name != "qwen25" || ps.Models[0].ContextLength != 512 ||
		time.Until(ps.Models[0].ExpiresAt) < 9*time.Minute || time.Until(ps.Models[0].ExpiresAt) > 11*time.Minute {
		t.Errorf("ps = %+v", ps.Models)
	}
	for _, m := range ps.Models {
		checkDigest(t, "/api/ps", m.Name, m.Digest)
	}

	v, err := client.Version(ctx)
	if err != nil || v == "" {
		t.Errorf("version %q, %v", v, err)
	}

	// A file given on the command line is not deleted; an unknown one is
	// not found.
	wantStatus(t, client.Delete(ctx, &api.DeleteRequest{Model: "qwen"}), http.StatusBadRequest)
	wantStatus(t, client.Delete(ctx, &api.DeleteRequest{Model: "nope"}), http.StatusNotFound)
	if _, err := client.Show(ctx, &api.ShowRequest{Model: "qwen"}); err != nil {
		t.Errorf("qwen after a refused delete: %v", err)
	}

	// Pull is not wired to a model store yet: a clear error, not a hang
	// or a fake progress stream.
	err = client.Pull(ctx, &api.PullRequest{Model: "qwen3:0.6b"}, func(p api.ProgressResponse) error {
		t.Errorf("pull progress %+v", p)
		return nil
	})
	wantStatus(t, err, http.StatusNotImplemented)
}

// checkDigest: Ollama's CLI prints m.Digest[:12] in `ollama list` and
// `ollama ps`, so a short digest crashes it when pointed at this server.
func checkDigest(t *testing.T, route, name, digest string) {
	t.Helper()
	if len(digest) < 12 || strings.Trim(digest, "0123456789abcdef") != "" {
		t.Errorf("%s: model %s has digest %q, want hex of at least 12 digits (Ollama's CLI slices digest[:12])", route, name, digest)
	}
}

func TestOllamaEmbed(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	r, err := client.Embed(context.Background(), &api.EmbedRequest{Model: "qwen", Input: []string{"hello world", "你好"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Embeddings) != 2 || len(r.Embeddings[0]) != 256 || r.PromptEvalCount < 2 || r.Model != "qwen" {
		t.Fatalf("embed: %d vectors of %d, %d tokens", len(r.Embeddings), len(r.Embeddings[0]), r.PromptEvalCount)
	}
	// The same text embeds the same through both APIs.
	oa := lv.oaClient()
	o, err := oa.Embeddings.New(context.Background(), openAIEmbed("qwen", "hello world"))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range o.Data[0].Embedding {
		if float32(x) != r.Embeddings[0][i] {
			t.Fatalf("embedding[%d]: /api/embed %v, /v1/embeddings %v", i, r.Embeddings[0][i], x)
		}
	}
	_, err = client.Embed(context.Background(), &api.EmbedRequest{Model: "qwen", Input: strings.Repeat("word ", 600)})
	wantStatus(t, err, http.StatusBadRequest)
}

func TestOllamaFormat(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	const schema = `{"type":"object","properties":{"city":{"type":"string","enum":["Paris","Tokyo"]},"n":{"type":"integer","minimum":0,"maximum":9},"ok":{"type":"boolean"}},"required":["city","n","ok"],"additionalProperties":false}`
	sch := compileSchema(t, schema)
	for seed := range 6 {
		for _, model := range []string{"qwen25", "qwen3"} {
			req := &api.ChatRequest{Model: model, Messages: []api.Message{{Role: "user", Content: "Where?"}}, Stream: ptr(seed%2 == 0),
				Format: json.RawMessage(schema), Options: map[string]any{"temperature": 1, "seed": seed, "num_predict": 120}}
			if model == "qwen3" {
				req.Think = &api.ThinkValue{Value: false}
			}
			var content strings.Builder
			var last api.ChatResponse
			if err := client.Chat(context.Background(), req, func(r api.ChatResponse) error {
				content.WriteString(r.Message.Content)
				last = r
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := validate(sch, content.String()); err != nil || last.DoneReason != "stop" {
				t.Errorf("%s seed %d: done_reason %q, output %q: %v", model, seed, last.DoneReason, content.String(), err)
			}
			if last.Message.Thinking != "" {
				t.Errorf("%s seed %d: thinking %q with think false", model, seed, last.Message.Thinking)
			}
		}
	}
	// format "json" is an object, as in Ollama (its grammar's root is
	// object): clients unmarshal the answer into a map.
	completed := 0
	for seed := range 6 {
		var r api.GenerateResponse
		err := client.Generate(context.Background(), &api.GenerateRequest{Model: "qwen25", Prompt: "JSON:", Stream: ptr(false), Format: json.RawMessage(`"json"`),
			Options: map[string]any{"temperature": 1, "seed": seed, "num_predict": 60}}, func(g api.GenerateResponse) error { r = g; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.TrimSpace(r.Response), "{") {
			t.Errorf("format json output %q does not open an object", r.Response)
		}
		if r.DoneReason == "stop" {
			completed++
			if !json.Valid([]byte(r.Response)) {
				t.Errorf("format json output %q is not JSON", r.Response)
			}
		}
	}
	t.Logf("format json: %d/6 outputs completed within 60 tokens", completed)
}

func TestOllamaThinkAndOptions(t *testing.T) {
	lv := ollamaServer(t)
	client := lv.olClient(t)
	ctx := context.Background()
	chatReq := func(model string, think *api.ThinkValue, options map[string]any) *api.ChatRequest {
		o := map[string]any{"temperature": 0, "num_predict": 16}
		for k, v := range options {
			o[k] = v
		}
		return &api.ChatRequest{Model: model, Messages: []api.Message{{Role: "user", Content: "Why is the sky blue?"}}, Stream: ptr(false), Think: think, Options: o}
	}
	var r api.ChatResponse
	keep := func(c api.ChatResponse) error { r = c; return nil }

	// think:false on a thinking template: no reasoning in either field.
	if err := client.Chat(ctx, chatReq("qwen3", &api.ThinkValue{Value: false}, nil), keep); err != nil {
		t.Fatal(err)
	}
	if r.Message.Thinking != "" || strings.Contains(r.Message.Content, "<think>") || strings.Contains(r.Message.Content, "</think>") {
		t.Errorf("think false: thinking %q, content %q", r.Message.Thinking, r.Message.Content)
	}
	// think:true on a model that cannot reason is refused.
	wantStatus(t, client.Chat(ctx, chatReq("qwen", &api.ThinkValue{Value: true}, nil), keep), http.StatusBadRequest)

	// num_ctx beyond the server's context is an error, not a silent cut;
	// within it, prompt plus output stop at num_ctx.
	wantStatus(t, client.Chat(ctx, chatReq("qwen", nil, map[string]any{"num_ctx": 100000}), keep), http.StatusBadRequest)
	wantStatus(t, client.Chat(ctx, chatReq("qwen", nil, map[string]any{"num_ctx": 8}), keep), http.StatusBadRequest)
	if err := client.Chat(ctx, chatReq("qwen", nil, map[string]any{"num_ctx": 30, "num_predict": 100}), keep); err != nil {
		t.Fatal(err)
	}
	if r.DoneReason != "length" || r.PromptEvalCount+r.EvalCount != 30 {
		t.Errorf("num_ctx 30: done_reason %q, %d+%d tokens", r.DoneReason, r.PromptEvalCount, r.EvalCount)
	}
	// The streaming client sees the same errors.
	req := chatReq("qwen", nil, map[string]any{"num_ctx": 100000})
	req.Stream = ptr(true)
	wantStatus(t, client.Chat(ctx, req, keep), http.StatusBadRequest)
	// Unknown model.
	wantStatus(t, client.Chat(ctx, chatReq("llama3", nil, nil), keep), http.StatusNotFound)
	// Tools are accepted by a model whose template has them.
	tr := chatReq("qwen25", nil, nil)
	if err := json.Unmarshal([]byte(`[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`), &tr.Tools); err != nil {
		t.Fatal(err)
	}
	if err := client.Chat(ctx, tr, keep); err != nil || !r.Done {
		t.Errorf("chat with tools: %+v, %v", r, err)
	}
}
