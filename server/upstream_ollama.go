package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"zhiyan/chat"
)

// Ollama's routes for an upstream model: the request becomes an OpenAI one
// (always streamed, with usage), and the answer comes back in Ollama's
// shapes.

// upstreamRequest is the OpenAI request made of an Ollama one.
type upstreamRequest struct {
	Model         string            `json:"model"`
	Messages      []upstreamMessage `json:"messages,omitempty"`
	Prompt        *string           `json:"prompt,omitempty"` // /completions (raw)
	Stream        bool              `json:"stream"`
	StreamOptions *streamOptions    `json:"stream_options,omitempty"`
	MaxTokens     *int              `json:"max_tokens,omitempty"`
	Temperature   *float64          `json:"temperature,omitempty"`
	TopP          *float64          `json:"top_p,omitempty"`
	TopK          *int              `json:"top_k,omitempty"`
	MinP          *float64          `json:"min_p,omitempty"`
	// Both names: llama.cpp and zhiyan read the first, vLLM and SGLang
	// the second; each ignores the other.
	RepeatPenalty      *float64          `json:"repeat_penalty,omitempty"`
	RepetitionPenalty  *float64          `json:"repetition_penalty,omitempty"`
	PresencePenalty    *float64          `json:"presence_penalty,omitempty"`
	FrequencyPenalty   *float64          `json:"frequency_penalty,omitempty"`
	Seed               *int64            `json:"seed,omitempty"`
	Stop               []string          `json:"stop,omitempty"`
	Tools              []json.RawMessage `json:"tools,omitempty"`
	ResponseFormat     any               `json:"response_format,omitempty"`
	ChatTemplateKwargs map[string]bool   `json:"chat_template_kwargs,omitempty"`
	ReasoningEffort    string            `json:"reasoning_effort,omitempty"`
}

type upstreamMessage struct {
	Role       string           `json:"role"`
	Content    any              `json:"content"` // a string, or parts with images
	ToolCalls  []openAIToolCall `json:"tool_calls,omitempty"`
	ToolCallID string           `json:"tool_call_id,omitempty"`
}

// upstreamOllamaChat is POST /api/chat for an upstream model.
func (s *Server) upstreamOllamaChat(w http.ResponseWriter, r *http.Request, u *upstream, _ []byte) (any, error) {
	var req ollamaChatRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 {
		return upstreamLoad(u, keepAlive, true), nil
	}
	up := &upstreamRequest{Model: u.remote(), Tools: req.Tools}
	if up.Messages, err = upstreamMessages(req.Messages); err != nil {
		return nil, err
	}
	if _, err := parseTools(req.Tools); err != nil {
		return nil, err
	}
	if err := up.ollamaCommon(req.Think, req.Format, req.Options); err != nil {
		return nil, err
	}
	return s.ollamaViaUpstream(w, r, u, up, "/chat/completions", true, req.Stream == nil || *req.Stream)
}

// upstreamOllamaGenerate is POST /api/generate for an upstream model: a
// chat of one user message, or with raw a plain completion.
func (s *Server) upstreamOllamaGenerate(w http.ResponseWriter, r *http.Request, u *upstream, _ []byte) (any, error) {
	var req ollamaGenerateRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	switch {
	case err != nil:
		return nil, err
	case req.Suffix != "":
		return nil, invalid("suffix", "suffix (fill-in-the-middle) is not supported")
	case req.Template != "":
		return nil, invalid("template", "custom prompt templates are not supported: the model's own chat template is used, or none with raw")
	case req.Raw && len(req.Images) > 0:
		return nil, invalid("images", "images cannot be sent with raw")
	case req.Prompt == "":
		return upstreamLoad(u, keepAlive, false), nil
	}
	up := &upstreamRequest{Model: u.remote()}
	path := "/chat/completions"
	if req.Raw {
		up.Prompt, path = &req.Prompt, "/completions"
	} else {
		if req.System != "" {
			up.Messages = append(up.Messages, upstreamMessage{Role: "system", Content: req.System})
		}
		content, err := messageParts(req.Prompt, req.Images, "images")
		if err != nil {
			return nil, err
		}
		up.Messages = append(up.Messages, upstreamMessage{Role: "user", Content: content})
	}
	if err := up.ollamaCommon(req.Think, req.Format, req.Options); err != nil {
		return nil, err
	}
	return s.ollamaViaUpstream(w, r, u, up, path, false, req.Stream == nil || *req.Stream)
}

