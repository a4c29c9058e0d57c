package chat

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenDir holds Hugging Face apply_chat_template outputs of real
// templates (see testdata/SOURCE.md and its README.md).
const goldenDir = "testdata/templates"

// goldenTokens are the special-token variables the golden renderer passed
// for each template (its render.py). Only bos/eos reach any output.
var goldenTokens = map[string][2]string{ // template → {bos, eos}
	"Qwen-Qwen2.5-7B-Instruct":                             {"", "<|im_end|>"},
	"Qwen-Qwen3-0.6B":                                      {"", "<|im_end|>"},
	"Qwen3.5-4B":                                           {"", "<|im_end|>"},
	"Qwen-QwQ-32B":                                         {"", "<|im_end|>"},
	"Qwen-QwQ-32B.hf-original":                             {"", "<|im_end|>"},
	"meta-llama-Llama-3.1-8B-Instruct":                     {"<|begin_of_text|>", "<|eot_id|>"},
	"meta-llama-Llama-3.2-3B-Instruct":                     {"<|begin_of_text|>", "<|eot_id|>"},
	"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B":             {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
	"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.hf-original": {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
	"deepseek-ai-DeepSeek-V3.1":                            {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
	"deepseek-ai-DeepSeek-V3.1.hf-original":                {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"},
	"mistralai-Mistral-Nemo-Instruct-2407":                 {"<s>", "</s>"},
	"microsoft-Phi-3.5-mini-instruct":                      {"<s>", "<|endoftext|>"},
	"google-gemma-2-2b-it":                                 {"<bos>", "<eos>"},
	"GLM-4.6":                                              {"", "<|endoftext|>"},
	"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use":        {"<|begin_of_text|>", "<|im_end|>"},
	"baidu-ERNIE-4.5-0.3B-Base":                            {"<s>", "</s>"},
}

// goldenExtra are the other tokenizer variables the golden renderer passed
// (ERNIE's template prints cls_token and sep_token).
var goldenExtra = map[string]map[string]any{
	"mistralai-Mistral-Nemo-Instruct-2407": {"unk_token": "<unk>"},
	"microsoft-Phi-3.5-mini-instruct":      {"unk_token": "<unk>", "pad_token": "<|endoftext|>"},
	"google-gemma-2-2b-it":                 {"unk_token": "<unk>", "pad_token": "<pad>"},
	"baidu-ERNIE-4.5-0.3B-Base": {"unk_token": "<unk>", "pad_token": "<unk>",
		"cls_token": "<|begin_of_sentence|>", "sep_token": "<|end_of_sentence|>", "mask_token": "<mask:1>"},
}

// goldenNow is the golden renderer's pinned strftime_now clock.
var goldenNow = func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) }

// wireMessage is a message of conversations.json in Hugging Face's shape.
type wireMessage struct {
	Role             string
	Content          *string
	ReasoningContent string `json:"reasoning_content"`
	ToolCallID       string `json:"tool_call_id"`
	Name             string
	ToolCalls        []struct {
		ID       string
		Type     string
		Function struct {
			Name      string
			Arguments json.RawMessage
		}
	} `json:"tool_calls"`
}

func (w wireMessage) message() Message {
	m := Message{Role: w.Role, ReasoningContent: w.ReasoningContent, ToolCallID: w.ToolCallID, Name: w.Name}
	if w.Content == nil {
		m.ContentNull = true
	} else {
		m.Content = *w.Content
	}
	for _, c := range w.ToolCalls {
		m.ToolCalls = append(m.ToolCalls, ToolCall{ID: c.ID, Type: c.Type,
			Function: FunctionCall{Name: c.Function.Name, Arguments: c.Function.Arguments}})
	}
	return m
}

type goldenCase struct {
	Template     string
	Conversation string
	Options      map[string]any
	Tools        bool
	Rendered     *string
	Error        *string
	ErrorType    string `json:"error_type"`
}

func (c goldenCase) name() string {
	var opts []string
	for _, k := range []string{"add_generation_prompt", "enable_thinking", "thinking"} {
		if v, ok := c.Options[k]; ok {
			opts = append(opts, k+"="+map[bool]string{true: "1", false: "0"}[v.(bool)])
		}
	}
	return c.Template + "/" + c.Conversation + "/" + strings.Join(opts, ",")
}

func loadGolden(t testing.TB) (conversations map[string][]Message, tools []json.RawMessage, cases []goldenCase) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir, "conversations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var conv struct {
		Tools         []json.RawMessage
		Conversations []struct {
			Name     string
			Messages []wireMessage
		}
	}
	if err := json.Unmarshal(raw, &conv); err != nil {
		t.Fatalf("conversations.json: %v", err)
	}
	conversations = map[string][]Message{}
	for _, c := range conv.Conversations {
		for _, w := range c.Messages {
			conversations[c.Name] = append(conversations[c.Name], w.message())
		}
	}

	f, err := os.Open(filepath.Join(goldenDir, "expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("expected.jsonl: %v", err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return conversations, conv.Tools, cases
}

// TestTemplateGolden renders every golden case: outputs must be
// byte-identical, and where Hugging Face raised, Render must fail too – with
// the template's own message when the template raised it.
func TestTemplateGolden(t *testing.T) {
	conversations, tools, cases := loadGolden(t)
	if len(cases) != 384 {
		t.Errorf("expected.jsonl has %d cases, want 384", len(cases))
	}
	templates := map[string]*Template{}
	identical := 0
	for _, c := range cases {
		ok := t.Run(c.name(), func(t *testing.T) {
			tmpl := templates[c.Template]
			if tmpl == nil {
				src, err := os.ReadFile(filepath.Join(goldenDir, "templates", c.Template+".jinja"))
				if err != nil {
					t.Fatal(err)
				}
				if tmpl, err = ParseTemplate(string(src)); err != nil {
					t.Fatalf("ParseTemplate: %v", err)
				}
				templates[c.Template] = tmpl
			}
			tokens, ok := goldenTokens[c.Template]
			if !ok {
				t.Fatalf("no tokens for template %s", c.Template)
			}
			msgs, ok := conversations[c.Conversation]
			if !ok {
				t.Fatalf("no conversation %s", c.Conversation)
			}
			o := RenderOptions{BOSToken: tokens[0], EOSToken: tokens[1], Now: goldenNow, Extra: map[string]any{}}
			for k, v := range goldenExtra[c.Template] {
				o.Extra[k] = v
			}
			for k, v := range c.Options {
				switch k {
				case "add_generation_prompt":
					o.AddGenerationPrompt = v.(bool)
				case "enable_thinking":
					b := v.(bool)
					o.EnableThinking = &b
				default:
					o.Extra[k] = v
				}
			}
			if c.Tools {
				o.Tools = tools
			}

			got, err := tmpl.Render(msgs, o)
			switch {
			case c.Error != nil && err == nil:
				t.Fatalf("Render succeeded, want %s %q; got %q", c.ErrorType, *c.Error, got)
			case c.Error != nil:
				var te *TemplateError
				isTE := errors.As(err, &te)
				if want := c.ErrorType == "jinja2.exceptions.TemplateError"; want != isTE {
					t.Fatalf("Render error %q: TemplateError = %v, want %v (%s %q)", err, isTE, want, c.ErrorType, *c.Error)
				}
				if isTE && te.Message != *c.Error {
					t.Fatalf("Render raised %q, want %q", te.Message, *c.Error)
				}
			case err != nil:
				t.Fatalf("Render: %v", err)
			case got != *c.Rendered:
				t.Fatalf("Render =\n%q\nwant\n%q", got, *c.Rendered)
			}
		})
		if ok {
			identical++
		}
	}
	t.Logf("%d/%d golden cases identical", identical, len(cases))
}

// BenchmarkRender renders Qwen3's template with tools, the heaviest common
// case: a server does this once per request.
func BenchmarkRender(b *testing.B) {
	src, err := os.ReadFile(filepath.Join(goldenDir, "templates", "Qwen-Qwen3-0.6B.jinja"))
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := ParseTemplate(string(src))
	if err != nil {
		b.Fatal(err)
	}
	conversations, tools, _ := loadGolden(b)
	msgs := conversations["tools_with_answer"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(msgs, RenderOptions{AddGenerationPrompt: true, Tools: tools, EOSToken: "<|im_end|>"}); err != nil {
			b.Fatal(err)
		}
	}
}
