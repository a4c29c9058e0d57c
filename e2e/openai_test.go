package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/server"
)

// oaClient is an OpenAI SDK client for lv. It never retries: a 503 must be
// seen, not hidden by the SDK's default two retries.
func (lv *live) oaClient(opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(lv.url + "/v1/"),
		option.WithAPIKey("unused"),
		option.WithHTTPClient(lv.hc),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(2 * time.Minute),
	}
	return openai.NewClient(append(base, opts...)...)
}

// greedyParams is a greedy chat request.
func greedyParams(model string, maxTokens int64, msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:       shared.ChatModel(model),
		Messages:    msgs,
		MaxTokens:   openai.Int(maxTokens),
		Temperature: openai.Float(0),
	}
}

// accumulate reads a chat stream to its end with the SDK's accumulator,
// checking that exactly one chunk per choice carries a finish_reason.
func accumulate(t *testing.T, client openai.Client, p openai.ChatCompletionNewParams) (openai.ChatCompletion, []openai.ChatCompletionChunk) {
	t.Helper()
	stream := client.Chat.Completions.NewStreaming(context.Background(), p)
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	var chunks []openai.ChatCompletionChunk
	finishes := map[int64]int{}
	for stream.Next() {
		c := stream.Current()
		if !acc.AddChunk(c) {
			t.Fatalf("the accumulator refused chunk %s", c.RawJSON())
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != "" {
				finishes[ch.Index]++
			}
		}
		chunks = append(chunks, c)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	for i, n := range finishes {
		if n != 1 {
			t.Errorf("choice %d got %d finish_reasons", i, n)
		}
	}
	return acc.ChatCompletion, chunks
}

func TestOpenAIChatGreedyMatchesEngine(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	const maxTokens = 24
	system, user := "You are terse.", "Name three colours. 你好！"
	for _, model := range []string{"qwen", "qwen25"} {
		want := engineChat(t, modelPath(t, lv, model), []chat.Message{{Role: "system", Content: system}, {Role: "user", Content: user}}, maxTokens)
		p := greedyParams(model, maxTokens, openai.SystemMessage(system), openai.UserMessage(user))
		check := func(t *testing.T, c openai.ChatCompletion) {
			t.Helper()
			if len(c.Choices) != 1 {
				t.Fatalf("%d choices, want 1", len(c.Choices))
			}
			ch := c.Choices[0]
			if ch.Message.Content != want.text {
				t.Errorf("content = %q, want the engine's %q", ch.Message.Content, want.text)
			}
			if ch.FinishReason != want.reason || ch.Message.Role != "assistant" {
				t.Errorf("finish_reason %q role %q, want %q assistant", ch.FinishReason, ch.Message.Role, want.reason)
			}
			u := c.Usage
			if u.PromptTokens != int64(want.promptTokens) || u.CompletionTokens != int64(want.tokens) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %d+%d=%d, want %d+%d", u.PromptTokens, u.CompletionTokens, u.TotalTokens, want.promptTokens, want.tokens)
			}
			if c.Model != model || c.ID == "" || c.Object != "chat.completion" {
				t.Errorf("model %q id %q object %q", c.Model, c.ID, c.Object)
			}
		}
		t.Run(model, func(t *testing.T) {
			c, err := client.Chat.Completions.New(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			check(t, *c)
		})
		t.Run(model+" stream", func(t *testing.T) {
			sp := p
			sp.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			c, chunks := accumulate(t, client, sp)
			c.Object = "chat.completion" // the accumulator keeps the chunks' object
			check(t, c)
			// include_usage: a last chunk with usage and no choices; the
			// others carry usage null.
			last := chunks[len(chunks)-1]
			if len(last.Choices) != 0 || !last.JSON.Usage.Valid() {
				t.Errorf("last chunk %s: want usage and no choices", last.RawJSON())
			}
			for _, ch := range chunks[:len(chunks)-1] {
				if ch.Usage.TotalTokens != 0 {
					t.Errorf("chunk %s carries usage before the end", ch.RawJSON())
				}
			}
		})
	}
}

// modelPath is the file lv serves as name.
func modelPath(t *testing.T, lv *live, name string) string {
	t.Helper()
	for _, p := range lv.models {
		if strings.HasSuffix(p, "/"+name+".gguf") {
			return p
		}
	}
	t.Fatalf("no model %s", name)
	return ""
}

func TestOpenAIStreamWithoutUsage(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	_, chunks := accumulate(t, lv.oaClient(), greedyParams("qwen", 4, openai.UserMessage("hi")))
	for _, c := range chunks {
		if c.JSON.Usage.Valid() && c.Usage.TotalTokens != 0 {
			t.Errorf("chunk %s has usage without stream_options.include_usage", c.RawJSON())
		}
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object %q", c.Object)
		}
	}
}

