package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/internal/golden"
)

// templatedServer serves qwen2-mini copies with real chat templates:
// "qwen25" (Qwen2.5: Hermes tool calls), "qwen3" (Qwen3: <think> and
// Hermes) and "r1" (DeepSeek-R1: the prompt opens the reasoning). Random
// weights write gibberish: these tests check plumbing and invariants.
func templatedServer(t *testing.T) (*Server, string) {
	t.Helper()
	src := golden.Path(t, qwen2Mini)
	s, ts := testServer(t, Config{KeepAlive: time.Minute, MaxLoaded: 3, Models: []string{
		modelCopy(t, src, "qwen25", "Qwen-Qwen2.5-7B-Instruct.jinja"),
		modelCopy(t, src, "qwen3", "Qwen-Qwen3-0.6B.jinja"),
		modelCopy(t, src, "r1", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"),
	}})
	return s, ts.URL
}

func compileSchema(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, text string) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return sch.Validate(v)
}

const weatherParams = `{"type":"object","properties":{"city":{"type":"string","enum":["Paris","Tokyo","北京"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}`

func weatherTools(extra ...string) []map[string]any {
	tools := []map[string]any{{"type": "function", "function": map[string]any{
		"name": "get_weather", "description": "Weather forecast", "parameters": rawJSON(weatherParams)}}}
	for _, name := range extra {
		tools = append(tools, map[string]any{"type": "function", "function": map[string]any{
			"name": name, "parameters": rawJSON(`{"type":"object","properties":{"q":{"type":"boolean"}},"required":["q"]}`)}})
	}
	return tools
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestForcedToolCalls(t *testing.T) {
	_, url := templatedServer(t)
	sch := compileSchema(t, weatherParams)
	tests := []struct {
		name   string
		model  string
		choice any
		tools  []map[string]any
		want   string
		extra  map[string]any
	}{
		{"required, one tool", "qwen25", "required", weatherTools(), "get_weather", nil},
		{"named among two", "qwen25", map[string]any{"type": "function", "function": map[string]any{"name": "get_weather"}}, weatherTools("search"), "get_weather", nil},
		{"required among two", "qwen25", "required", weatherTools("search"), "", nil},
		{"thinking model with thinking off", "qwen3", "required", weatherTools(), "get_weather", map[string]any{"chat_template_kwargs": map[string]any{"enable_thinking": false}}},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", tt.name, stream), func(t *testing.T) {
				body := map[string]any{"model": tt.model, "messages": []map[string]any{{"role": "user", "content": "Weather in Paris?"}},
					"tools": tt.tools, "tool_choice": tt.choice, "max_tokens": 120, "temperature": 0.7, "seed": 7, "stream": stream}
				for k, v := range tt.extra {
					body[k] = v
				}
				resp, data := post(t, url+"/v1/chat/completions", body)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, data)
				}
				msg, finish := chatResult(t, data, stream)
				if finish != "tool_calls" || len(msg.ToolCalls) != 1 {
					t.Fatalf("finish %q, %d tool calls, content %q; want one call", finish, len(msg.ToolCalls), str(msg.Content))
				}
				call := msg.ToolCalls[0]
				if !strings.HasPrefix(call.ID, "call_") || call.Type != "function" || (tt.want != "" && call.Function.Name != tt.want) {
					t.Fatalf("call %+v, want an id, type function and name %q", call, tt.want)
				}
				if call.Function.Name == "get_weather" {
					if err := validate(t, sch, call.Function.Arguments); err != nil {
						t.Errorf("arguments %s: %v", call.Function.Arguments, err)
					}
				}
				if msg.Content != nil && strings.TrimSpace(*msg.Content) != "" {
					t.Errorf("content %q beside a forced call", *msg.Content)
				}
			})
		}
	}
}