// upstreamLoad answers a request without a prompt: there is nothing to
// load here, so it succeeds at once.
func upstreamLoad(u *upstream, keepAlive *time.Duration, chatAPI bool) any {
	reason := "load"
	if keepAlive != nil && *keepAlive == 0 {
		reason = "unload"
	}
	now := time.Now().UTC()
	if chatAPI {
		return ollamaChatResponse{Model: u.Name, CreatedAt: now, Message: ollamaMessage{Role: "assistant"}, DoneReason: reason, Done: true}
	}
	return ollamaGenerateResponse{Model: u.Name, CreatedAt: now, Done: true, DoneReason: reason}
}

// ollamaCommon converts think, format and options.
func (up *upstreamRequest) ollamaCommon(think, format json.RawMessage, o *ollamaOptions) error {
	t, err := parseThink(think, "think")
	if err != nil {
		return err
	}
	if t != nil {
		up.ChatTemplateKwargs = map[string]bool{"enable_thinking": *t}
		var level string
		if json.Unmarshal(think, &level) == nil {
			up.ReasoningEffort = level
		}
	}
	f, err := parseFormat(format)
	if err != nil {
		return err
	}
	switch f.kind {
	case formatJSONObject:
		up.ResponseFormat = map[string]string{"type": "json_object"}
	case formatSchema:
		up.ResponseFormat = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "response", "schema": f.schema}}
	}
	if o == nil {
		return nil
	}
	up.Temperature, up.TopP, up.TopK, up.MinP = o.Temperature, o.TopP, o.TopK, o.MinP
	up.RepeatPenalty, up.RepetitionPenalty = o.RepeatPenalty, o.RepeatPenalty
	up.PresencePenalty, up.FrequencyPenalty = o.PresencePenalty, o.FrequencyPenalty
	if o.Seed != nil && *o.Seed >= 0 { // -1 is Ollama's "random"
		up.Seed = o.Seed
	}
	if o.NumPredict != nil && *o.NumPredict > 0 { // -1, -2: no limit
		up.MaxTokens = o.NumPredict
	}
	up.Stop = o.Stop
	return nil
}

// upstreamMessages converts Ollama messages. Tool calls without ids get
// ones, and tool results without a tool_call_id take the id of the
// preceding call of their tool_name, as OpenAI servers need them paired.
func upstreamMessages(in []ollamaMessage) ([]upstreamMessage, error) {
	type pending struct{ id, name string }
	var open []pending
	out := make([]upstreamMessage, 0, len(in))
	for i, m := range in {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, invalid(param+".role", "unknown role %q: want system, user, assistant or tool", m.Role)
		}
		content, err := messageParts(m.Content, m.Images, param+".images")
		if err != nil {
			return nil, err
		}
		um := upstreamMessage{Role: m.Role, Content: content}
		if len(m.ToolCalls) > 0 {
			open = open[:0]
		}
		for j, tc := range m.ToolCalls {
			if tc.Function.Name == "" {
				return nil, invalid(fmt.Sprintf("%s.tool_calls[%d].function.name", param, j), "a tool call needs a function name")
			}
			id := tc.ID
			if id == "" {
				id = fmt.Sprintf("call_%d_%d", i, j)
			}
			um.ToolCalls = append(um.ToolCalls, openAIToolCall{ID: id, Type: "function",
				Function: openAIFunctionCall{Name: tc.Function.Name, Arguments: argumentsText(tc.Function.Arguments)}})
			open = append(open, pending{id, tc.Function.Name})
		}
		if m.Role == "tool" {
			um.ToolCallID = m.ToolCallID
			if k := slices.IndexFunc(open, func(p pending) bool {
				return p.id == m.ToolCallID || m.ToolCallID == "" && (m.ToolName == "" || p.name == m.ToolName)
			}); k >= 0 {
				um.ToolCallID = open[k].id
				open = slices.Delete(open, k, k+1)
			}
		}
		out = append(out, um)
	}
	return out, nil
}

