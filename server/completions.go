package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"zhiyan/engine"
)

// OpenAI's legacy completions and its embeddings.

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Suffix        *string         `json:"suffix"`
	Echo          bool            `json:"echo"`
	Logprobs      *int            `json:"logprobs"`
	MaxTokens     *int            `json:"max_tokens"`
	N             *int            `json:"n"`
	BestOf        *int            `json:"best_of"`
	Stop          stopList        `json:"stop"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	openAISampling
}

type completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"` // "text_completion"
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usage             `json:"usage,omitempty"`
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

type embeddingList struct {
	Object string          `json:"object"` // "list"
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingUsage  `json:"usage"`
}

type embeddingData struct {
	Object    string `json:"object"` // "embedding"
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or base64 of little-endian float32s
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// promptInput is one prompt or embedding input: text or token ids.
type promptInput struct {
	text   string
	tokens []int32
}

// parseInputs reads string | [string] | [int] | [[int]].
func parseInputs(raw json.RawMessage, param string) ([]promptInput, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, invalid(param, "%s is required", param)
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []promptInput{{text: one}}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, invalid(param, "%s must be a string, a list of strings, a list of token ids or a list of such lists", param)
	}
	if len(many) > 2048 {
		return nil, invalid(param, "%s may hold at most 2048 items", param)
	}
	var ids []int32
	if json.Unmarshal(raw, &ids) == nil {
		return []promptInput{{tokens: ids}}, nil
	}
	out := make([]promptInput, len(many))
	for i, m := range many {
		if json.Unmarshal(m, &out[i].text) == nil {
			continue
		}
		if err := json.Unmarshal(m, &out[i].tokens); err != nil || len(out[i].tokens) == 0 {
			return nil, invalid(fmt.Sprintf("%s[%d]", param, i), "%s[%d] must be a string or a non-empty list of token ids", param, i)
		}
	}
	return out, nil
}

// job converts a completion request for one of its prompts.
func (r *completionRequest) job(in promptInput) (*job, error) {
	sampling, seeded, err := samplingFrom(&r.openAISampling)
	if err != nil {
		return nil, err
	}
	j := &job{model: r.Model, text: in.text, tokens: in.tokens, sampling: sampling, seeded: seeded}
	maxTokens := r.MaxTokens
	if maxTokens == nil {
		sixteen := 16 // OpenAI's default for this endpoint
		maxTokens = &sixteen
	}
	if err := j.limits(r.N, maxTokens, "max_tokens", r.Stop); err != nil {
		return nil, err
	}
	if r.Logprobs != nil {
		if *r.Logprobs < 0 || *r.Logprobs > 20 {
			return nil, invalid("logprobs", "logprobs must be between 0 and 20")
		}
		j.logprobs, j.topLogprobs = true, *r.Logprobs
	}
	return j, nil
}

