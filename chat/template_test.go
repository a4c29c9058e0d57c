package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTemplateErrors(t *testing.T) {
	for _, src := range []string{
		"{{ x",
		"{% if x %}",
		"{% for m in messages %}{{ m }}",
		"{% if x %}{% endfor %}",
		"{{ x | }}",
	} {
		if _, err := ParseTemplate(src); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded, want an error", src)
		}
	}
}

// TestRenderRaises checks that a template's raise_exception surfaces as a
// *TemplateError carrying the template's own message.
func TestRenderRaises(t *testing.T) {
	tmpl, err := ParseTemplate("{% for m in messages %}{% if m.role == 'system' %}" +
		"{{ raise_exception('System role not supported') }}{% endif %}{{ m.content }}{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}}, RenderOptions{}); err != nil || got != "hi" {
		t.Fatalf("Render(user) = %q, %v; want \"hi\"", got, err)
	}
	_, err = tmpl.Render([]Message{{Role: "system", Content: "S"}}, RenderOptions{})
	var te *TemplateError
	if !errors.As(err, &te) || te.Message != "System role not supported" {
		t.Fatalf("Render(system) error = %v, want TemplateError \"System role not supported\"", err)
	}
	if !strings.Contains(err.Error(), "System role not supported") {
		t.Errorf("error text %q lacks the template's message", err)
	}
}