// argumentsText is OpenAI's arguments string for Ollama's arguments object.
func argumentsText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "{}"
	case json.Unmarshal(raw, &s) == nil:
		return s // already a string
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// messageParts is a message's content: the text, or with images OpenAI's
// content parts, each image a data URL (Ollama sends bare base64).
func messageParts(text string, images []json.RawMessage, param string) (any, error) {
	if len(images) == 0 {
		return text, nil
	}
	parts := []map[string]any{{"type": "text", "text": text}}
	for i, raw := range images {
		var b64 string
		if err := json.Unmarshal(raw, &b64); err != nil || b64 == "" {
			return nil, invalid(fmt.Sprintf("%s[%d]", param, i), "an image must be a base64 string")
		}
		head, err := base64.StdEncoding.DecodeString(b64[:min(len(b64), 684)/4*4])
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s[%d]", param, i), "an image must be a base64 string")
		}
		mt, _, _ := mime.ParseMediaType(http.DetectContentType(head))
		if !strings.HasPrefix(mt, "image/") {
			return nil, invalid(fmt.Sprintf("%s[%d]", param, i), "image %d is not an image (%s)", i, mt)
		}
		parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]string{"url": "data:" + mt + ";base64," + b64}})
	}
	return parts, nil
}

// ollamaViaUpstream runs up upstream and answers as /api/chat or
// /api/generate would, as NDJSON or one object.
func (s *Server) ollamaViaUpstream(w http.ResponseWriter, r *http.Request, u *upstream, up *upstreamRequest, path string, chatAPI, streamed bool) (any, error) {
	up.Stream, up.StreamOptions = true, &streamOptions{IncludeUsage: true}
	c := s.ups.newCall(r.Context(), u)
	defer c.end()
	o := &ollamaRelay{s: s, u: u, ctx: r.Context(), chatAPI: chatAPI, start: time.Now()}
	resp, err := c.post(path, up)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if streamed {
		o.st = newStream(w, false, s.cfg.WriteTimeout)
		defer o.st.close()
	}
	err = o.read(c, resp)
	switch {
	case err != nil && o.st != nil:
		return nil, s.streamFailed(o.st, dialectOllama, err)
	case err != nil:
		return nil, err
	case o.st != nil:
		o.st.send(o.final())
		return nil, nil
	}
	return o.final(), nil
}

// ollamaRelay turns an upstream's OpenAI chunks into Ollama objects: sent
// as they come when st is set, else gathered into the final one.
type ollamaRelay struct {
	s       *Server
	ctx     context.Context // the client's request
	u       *upstream
	chatAPI bool
	start   time.Time
	st      *stream

	all    chat.Delta         // gathered when not streaming
	calls  []*chat.ToolCall   // streamed tool calls, by index, until complete
	args   []*strings.Builder // their arguments so far
	reason string             // finish_reason
	usage  *usage
}

// upstreamChunk is what the relay reads of a chat or completion chunk, or
// of a whole (unstreamed) answer.
type upstreamChunk struct {
	Choices []struct {
		Index        int            `json:"index"`
		Delta        *upstreamDelta `json:"delta"`
		Message      *upstreamDelta `json:"message"`
		Text         string         `json:"text"` // /completions
		FinishReason *string        `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type upstreamDelta struct {
	Content          *string `json:"content"`
	ReasoningContent string  `json:"reasoning_content"`
	Reasoning        string  `json:"reasoning"` // newer vLLM
	ToolCalls        []struct {
		Index    *int   `json:"index"`
		ID       string `json:"id"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// read consumes the upstream's answer: an event stream, or (from a server
// that ignores stream) one JSON answer.
func (o *ollamaRelay) read(c *call, resp *http.Response) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "text/event-stream" {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamEvent))
		if err != nil {
			return c.failed(err)
		}
		if err := o.chunk(data); err != nil {
			return err
		}
		return o.check()
	}
	sr := newSSEReader(resp.Body)
	for {
		_, data, err := sr.next()
		if data != nil {
			if string(bytes.TrimSpace(data)) == "[DONE]" {
				return o.check()
			}
			if cerr := o.chunk(data); cerr != nil {
				return cerr
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return o.check()
		case err != nil:
			return c.failed(err)
		}
	}
}

// check reports a stream that ended before the answer did.
func (o *ollamaRelay) check() error {
	if o.reason == "" {
		return &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
			msg: fmt.Sprintf("upstream error: the answer of model %s ended early", o.u.Name)}
	}
	return nil
}

