package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/grammar"
	"zhiyan/sample"
)

// job is one generation request in neither dialect's terms: the API layers
// convert their requests into it, and their responses from what runChoices
// reports.
type job struct {
	model     string
	keepAlive *time.Duration

	// The prompt: messages rendered with the model's chat template, else
	// text (tokenized as it is), else token ids.
	messages []chat.Message
	text     string
	tokens   []int32
	tools    []toolDef
	choice   toolChoice
	thinking *bool
	// requireThinking refuses models that do not reason (Ollama's think:
	// true); plainIfNoTemplate sends the messages' text as it is to a model
	// without a chat template (/api/generate) instead of refusing.
	requireThinking, plainIfNoTemplate bool

	numCtx int // per-request context limit (Ollama's num_ctx); 0 = the scheduler's
	// maxTokens bounds the answer; 0 = until the context is full. A bound
	// past the context is not an error: the answer ends there, "length".
	maxTokens   int
	stop        []string
	sampling    sample.Params
	seeded      bool // sampling.Seed was given: choice i uses Seed+i
	format      formatSpec
	logprobs    bool
	topLogprobs int
	n           int // choices, each its own generation
}

// formatSpec is a constraint on the answer's shape.
type formatSpec struct {
	kind   formatKind
	schema json.RawMessage // formatSchema
	param  string          // the request field, for errors
}

type formatKind int

const (
	formatText formatKind = iota
	formatJSONObject
	formatSchema
)

// prepared is a job on a loaded model, its prompt tokenized and checked.
type prepared struct {
	job         *job
	m           *loadedModel
	start       time.Time
	prompt      []int32
	req         engine.Request // Sampling.Seed is set per choice
	parse       bool           // split the output into answer, reasoning and tool calls
	inReasoning bool           // the prompt ends inside a reasoning block
	// reasoningClosed: the prompt ends with an (empty) closed reasoning
	// block, as templates write it to switch thinking off.
	reasoningClosed bool
	loadDuration    time.Duration
}

// prepare loads the job's model, renders and tokenizes the prompt and checks
// it against the context. The caller must call done.
func (s *Server) prepare(ctx context.Context, j *job) (*prepared, error) {
	start := time.Now()
	m, load, err := s.models.acquire(ctx, j.model, j.keepAlive)
	if err != nil {
		return nil, err
	}
	p := &prepared{job: j, m: m, start: start, loadDuration: load}
	if err := p.build(); err != nil {
		s.models.release(m)
		return nil, err
	}
	s.metrics.promptTokens(m.name, len(p.prompt))
	spend(ctx, len(p.prompt))
	return p, nil
}

func (s *Server) done(p *prepared) { s.models.release(p.m) }

// build renders the prompt and the engine request.
func (p *prepared) build() error {
	j, e := p.job, p.m.eng
	tok := e.Tokenizer
	var stops []string
	if j.requireThinking && p.m.out.ReasoningStart == "" {
		return invalid("think", "model %s does not support thinking", p.m.name)
	}
	switch {
	case j.messages != nil && j.plainIfNoTemplate && e.Template == "" && e.Format == chat.FormatNone:
		// A base model: the prompt as it is.
		p.prompt = tok.Encode(chat.Render(chat.FormatNone, j.messages, false), true, true)
	case j.messages != nil:
		text, err := p.chatPrompt()
		if err != nil {
			return err
		}
		p.parse = true
		p.inReasoning = p.m.out.PromptOpensReasoning(text)
		end := p.m.out.ReasoningEnd
		p.reasoningClosed = end != "" && strings.HasSuffix(strings.TrimRight(text, " \t\r\n"), end)
		p.prompt = tok.Encode(text, true, true)
		stops = e.Format.StopStrings()
	case j.tokens != nil:
		for _, id := range j.tokens {
			if id < 0 || int(id) >= tok.VocabSize() {
				return invalid("prompt", "token id %d is outside the vocabulary of %d", id, tok.VocabSize())
			}
		}
		p.prompt = j.tokens
	default:
		p.prompt = tok.Encode(j.text, true, true)
	}
	if len(p.prompt) == 0 {
		return invalid("prompt", "the prompt is empty")
	}
	limit := p.m.sched.Context()
	if j.numCtx > 0 {
		if j.numCtx > limit {
			return invalid("options.num_ctx", "num_ctx %d is larger than the server's context of %d tokens per sequence (start the server with a larger --ctx)", j.numCtx, limit)
		}
		limit = j.numCtx
	}
	if len(p.prompt)+1 > limit {
		return errContextLength(len(p.prompt), limit)
	}
	maxTokens := j.maxTokens
	if j.numCtx > 0 && (maxTokens == 0 || maxTokens > limit-len(p.prompt)) {
		maxTokens = limit - len(p.prompt)
	}
	for id := range j.sampling.LogitBias {
		if int(id) >= tok.VocabSize() {
			return invalid("logit_bias", "logit_bias token %d is outside the vocabulary of %d", id, tok.VocabSize())
		}
	}
	g, after, err := p.constraint()
	if err != nil {
		return err
	}
	p.req = engine.Request{
		Prompt:       p.prompt,
		MaxTokens:    maxTokens,
		Stop:         append(append([]string(nil), j.stop...), stops...),
		Sampling:     j.sampling,
		Grammar:      g,
		GrammarAfter: after,
		Logprobs:     j.logprobs,
		TopLogprobs:  j.topLogprobs,
	}
	return nil
}

