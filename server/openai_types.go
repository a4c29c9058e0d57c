package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"zhiyan/chat"
)

// OpenAI wire types. Requests decode with unknown fields ignored (clients
// send many); fields that take several shapes stay json.RawMessage and are
// parsed by the conversion functions, which name the field at fault.

type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []openAIMessage   `json:"messages"`
	Stream              bool              `json:"stream"`
	StreamOptions       *streamOptions    `json:"stream_options"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	N                   *int              `json:"n"`
	Stop                stopList          `json:"stop"`
	Logprobs            bool              `json:"logprobs"`
	TopLogprobs         *int              `json:"top_logprobs"`
	ResponseFormat      *responseFormat   `json:"response_format"`
	Tools               []json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage   `json:"tool_choice"`
	openAISampling

	// Extensions: Ollama's think, llama.cpp's and vLLM's
	// chat_template_kwargs.enable_thinking, and reasoning_effort "none".
	Think              json.RawMessage            `json:"think"`
	ChatTemplateKwargs map[string]json.RawMessage `json:"chat_template_kwargs"`
	ReasoningEffort    string                     `json:"reasoning_effort"`
}

// openAISampling are the sampling fields chat and completions share, with
// llama.cpp's extensions top_k, min_p and repeat_penalty.
type openAISampling struct {
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	Seed             *int64             `json:"seed"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	TopK             *int               `json:"top_k"`
	MinP             *float64           `json:"min_p"`
	RepeatPenalty    *float64           `json:"repeat_penalty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

type openAIMessage struct {
	Role             string           `json:"role"`
	Content          json.RawMessage  `json:"content"`
	Name             string           `json:"name"`
	ToolCalls        []openAIToolCall `json:"tool_calls"`
	ToolCallID       string           `json:"tool_call_id"`
	ReasoningContent string           `json:"reasoning_content"`
}

type openAIToolCall struct {
	Index    *int               `json:"index,omitempty"` // in stream deltas only
	ID       string             `json:"id"`
	Type     string             `json:"type"`
	Function openAIFunctionCall `json:"function"`
}

type openAIFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // a JSON object, as a string
}

// stopList is "stop": null, a string or a list of strings.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &fieldError{"stop", "want a string or a list of strings"}
	}
	*s = many
	return nil
}

// Responses.

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"` // "chat.completion"
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      responseMessage `json:"message"`
	Logprobs     *choiceLogprobs `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type responseMessage struct {
	Role             string           `json:"role"`
	Content          *string          `json:"content"` // null when the turn only calls tools
	ReasoningContent string           `json:"reasoning_content,omitempty"`
	ToolCalls        []openAIToolCall `json:"tool_calls,omitempty"`
}

type chatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usage        `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int             `json:"index"`
	Delta        chunkDelta      `json:"delta"`
	Logprobs     *choiceLogprobs `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chunkDelta struct {
	Role             string           `json:"role,omitempty"`
	Content          *string          `json:"content,omitempty"`
	ReasoningContent string           `json:"reasoning_content,omitempty"`
	ToolCalls        []openAIToolCall `json:"tool_calls,omitempty"`
}

type usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *promptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

type promptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type choiceLogprobs struct {
	Content []tokenLogprob `json:"content"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"` // "list"
	Data   []modelObject `json:"data"`
}

// Conversions from the wire.

// minLogprob stands for -Inf, which JSON cannot carry (OpenAI uses it too).
const minLogprob = -9999.0

func logprobValue(v float32) float64 {
	if math.IsInf(float64(v), -1) || math.IsNaN(float64(v)) || v < minLogprob {
		return minLogprob
	}
	return float64(v)
}

func byteInts(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// messageContent parses a message's content: a string, null, or a list of
// parts of which only text is supported.
func messageContent(raw json.RawMessage, param string) (text string, null bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", true, nil
	}
	if raw[0] == '"' {
		err := json.Unmarshal(raw, &text)
		return text, false, err
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false, invalid(param, "%s must be a string or a list of content parts", param)
	}
	var b strings.Builder
	for i, p := range parts {
		switch p.Type {
		case "text", "input_text":
			if p.Text == nil {
				return "", false, invalid(fmt.Sprintf("%s[%d].text", param, i), "a text content part needs text")
			}
			b.WriteString(*p.Text)
		case "image_url", "input_image", "image":
			return "", false, invalid(fmt.Sprintf("%s[%d]", param, i), "image input is not supported yet")
		case "input_audio", "audio", "file", "input_file":
			return "", false, invalid(fmt.Sprintf("%s[%d]", param, i), "%s input is not supported", p.Type)
		default:
			return "", false, invalid(fmt.Sprintf("%s[%d].type", param, i), "unknown content part type %q", p.Type)
		}
	}
	return b.String(), false, nil
}

