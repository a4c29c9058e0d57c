package server

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"zhiyan/chat"
	"zhiyan/engine"
)

// fingerprint is the system_fingerprint of every response.
const fingerprint = "zhiyan"

func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()) }

// chatCompletions is POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) (any, error) {
	var req chatRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	j, err := req.job()
	if err != nil {
		return nil, err
	}
	p, err := s.prepare(r.Context(), j)
	if err != nil {
		return nil, err
	}
	defer s.done(p)
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		return nil, s.streamChat(w, r.Context(), p, includeUsage)
	}
	return s.collectChat(r.Context(), p)
}

// job converts a chat request, checking every field.
func (r *chatRequest) job() (*job, error) {
	if r.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	msgs, err := chatMessages(r.Messages)
	if err != nil {
		return nil, err
	}
	tools, err := parseTools(r.Tools)
	if err != nil {
		return nil, err
	}
	choice, err := parseToolChoice(r.ToolChoice, tools)
	if err != nil {
		return nil, err
	}
	thinking, err := r.thinking()
	if err != nil {
		return nil, err
	}
	sampling, seeded, err := samplingFrom(&r.openAISampling)
	if err != nil {
		return nil, err
	}
	j := &job{model: r.Model, messages: msgs, tools: tools, choice: choice, thinking: thinking,
		sampling: sampling, seeded: seeded, logprobs: r.Logprobs}
	maxTokens, maxParam := r.MaxCompletionTokens, "max_completion_tokens"
	if maxTokens == nil {
		maxTokens, maxParam = r.MaxTokens, "max_tokens"
	}
	if err := j.limits(r.N, maxTokens, maxParam, r.Stop); err != nil {
		return nil, err
	}
	if r.TopLogprobs != nil {
		if *r.TopLogprobs < 0 || *r.TopLogprobs > 20 {
			return nil, invalid("top_logprobs", "top_logprobs must be between 0 and 20")
		}
		if !r.Logprobs {
			return nil, invalid("top_logprobs", "top_logprobs needs logprobs to be true")
		}
		j.topLogprobs = *r.TopLogprobs
	}
	if r.StreamOptions != nil && !r.Stream {
		return nil, invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	j.format, err = r.ResponseFormat.spec()
	return j, err
}

// limits checks and sets n, the token limit and the stop strings.
func (j *job) limits(n, maxTokens *int, maxParam string, stop stopList) error {
	j.n = 1
	if n != nil {
		if *n < 1 || *n > 8 {
			return invalid("n", "n must be between 1 and 8, not %d", *n)
		}
		j.n = *n
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return invalid(maxParam, "%s must be at least 1, not %d", maxParam, *maxTokens)
		}
		j.maxTokens = *maxTokens
	}
	if len(stop) > 4 {
		return invalid("stop", "at most 4 stop sequences are allowed, not %d", len(stop))
	}
	for _, s := range stop {
		if len(s) > 1024 {
			return invalid("stop", "stop sequences may be at most 1024 bytes long")
		}
	}
	j.stop = stop
	return nil
}

