// Package chat renders a conversation into prompt text: with a model's own
// Jinja chat template (Template, as Hugging Face does) or with a few built-in
// formats (ChatML, Llama 3), and parses a model's reply back into reasoning,
// answer and tool calls (OutputFormat, OutputParser). It knows nothing about
// tokenizers or models.
package chat

import (
	"fmt"
	"strings"
)

// Message is one turn of a conversation, with the fields Hugging Face chat
// messages carry. Role is "system", "user", "assistant" or "tool" (the
// built-in formats render other roles verbatim as headers and ignore the
// fields after Content).
type Message struct {
	Role, Content string
	// ContentNull passes content as None instead of "" (OpenAI's wire form
	// of an assistant turn that only calls tools); Content is then ignored.
	ContentNull bool
	// ReasoningContent is an assistant turn's reasoning, passed as
	// reasoning_content when not empty.
	ReasoningContent string
	// ToolCalls are the calls an assistant turn made (tool_calls).
	ToolCalls []ToolCall
	// ToolCallID and Name identify the call a "tool" turn answers
	// (tool_call_id, name); empty ones are left out.
	ToolCallID, Name string
}

// Format is a built-in chat format.
type Format int

const (
	// FormatNone concatenates the contents with nothing between them: for
	// base models and raw prompts.
	FormatNone Format = iota
	// FormatChatML is <|im_start|>role\ncontent<|im_end|>\n (Qwen, Hermes, …).
	FormatChatML
	// FormatLlama3 is <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>.
	FormatLlama3
)

var formatNames = [...]string{
	FormatNone:   "none",
	FormatChatML: "chatml",
	FormatLlama3: "llama3",
}

func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat returns the format whose String is name.
func ParseFormat(name string) (Format, error) {
	for f, n := range formatNames {
		if n == name {
			return Format(f), nil
		}
	}
	return FormatNone, fmt.Errorf("chat: unknown format %q (want one of %s)", name, strings.Join(formatNames[:], ", "))
}

// Detect returns the built-in format a model's tokenizer.chat_template
// (Jinja source, possibly empty) is written for, by the turn markers it
// uses: ChatML for "<|im_start|>", Llama 3 for "<|start_header_id|>",
// otherwise FormatNone. Templates for thinking models (Qwen3, QwQ) detect as
// ChatML too; Render then lacks their reasoning-specific parts. For the
// template's exact output use ParseTemplate and Template.Render.
func Detect(template string) Format {
	switch {
	case strings.Contains(template, "<|im_start|>"):
		return FormatChatML
	case strings.Contains(template, "<|start_header_id|>"):
		return FormatLlama3
	}
	return FormatNone
}

// StopStrings returns the end-of-turn markers that end a reply in f (none
// for FormatNone). The tokenizer's end-of-generation tokens stop it too.
func (f Format) StopStrings() []string {
	switch f {
	case FormatChatML:
		return []string{"<|im_end|>"}
	case FormatLlama3:
		return []string{"<|eot_id|>"}
	}
	return nil
}

// Render renders msgs in format f; addGenerationPrompt appends the header
// of an assistant turn for the model to complete. It adds no text of its own:
// the default system prompts some templates inject (Qwen2.5's "You are
// Qwen…", Llama 3.1's "Cutting Knowledge Date…" preamble) are the caller's
// to add (see WithSystem).
//
// Llama 3 output starts without <|begin_of_text|>: the caller tokenizes with
// special tokens on (add_bos), which supplies it. As Meta's templates do, user
// and assistant contents are trimmed of surrounding white space; the system
// content is emitted verbatim, so a caller can reproduce Llama 3.1's preamble,
// which the template places before the trimmed system text.
func Render(f Format, msgs []Message, addGenerationPrompt bool) string {
	var b strings.Builder
	switch f {
	case FormatChatML:
		for _, m := range msgs {
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
		if addGenerationPrompt {
			b.WriteString("<|im_start|>assistant\n")
		}
	case FormatLlama3:
		for _, m := range msgs {
			content := m.Content
			if m.Role != "system" {
				content = strings.TrimSpace(content)
			}
			b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" + content + "<|eot_id|>")
		}
		if addGenerationPrompt {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	default:
		for _, m := range msgs {
			b.WriteString(m.Content)
		}
	}
	return b.String()
}

// WithSystem returns msgs with a leading system message of the given content
// when msgs does not start with one; otherwise msgs itself. It is how a
// caller applies a template's default system prompt.
func WithSystem(msgs []Message, system string) []Message {
	if len(msgs) > 0 && msgs[0].Role == "system" {
		return msgs
	}
	return append([]Message{{Role: "system", Content: system}}, msgs...)
}