// chatResult collects a chat response, streamed or not, into one message.
func chatResult(t *testing.T, data []byte, stream bool) (responseMessage, string) {
	t.Helper()
	if !stream {
		c := decode[chatCompletion](t, data)
		return c.Choices[0].Message, c.Choices[0].FinishReason
	}
	var msg responseMessage
	var content strings.Builder
	finish := ""
	events := sseData(t, data)
	for _, ev := range events[:len(events)-1] {
		c := decode[chatChunk](t, []byte(ev))
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				content.WriteString(*ch.Delta.Content)
			}
			msg.ReasoningContent += ch.Delta.ReasoningContent
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil || *tc.Index != len(msg.ToolCalls) {
					t.Fatalf("tool call delta %+v: want index %d", tc, len(msg.ToolCalls))
				}
				tc.Index = nil
				msg.ToolCalls = append(msg.ToolCalls, tc)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	if c := content.String(); c != "" {
		msg.Content = &c
	}
	return msg, finish
}

// TestJSONSchemaOutputsValidate: every output under response_format
// json_schema (and Ollama's format) validates, sampled or greedy, with
// thinking off too.
func TestJSONSchemaOutputsValidate(t *testing.T) {
	s, url := templatedServer(t)
	const schema = `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},"ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}`
	sch := compileSchema(t, schema)
	prompts := []string{"Describe a person.", "JSON please", "你是谁？", "", "Give me data about Bob, 42."}
	for i, prompt := range prompts {
		// r1's template closes the reasoning block itself unless thinking
		// is asked for: the grammar applies at once.
		for _, model := range []string{"qwen25", "qwen3", "r1"} {
			body := map[string]any{"model": model, "messages": []map[string]any{{"role": "user", "content": prompt}},
				"max_tokens": 200, "temperature": 1, "seed": i,
				"response_format": map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "person", "schema": rawJSON(schema)}}}
			if model == "qwen3" {
				body["think"] = false
			}
			resp, data := post(t, url+"/v1/chat/completions", body)
			if resp.StatusCode != 200 {
				t.Fatalf("%s %q: status %d: %s", model, prompt, resp.StatusCode, data)
			}
			c := decode[chatCompletion](t, data)
			out := str(c.Choices[0].Message.Content)
			if c.Choices[0].FinishReason != "stop" {
				t.Fatalf("%s %q: finish %q for %q: the value did not complete", model, prompt, c.Choices[0].FinishReason, out)
			}
			if err := validate(t, sch, out); err != nil {
				t.Errorf("%s %q: output %q: %v", model, prompt, out, err)
			}
		}
		ob := map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": prompt}}, "stream": false,
			"format": rawJSON(schema), "options": map[string]any{"seed": i, "temperature": 1, "num_predict": 200}}
		_, data := post(t, url+"/api/chat", ob)
		r := decode[ollamaChatResponse](t, data)
		if err := validate(t, sch, r.Message.Content); err != nil || r.DoneReason != "stop" {
			t.Errorf("/api/chat %q: done_reason %q, output %q: %v", prompt, r.DoneReason, r.Message.Content, err)
		}
	}
	// json_object: any object. Random weights would write one string until
	// max_tokens: a bias towards '"' and '}' lets values end.
	bias := map[string]float64{}
	e, err := engine.Open(s.models.cli[0].path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{`"`, "}"} {
		id, ok := e.Tokenizer.TokenID(c)
		if !ok {
			t.Fatalf("no token for %q", c)
		}
		bias[fmt.Sprint(id)] = 8
	}
	e.Close()
	completed := 0
	for seed := range 6 {
		body := map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": "x"}}, "max_tokens": 100,
			"temperature": 1, "seed": seed, "logit_bias": bias, "response_format": map[string]any{"type": "json_object"}}
		_, data := post(t, url+"/v1/chat/completions", body)
		c := decode[chatCompletion](t, data)
		out := str(c.Choices[0].Message.Content)
		if !strings.HasPrefix(out, "{") {
			t.Errorf("json_object output %q does not start an object", out)
		}
		if c.Choices[0].FinishReason != "stop" {
			continue
		}
		completed++
		if err := validate(t, compileSchema(t, `{"type":"object"}`), out); err != nil {
			t.Errorf("json_object output %q: %v", out, err)
		}
	}
	if completed == 0 {
		t.Errorf("no json_object output completed within 100 tokens")
	}
}