// spec converts response_format.
func (f *responseFormat) spec() (formatSpec, error) {
	if f == nil {
		return formatSpec{}, nil
	}
	switch f.Type {
	case "", "text":
		return formatSpec{}, nil
	case "json_object":
		return formatSpec{kind: formatJSONObject, param: "response_format"}, nil
	case "json_schema":
		if f.JSONSchema == nil || len(f.JSONSchema.Schema) == 0 || string(f.JSONSchema.Schema) == "null" {
			return formatSpec{}, invalid("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
		}
		return formatSpec{kind: formatSchema, schema: f.JSONSchema.Schema, param: "response_format.json_schema.schema"}, nil
	}
	return formatSpec{}, invalid("response_format.type", "response_format type must be text, json_object or json_schema, not %q", f.Type)
}

// chatAnswer accumulates one choice of a non-streamed reply.
type chatAnswer struct {
	content, reasoning strings.Builder
	calls              []openAIToolCall
	logprobs           []tokenLogprob
}

func (s *Server) collectChat(ctx context.Context, p *prepared) (*chatCompletion, error) {
	answers := make([]chatAnswer, max(p.job.n, 1))
	results, err := s.runChoices(ctx, p, func(ev choiceEvent) error {
		a := &answers[ev.index]
		a.content.WriteString(ev.delta.Content)
		a.reasoning.WriteString(ev.delta.Reasoning)
		a.calls = append(a.calls, openAIToolCalls(ev.delta.ToolCalls, len(a.calls), false)...)
		a.logprobs = append(a.logprobs, p.tokenLogprobs(ev.tokens)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp := &chatCompletion{ID: newID("chatcmpl-"), Object: "chat.completion", Created: time.Now().Unix(),
		Model: p.m.name, SystemFingerprint: fingerprint, Usage: usageOf(p, results)}
	for i := range answers {
		a := &answers[i]
		msg := responseMessage{Role: "assistant", ReasoningContent: a.reasoning.String(), ToolCalls: a.calls}
		if c := a.content.String(); c != "" || len(a.calls) == 0 {
			msg.Content = &c
		}
		c := chatChoice{Index: i, Message: msg, FinishReason: results[i].finish}
		if p.job.logprobs {
			c.Logprobs = &choiceLogprobs{Content: append([]tokenLogprob{}, a.logprobs...)}
		}
		resp.Choices = append(resp.Choices, c)
	}
	return resp, nil
}

// streamChat streams the reply as chat.completion.chunk events.
func (s *Server) streamChat(w http.ResponseWriter, ctx context.Context, p *prepared, includeUsage bool) error {
	st := newStream(w, true, s.cfg.WriteTimeout)
	defer st.close()
	n := max(p.job.n, 1)
	id, created := newID("chatcmpl-"), time.Now().Unix()
	chunk := func(choices ...chunkChoice) chatChunk {
		return chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: p.m.name,
			SystemFingerprint: fingerprint, Choices: choices}
	}
	started := make([]bool, n)
	calls := make([]int, n)
	begin := func(i int) error { // the role comes first, in a chunk of its own
		if started[i] {
			return nil
		}
		started[i] = true
		empty := ""
		return st.send(chunk(chunkChoice{Index: i, Delta: chunkDelta{Role: "assistant", Content: &empty}}))
	}
	results, err := s.runChoices(ctx, p, func(ev choiceEvent) error {
		if err := begin(ev.index); err != nil {
			return err
		}
		d := chunkDelta{ReasoningContent: ev.delta.Reasoning, ToolCalls: openAIToolCalls(ev.delta.ToolCalls, calls[ev.index], true)}
		if ev.delta.Content != "" {
			d.Content = &ev.delta.Content
		}
		calls[ev.index] += len(ev.delta.ToolCalls)
		c := chunkChoice{Index: ev.index, Delta: d}
		if p.job.logprobs {
			c.Logprobs = &choiceLogprobs{Content: p.tokenLogprobs(ev.tokens)}
		}
		return st.send(chunk(c))
	})
	if err != nil {
		return s.streamFailed(st, dialectOpenAI, err)
	}
	for i := range n {
		if err := begin(i); err != nil {
			return nil // the client is gone
		}
		reason := results[i].finish
		if err := st.send(chunk(chunkChoice{Index: i, FinishReason: &reason})); err != nil {
			return nil
		}
	}
	if includeUsage {
		c := chunk()
		c.Choices, c.Usage = []chunkChoice{}, usageOf(p, results)
		if err := st.send(c); err != nil {
			return nil
		}
	}
	st.done()
	return nil
}

// streamFailed reports err: as the response when nothing was sent yet, else
// as a last event (and, for OpenAI, no [DONE]).
func (s *Server) streamFailed(st *stream, d dialect, err error) error {
	if !st.Started() {
		return err
	}
	e := asAPIError(err)
	if e.status != 499 {
		s.log.Warn("stream ended by an error", "err", err)
		st.send(d.body(e))
	}
	return nil
}

// openAIToolCalls converts parsed calls; first is the index of the first
// within its choice (stream deltas carry it).
func openAIToolCalls(calls []chat.ToolCall, first int, stream bool) []openAIToolCall {
	var out []openAIToolCall
	for i, c := range calls {
		tc := openAIToolCall{ID: c.ID, Type: "function", Function: openAIFunctionCall{Name: c.Function.Name, Arguments: string(c.Function.Arguments)}}
		if tc.Function.Arguments == "" {
			tc.Function.Arguments = "{}"
		}
		if stream {
			k := first + i
			tc.Index = &k
		}
		out = append(out, tc)
	}
	return out
}

// tokenLogprobs converts tokens to OpenAI's logprobs entries.
func (p *prepared) tokenLogprobs(ts []engine.Token) []tokenLogprob {
	if !p.job.logprobs {
		return nil
	}
	tok := p.m.eng.Tokenizer
	out := make([]tokenLogprob, 0, len(ts))
	for _, t := range ts {
		piece := tok.Piece(t.ID)
		e := tokenLogprob{Token: string(piece), Logprob: logprobValue(t.Logprob), Bytes: byteInts(piece), TopLogprobs: []topLogprob{}}
		for _, alt := range t.Top {
			e.TopLogprobs = append(e.TopLogprobs, topLogprob{Token: string(alt.Bytes), Logprob: logprobValue(alt.Logprob), Bytes: byteInts(alt.Bytes)})
		}
		out = append(out, e)
	}
	return out
}

// usageOf counts a request's tokens: the prompt once, every choice's output.
func usageOf(p *prepared, results []choiceResult) *usage {
	u := &usage{PromptTokens: len(p.prompt), PromptTokensDetails: &promptTokensDetails{}}
	for _, r := range results {
		u.CompletionTokens += r.Tokens
	}
	if len(results) > 0 {
		u.PromptTokensDetails.CachedTokens = results[0].CachedTokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// listModels is GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) (any, error) {
	list := modelList{Object: "list", Data: []modelObject{}}
	for _, m := range s.models.list() {
		if !s.ups.shadows(m.name) {
			list.Data = append(list.Data, modelObject{ID: m.name, Object: "model", Created: m.modTime.Unix(), OwnedBy: "zhiyan"})
		}
	}
	list.Data = append(list.Data, s.ups.openAIModels()...)
	return list, nil
}

// getModel is GET /v1/models/{id}.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) (any, error) {
	if u := s.ups.find(r.PathValue("id")); u != nil {
		return u.openAIModel(s.ups.started), nil
	}
	m, err := s.models.find(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return modelObject{ID: m.name, Object: "model", Created: m.modTime.Unix(), OwnedBy: "zhiyan"}, nil
}