// chatMessages converts OpenAI messages to the template's form.
func chatMessages(in []openAIMessage) ([]chat.Message, error) {
	if len(in) == 0 {
		return nil, invalid("messages", "messages must not be empty")
	}
	out := make([]chat.Message, 0, len(in))
	for i, m := range in {
		param := fmt.Sprintf("messages[%d]", i)
		role := m.Role
		switch role {
		case "developer":
			role = "system" // OpenAI's newer name; templates know "system"
		case "system", "user", "assistant", "tool":
		case "":
			return nil, invalid(param+".role", "%s has no role", param)
		default:
			return nil, invalid(param+".role", "unknown role %q: want system, developer, user, assistant or tool", m.Role)
		}
		text, null, err := messageContent(m.Content, param+".content")
		if err != nil {
			return nil, err
		}
		if null && role != "assistant" {
			return nil, invalid(param+".content", "%s (%s) needs content", param, role)
		}
		msg := chat.Message{Role: role, Content: text, ContentNull: null && role == "assistant",
			ReasoningContent: m.ReasoningContent, ToolCallID: m.ToolCallID, Name: m.Name}
		if len(m.ToolCalls) > 0 && role != "assistant" {
			return nil, invalid(param+".tool_calls", "only assistant messages carry tool_calls")
		}
		for j, tc := range m.ToolCalls {
			if tc.Function.Name == "" {
				return nil, invalid(fmt.Sprintf("%s.tool_calls[%d].function.name", param, j), "a tool call needs a function name")
			}
			msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: tc.ID, Type: "function",
				Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: argumentsValue(tc.Function.Arguments)}})
		}
		out = append(out, msg)
	}
	return out, nil
}

// argumentsValue turns OpenAI's arguments string into the object templates
// expect (Hugging Face passes a mapping); text that is not an object stays
// a string.
func argumentsValue(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t == "" {
		return json.RawMessage("{}")
	}
	if strings.HasPrefix(t, "{") && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(s)
	return b
}

// toolDef is one tool definition: as sent (for the template) and the parts
// the server uses.
type toolDef struct {
	raw    json.RawMessage
	name   string
	params json.RawMessage // JSON Schema of the arguments; nil = any object
}

// parseTools checks OpenAI-style tool definitions (Ollama's are the same).
func parseTools(in []json.RawMessage) ([]toolDef, error) {
	var out []toolDef
	seen := map[string]bool{}
	for i, raw := range in {
		param := fmt.Sprintf("tools[%d]", i)
		var t struct {
			Type     string `json:"type"`
			Function *struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, invalid(param, "%s is not a tool definition: %v", param, jsonErrText(err))
		}
		if t.Type != "function" {
			return nil, invalid(param+".type", "unsupported tool type %q: only \"function\" tools are supported", t.Type)
		}
		if t.Function == nil || !validFunctionName(t.Function.Name) {
			return nil, invalid(param+".function.name", "a function needs a name of 1 to 64 letters, digits, '_', '-' or '.'")
		}
		if seen[t.Function.Name] {
			return nil, invalid(param+".function.name", "function %q is defined twice", t.Function.Name)
		}
		seen[t.Function.Name] = true
		p := bytes.TrimSpace(t.Function.Parameters)
		if len(p) == 0 || bytes.Equal(p, []byte("null")) {
			p = nil
		} else if p[0] != '{' {
			return nil, invalid(param+".function.parameters", "parameters must be a JSON Schema object")
		}
		out = append(out, toolDef{raw: raw, name: t.Function.Name, params: p})
	}
	return out, nil
}

func validFunctionName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// toolChoice is what tool_choice asks for.
type toolChoice struct {
	mode string // "auto", "none", "required" (or a named function)
	name string // the function that must be called; "" = any
}

func parseToolChoice(raw json.RawMessage, tools []toolDef) (toolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return toolChoice{mode: "auto"}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "none", "required":
			if s == "required" && len(tools) == 0 {
				return toolChoice{}, invalid("tool_choice", "tool_choice \"required\" needs tools")
			}
			return toolChoice{mode: s}, nil
		}
		return toolChoice{}, invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or a function, not %q", s)
	}
	var o struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Type != "function" {
		return toolChoice{}, invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":…}}")
	}
	for _, t := range tools {
		if t.name == o.Function.Name {
			return toolChoice{mode: "required", name: t.name}, nil
		}
	}
	return toolChoice{}, invalid("tool_choice", "tool_choice names function %q, which is not among the tools", o.Function.Name)
}

// parseThink reads a think value: a bool, or Ollama's "low"/"medium"/"high"
// (which all mean on: effort levels are not modelled).
func parseThink(raw json.RawMessage, param string) (*bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return &b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "low", "medium", "high":
			on := true
			return &on, nil
		}
	}
	return nil, invalid(param, "%s must be true, false, \"low\", \"medium\" or \"high\"", param)
}

// chatThinking combines the ways a chat request can switch reasoning.
func (r *chatRequest) thinking() (*bool, error) {
	t, err := parseThink(r.Think, "think")
	if err != nil || t != nil {
		return t, err
	}
	if raw, ok := r.ChatTemplateKwargs["enable_thinking"]; ok {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, invalid("chat_template_kwargs.enable_thinking", "enable_thinking must be a boolean")
		}
		return &b, nil
	}
	switch r.ReasoningEffort {
	case "":
		return nil, nil
	case "none":
		off := false
		return &off, nil
	case "minimal", "low", "medium", "high":
		on := true
		return &on, nil
	}
	return nil, invalid("reasoning_effort", "reasoning_effort must be none, minimal, low, medium or high")
}

// logitBias parses logit_bias keys (token ids as strings) and values.
func logitBias(in map[string]float64) (map[int32]float32, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > 1024 {
		return nil, invalid("logit_bias", "logit_bias may hold at most 1024 tokens")
	}
	out := make(map[int32]float32, len(in))
	for k, v := range in {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 {
			return nil, invalid("logit_bias", "logit_bias key %q is not a token id", k)
		}
		if v < -100 || v > 100 {
			return nil, invalid("logit_bias", "logit_bias value %v for token %d is outside -100..100", v, id)
		}
		if v == -100 {
			out[int32(id)] = float32(math.Inf(-1)) // OpenAI: -100 bans the token
		} else {
			out[int32(id)] = float32(v)
		}
	}
	return out, nil
}