// chatPrompt renders the messages with the model's template.
func (p *prepared) chatPrompt() (string, error) {
	j := p.job
	var tools []json.RawMessage
	if j.choice.mode != "none" {
		for _, t := range j.tools {
			tools = append(tools, t.raw)
		}
	}
	if len(tools) > 0 && p.m.out.Tools == chat.ToolsNone {
		return "", invalid("tools", "model %s does not support tools (its chat template has no tool-call format)", p.m.name)
	}
	text, err := p.m.eng.ChatPrompt(j.messages, engine.PromptOptions{Thinking: j.thinking, Tools: tools})
	if err != nil {
		var te *chat.TemplateError
		if errors.As(err, &te) {
			return "", invalid("messages", "the model's chat template refused the conversation: %s", te.Message)
		}
		return "", invalid("messages", "cannot render the conversation: %v", err)
	}
	return text, nil
}

// constraint compiles the grammar the job asks for, and the text after
// which it applies (a reasoning model thinks freely first).
func (p *prepared) constraint() (*grammar.Constraint, string, error) {
	j := p.job
	var g *grammar.Constraint
	var err error
	switch {
	case j.choice.mode == "required" && len(j.tools) > 0:
		g, err = toolConstraint(j.tools, j.choice.name, p.m.out)
		if err != nil {
			return nil, "", err
		}
	case j.format.kind == formatJSONObject:
		g = grammar.JSONObject()
	case j.format.kind == formatSchema:
		if g, err = grammar.FromSchema(j.format.schema); err != nil {
			return nil, "", invalid(j.format.param, "unsupported JSON schema: %v", err)
		}
	default:
		return nil, "", nil
	}
	// A model that may reason first is constrained only after its
	// reasoning ends, unless thinking is off or the prompt closed it.
	after := ""
	thinkingOff := j.thinking != nil && !*j.thinking
	if p.parse && p.m.out.ReasoningEnd != "" && !thinkingOff && !p.reasoningClosed {
		after = p.m.out.ReasoningEnd
	}
	return g, after, nil
}

// toolConstraint forces a call of one of tools (or of the named one) in the
// model's own tool-call syntax.
func toolConstraint(tools []toolDef, name string, out chat.OutputFormat) (*grammar.Constraint, error) {
	var pick []toolDef
	for _, t := range tools {
		if name == "" || t.name == name {
			pick = append(pick, t)
		}
	}
	if len(pick) == 1 {
		// One function: only its arguments are generated.
		if prefix, suffix, ok := out.ToolCallFor(pick[0].name); ok {
			g, err := grammar.FromSchemaWithin(objectSchema(pick[0].params), prefix, suffix)
			if err != nil {
				return nil, invalid("tools", "cannot force a call of %s: %v", pick[0].name, err)
			}
			return g, nil
		}
	}
	prefix, suffix, argsKey, ok := out.ToolCallSyntax()
	if !ok {
		return nil, invalid("tool_choice", "this model's tool-call format cannot be forced over several functions; name one, or use tool_choice \"auto\"")
	}
	key, _ := json.Marshal(argsKey)
	branches := make([]string, len(pick))
	for i, t := range pick {
		fn, _ := json.Marshal(t.name)
		// Properties in this order: name first, as models write it.
		branches[i] = fmt.Sprintf(`{"type":"object","properties":{"name":{"const":%s},%s:%s},"required":["name",%s],"additionalProperties":false}`,
			fn, key, objectSchema(t.params), key)
	}
	schema := branches[0]
	if len(branches) > 1 {
		schema = `{"anyOf":[` + strings.Join(branches, ",") + `]}`
	}
	g, err := grammar.FromSchemaWithin([]byte(schema), prefix, suffix)
	if err != nil {
		return nil, invalid("tools", "cannot force a call of these tools: %v", err)
	}
	return g, nil
}

// objectSchema is a function's parameters schema, any object when absent.
func objectSchema(params json.RawMessage) []byte {
	if len(params) == 0 {
		return []byte(`{"type":"object"}`)
	}
	return params
}

// choiceEvent is what one choice produced since its previous event.
type choiceEvent struct {
	index  int
	delta  chat.Delta
	tokens []engine.Token // behind this delta, when logprobs are asked for
}

// choiceResult is how one choice ended.
type choiceResult struct {
	engine.Result
	finish    string // "stop", "length" or "tool_calls"
	toolCalls int
}