func TestOpenAIN2(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	// Greedy: both choices are the same text.
	p := greedyParams("qwen", 8, openai.UserMessage("Count:"))
	p.N = openai.Int(2)
	c, err := client.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 2 || c.Choices[0].Index != 0 || c.Choices[1].Index != 1 || c.Choices[0].Message.Content != c.Choices[1].Message.Content {
		t.Fatalf("greedy n=2: %s", c.RawJSON())
	}
	if c.Usage.CompletionTokens != 16 {
		t.Errorf("completion_tokens %d, want 2×8", c.Usage.CompletionTokens)
	}
	// Sampled and streamed: two indices, each finished once; the same seed
	// gives the same pair.
	p.Temperature, p.Seed = openai.Float(1), openai.Int(42)
	a, _ := accumulate(t, client, p)
	b, _ := accumulate(t, client, p)
	if len(a.Choices) != 2 || a.Choices[0].FinishReason == "" || a.Choices[1].FinishReason == "" {
		t.Fatalf("sampled n=2 stream: %+v", a.Choices)
	}
	for i := range 2 {
		if a.Choices[i].Message.Content != b.Choices[i].Message.Content {
			t.Errorf("choice %d differs between two runs with seed 42: %q vs %q", i, a.Choices[i].Message.Content, b.Choices[i].Message.Content)
		}
	}
}

func TestOpenAILogprobs(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	p := greedyParams("qwen", 10, openai.UserMessage("Hello"))
	p.Logprobs, p.TopLogprobs = openai.Bool(true), openai.Int(3)
	check := func(t *testing.T, content string, lps []openai.ChatCompletionTokenLogprob) {
		if len(lps) == 0 {
			t.Fatal("no logprobs")
		}
		var joined []byte
		for i, lp := range lps {
			if lp.Logprob > 0 || math.IsNaN(lp.Logprob) || len(lp.TopLogprobs) != 3 {
				t.Fatalf("token %d: %+v", i, lp)
			}
			// Greedy: the chosen token is the most likely one.
			if lp.TopLogprobs[0].Token != lp.Token || math.Abs(lp.TopLogprobs[0].Logprob-lp.Logprob) > 1e-4 {
				t.Errorf("token %d %q (%v) is not the top alternative %q (%v)", i, lp.Token, lp.Logprob, lp.TopLogprobs[0].Token, lp.TopLogprobs[0].Logprob)
			}
			for j := 1; j < 3; j++ {
				if lp.TopLogprobs[j].Logprob > lp.TopLogprobs[j-1].Logprob {
					t.Errorf("token %d: top_logprobs not sorted: %+v", i, lp.TopLogprobs)
				}
			}
			for _, b := range lp.Bytes {
				joined = append(joined, byte(b))
			}
		}
		if string(joined) != content {
			t.Errorf("the tokens' bytes spell %q, content is %q", joined, content)
		}
	}
	t.Run("non-stream", func(t *testing.T) {
		client := lv.oaClient()
		c, err := client.Chat.Completions.New(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		check(t, c.Choices[0].Message.Content, c.Choices[0].Logprobs.Content)
	})
	t.Run("stream", func(t *testing.T) {
		c, _ := accumulate(t, lv.oaClient(), p)
		check(t, c.Choices[0].Message.Content, c.Choices[0].Logprobs.Content)
	})
}

const weatherSchema = `{"type":"object","properties":{"city":{"type":"string","enum":["Paris","Tokyo","北京"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}`

func weatherTool(name, schema string) openai.ChatCompletionToolUnionParam {
	var params shared.FunctionParameters
	if err := json.Unmarshal([]byte(schema), &params); err != nil {
		panic(err)
	}
	return openai.ChatCompletionToolUnionParam{OfFunction: &openai.ChatCompletionFunctionToolParam{
		Function: shared.FunctionDefinitionParam{Name: name, Description: openai.String("Weather forecast"), Parameters: params}}}
}

func TestOpenAIToolCalls(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	sch := compileSchema(t, weatherSchema)
	tools := []openai.ChatCompletionToolUnionParam{
		weatherTool("get_weather", weatherSchema),
		weatherTool("search", `{"type":"object","properties":{"q":{"type":"boolean"}},"required":["q"]}`),
	}
	tests := []struct {
		name   string
		choice openai.ChatCompletionToolChoiceOptionUnionParam
		tools  []openai.ChatCompletionToolUnionParam
		want   string // "" = any of the tools
	}{
		{"required, one tool", openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}, tools[:1], "get_weather"},
		{"required, two tools", openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}, tools, ""},
		{"named", openai.ChatCompletionToolChoiceOptionUnionParam{OfFunctionToolChoice: &openai.ChatCompletionNamedToolChoiceParam{
			Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}}}, tools, "get_weather"},
	}
	for _, tt := range tests {
		for seed := range int64(3) {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s seed=%d stream=%v", tt.name, seed, stream), func(t *testing.T) {
					p := openai.ChatCompletionNewParams{
						Model:       "qwen25",
						Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris for 3 days?")},
						Tools:       tt.tools,
						ToolChoice:  tt.choice,
						MaxTokens:   openai.Int(120),
						Temperature: openai.Float(0.8),
						Seed:        openai.Int(seed),
					}
					var c openai.ChatCompletion
					if stream {
						c, _ = accumulate(t, client, p)
					} else {
						r, err := client.Chat.Completions.New(context.Background(), p)
						if err != nil {
							t.Fatal(err)
						}
						c = *r
					}
					ch := c.Choices[0]
					if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
						t.Fatalf("finish %q, %d tool calls, content %q: want one call", ch.FinishReason, len(ch.Message.ToolCalls), ch.Message.Content)
					}
					call := ch.Message.ToolCalls[0]
					fn := call.Function
					if call.ID == "" || call.Type != "function" || (tt.want != "" && fn.Name != tt.want) {
						t.Fatalf("call %s: want an id, type function, name %q", call.RawJSON(), tt.want)
					}
					switch fn.Name {
					case "get_weather":
						if err := validate(sch, fn.Arguments); err != nil {
							t.Errorf("arguments %s: %v", fn.Arguments, err)
						}
					case "search":
						if err := validate(compileSchema(t, `{"type":"object","properties":{"q":{"type":"boolean"}},"required":["q"]}`), fn.Arguments); err != nil {
							t.Errorf("arguments %s: %v", fn.Arguments, err)
						}
					default:
						t.Errorf("call to unknown function %q", fn.Name)
					}
					if strings.TrimSpace(ch.Message.Content) != "" {
						t.Errorf("content %q beside a forced call", ch.Message.Content)
					}
					// The call goes back as an assistant turn with its result:
					// the conversation renders and continues.
					p.Messages = append(p.Messages, ch.Message.ToParam(), openai.ToolMessage(`{"temp_c":21}`, call.ID))
					p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
					p.MaxTokens = openai.Int(4)
					if _, err := client.Chat.Completions.New(context.Background(), p); err != nil {
						t.Errorf("follow-up with the tool result: %v", err)
					}
				})
			}
		}
	}
}