func (r *completionRequest) check() ([]promptInput, error) {
	switch {
	case r.Model == "":
		return nil, invalid("model", "you must provide a model parameter")
	case r.Suffix != nil && *r.Suffix != "":
		return nil, invalid("suffix", "suffix (fill-in-the-middle) is not supported")
	case r.Echo && r.Logprobs != nil:
		return nil, invalid("echo", "echo together with logprobs is not supported (prompt tokens have no logprobs here)")
	case r.BestOf != nil && (*r.BestOf < 1 || r.N != nil && *r.BestOf != *r.N || r.N == nil && *r.BestOf != 1):
		return nil, invalid("best_of", "best_of is not supported beyond n")
	case r.StreamOptions != nil && !r.Stream:
		return nil, invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	ins, err := parseInputs(r.Prompt, "prompt")
	if err == nil && len(ins) > 16 {
		err = invalid("prompt", "at most 16 prompts per request")
	}
	return ins, err
}

// completions is POST /v1/completions. Several prompts run one after the
// other; their choices are numbered prompt by prompt.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) (any, error) {
	var req completionRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	ins, err := req.check()
	if err != nil {
		return nil, err
	}
	jobs := make([]*job, len(ins))
	for i, in := range ins {
		if jobs[i], err = req.job(in); err != nil {
			return nil, err
		}
	}
	c := &completionRun{s: s, req: &req, id: newID("cmpl-"), created: time.Now().Unix()}
	if req.Stream {
		c.st = newStream(w, true, s.cfg.WriteTimeout)
		defer c.st.close()
	}
	total := &usage{PromptTokensDetails: &promptTokensDetails{}}
	for i, j := range jobs {
		if err := c.run(r.Context(), j, i*j.n, total); err != nil {
			if c.st != nil {
				return nil, s.streamFailed(c.st, dialectOpenAI, err)
			}
			return nil, err
		}
	}
	total.TotalTokens = total.PromptTokens + total.CompletionTokens
	if c.st == nil {
		c.resp.Usage = total
		return c.resp, nil
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if c.st.send(completion{ID: c.id, Object: "text_completion", Created: c.created, Model: c.model,
			SystemFingerprint: fingerprint, Choices: []completionChoice{}, Usage: total}) != nil {
			return nil, nil
		}
	}
	c.st.done()
	return nil, nil
}

// completionRun is one completions request in progress.
type completionRun struct {
	s       *Server
	req     *completionRequest
	id      string
	created int64
	model   string
	st      *stream     // nil when not streaming
	resp    *completion // the non-streamed response being built
}

func (c *completionRun) chunk(choices ...completionChoice) completion {
	return completion{ID: c.id, Object: "text_completion", Created: c.created, Model: c.model, SystemFingerprint: fingerprint, Choices: choices}
}

