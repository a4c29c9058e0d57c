package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const templatesDir = "testdata/templates/templates"

func readTemplate(t *testing.T, stem string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(templatesDir, stem+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// TestDetectOutput covers every template in testdata: a new one needs an
// entry here.
func TestDetectOutput(t *testing.T) {
	want := map[string]OutputFormat{
		"GLM-4.6": glm,
		"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use":        hermes,
		"Qwen-QwQ-32B.hf-original":                             qwen3,
		"Qwen-QwQ-32B":                                         qwen3,
		"Qwen-Qwen2.5-7B-Instruct":                             hermes,
		"Qwen-Qwen3-0.6B":                                      qwen3,
		"Qwen3.5-4B":                                           qwen35,
		"baidu-ERNIE-4.5-0.3B-Base":                            {},
		"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.hf-original": r1,
		"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B":             r1,
		"deepseek-ai-DeepSeek-V3.1.hf-original":                v31,
		"deepseek-ai-DeepSeek-V3.1":                            v31,
		"google-gemma-2-2b-it":                                 {},
		"meta-llama-Llama-3.1-8B-Instruct":                     llama3,
		"meta-llama-Llama-3.2-3B-Instruct":                     llama3,
		"microsoft-Phi-3.5-mini-instruct":                      {},
		"mistralai-Mistral-Nemo-Instruct-2407":                 mistral,
	}
	files, err := filepath.Glob(filepath.Join(templatesDir, "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in %s: %v", templatesDir, err)
	}
	for _, f := range files {
		stem := strings.TrimSuffix(filepath.Base(f), ".jinja")
		w, ok := want[stem]
		if !ok {
			t.Errorf("%s: no expected output format", stem)
			continue
		}
		if got := DetectOutput(readTemplate(t, stem)); got != w {
			t.Errorf("DetectOutput(%s) = %+v, want %+v", stem, got, w)
		}
	}
	// Formats no testdata template shows.
	for src, w := range map[string]OutputFormat{
		"": {},
		"{{ '[THINK]' }}…{{ '[/THINK]' }}[TOOL_CALLS]": magistra,
		"<|START_THINKING|>x<|END_THINKING|>":          {ReasoningStart: "<|START_THINKING|>", ReasoningEnd: "<|END_THINKING|>"},
		"<|start_header_id|>{{ m.content }}<|eot_id|>": {}, // Llama 3.0: no tools
	} {
		if got := DetectOutput(src); got != w {
			t.Errorf("DetectOutput(%q) = %+v, want %+v", src, got, w)
		}
	}
}

// TestPromptOpensReasoning renders each reasoning template's generation
// prompt and checks whether it leaves a block open.
func TestPromptOpensReasoning(t *testing.T) {
	on, off := true, false
	tests := []struct {
		stem     string
		thinking *bool
		extra    map[string]any
		want     bool
	}{
		{"Qwen-Qwen3-0.6B", nil, nil, false}, // the model opens the block itself
		{"Qwen-Qwen3-0.6B", &off, nil, false},
		{"Qwen3.5-4B", nil, nil, true},
		{"Qwen3.5-4B", &off, nil, false},
		{"Qwen-QwQ-32B.hf-original", nil, nil, true},
		{"Qwen-QwQ-32B", &on, nil, true},
		{"Qwen-QwQ-32B", &off, nil, false},
		{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.hf-original", nil, nil, true},
		{"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", &on, nil, true},
		{"deepseek-ai-DeepSeek-V3.1.hf-original", nil, map[string]any{"thinking": true}, true},
		{"deepseek-ai-DeepSeek-V3.1.hf-original", nil, nil, false},
		{"deepseek-ai-DeepSeek-V3.1", &on, nil, true},
		{"GLM-4.6", nil, nil, false},
		{"GLM-4.6", &off, nil, false},
	}
	msgs := []Message{{Role: "user", Content: "你好"}}
	for _, tt := range tests {
		src := readTemplate(t, tt.stem)
		tmpl, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		prompt, err := tmpl.Render(msgs, RenderOptions{AddGenerationPrompt: true, EnableThinking: tt.thinking, Extra: tt.extra})
		if err != nil {
			t.Fatalf("%s: %v", tt.stem, err)
		}
		if got := DetectOutput(src).PromptOpensReasoning(prompt); got != tt.want {
			t.Errorf("%s (thinking %v, %v): PromptOpensReasoning(…%q) = %v, want %v",
				tt.stem, tt.thinking, tt.extra, prompt[max(0, len(prompt)-30):], got, tt.want)
		}
	}
	if (OutputFormat{}).PromptOpensReasoning("<think>\n") {
		t.Error("a format without reasoning opens reasoning")
	}
}

// TestToolCallsRoundTrip renders an assistant turn with tool calls through
// each template, cuts out what the model would have generated, and parses
// it back with the detected format: the calls must come back as given.
func TestToolCallsRoundTrip(t *testing.T) {
	weather := `{"location": "北京", "unit": "celsius"}`
	search := `{"query": "a \"b\" <c>", "max_results": 3}`
	tests := []struct {
		stem        string
		start, end  string // the model's output lies after the last start, up to end
		stringArgs  bool   // the template wants arguments as a JSON string
		nullContent bool   // the template wants content None beside calls
		oneCall     bool   // the template allows one call per turn
		tools       bool   // the template needs tools
		content     string // the content the parse gives back
	}{
		{stem: "Qwen-Qwen2.5-7B-Instruct", start: "<|im_start|>assistant\n", end: "<|im_end|>", content: "让我查一下。"},
		{stem: "Qwen-Qwen3-0.6B", start: "<|im_start|>assistant\n", end: "<|im_end|>", content: "让我查一下。"},
		{stem: "Qwen-QwQ-32B", start: "<|im_start|>assistant\n", end: "<|im_end|>", content: "让我查一下。"},
		{stem: "Qwen-QwQ-32B.hf-original", start: "<|im_start|>assistant\n", end: "<|im_end|>", stringArgs: true, content: "让我查一下。"},
		{stem: "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", start: "<|im_start|>assistant\n", end: "<|im_end|>", tools: true},
		{stem: "Qwen3.5-4B", start: "<|im_start|>assistant\n", end: "<|im_end|>", content: "让我查一下。"},
		{stem: "GLM-4.6", start: "<|assistant|>", content: "让我查一下。"},
		{stem: "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", start: "<｜Assistant｜>", end: "<｜end▁of▁sentence｜>", nullContent: true},
		{stem: "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.hf-original", start: "<｜Assistant｜>", end: "<｜end▁of▁sentence｜>", nullContent: true, stringArgs: true},
		{stem: "deepseek-ai-DeepSeek-V3.1", start: "<｜Assistant｜><think></think>", end: "<｜end▁of▁sentence｜>", content: "让我查一下。"},
		{stem: "deepseek-ai-DeepSeek-V3.1.hf-original", start: "<｜Assistant｜></think>", end: "<｜end▁of▁sentence｜>", stringArgs: true, content: "让我查一下。"},
		{stem: "meta-llama-Llama-3.1-8B-Instruct", start: "<|start_header_id|>assistant<|end_header_id|>\n\n", end: "<|eot_id|>", oneCall: true},
		{stem: "meta-llama-Llama-3.2-3B-Instruct", start: "<|start_header_id|>assistant<|end_header_id|>\n\n", end: "<|eot_id|>", oneCall: true},
		{stem: "mistralai-Mistral-Nemo-Instruct-2407", start: "[/INST]", end: "</s>"},
	}
	_, tools, _ := loadGolden(t)
	for _, tt := range tests {
		t.Run(tt.stem, func(t *testing.T) {
			src := readTemplate(t, tt.stem)
			tmpl, err := ParseTemplate(src)
			if err != nil {
				t.Fatal(err)
			}
			var calls []ToolCall
			var want []string
			for i, c := range [][2]string{{"get_current_weather", weather}, {"search_web", search}} {
				if i > 0 && tt.oneCall {
					break
				}
				args := json.RawMessage(c[1])
				if tt.stringArgs {
					args = json.RawMessage(jsonString(c[1]))
				}
				id := []string{"call12345", "call67890"}[i] // Mistral's ids have 9 characters
				calls = append(calls, ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: c[0], Arguments: args}})
				obj, _ := jsonObject(c[1])
				want = append(want, c[0]+" "+string(obj))
			}
			msgs := []Message{
				{Role: "user", Content: "北京天气？"},
				{Role: "assistant", Content: "让我查一下。", ContentNull: tt.nullContent, ToolCalls: calls},
			}
			o := RenderOptions{BOSToken: goldenTokens[tt.stem][0], EOSToken: goldenTokens[tt.stem][1]}
			if tt.tools {
				o.Tools = tools
			}
			text, err := tmpl.Render(msgs, o)
			if err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndex(text, tt.start)
			if i < 0 {
				t.Fatalf("no %q in %q", tt.start, text)
			}
			out := text[i+len(tt.start):]
			if tt.end != "" {
				out, _, _ = strings.Cut(out, tt.end)
			}
			f := DetectOutput(src)
			wantParse := parsed{Content: tt.content, Calls: want}
			for _, chunks := range append(splits(out)[:1], splits(out)[len(out)+1:]...) {
				if got := parseChunks(t, f, false, chunks); !got.equal(wantParse) {
					t.Fatalf("parse(%q) = %v\nwant %v", out, got, wantParse)
				}
			}
		})
	}
}

// TestToolCallSyntax checks that a call written with the syntax the server
// forces parses back to that call.
func TestToolCallSyntax(t *testing.T) {
	args := `{"city": "上海", "days": [1, 2]}`
	want := parsed{Calls: []string{`get_weather {"city":"上海","days":[1,2]}`}}
	for _, f := range []OutputFormat{hermes, qwen3, llama3, mistral, r1, v31, magistra} {
		if prefix, suffix, key, ok := f.ToolCallSyntax(); ok {
			out := prefix + `{"name": "get_weather", "` + key + `": ` + args + `}` + suffix
			if got := parseChunks(t, f, false, []string{out}); !got.equal(want) {
				t.Errorf("%v: ToolCallSyntax output %q parses as %v", f.Tools, out, got)
			}
		} else if f.Tools != ToolsDeepSeek && f.Tools != ToolsDeepSeekV31 {
			t.Errorf("%v: no ToolCallSyntax", f.Tools)
		}
		prefix, suffix, ok := f.ToolCallFor("get_weather")
		if !ok {
			t.Errorf("%v: no ToolCallFor", f.Tools)
			continue
		}
		out := prefix + args + suffix
		if got := parseChunks(t, f, false, []string{out}); !got.equal(want) {
			t.Errorf("%v: ToolCallFor output %q parses as %v", f.Tools, out, got)
		}
	}
	for _, f := range []OutputFormat{{}, think, glm, qwen35} {
		if _, _, _, ok := f.ToolCallSyntax(); ok {
			t.Errorf("%v: ToolCallSyntax ok", f.Tools)
		}
		if _, _, ok := f.ToolCallFor("f"); ok {
			t.Errorf("%v: ToolCallFor ok", f.Tools)
		}
	}
}

func TestToolSyntaxString(t *testing.T) {
	for ts, name := range toolSyntaxNames {
		if got := ToolSyntax(ts).String(); got != name || name == "" {
			t.Errorf("ToolSyntax(%d).String() = %q", ts, got)
		}
	}
	if got := ToolSyntax(99).String(); got != "ToolSyntax(99)" {
		t.Errorf("ToolSyntax(99).String() = %q", got)
	}
}
