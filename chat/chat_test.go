package chat

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name     string
		template string
		want     Format
	}{
		{"empty", "", FormatNone},
		{"chatml", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", FormatChatML},
		{"llama3", "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}", FormatLlama3},
		{"gemma", "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}", FormatNone},
		{"mistral", "{{- '[INST] ' + message['content'] + '[/INST]' }}", FormatNone},
		{"marker without delimiters", "im_start start_header_id", FormatNone},
	}
	for _, tt := range tests {
		if got := Detect(tt.template); got != tt.want {
			t.Errorf("Detect(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRender(t *testing.T) {
	conv := []Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello!"},
		{Role: "user", Content: "Bye"},
	}
	tests := []struct {
		name string
		f    Format
		msgs []Message
		agp  bool
		want string
	}{
		{"none", FormatNone, conv, true, "Be brief.HiHello!Bye"},
		{"none empty", FormatNone, nil, true, ""},
		{"chatml", FormatChatML, conv, false,
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n" +
				"<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"},
		{"chatml generation prompt only", FormatChatML, nil, true, "<|im_start|>assistant\n"},
		{"chatml keeps white space", FormatChatML, []Message{{Role: "user", Content: " x \n"}}, false, "<|im_start|>user\n x \n<|im_end|>\n"},
		{"llama3", FormatLlama3, conv[1:], true,
			"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"llama3 trims user and assistant, not system", FormatLlama3,
			[]Message{{Role: "system", Content: "S\n\n"}, {Role: "user", Content: "  hi\n"}, {Role: "assistant", Content: "\tok "}}, false,
			"<|start_header_id|>system<|end_header_id|>\n\nS\n\n<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\nok<|eot_id|>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(tt.f, tt.msgs, tt.agp); got != tt.want {
				t.Errorf("Render = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestStopStrings(t *testing.T) {
	tests := []struct {
		f    Format
		want []string
	}{
		{FormatNone, nil},
		{FormatChatML, []string{"<|im_end|>"}},
		{FormatLlama3, []string{"<|eot_id|>"}},
	}
	for _, tt := range tests {
		if got := tt.f.StopStrings(); !slices.Equal(got, tt.want) {
			t.Errorf("%v.StopStrings() = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestFormatNames(t *testing.T) {
	for _, f := range []Format{FormatNone, FormatChatML, FormatLlama3} {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", f.String(), got, err, f)
		}
	}
	if _, err := ParseFormat("jinja"); err == nil {
		t.Error("ParseFormat(jinja): no error")
	}
	if got := Format(9).String(); got != "Format(9)" {
		t.Errorf("Format(9).String() = %q", got)
	}
}

func TestWithSystem(t *testing.T) {
	user := []Message{{Role: "user", Content: "hi"}}
	got := WithSystem(user, "S")
	if want := []Message{{Role: "system", Content: "S"}, {Role: "user", Content: "hi"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("WithSystem(user) = %v, want %v", got, want)
	}
	if len(user) != 1 || user[0].Role != "user" {
		t.Errorf("WithSystem modified its input: %v", user)
	}
	sys := []Message{{Role: "system", Content: "mine"}, {Role: "user", Content: "hi"}}
	if got := WithSystem(sys, "S"); !reflect.DeepEqual(got, sys) {
		t.Errorf("WithSystem(system first) = %v, want it unchanged", got)
	}
	if got := WithSystem(nil, "S"); !reflect.DeepEqual(got, []Message{{Role: "system", Content: "S"}}) {
		t.Errorf("WithSystem(nil) = %v", got)
	}
}

// llama31System reproduces the system turn Llama 3.1/3.2 templates always
// emit: a knowledge/date preamble, then the trimmed system content if any.
func llama31System(date string) func([]Message) []Message {
	preamble := "Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n"
	return func(msgs []Message) []Message {
		if len(msgs) > 0 && msgs[0].Role == "system" {
			return append([]Message{{Role: "system", Content: preamble + strings.TrimSpace(msgs[0].Content)}}, msgs[1:]...)
		}
		return WithSystem(msgs, preamble)
	}
}

// goldenTemplates says how each template in testdata/templates.json maps onto
// a built-in format, and what it adds that Render leaves to the caller.
var goldenTemplates = map[string]struct {
	format Format
	system func([]Message) []Message // the template's own default system turn
	bos    string                    // emitted by the template, by the tokenizer for us
}{
	"Qwen-Qwen2.5-7B-Instruct": {FormatChatML, func(m []Message) []Message {
		return WithSystem(m, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
	}, ""},
	"Qwen-Qwen3-0.6B":          {FormatChatML, nil, ""},
	"Qwen3.5-4B":               {FormatChatML, nil, ""},
	"Qwen-QwQ-32B.hf-original": {FormatChatML, nil, ""},
	// Llama 3.1 defaults date_string to 26 Jul 2024; the golden renderer pins
	// the strftime_now that Llama 3.2 calls to 28 Nov 2026.
	"meta-llama-Llama-3.1-8B-Instruct": {FormatLlama3, llama31System("26 Jul 2024"), "<|begin_of_text|>"},
	"meta-llama-Llama-3.2-3B-Instruct": {FormatLlama3, llama31System("28 Nov 2026"), "<|begin_of_text|>"},
}

// TestGolden compares Render with Hugging Face apply_chat_template output of
// the real templates (see testdata/SOURCE.md).
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/templates.json")
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Conversations map[string][]Message
		Cases         []struct {
			Template            string
			Conversation        string
			AddGenerationPrompt bool `json:"add_generation_prompt"`
			Rendered            string
		}
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatalf("testdata/templates.json: %v", err)
	}
	if len(data.Cases) < 20 {
		t.Fatalf("only %d golden cases", len(data.Cases))
	}
	for _, c := range data.Cases {
		name := c.Template + "/" + c.Conversation
		if c.AddGenerationPrompt {
			name += "/gen"
		}
		t.Run(name, func(t *testing.T) {
			tmpl, ok := goldenTemplates[c.Template]
			if !ok {
				t.Fatalf("no mapping for template %s", c.Template)
			}
			msgs, ok := data.Conversations[c.Conversation]
			if !ok {
				t.Fatalf("no conversation %s", c.Conversation)
			}
			if tmpl.system != nil {
				msgs = tmpl.system(msgs)
			}
			want, ok := strings.CutPrefix(c.Rendered, tmpl.bos)
			if !ok {
				t.Fatalf("expected output does not start with %q", tmpl.bos)
			}
			if got := Render(tmpl.format, msgs, c.AddGenerationPrompt); got != want {
				t.Errorf("Render(%v) = %q\nwant             %q", tmpl.format, got, want)
			}
		})
	}
}