// TestReasoningSeparated: a prompt that opens the reasoning block (R1's
// template) sends what follows to reasoning_content / thinking.
func TestReasoningSeparated(t *testing.T) {
	_, url := templatedServer(t)
	for _, stream := range []bool{false, true} {
		body := map[string]any{"model": "r1", "messages": []map[string]any{{"role": "user", "content": "why?"}},
			"max_tokens": 12, "temperature": 0, "stream": stream, "think": true}
		_, data := post(t, url+"/v1/chat/completions", body)
		msg, _ := chatResult(t, data, stream)
		if msg.ReasoningContent == "" || (msg.Content != nil && *msg.Content != "") {
			t.Errorf("stream=%v: reasoning %q, content %q; want everything in reasoning_content", stream, msg.ReasoningContent, str(msg.Content))
		}
	}
	ob := map[string]any{"model": "r1", "messages": []map[string]any{{"role": "user", "content": "why?"}}, "stream": false, "think": true,
		"options": map[string]any{"temperature": 0, "num_predict": 12}}
	_, data := post(t, url+"/api/chat", ob)
	if r := decode[ollamaChatResponse](t, data); r.Message.Thinking == "" || r.Message.Content != "" {
		t.Errorf("/api/chat: thinking %q, content %q", r.Message.Thinking, r.Message.Content)
	}
	// think:true on a model that does not reason is refused, as Ollama does.
	resp, data := post(t, url+"/api/chat", map[string]any{"model": "qwen25", "messages": []map[string]any{{"role": "user", "content": "x"}}, "think": true})
	if resp.StatusCode != 400 || decode[ollamaError](t, data).Error == "" {
		t.Errorf("think on qwen25 = %d %s, want 400", resp.StatusCode, data)
	}
}

// TestThinkingOffRendersEmptyBlock: think:false reaches the template.
func TestThinkingOffRendersEmptyBlock(t *testing.T) {
	s, _ := templatedServer(t)
	for _, think := range []bool{false, true} {
		j := &job{model: "qwen3", n: 1, thinking: &think, messages: mustMessages(t, `[{"role":"user","content":"hi"}]`)}
		p, err := s.prepare(t.Context(), j)
		if err != nil {
			t.Fatal(err)
		}
		text := p.m.eng.Tokenizer.Decode(p.prompt)
		s.done(p)
		if got := strings.Contains(text, "<think>\n\n</think>"); got == think {
			t.Errorf("think=%v: prompt %q has the empty think block: %v", think, text, got)
		}
	}
}

func mustMessages(t *testing.T, js string) []chat.Message {
	t.Helper()
	var in []openAIMessage
	if err := json.Unmarshal([]byte(js), &in); err != nil {
		t.Fatal(err)
	}
	out, err := chatMessages(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestToolHistory: past calls and their results reach the template in both
// dialects (OpenAI's arguments string becomes the object templates expect).
func TestToolHistory(t *testing.T) {
	s, url := templatedServer(t)
	openai := `{"model":"qwen25","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"messages":[
		{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"}]}`
	var req chatRequest
	if err := json.Unmarshal([]byte(openai), &req); err != nil {
		t.Fatal(err)
	}
	j, err := req.job()
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.prepare(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	prompt := p.m.eng.Tokenizer.Decode(p.prompt)
	s.done(p)
	for _, want := range []string{`<tool_call>` + "\n" + `{"name": "get_weather", "arguments": {"city": "Paris"}}`, "<tool_response>\nsunny\n</tool_response>", `"name": "get_weather"`} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	resp, data := post(t, url+"/v1/chat/completions", maps(decode[map[string]any](t, []byte(openai)), "max_tokens", 3))
	if resp.StatusCode != 200 {
		t.Errorf("OpenAI history: %d %s", resp.StatusCode, data)
	}
	ollama := `{"model":"qwen25","stream":false,"options":{"num_predict":3},"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"messages":[
		{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},
		{"role":"tool","tool_name":"get_weather","content":"sunny"}]}`
	resp, data = post(t, url+"/api/chat", ollama)
	if resp.StatusCode != 200 || !decode[ollamaChatResponse](t, data).Done {
		t.Errorf("Ollama history: %d %s", resp.StatusCode, data)
	}
}
