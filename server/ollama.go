package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"zhiyan/chat"
)

// ollamaAPIVersion is the Ollama release whose API this server follows;
// clients gate features on /api/version.
const ollamaAPIVersion = "0.17.4"

// ollamaChat is POST /api/chat.
func (s *Server) ollamaChat(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaChatRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Model == "" {
		return nil, invalid("model", "model is required")
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 {
		return s.ollamaLoad(r.Context(), req.Model, keepAlive, true) // Ollama's way to load or unload
	}
	j := &job{model: req.Model, keepAlive: keepAlive, n: 1, choice: toolChoice{mode: "auto"}}
	if j.messages, err = ollamaMessages(req.Messages); err != nil {
		return nil, err
	}
	if j.tools, err = parseTools(req.Tools); err != nil {
		return nil, err
	}
	if err := j.ollamaCommon(req.Think, req.Format, req.Options); err != nil {
		return nil, err
	}
	p, err := s.prepare(r.Context(), j)
	if err != nil {
		return nil, err
	}
	defer s.done(p)
	return s.ollamaReply(w, r.Context(), p, true, req.Stream == nil || *req.Stream)
}

// ollamaCommon sets what chat and generate share: think, format, options.
func (j *job) ollamaCommon(think, format []byte, o *ollamaOptions) error {
	var err error
	if j.thinking, err = parseThink(think, "think"); err != nil {
		return err
	}
	j.requireThinking = j.thinking != nil && *j.thinking
	if j.format, err = parseFormat(format); err != nil {
		return err
	}
	return o.apply(j)
}

// ollamaGenerate is POST /api/generate.
func (s *Server) ollamaGenerate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaGenerateRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	switch {
	case err != nil:
		return nil, err
	case req.Model == "":
		return nil, invalid("model", "model is required")
	case req.Suffix != "":
		return nil, invalid("suffix", "suffix (fill-in-the-middle) is not supported")
	case req.Template != "":
		return nil, invalid("template", "custom prompt templates are not supported: the model's own chat template is used, or none with raw")
	case len(req.Images) > 0:
		return nil, invalid("images", "image input is not supported yet")
	case req.Prompt == "":
		return s.ollamaLoad(r.Context(), req.Model, keepAlive, false)
	}
	j := &job{model: req.Model, keepAlive: keepAlive, n: 1, choice: toolChoice{mode: "auto"}}
	if req.Raw {
		j.text = req.Prompt
	} else {
		if req.System != "" {
			j.messages = append(j.messages, chat.Message{Role: "system", Content: req.System})
		}
		j.messages = append(j.messages, chat.Message{Role: "user", Content: req.Prompt})
		j.plainIfNoTemplate = true
	}
	if err := j.ollamaCommon(req.Think, req.Format, req.Options); err != nil {
		return nil, err
	}
	p, err := s.prepare(r.Context(), j)
	if err != nil {
		return nil, err
	}
	defer s.done(p)
	return s.ollamaReply(w, r.Context(), p, false, req.Stream == nil || *req.Stream)
}

// ollamaReply runs p and answers in /api/chat's or /api/generate's shape,
// as NDJSON or one object.
func (s *Server) ollamaReply(w http.ResponseWriter, ctx context.Context, p *prepared, chatAPI, streamed bool) (any, error) {
	var st *stream
	if streamed {
		st = newStream(w, false, s.cfg.WriteTimeout)
		defer st.close()
	}
	var all chat.Delta
	calls := 0
	results, err := s.runChoices(ctx, p, func(ev choiceEvent) error {
		d := ev.delta
		if !chatAPI && len(d.ToolCalls) > 0 {
			d.Content, d.ToolCalls = d.Content+toolCallsText(d.ToolCalls), nil
		}
		if d.Empty() {
			return nil
		}
		if st != nil {
			err := st.send(ollamaObject(p, chatAPI, d, calls, "", nil))
			calls += len(d.ToolCalls)
			return err
		}
		all.Content += d.Content
		all.Reasoning += d.Reasoning
		all.ToolCalls = append(all.ToolCalls, d.ToolCalls...)
		return nil
	})
	if err != nil {
		if st != nil {
			return nil, s.streamFailed(st, dialectOllama, err)
		}
		return nil, err
	}
	reason := results[0].finish
	if reason == "tool_calls" {
		reason = "stop" // Ollama's done_reason has no tool_calls
	}
	final := ollamaObject(p, chatAPI, all, 0, reason, &results[0])
	if st != nil {
		st.send(final)
		return nil, nil
	}
	return final, nil
}

// ollamaObject is one chat or generate response object; the last one
// (reason set) carries the counts and timings.
func ollamaObject(p *prepared, chatAPI bool, d chat.Delta, firstCall int, reason string, r *choiceResult) any {
	var m ollamaMetrics
	if r != nil {
		m = p.ollamaMetrics(*r)
	}
	now := time.Now().UTC()
	if chatAPI {
		msg := ollamaMessage{Role: "assistant", Content: d.Content, Thinking: d.Reasoning, ToolCalls: ollamaToolCalls(d.ToolCalls, firstCall)}
		return ollamaChatResponse{Model: p.m.name, CreatedAt: now, Message: msg, Done: r != nil, DoneReason: reason, ollamaMetrics: m}
	}
	return ollamaGenerateResponse{Model: p.m.name, CreatedAt: now, Response: d.Content, Thinking: d.Reasoning, Done: r != nil, DoneReason: reason, ollamaMetrics: m}
}

