package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"zhiyan/chat"
)

// Ollama wire types (its api package's JSON names).

type ollamaChatRequest struct {
	Model     string            `json:"model"`
	Messages  []ollamaMessage   `json:"messages"`
	Tools     []json.RawMessage `json:"tools"`
	Format    json.RawMessage   `json:"format"`
	Options   *ollamaOptions    `json:"options"`
	Stream    *bool             `json:"stream"`
	KeepAlive json.RawMessage   `json:"keep_alive"`
	Think     json.RawMessage   `json:"think"`
}

type ollamaGenerateRequest struct {
	Model     string            `json:"model"`
	Prompt    string            `json:"prompt"`
	Suffix    string            `json:"suffix"`
	System    string            `json:"system"`
	Template  string            `json:"template"`
	Context   []int             `json:"context"`
	Stream    *bool             `json:"stream"`
	Raw       bool              `json:"raw"`
	Format    json.RawMessage   `json:"format"`
	KeepAlive json.RawMessage   `json:"keep_alive"`
	Images    []json.RawMessage `json:"images"`
	Options   *ollamaOptions    `json:"options"`
	Think     json.RawMessage   `json:"think"`
}

type ollamaMessage struct {
	Role       string            `json:"role"`
	Content    string            `json:"content"`
	Thinking   string            `json:"thinking,omitempty"`
	Images     []json.RawMessage `json:"images,omitempty"`
	ToolCalls  []ollamaToolCall  `json:"tool_calls,omitempty"`
	ToolName   string            `json:"tool_name,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
}

type ollamaToolCall struct {
	ID       string         `json:"id,omitempty"`
	Function ollamaFunction `json:"function"`
}

type ollamaFunction struct {
	Index     int             `json:"index"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ollamaOptions are the options zhiyan honours; others (num_gpu, numa, …)
// are ignored as they mean nothing here.
type ollamaOptions struct {
	NumCtx           *int     `json:"num_ctx"`
	NumPredict       *int     `json:"num_predict"`
	Temperature      *float64 `json:"temperature"`
	TopK             *int     `json:"top_k"`
	TopP             *float64 `json:"top_p"`
	MinP             *float64 `json:"min_p"`
	RepeatPenalty    *float64 `json:"repeat_penalty"`
	RepeatLastN      *int     `json:"repeat_last_n"`
	PresencePenalty  *float64 `json:"presence_penalty"`
	FrequencyPenalty *float64 `json:"frequency_penalty"`
	Seed             *int64   `json:"seed"`
	Stop             stopList `json:"stop"`
}

type ollamaMetrics struct {
	TotalDuration      int64 `json:"total_duration,omitempty"` // nanoseconds
	LoadDuration       int64 `json:"load_duration,omitempty"`
	PromptEvalCount    int   `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64 `json:"prompt_eval_duration,omitempty"`
	EvalCount          int   `json:"eval_count,omitempty"`
	EvalDuration       int64 `json:"eval_duration,omitempty"`
}

type ollamaChatResponse struct {
	Model      string        `json:"model"`
	CreatedAt  time.Time     `json:"created_at"`
	Message    ollamaMessage `json:"message"`
	DoneReason string        `json:"done_reason,omitempty"`
	Done       bool          `json:"done"`
	ollamaMetrics
}

type ollamaGenerateResponse struct {
	Model      string    `json:"model"`
	CreatedAt  time.Time `json:"created_at"`
	Response   string    `json:"response"`
	Thinking   string    `json:"thinking,omitempty"`
	Done       bool      `json:"done"`
	DoneReason string    `json:"done_reason,omitempty"`
	ollamaMetrics
}

type ollamaEmbedRequest struct {
	Model      string          `json:"model"`
	Input      json.RawMessage `json:"input"`
	Truncate   *bool           `json:"truncate"`
	Dimensions *int            `json:"dimensions"`
	KeepAlive  json.RawMessage `json:"keep_alive"`
	Options    *ollamaOptions  `json:"options"`
}

type ollamaEmbedResponse struct {
	Model           string      `json:"model"`
	Embeddings      [][]float32 `json:"embeddings"`
	TotalDuration   int64       `json:"total_duration,omitempty"`
	LoadDuration    int64       `json:"load_duration,omitempty"`
	PromptEvalCount int         `json:"prompt_eval_count,omitempty"`
}

type ollamaEmbeddingsRequest struct {
	Model     string          `json:"model"`
	Prompt    string          `json:"prompt"`
	KeepAlive json.RawMessage `json:"keep_alive"`
	Options   *ollamaOptions  `json:"options"`
}

type ollamaEmbeddingsResponse struct {
	Embedding []float64 `json:"embedding"`
}

type ollamaModelRequest struct {
	Model   string `json:"model"`
	Name    string `json:"name"` // older clients
	Verbose bool   `json:"verbose"`
}

func (r *ollamaModelRequest) model() (string, error) {
	if r.Model != "" {
		return r.Model, nil
	}
	if r.Name != "" {
		return r.Name, nil
	}
	return "", invalid("model", "model is required")
}

type ollamaDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

type ollamaShowResponse struct {
	License      string         `json:"license,omitempty"`
	Modelfile    string         `json:"modelfile"`
	Parameters   string         `json:"parameters,omitempty"`
	Template     string         `json:"template"`
	Details      ollamaDetails  `json:"details"`
	ModelInfo    map[string]any `json:"model_info"`
	Capabilities []string       `json:"capabilities"`
	ModifiedAt   time.Time      `json:"modified_at"`
}

type ollamaListModel struct {
	Name       string        `json:"name"`
	Model      string        `json:"model"`
	ModifiedAt time.Time     `json:"modified_at"`
	Size       int64         `json:"size"`
	Digest     string        `json:"digest"`
	Details    ollamaDetails `json:"details"`
}

type ollamaRunningModel struct {
	Name          string        `json:"name"`
	Model         string        `json:"model"`
	Size          int64         `json:"size"`
	Digest        string        `json:"digest"`
	Details       ollamaDetails `json:"details"`
	ExpiresAt     time.Time     `json:"expires_at"`
	SizeVRAM      int64         `json:"size_vram"`
	ContextLength int           `json:"context_length"`
}

// Conversions.

// parseKeepAlive reads Ollama's keep_alive: a duration string ("5m", "0",
// "-1m") or a number of seconds; negative means forever (-1).
func parseKeepAlive(raw json.RawMessage) (*time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := invalid("keep_alive", "keep_alive must be a duration such as \"5m\" or a number of seconds")
	var secs float64
	var s string
	switch {
	case json.Unmarshal(raw, &secs) == nil:
	case json.Unmarshal(raw, &s) == nil:
		if s == "" {
			return nil, nil
		}
		if d, err := time.ParseDuration(s); err == nil {
			secs = d.Seconds()
		} else if secs, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, bad
		}
	default:
		return nil, bad
	}
	d := time.Duration(-1)
	if math.IsNaN(secs) {
		return nil, bad
	}
	if secs >= 0 && secs < 100*365*24*3600 {
		d = time.Duration(secs * float64(time.Second))
	}
	return &d, nil
}

// parseFormat reads Ollama's format: "json" or a JSON Schema.
func parseFormat(raw json.RawMessage) (formatSpec, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null" || string(raw) == `""`:
		return formatSpec{}, nil
	case string(raw) == `"json"`:
		// Ollama's "json" is an object, which its clients decode into a map.
		return formatSpec{kind: formatJSONObject, param: "format"}, nil
	case raw[0] == '{':
		return formatSpec{kind: formatSchema, schema: raw, param: "format"}, nil
	}
	return formatSpec{}, invalid("format", "format must be \"json\" or a JSON Schema object")
}

// apply sets the job's limits and sampling from options.
func (o *ollamaOptions) apply(j *job) error {
	if o == nil {
		j.sampling, _, _ = samplingFrom(&openAISampling{})
		return nil
	}
	s := openAISampling{Temperature: o.Temperature, TopP: o.TopP, TopK: o.TopK, MinP: o.MinP, RepeatPenalty: o.RepeatPenalty,
		PresencePenalty: o.PresencePenalty, FrequencyPenalty: o.FrequencyPenalty}
	if o.Seed != nil && *o.Seed >= 0 { // -1 is Ollama's "random"
		s.Seed = o.Seed
	}
	var err error
	if j.sampling, j.seeded, err = samplingFrom(&s); err != nil {
		if ae, ok := err.(*apiError); ok {
			ae.param = "options." + ae.param
		}
		return err
	}
	if o.RepeatLastN != nil {
		if *o.RepeatLastN < -1 {
			return invalid("options.repeat_last_n", "repeat_last_n must be -1 (the whole context), 0 (off) or positive")
		}
		j.sampling.RepeatLastN = *o.RepeatLastN
	}
	if o.NumCtx != nil {
		if *o.NumCtx < 0 {
			return invalid("options.num_ctx", "num_ctx must not be negative")
		}
		j.numCtx = *o.NumCtx
	}
	if o.NumPredict != nil && *o.NumPredict > 0 { // -1 and -2: until the context is full
		j.maxTokens = *o.NumPredict
	}
	if len(o.Stop) > 16 {
		return invalid("options.stop", "at most 16 stop sequences are allowed")
	}
	j.stop = o.Stop
	return nil
}

// ollamaMessages converts Ollama chat messages.
func ollamaMessages(in []ollamaMessage) ([]chat.Message, error) {
	out := make([]chat.Message, 0, len(in))
	for i, m := range in {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, invalid(param+".role", "unknown role %q: want system, user, assistant or tool", m.Role)
		}
		if len(m.Images) > 0 {
			return nil, invalid(param+".images", "image input is not supported yet")
		}
		msg := chat.Message{Role: m.Role, Content: m.Content, ReasoningContent: m.Thinking, ToolCallID: m.ToolCallID, Name: m.ToolName}
		for j, tc := range m.ToolCalls {
			if tc.Function.Name == "" {
				return nil, invalid(fmt.Sprintf("%s.tool_calls[%d].function.name", param, j), "a tool call needs a function name")
			}
			args := bytes.TrimSpace(tc.Function.Arguments)
			if len(args) == 0 || string(args) == "null" {
				args = json.RawMessage("{}")
			}
			msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: tc.ID, Type: "function",
				Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: args}})
		}
		out = append(out, msg)
	}
	return out, nil
}

func ollamaToolCalls(calls []chat.ToolCall, first int) []ollamaToolCall {
	var out []ollamaToolCall
	for i, c := range calls {
		args := c.Function.Arguments
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		out = append(out, ollamaToolCall{ID: c.ID, Function: ollamaFunction{Index: first + i, Name: c.Function.Name, Arguments: args}})
	}
	return out
}

// toolCallsText writes calls as text, for /api/generate, which has no
// tool_calls field.
func toolCallsText(calls []chat.ToolCall) string {
	var b strings.Builder
	for _, c := range ollamaToolCalls(calls, 0) {
		j, _ := json.Marshal(map[string]any{"name": c.Function.Name, "arguments": c.Function.Arguments})
		b.Write(j)
	}
	return b.String()
}

func (p *prepared) ollamaMetrics(r choiceResult) ollamaMetrics {
	return ollamaMetrics{
		TotalDuration:      time.Since(p.start).Nanoseconds(),
		LoadDuration:       p.loadDuration.Nanoseconds(),
		PromptEvalCount:    len(p.prompt),
		PromptEvalDuration: r.PromptDuration.Nanoseconds(),
		EvalCount:          r.Tokens,
		EvalDuration:       r.GenerateDuration.Nanoseconds(),
	}
}