// run generates one prompt's choices, numbered from base.
func (c *completionRun) run(ctx context.Context, j *job, base int, total *usage) error {
	p, err := c.s.prepare(ctx, j)
	if err != nil {
		return err
	}
	defer c.s.done(p)
	c.model = p.m.name
	if c.resp == nil {
		r := c.chunk()
		c.resp = &r
	}
	echo := ""
	if c.req.Echo {
		echo = j.text
		if j.tokens != nil {
			echo = p.m.eng.Tokenizer.Decode(j.tokens)
		}
	}
	texts := make([]strings.Builder, j.n)
	lps := make([]*completionLogprobs, j.n)
	offsets := make([]int, j.n)
	echoed := make([]bool, j.n)
	results, err := c.s.runChoices(ctx, p, func(ev choiceEvent) error {
		text := ev.delta.Content
		if !echoed[ev.index] {
			text, echoed[ev.index] = echo+text, true
			offsets[ev.index] = len(echo)
		}
		lp := p.legacyLogprobs(ev.tokens, &offsets[ev.index])
		if c.st != nil {
			return c.st.send(c.chunk(completionChoice{Text: text, Index: base + ev.index, Logprobs: lp}))
		}
		texts[ev.index].WriteString(text)
		lps[ev.index] = lps[ev.index].append(lp)
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range results {
		reason := r.finish
		if c.st != nil {
			last := completionChoice{Index: base + i, FinishReason: &reason}
			if !echoed[i] {
				last.Text = echo
			}
			if err := c.st.send(c.chunk(last)); err != nil {
				return err
			}
			continue
		}
		text := texts[i].String()
		if !echoed[i] {
			text = echo + text // nothing was generated
		}
		c.resp.Choices = append(c.resp.Choices, completionChoice{Text: text, Index: base + i, Logprobs: lps[i], FinishReason: &reason})
	}
	u := usageOf(p, results)
	total.PromptTokens += u.PromptTokens
	total.CompletionTokens += u.CompletionTokens
	total.PromptTokensDetails.CachedTokens += u.PromptTokensDetails.CachedTokens
	return nil
}

// legacyLogprobs converts tokens to the completions endpoint's logprobs;
// offset is the running byte offset of the choice's text.
func (p *prepared) legacyLogprobs(ts []engine.Token, offset *int) *completionLogprobs {
	if !p.job.logprobs {
		return nil
	}
	tok := p.m.eng.Tokenizer
	lp := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range ts {
		piece := string(tok.Piece(t.ID))
		lp.Tokens = append(lp.Tokens, piece)
		lp.TokenLogprobs = append(lp.TokenLogprobs, logprobValue(t.Logprob))
		top := map[string]float64{}
		for _, alt := range t.Top {
			top[string(alt.Bytes)] = logprobValue(alt.Logprob)
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
		lp.TextOffset = append(lp.TextOffset, *offset)
		*offset += len(piece)
	}
	return lp
}

func (a *completionLogprobs) append(b *completionLogprobs) *completionLogprobs {
	if a == nil {
		return b
	}
	if b != nil {
		a.Tokens = append(a.Tokens, b.Tokens...)
		a.TokenLogprobs = append(a.TokenLogprobs, b.TokenLogprobs...)
		a.TopLogprobs = append(a.TopLogprobs, b.TopLogprobs...)
		a.TextOffset = append(a.TextOffset, b.TextOffset...)
	}
	return a
}

// embeddings is POST /v1/embeddings.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) (any, error) {
	var req embeddingRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	switch {
	case req.Model == "":
		return nil, invalid("model", "you must provide a model parameter")
	case req.Dimensions != nil:
		return nil, invalid("dimensions", "dimensions is not supported: embeddings have the model's width")
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		return nil, invalid("encoding_format", "encoding_format must be float or base64")
	}
	ins, err := parseInputs(req.Input, "input")
	if err != nil {
		return nil, err
	}
	vecs, model, tokens, err := s.embed(r.Context(), req.Model, nil, ins, false, "input")
	if err != nil {
		return nil, err
	}
	out := embeddingList{Object: "list", Model: model, Usage: embeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vecs {
		d := embeddingData{Object: "embedding", Index: i, Embedding: v}
		if req.EncodingFormat == "base64" {
			d.Embedding = floatsBase64(v)
		}
		out.Data = append(out.Data, d)
	}
	return out, nil
}

func floatsBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// embed embeds each input with the named model: the mean of the final
// normalised hidden states, L2-normalised. An input longer than the model's
// context is an error unless truncate.
func (s *Server) embed(ctx context.Context, name string, keepAlive *time.Duration, ins []promptInput, truncate bool, param string) (vecs [][]float32, model string, tokens int, err error) {
	m, _, err := s.models.acquire(ctx, name, keepAlive)
	if err != nil {
		return nil, "", 0, err
	}
	defer s.models.release(m)
	e := m.eng
	limit := e.Model.Config.ContextLen
	for i, in := range ins {
		ids := in.tokens
		if ids == nil {
			if in.text == "" {
				return nil, "", 0, invalid(param, "%s must not be empty", param)
			}
			ids = e.Tokenizer.Encode(in.text, true, true)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= e.Tokenizer.VocabSize() {
				return nil, "", 0, invalid(param, "token id %d is outside the vocabulary of %d", id, e.Tokenizer.VocabSize())
			}
		}
		if len(ids) > limit {
			if !truncate {
				ce := errContextLength(len(ids), limit)
				ce.param = param
				ce.msg = fmt.Sprintf("input %d has %d tokens but this model embeds at most %d", i, len(ids), limit)
				return nil, "", 0, ce
			}
			ids = ids[:limit]
		}
		if err := s.embedGate.enter(ctx); err != nil {
			return nil, "", 0, err
		}
		v, err := e.Embed(ctx, ids)
		s.embedGate.leave()
		if err != nil {
			return nil, "", 0, err
		}
		vecs = append(vecs, v)
		tokens += len(ids)
	}
	return vecs, m.name, tokens, nil
}