func TestStrftimeNow(t *testing.T) {
	tmpl, err := ParseTemplate(`{{ strftime_now("%d %b %Y") }}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2024, 7, 26, 23, 59, 0, 0, time.UTC), "26 Jul 2024"},
		{time.Date(2031, 1, 5, 0, 0, 0, 0, time.FixedZone("X", 3600)), "05 Jan 2031"},
	} {
		got, err := tmpl.Render(nil, RenderOptions{Now: func() time.Time { return tt.now }})
		if err != nil || got != tt.want {
			t.Errorf("strftime_now at %v = %q, %v; want %q", tt.now, got, err, tt.want)
		}
	}
	// without a clock: today
	got, err := tmpl.Render(nil, RenderOptions{})
	if want := time.Now().Format("02 Jan 2006"); err != nil || got != want {
		t.Errorf("strftime_now with the real clock = %q, %v; want %q", got, err, want)
	}
}

func TestStrftime(t *testing.T) {
	at := time.Date(2026, 3, 7, 14, 5, 9, 123456000, time.UTC)
	tests := []struct{ format, want string }{
		{"%Y-%m-%d %H:%M:%S", "2026-03-07 14:05:09"},
		{"%-d %-m %-H %-I %e|%-e", "7 3 14 2  7|7"},
		{"%a %A %b %B %h", "Sat Saturday Mar March Mar"},
		{"%I %p %y %j %w %u %f", "02 PM 26 066 6 6 123456"},
		{"%F %T %D", "2026-03-07 14:05:09 03/07/26"},
		{"[%z%Z] %% %q %", "[] % %q %"},
	}
	for _, tt := range tests {
		if got := strftime(tt.format, at); got != tt.want {
			t.Errorf("strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

// TestRenderMessages checks the mapping a template sees for each message
// field, and that bad tool JSON is an error rather than a guess.
func TestRenderMessages(t *testing.T) {
	tmpl, err := ParseTemplate("{% for m in messages %}{{ m | tojson }}\n{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{
		{Role: "user", Content: "天气？"},
		{Role: "assistant", ContentNull: true, Content: "ignored", ToolCalls: []ToolCall{
			{ID: "call1", Type: "function", Function: FunctionCall{Name: "f", Arguments: json.RawMessage(`{"z": 1, "a": [true, null]}`)}},
			{Function: FunctionCall{Name: "g", Arguments: json.RawMessage(`"{\"q\": 2}"`)}},
			{Function: FunctionCall{Name: "h"}},
		}},
		{Role: "tool", Content: "22", ToolCallID: "call1", Name: "f"},
		{Role: "assistant", Content: "ok", ReasoningContent: "because"},
	}
	want := `{"role": "user", "content": "天气？"}` + "\n" +
		`{"role": "assistant", "content": null, "tool_calls": [` +
		`{"id": "call1", "type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": [true, null]}}}, ` +
		`{"function": {"name": "g", "arguments": "{\"q\": 2}"}}, ` +
		`{"function": {"name": "h", "arguments": {}}}]}` + "\n" +
		`{"role": "tool", "content": "22", "tool_call_id": "call1", "name": "f"}` + "\n" +
		`{"role": "assistant", "content": "ok", "reasoning_content": "because"}` + "\n"
	got, err := tmpl.Render(msgs, RenderOptions{})
	if err != nil || got != want {
		t.Fatalf("Render = %q, %v\nwant     %q", got, err, want)
	}

	bad := []Message{{Role: "assistant", ToolCalls: []ToolCall{{Function: FunctionCall{Name: "f", Arguments: json.RawMessage(`{"a": `)}}}}}
	if _, err := tmpl.Render(bad, RenderOptions{}); err == nil {
		t.Error("Render with truncated arguments JSON succeeded")
	}
	if _, err := tmpl.Render(nil, RenderOptions{Tools: []json.RawMessage{json.RawMessage(`{} {}`)}}); err == nil {
		t.Error("Render with two JSON values as one tool succeeded")
	}
}

// TestRenderVariables checks how RenderOptions become template variables.
func TestRenderVariables(t *testing.T) {
	tmpl, err := ParseTemplate("{{ add_generation_prompt }}|{{ bos_token is defined }}|{{ eos_token }}|" +
		"{{ tools is none }}|{{ documents is none }}|{{ enable_thinking | default('unset') }}|" +
		"{{ tools | tojson }}|{{ extra | default(none) | tojson }}|{{ thinking }}")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	tests := []struct {
		name string
		o    RenderOptions
		want string
	}{
		{"zero", RenderOptions{}, "False|False||True|True|unset|null|null|"},
		{"set", RenderOptions{
			AddGenerationPrompt: true, BOSToken: "<s>", EOSToken: "</s>", EnableThinking: &yes,
			Tools: []json.RawMessage{json.RawMessage(`{"type": "function", "function": {"name": "f"}}`)},
			Extra: map[string]any{
				"extra":           map[string]any{"b": []any{1, 2.5, "x"}, "a": json.RawMessage(`{"y": 1, "x": 2}`)},
				"thinking":        false,
				"enable_thinking": false, // the field wins
				"eos_token":       "nope",
			},
		}, `True|True|</s>|False|True|True|[{"type": "function", "function": {"name": "f"}}]|` +
			`{"a": {"y": 1, "x": 2}, "b": [1, 2.5, "x"]}|False`},
		{"empty tools", RenderOptions{Tools: []json.RawMessage{}}, "False|False||False|True|unset|[]|null|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tmpl.Render(nil, tt.o)
			if err != nil || got != tt.want {
				t.Errorf("Render = %q, %v\nwant     %q", got, err, tt.want)
			}
		})
	}
}

// TestRenderConcurrent renders one Template from several goroutines (run
// with -race to check the sharing).
func TestRenderConcurrent(t *testing.T) {
	conversations, tools, _ := loadGolden(t)
	src, err := os.ReadFile(filepath.Join(goldenDir, "templates", "Qwen-Qwen3-0.6B.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseTemplate(string(src))
	if err != nil {
		t.Fatal(err)
	}
	o := RenderOptions{AddGenerationPrompt: true, Tools: tools, EOSToken: "<|im_end|>"}
	msgs := conversations["tools_with_answer"]
	want, err := tmpl.Render(msgs, o)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 20 {
				got, err := tmpl.Render(msgs, o)
				if err == nil && got != want {
					err = errors.New("concurrent render differs")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