// ollamaLoad answers a request without a prompt as Ollama does: it loads
// the model (or, with keep_alive 0, unloads it).
func (s *Server) ollamaLoad(ctx context.Context, name string, keepAlive *time.Duration, chatAPI bool) (any, error) {
	f, err := s.models.find(name)
	if err != nil {
		return nil, err
	}
	reason := "load"
	if keepAlive != nil && *keepAlive == 0 {
		s.models.unloadNow(f.name)
		reason = "unload"
	} else {
		m, _, err := s.models.acquire(ctx, f.name, keepAlive)
		if err != nil {
			return nil, err
		}
		s.models.release(m)
	}
	now := time.Now().UTC()
	if chatAPI {
		return ollamaChatResponse{Model: f.name, CreatedAt: now, Message: ollamaMessage{Role: "assistant"}, DoneReason: reason, Done: true}, nil
	}
	return ollamaGenerateResponse{Model: f.name, CreatedAt: now, Done: true, DoneReason: reason}, nil
}

// ollamaEmbed is POST /api/embed. Unlike Ollama, an input longer than the
// context is an error unless truncate is true: nothing is cut silently.
func (s *Server) ollamaEmbed(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaEmbedRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	switch {
	case err != nil:
		return nil, err
	case req.Model == "":
		return nil, invalid("model", "model is required")
	case req.Dimensions != nil:
		return nil, invalid("dimensions", "dimensions is not supported: embeddings have the model's width")
	}
	ins, err := parseInputs(req.Input, "input")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	vecs, model, n, err := s.embed(r.Context(), req.Model, keepAlive, ins, req.Truncate != nil && *req.Truncate, "input")
	if err != nil {
		return nil, err
	}
	return ollamaEmbedResponse{Model: model, Embeddings: vecs, TotalDuration: time.Since(start).Nanoseconds(), PromptEvalCount: n}, nil
}

// ollamaEmbeddings is the legacy POST /api/embeddings.
func (s *Server) ollamaEmbeddings(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaEmbeddingsRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	switch {
	case err != nil:
		return nil, err
	case req.Model == "":
		return nil, invalid("model", "model is required")
	case req.Prompt == "":
		return ollamaEmbeddingsResponse{Embedding: []float64{}}, nil
	}
	vecs, _, _, err := s.embed(r.Context(), req.Model, keepAlive, []promptInput{{text: req.Prompt}}, false, "prompt")
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(vecs[0]))
	for i, v := range vecs[0] {
		out[i] = float64(v)
	}
	return ollamaEmbeddingsResponse{Embedding: out}, nil
}

// ollamaTags is GET /api/tags: every servable model.
func (s *Server) ollamaTags(w http.ResponseWriter, r *http.Request) (any, error) {
	out := struct {
		Models []ollamaListModel `json:"models"`
	}{Models: []ollamaListModel{}}
	for _, m := range s.models.list() {
		if s.ups.shadows(m.name) {
			continue
		}
		info := s.models.describe(m)
		out.Models = append(out.Models, ollamaListModel{Name: m.name, Model: m.name, ModifiedAt: m.modTime, Size: m.size,
			Digest: m.digest, Details: storeDetails(info.details, m.manifest)})
	}
	out.Models = append(out.Models, s.ups.ollamaModels()...)
	return out, nil
}

// ollamaPS is GET /api/ps: the loaded models.
func (s *Server) ollamaPS(w http.ResponseWriter, r *http.Request) (any, error) {
	out := struct {
		Models []ollamaRunningModel `json:"models"`
	}{Models: []ollamaRunningModel{}}
	for _, m := range s.models.running() {
		info := s.models.describe(modelFile{name: m.name, path: m.path, size: m.size})
		out.Models = append(out.Models, ollamaRunningModel{Name: m.name, Model: m.name, Size: m.size + int64(m.kv), Digest: m.digest,
			Details: info.details, ExpiresAt: s.models.expiry(m), ContextLength: m.sched.Context()})
	}
	return out, nil
}

// ollamaShow is POST /api/show.
func (s *Server) ollamaShow(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaModelRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	name, err := req.model()
	if err != nil {
		return nil, err
	}
	if u := s.ups.find(name); u != nil {
		return s.ups.show(u), nil
	}
	f, err := s.models.find(name)
	if err != nil {
		return nil, err
	}
	info := s.models.describe(f)
	if info.err != nil {
		return nil, &apiError{status: http.StatusInternalServerError, typ: "server_error", msg: info.err.Error()}
	}
	var params strings.Builder
	for _, stop := range chat.Detect(info.template).StopStrings() {
		params.WriteString("stop \"" + stop + "\"\n")
	}
	return ollamaShowResponse{
		Modelfile:    modelfile(f),
		Parameters:   params.String(),
		Template:     info.template,
		Details:      storeDetails(info.details, f.manifest),
		ModelInfo:    modelInfo(f.path, req.Verbose),
		Capabilities: info.capabilities,
		ModifiedAt:   f.modTime,
	}, nil
}

// ollamaVersion is GET /api/version.
func (s *Server) ollamaVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]string{"version": ollamaAPIVersion}, nil
}

// ollamaRoot is GET /, which Ollama clients probe.
func (s *Server) ollamaRoot(w http.ResponseWriter, r *http.Request) (any, error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("zhiyan is running (Ollama- and OpenAI-compatible API)\n"))
	return nil, nil
}