// chunk handles one event's data.
func (o *ollamaRelay) chunk(data []byte) error {
	var ch upstreamChunk
	if err := json.Unmarshal(data, &ch); err != nil {
		return &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
			msg: fmt.Sprintf("upstream error: the server of model %s sent an unreadable event: %v", o.u.Name, jsonErrText(err))}
	}
	if len(ch.Error) > 0 && string(ch.Error) != "null" {
		msg, _, _, _ := upstreamErrorBody(data)
		if msg == "" {
			msg = string(ch.Error)
		}
		return &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error", msg: "upstream error: " + msg}
	}
	if ch.Usage != nil {
		o.usage = ch.Usage
	}
	var d chat.Delta
	for _, c := range ch.Choices {
		if c.Index != 0 {
			continue // Ollama has one choice
		}
		d.Content += c.Text
		for _, delta := range []*upstreamDelta{c.Delta, c.Message} {
			if delta == nil {
				continue
			}
			if delta.Content != nil {
				d.Content += *delta.Content
			}
			d.Reasoning += delta.ReasoningContent + delta.Reasoning
			for k, tc := range delta.ToolCalls {
				i := k
				if tc.Index != nil {
					i = *tc.Index
				}
				o.toolCall(i, tc.ID, tc.Function.Name, tc.Function.Arguments)
			}
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			o.reason = *c.FinishReason
			d.ToolCalls = o.completeCalls()
		}
	}
	if !o.chatAPI && len(d.ToolCalls) > 0 {
		d.Content, d.ToolCalls = d.Content+toolCallsText(d.ToolCalls), nil
	}
	if d.Empty() {
		return nil
	}
	if o.st == nil {
		o.all.Content += d.Content
		o.all.Reasoning += d.Reasoning
		o.all.ToolCalls = append(o.all.ToolCalls, d.ToolCalls...)
		return nil
	}
	if err := o.st.send(o.object(d, "")); err != nil {
		return errClientGone
	}
	return nil
}

// errClientGone ends a relay whose client stopped reading; like a
// cancellation, it is not reported.
var errClientGone = fmt.Errorf("the client is gone: %w", context.Canceled)

// toolCall adds a fragment of streamed tool call i: its id and name come
// first, its arguments in pieces (or, from some servers, as an object).
func (o *ollamaRelay) toolCall(i int, id, name string, args json.RawMessage) {
	if i < 0 || i > 1024 {
		return
	}
	for len(o.calls) <= i {
		o.calls = append(o.calls, &chat.ToolCall{Type: "function"})
		o.args = append(o.args, &strings.Builder{})
	}
	c := o.calls[i]
	if id != "" {
		c.ID = id
	}
	if name != "" {
		c.Function.Name = name
	}
	var s string
	if json.Unmarshal(args, &s) == nil {
		o.args[i].WriteString(s)
	} else if len(bytes.TrimSpace(args)) > 0 && string(args) != "null" {
		o.args[i].Write(args)
	}
}

// completeCalls returns the streamed tool calls, now complete.
func (o *ollamaRelay) completeCalls() []chat.ToolCall {
	var out []chat.ToolCall
	for i, c := range o.calls {
		if c.Function.Name == "" {
			continue
		}
		c.Function.Arguments = argumentsValue(o.args[i].String())
		out = append(out, *c)
	}
	o.calls, o.args = nil, nil
	return out
}

// object is one Ollama response object; the last (reason set) carries the
// counts.
func (o *ollamaRelay) object(d chat.Delta, reason string) any {
	var m ollamaMetrics
	if reason != "" {
		m.TotalDuration = time.Since(o.start).Nanoseconds()
		if o.usage != nil {
			m.PromptEvalCount, m.EvalCount = o.usage.PromptTokens, o.usage.CompletionTokens
		}
	}
	now := time.Now().UTC()
	done := reason != ""
	if o.chatAPI {
		msg := ollamaMessage{Role: "assistant", Content: d.Content, Thinking: d.Reasoning, ToolCalls: ollamaToolCalls(d.ToolCalls, 0)}
		return ollamaChatResponse{Model: o.u.Name, CreatedAt: now, Message: msg, Done: done, DoneReason: reason, ollamaMetrics: m}
	}
	return ollamaGenerateResponse{Model: o.u.Name, CreatedAt: now, Response: d.Content, Thinking: d.Reasoning, Done: done, DoneReason: reason, ollamaMetrics: m}
}

// final is the last object: everything gathered when not streaming.
func (o *ollamaRelay) final() any {
	if o.usage != nil {
		o.s.metrics.promptTokens(o.u.Name, o.usage.PromptTokens)
		o.s.metrics.generatedTokens(o.u.Name, o.usage.CompletionTokens)
		spend(o.ctx, o.usage.PromptTokens+o.usage.CompletionTokens)
	}
	reason := o.reason
	if reason != "length" {
		reason = "stop" // Ollama's done_reason knows no tool_calls or content_filter
	}
	return o.object(o.all, reason)
}