// runChoices runs the job's n generations concurrently through the
// scheduler. emit is called for each event, one call at a time. The first
// error ends every choice.
func (s *Server) runChoices(ctx context.Context, p *prepared, emit func(choiceEvent) error) ([]choiceResult, error) {
	n := max(p.job.n, 1)
	results := make([]choiceResult, n)
	var mu sync.Mutex
	serial := func(ev choiceEvent) error {
		mu.Lock()
		defer mu.Unlock()
		return emit(ev)
	}
	if n == 1 {
		r, err := s.runChoice(ctx, p, 0, serial)
		results[0] = r
		return results, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = s.runChoice(ctx, p, i, serial)
			if errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return results, err
	}
	return results, errors.Join(errs...)
}

// runChoice runs choice i.
func (s *Server) runChoice(ctx context.Context, p *prepared, i int, emit func(choiceEvent) error) (choiceResult, error) {
	req := p.req
	if p.job.seeded || i > 0 {
		req.Sampling.Seed = seedFor(p.job.sampling.Seed, i)
	}
	var parser *chat.OutputParser
	if p.parse {
		f := p.m.out
		if len(p.job.tools) == 0 || p.job.choice.mode == "none" {
			f.Tools = chat.ToolsNone // no tools offered: tool syntax is just text
		}
		parser = f.NewParser(p.inReasoning)
	}
	var res choiceResult
	var pending []engine.Token
	obs := s.metrics.tokenTimer(p.m.name, p.start)
	out := func(d chat.Delta, final bool) error {
		res.toolCalls += len(d.ToolCalls)
		if d.Empty() && (!final || len(pending) == 0) {
			return nil // logprobs wait for the text they belong to
		}
		ev := choiceEvent{index: i, delta: d, tokens: pending}
		pending = nil
		return emit(ev)
	}
	r, err := p.m.sched.Generate(ctx, req, func(t engine.Token) error {
		if t.ID >= 0 { // not the text released at the end
			obs.token()
			if p.job.logprobs {
				pending = append(pending, t)
			}
		}
		if parser == nil {
			return out(chat.Delta{Content: t.Text}, false)
		}
		return out(parser.Add(t.Text), false)
	})
	res.Result = r
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return res, err
	}
	var last chat.Delta
	if parser != nil {
		last = parser.Finish()
	}
	if err := out(last, true); err != nil {
		return res, err
	}
	s.metrics.generatedTokens(p.m.name, r.Tokens)
	spend(ctx, r.Tokens)
	switch {
	case res.toolCalls > 0:
		res.finish = "tool_calls"
	case r.Reason == "length":
		res.finish = "length"
	default:
		res.finish = "stop"
	}
	return res, nil
}

// seedFor is choice i's seed: seed, seed+1, …; never 0, which the sampler
// takes as "random".
func seedFor(seed uint64, i int) uint64 {
	v := seed + uint64(i)
	if v == 0 {
		v = 0x5eed
	}
	return v
}

// samplingFrom applies OpenAI-style sampling fields to the defaults.
func samplingFrom(o *openAISampling) (sample.Params, bool, error) {
	p := sample.DefaultParams()
	if o.Temperature != nil {
		if *o.Temperature < 0 || *o.Temperature > 2 {
			return p, false, invalid("temperature", "temperature must be between 0 and 2, not %v", *o.Temperature)
		}
		p.Temperature = float32(*o.Temperature)
	}
	if o.TopP != nil {
		if *o.TopP < 0 || *o.TopP > 1 {
			return p, false, invalid("top_p", "top_p must be between 0 and 1, not %v", *o.TopP)
		}
		p.TopP = float32(*o.TopP)
	}
	if o.TopK != nil {
		if *o.TopK < 0 {
			return p, false, invalid("top_k", "top_k must not be negative")
		}
		p.TopK = *o.TopK
	}
	if o.MinP != nil {
		if *o.MinP < 0 || *o.MinP > 1 {
			return p, false, invalid("min_p", "min_p must be between 0 and 1, not %v", *o.MinP)
		}
		p.MinP = float32(*o.MinP)
	}
	if o.RepeatPenalty != nil {
		if *o.RepeatPenalty <= 0 || *o.RepeatPenalty > 10 {
			return p, false, invalid("repeat_penalty", "repeat_penalty must be in (0, 10], not %v", *o.RepeatPenalty)
		}
		p.RepeatPenalty = float32(*o.RepeatPenalty)
	}
	for _, f := range []struct {
		name string
		v    *float64
		dst  *float32
	}{{"presence_penalty", o.PresencePenalty, &p.PresencePenalty}, {"frequency_penalty", o.FrequencyPenalty, &p.FrequencyPenalty}} {
		if f.v != nil {
			if *f.v < -2 || *f.v > 2 {
				return p, false, invalid(f.name, "%s must be between -2 and 2, not %v", f.name, *f.v)
			}
			*f.dst = float32(*f.v)
		}
	}
	bias, err := logitBias(o.LogitBias)
	if err != nil {
		return p, false, err
	}
	p.LogitBias = bias
	if o.Seed != nil {
		p.Seed = uint64(*o.Seed)
	}
	return p, o.Seed != nil, nil
}
