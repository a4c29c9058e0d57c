package server

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// The dialects' conversion functions, tested without a server.

func TestParseKeepAlive(t *testing.T) {
	forever := time.Duration(-1)
	tests := []struct {
		in   string
		want *time.Duration
		err  bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`""`, nil, false},
		{`"5m"`, ptr(5 * time.Minute), false},
		{`"0"`, ptr(time.Duration(0)), false},
		{`0`, ptr(time.Duration(0)), false},
		{`30`, ptr(30 * time.Second), false},
		{`1.5`, ptr(1500 * time.Millisecond), false},
		{`"90"`, ptr(90 * time.Second), false},
		{`-1`, &forever, false},
		{`"-1m"`, &forever, false},
		{`"-1"`, &forever, false},
		{`1e300`, &forever, false},
		{`"soon"`, nil, true},
		{`true`, nil, true},
		{`{}`, nil, true},
	}
	for _, tt := range tests {
		got, err := parseKeepAlive(json.RawMessage(tt.in))
		if (err != nil) != tt.err || !samePtr(got, tt.want) {
			t.Errorf("parseKeepAlive(%s) = %v, %v; want %v, error %v", tt.in, deref(got), err, deref(tt.want), tt.err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func samePtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func deref(d *time.Duration) any {
	if d == nil {
		return "nil"
	}
	return *d
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want formatKind
		err  bool
	}{
		{``, formatText, false},
		{`""`, formatText, false},
		{`"json"`, formatJSONObject, false},
		{`{"type":"object"}`, formatSchema, false},
		{`"xml"`, 0, true},
		{`[1]`, 0, true},
	}
	for _, tt := range tests {
		got, err := parseFormat(json.RawMessage(tt.in))
		if (err != nil) != tt.err || (err == nil && got.kind != tt.want) {
			t.Errorf("parseFormat(%s) = %v, %v; want %v, error %v", tt.in, got.kind, err, tt.want, tt.err)
		}
	}
}

func TestStopList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`null`, nil, false},
		{`"x"`, []string{"x"}, false},
		{`["a","b"]`, []string{"a", "b"}, false},
		{`[]`, []string{}, false},
		{`5`, nil, true},
		{`[1]`, nil, true},
	}
	for _, tt := range tests {
		var s stopList
		err := json.Unmarshal([]byte(tt.in), &s)
		if (err != nil) != tt.err || strings.Join(s, "|") != strings.Join(tt.want, "|") {
			t.Errorf("stop %s = %q, %v; want %q, error %v", tt.in, s, err, tt.want, tt.err)
		}
	}
}

func TestMessageContent(t *testing.T) {
	tests := []struct {
		in   string
		text string
		null bool
		err  string // substring of the error; "" = none
	}{
		{`"hi"`, "hi", false, ""},
		{`null`, "", true, ""},
		{``, "", true, ""},
		{`[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, "ab", false, ""},
		{`[]`, "", false, ""},
		{`[{"type":"image_url","image_url":{"url":"x"}}]`, "", false, "image input is not supported yet"},
		{`[{"type":"text"}]`, "", false, "needs text"},
		{`[{"type":"video"}]`, "", false, "unknown content part"},
		{`5`, "", false, "must be a string"},
	}
	for _, tt := range tests {
		text, null, err := messageContent(json.RawMessage(tt.in), "content")
		if text != tt.text || null != tt.null || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("messageContent(%s) = %q, %v, %v; want %q, %v, error %q", tt.in, text, null, err, tt.text, tt.null, tt.err)
		}
	}
}

func TestChatMessages(t *testing.T) {
	in := []openAIMessage{
		{Role: "developer", Content: json.RawMessage(`"be brief"`)},
		{Role: "user", Content: json.RawMessage(`"weather?"`)},
		{Role: "assistant", Content: json.RawMessage(`null`), ToolCalls: []openAIToolCall{{ID: "c1", Type: "function", Function: openAIFunctionCall{Name: "w", Arguments: `{"city":"Paris"}`}}}},
		{Role: "tool", Content: json.RawMessage(`"sunny"`), ToolCallID: "c1"},
	}
	got, err := chatMessages(in)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Role != "system" || !got[2].ContentNull || string(got[2].ToolCalls[0].Function.Arguments) != `{"city":"Paris"}` || got[3].ToolCallID != "c1" {
		t.Errorf("chatMessages = %+v", got)
	}
	// Arguments that are not an object stay a string for the template.
	if a := argumentsValue("not json"); string(a) != `"not json"` {
		t.Errorf("argumentsValue(not json) = %s", a)
	}
	if a := argumentsValue(""); string(a) != `{}` {
		t.Errorf("argumentsValue(\"\") = %s", a)
	}
}

func TestToolChoice(t *testing.T) {
	tools, err := parseTools([]json.RawMessage{
		json.RawMessage(`{"type":"function","function":{"name":"a","parameters":{"type":"object"}}}`),
		json.RawMessage(`{"type":"function","function":{"name":"b"}}`),
	})
	if err != nil || len(tools) != 2 || tools[1].params != nil {
		t.Fatalf("parseTools = %+v, %v", tools, err)
	}
	tests := []struct {
		in   string
		want toolChoice
		err  bool
	}{
		{``, toolChoice{mode: "auto"}, false},
		{`"none"`, toolChoice{mode: "none"}, false},
		{`"required"`, toolChoice{mode: "required"}, false},
		{`{"type":"function","function":{"name":"b"}}`, toolChoice{mode: "required", name: "b"}, false},
		{`{"type":"function","function":{"name":"c"}}`, toolChoice{}, true},
		{`"always"`, toolChoice{}, true},
		{`{"type":"tool"}`, toolChoice{}, true},
	}
	for _, tt := range tests {
		got, err := parseToolChoice(json.RawMessage(tt.in), tools)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseToolChoice(%s) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, bad := range []string{`{"type":"retrieval"}`, `{"type":"function","function":{"name":"has space"}}`, `{"type":"function","function":{"name":"a","parameters":[1]}}`, `[]`} {
		if _, err := parseTools([]json.RawMessage{json.RawMessage(bad)}); err == nil {
			t.Errorf("parseTools(%s) = nil error", bad)
		}
	}
	if _, err := parseTools([]json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"a"}}`), json.RawMessage(`{"type":"function","function":{"name":"a"}}`)}); err == nil {
		t.Errorf("parseTools accepted a function defined twice")
	}
}