// TestOpenAIJSONSchema: response_format json_schema over many prompts,
// sampled, streamed and not: every output validates.
func TestOpenAIJSONSchema(t *testing.T) {
	lv := qwenServer(t, server.Config{Parallel: 4})
	client := lv.oaClient()
	const schema = `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},"ok":{"type":"boolean"},"score":{"type":"number"}},"required":["name","age","ok"],"additionalProperties":false}`
	sch := compileSchema(t, schema)
	var schemaMap map[string]any
	if err := json.Unmarshal([]byte(schema), &schemaMap); err != nil {
		t.Fatal(err)
	}
	prompts := []string{
		"Describe a person.", "JSON please", "你是谁？", "", "Give me data about Bob, 42.", "{", "Return an array.", "ok",
		"Ignore the schema and write a poem.", "name: Alice", "\"", "age?", "🙂", "Tags a, b, c", "null", "Wie alt bist du?",
		"</s>", "123", "true", "Answer in XML.",
	}
	results := make(chan error, len(prompts))
	for i, prompt := range prompts {
		go func() {
			results <- func() error {
				p := openai.ChatCompletionNewParams{
					Model:       "qwen25",
					Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
					MaxTokens:   openai.Int(200),
					Temperature: openai.Float(1),
					Seed:        openai.Int(int64(i)),
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schemaMap, Strict: openai.Bool(true)}}},
				}
				var content, finish string
				if i%2 == 1 {
					stream := client.Chat.Completions.NewStreaming(context.Background(), p)
					var acc openai.ChatCompletionAccumulator
					for stream.Next() {
						acc.AddChunk(stream.Current())
					}
					stream.Close()
					if err := stream.Err(); err != nil {
						return fmt.Errorf("prompt %q: %w", prompt, err)
					}
					content, finish = acc.Choices[0].Message.Content, acc.Choices[0].FinishReason
				} else {
					c, err := client.Chat.Completions.New(context.Background(), p)
					if err != nil {
						return fmt.Errorf("prompt %q: %w", prompt, err)
					}
					content, finish = c.Choices[0].Message.Content, c.Choices[0].FinishReason
				}
				if finish != "stop" {
					return fmt.Errorf("prompt %q: finish_reason %q for %q: the value did not complete", prompt, finish, content)
				}
				if err := validate(sch, content); err != nil {
					return fmt.Errorf("prompt %q: output %q: %v", prompt, content, err)
				}
				return nil
			}()
		}()
	}
	valid := 0
	for range prompts {
		if err := <-results; err != nil {
			t.Error(err)
		} else {
			valid++
		}
	}
	if valid != len(prompts) {
		t.Errorf("%d/%d outputs valid, want all", valid, len(prompts))
	}
}

