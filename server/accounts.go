package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
	"zhiyan/web"
)

// The accounts side of the server: the web chat (package web) on the same
// listener, its users' API keys and sessions accepted on /v1 and /api, and
// the server's generation offered to the web chat and the bots.

// assistant is the server's generation as the web chat sees it: a
// conversation in, the answer streamed out.
type assistant struct{ s *Server }

// Models lists the servable models.
func (a assistant) Models(ctx context.Context) []string {
	var names []string
	for _, m := range a.s.models.list() {
		names = append(names, m.name)
	}
	return names
}

// Chat answers a conversation with the model's chat template, streaming the
// answer and the reasoning apart.
func (a assistant) Chat(ctx context.Context, req web.ChatRequest, emit func(web.Delta) error) (web.Usage, error) {
	res, p, err := a.s.converse(ctx, req.Model, req.Messages, req.Think, req.Temperature, req.TopP, req.MaxTokens,
		func(d chat.Delta) error {
			if d.Content == "" && d.Reasoning == "" {
				return nil
			}
			return emit(web.Delta{Content: d.Content, Reasoning: d.Reasoning})
		})
	if err != nil {
		return web.Usage{}, err
	}
	return web.Usage{PromptTokens: len(p.prompt), CompletionTokens: res.Tokens, Duration: time.Since(p.start), FinishReason: res.finish}, nil
}

// converse runs one answer to msgs on model; the prepared job is returned
// (released) for its counts.
func (s *Server) converse(ctx context.Context, model string, msgs []chat.Message, think *bool, temperature, topP *float64, maxTokens int,
	emit func(chat.Delta) error) (choiceResult, *prepared, error) {
	j := &job{model: model, n: 1, messages: msgs, thinking: think, maxTokens: max(maxTokens, 0), choice: toolChoice{mode: "none"}}
	var err error
	if j.sampling, _, err = samplingFrom(&openAISampling{Temperature: temperature, TopP: topP}); err != nil {
		return choiceResult{}, nil, err
	}
	p, err := s.prepare(ctx, j)
	if err != nil {
		return choiceResult{}, nil, err
	}
	defer s.done(p)
	results, err := s.runChoices(ctx, p, func(ev choiceEvent) error { return emit(ev.delta) })
	if err != nil {
		return choiceResult{}, p, err
	}
	return results[0], p, nil
}

// identity is what web.Identify said of a request, kept in its context so
// that a key's rate limit counts the request once.
type identity struct {
	key *db.APIKey
	err error
}

type identityKey struct{}

// authenticate accepts the accounts' API keys and signed-in sessions; the
// guard asks it when no configured key matches. A key over its limits
// passes here and is refused by meter, with the reason.
func (s *Server) authenticate(r *http.Request) (*http.Request, bool) {
	_, key, err := s.web.Identify(r)
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, identity{key, err}))
	return r, err == nil || !errors.Is(err, web.ErrUnauthenticated)
}

// spent counts the tokens a request spends, for its API key's quota.
type spent struct{ tokens atomic.Int64 }

type spentKey struct{}

// spend adds n tokens to the request's usage, if it is metered.
func spend(ctx context.Context, n int) {
	if u, ok := ctx.Value(spentKey{}).(*spent); ok {
		u.tokens.Add(int64(n))
	}
}

// meter applies an account key's rate limit and quota to a request and
// returns a function that records what it spent. Requests without an
// account key pass unmetered: the guard has already decided whether they
// need credentials at all.
func (s *Server) meter(ctx context.Context, r *http.Request) (context.Context, func(), error) {
	noop := func() {}
	if s.web == nil {
		return ctx, noop, nil
	}
	id, ok := ctx.Value(identityKey{}).(identity)
	if !ok {
		_, id.key, id.err = s.web.Identify(r)
	}
	key, err := id.key, id.err
	switch {
	case errors.Is(err, web.ErrRateLimited):
		return ctx, noop, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "rate_limit_exceeded",
			msg: "this API key's request rate limit is reached; try again in a minute", retryAfter: 60}
	case errors.Is(err, web.ErrQuotaExceeded):
		return ctx, noop, &apiError{status: http.StatusTooManyRequests, typ: "insufficient_quota", code: "insufficient_quota",
			msg: "this API key has used its token quota"}
	case errors.Is(err, web.ErrCSRF):
		return ctx, noop, &apiError{status: http.StatusForbidden, typ: "permission_error", code: "csrf",
			msg: "a request signed in with a session cookie must carry the X-CSRF-Token header"}
	case err != nil || key == nil:
		return ctx, noop, nil
	}
	u := &spent{}
	return context.WithValue(ctx, spentKey{}, u), func() {
		if n := u.tokens.Load(); n > 0 {
			// The request's own context may be gone: the client has left.
			if err := s.web.RecordUsage(context.WithoutCancel(ctx), key.ID, n); err != nil {
				s.log.Error("recording an API key's usage", "err", err)
			}
		}
	}, nil
}

// SetupLink is the one-time link that creates the first administrator, or
// "" when accounts are off or someone has signed up already.
func (s *Server) SetupLink(ctx context.Context, baseURL string) (string, error) {
	if s.web == nil {
		return "", nil
	}
	return s.web.SetupLink(ctx, baseURL)
}

// botAssistant is the server's generation as the chat-platform bots see it.
type botAssistant struct{ s *Server }

// Chat answers msgs with model, or with the first servable model when model
// is "".
func (a botAssistant) Chat(ctx context.Context, model string, msgs []chat.Message, emit func(string) error) (string, error) {
	if model == "" {
		names := assistant(a).Models(ctx)
		if len(names) == 0 {
			return "", errors.New("no model to answer with: pull one first")
		}
		model = names[0]
	}
	var answer strings.Builder
	_, _, err := a.s.converse(ctx, model, msgs, nil, nil, nil, 0, func(d chat.Delta) error {
		if d.Content == "" {
			return nil
		}
		answer.WriteString(d.Content)
		return emit(d.Content)
	})
	return answer.String(), err
}