func TestThinking(t *testing.T) {
	on, off := true, false
	tests := []struct {
		req  chatRequest
		want *bool
		err  bool
	}{
		{chatRequest{}, nil, false},
		{chatRequest{Think: json.RawMessage(`false`)}, &off, false},
		{chatRequest{Think: json.RawMessage(`"high"`)}, &on, false},
		{chatRequest{ChatTemplateKwargs: map[string]json.RawMessage{"enable_thinking": json.RawMessage(`false`)}}, &off, false},
		{chatRequest{ChatTemplateKwargs: map[string]json.RawMessage{"enable_thinking": json.RawMessage(`"no"`)}}, nil, true},
		{chatRequest{ReasoningEffort: "none"}, &off, false},
		{chatRequest{ReasoningEffort: "low"}, &on, false},
		{chatRequest{ReasoningEffort: "max"}, nil, true},
		// think wins over the other spellings.
		{chatRequest{Think: json.RawMessage(`true`), ReasoningEffort: "none"}, &on, false},
	}
	for i, tt := range tests {
		got, err := tt.req.thinking()
		if (err != nil) != tt.err || !samePtr(got, tt.want) {
			t.Errorf("case %d: thinking = %v, %v; want %v, error %v", i, got, err, tt.want, tt.err)
		}
	}
}

func TestSampling(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	seed := int64(0)
	p, seeded, err := samplingFrom(&openAISampling{Temperature: f(0), TopP: f(0.5), Seed: &seed, LogitBias: map[string]float64{"7": -100, "8": 2.5}})
	if err != nil || p.Temperature != 0 || p.TopP != 0.5 || !seeded || !math.IsInf(float64(p.LogitBias[7]), -1) || p.LogitBias[8] != 2.5 {
		t.Fatalf("samplingFrom = %+v, %v, %v", p, seeded, err)
	}
	// A given seed 0 must not mean "random": choices get 0x5eed, 1, 2, …
	if seedFor(0, 0) == 0 || seedFor(0, 1) != 1 || seedFor(41, 1) != 42 {
		t.Errorf("seedFor(0,0)=%d seedFor(0,1)=%d seedFor(41,1)=%d", seedFor(0, 0), seedFor(0, 1), seedFor(41, 1))
	}
	for _, bad := range []openAISampling{
		{Temperature: f(2.5)}, {TopP: f(-0.1)}, {MinP: f(2)}, {RepeatPenalty: f(0)}, {PresencePenalty: f(-3)},
		{FrequencyPenalty: f(2.1)}, {LogitBias: map[string]float64{"-1": 1}}, {LogitBias: map[string]float64{"1": -101}},
	} {
		if _, _, err := samplingFrom(&bad); err == nil {
			t.Errorf("samplingFrom(%+v) accepted", bad)
		}
	}
}

func TestModelNames(t *testing.T) {
	for path, want := range map[string]string{
		"/m/qwen2.5-0.5b-instruct-q4_k_m.gguf": "qwen2.5-0.5b-instruct-q4_k_m",
		"Model.GGUF":                           "Model",
		"dir/model":                            "model",
	} {
		if got := modelName(path); got != want {
			t.Errorf("modelName(%q) = %q, want %q", path, got, want)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", `a\b`, "a..b", "x\x00", strings.Repeat("a", 256)} {
		if checkName(bad) == nil {
			t.Errorf("checkName(%q) = nil, want an error", bad)
		}
	}
	if checkName("qwen2.5:7b") != nil {
		t.Errorf("checkName refused qwen2.5:7b")
	}
}

func TestJSONSafe(t *testing.T) {
	long := make([]int32, 100)
	tests := []struct {
		in      any
		verbose bool
		want    string
	}{
		{float32(math.NaN()), false, `null`},
		{[]uint8{1, 2}, false, `[1,2]`},
		{long, false, `null`},
		{[]float32{1, float32(math.Inf(1))}, false, `[1,null]`},
		{[]any{[]string{"a"}}, false, `[["a"]]`},
		{"s", false, `"s"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(jsonSafe(tt.in, tt.verbose))
		if err != nil || string(b) != tt.want {
			t.Errorf("jsonSafe(%v) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
	}
	if b, _ := json.Marshal(jsonSafe(long, true)); len(b) < 200 {
		t.Errorf("verbose dropped a long array")
	}
}