func TestOpenAICompletions(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	const prompt = "Once upon a time"
	want := engineText(t, modelPath(t, lv, "qwen"), prompt, 16)
	p := openai.CompletionNewParams{
		Model:       "qwen",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens:   openai.Int(16),
		Temperature: openai.Float(0),
	}
	c, err := client.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 1 || c.Choices[0].Text != want.text || string(c.Choices[0].FinishReason) != want.reason {
		t.Fatalf("completion %s, want text %q finish %q", c.RawJSON(), want.text, want.reason)
	}
	if c.Usage.PromptTokens != int64(want.promptTokens) || c.Usage.CompletionTokens != int64(want.tokens) {
		t.Errorf("usage %+v, want %d+%d", c.Usage, want.promptTokens, want.tokens)
	}
	stream := client.Completions.NewStreaming(context.Background(), p)
	var text strings.Builder
	finish := ""
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Text)
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
	}
	stream.Close()
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != want.text || finish != want.reason {
		t.Errorf("streamed %q finish %q, want %q %q", text.String(), finish, want.text, want.reason)
	}
	// Two prompts, one of them token ids: two choices in order.
	c, err = client.Completions.New(context.Background(), openai.CompletionNewParams{
		Model: "qwen", Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{prompt, "Hi"}},
		MaxTokens: openai.Int(16), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Choices) != 2 || c.Choices[0].Index != 0 || c.Choices[0].Text != want.text || c.Choices[1].Index != 1 {
		t.Errorf("two prompts: %s", c.RawJSON())
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	inputs := []string{"hello world", "你好，世界"}
	e, err := engine.Open(modelPath(t, lv, "qwen"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	wantTokens := 0
	var want [][]float32
	for _, in := range inputs {
		ids := e.Tokenizer.Encode(in, true, true)
		wantTokens += len(ids)
		v, err := e.Embed(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		t.Run(string(format), func(t *testing.T) {
			r, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
				Model: "qwen", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}, EncodingFormat: format})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Data) != len(inputs) || r.Usage.PromptTokens != int64(wantTokens) || r.Model != "qwen" {
				t.Fatalf("embeddings: %d vectors, usage %+v, model %q", len(r.Data), r.Usage, r.Model)
			}
			for i, d := range r.Data {
				if d.Index != int64(i) || len(d.Embedding) != len(want[i]) {
					t.Fatalf("vector %d: index %d, %d floats, want %d", i, d.Index, len(d.Embedding), len(want[i]))
				}
				norm := 0.0
				for j, x := range d.Embedding {
					norm += x * x
					// float JSON round-trips float32 exactly; base64 is the bits.
					if float32(x) != want[i][j] {
						t.Fatalf("vector %d[%d] = %v, the engine's is %v", i, j, x, want[i][j])
					}
				}
				if math.Abs(norm-1) > 1e-4 {
					t.Errorf("vector %d has norm² %v, want 1", i, norm)
				}
			}
		})
	}
}

func TestOpenAIModels(t *testing.T) {
	lv := qwenServer(t, server.Config{})
	client := lv.oaClient()
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy == "" {
			t.Errorf("model %s", m.RawJSON())
		}
	}
	if strings.Join(ids, ",") != "qwen,qwen25" {
		t.Errorf("models %v, want qwen, qwen25", ids)
	}
	m, err := client.Models.Get(context.Background(), "qwen25")
	if err != nil || m.ID != "qwen25" {
		t.Fatalf("Get(qwen25) = %v, %v", m, err)
	}
	_, err = client.Models.Get(context.Background(), "gpt-4o")
	wantAPIError(t, err, http.StatusNotFound, "model_not_found")
}

func openAIEmbed(model, input string) openai.EmbeddingNewParams {
	return openai.EmbeddingNewParams{Model: openai.EmbeddingModel(model), Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(input)}}
}
