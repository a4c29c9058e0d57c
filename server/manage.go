package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"zhiyan/store"
)

// Ollama's model-management routes, backed by Config.Store.

type ollamaPullRequest struct {
	Model    string `json:"model"`
	Name     string `json:"name"`     // older clients
	Insecure bool   `json:"insecure"` // accepted; hubs are reached over HTTPS as configured
	Stream   *bool  `json:"stream"`
}

type ollamaCopyRequest struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// errNoStore answers the routes that need a store when there is none.
func errNoStore(what string) *apiError {
	return errNotImplemented(what + " needs a model store, and this server has none: it serves only the GGUF files it was given")
}

// pullInterval is how often a download's byte counts are sent at most.
const pullInterval = 100 * time.Millisecond

// ollamaPull is POST /api/pull: the store's progress events as NDJSON
// (or, with stream false, only the final one). A client that goes away
// cancels the download; what arrived stays for the next pull to resume.
func (s *Server) ollamaPull(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaPullRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	name := firstOf(req.Model, req.Name)
	switch {
	case name == "":
		return nil, invalid("model", "model is required")
	case s.cfg.Store == nil:
		return nil, errNoStore("pull")
	}
	if _, err := store.ParseName(name); err != nil {
		return nil, invalid("model", "%v", err)
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	var st *stream
	if req.Stream == nil || *req.Stream {
		st = newStream(w, false, s.cfg.WriteTimeout)
		defer st.close()
	}
	send := func(evs []store.Progress) {
		for _, ev := range evs {
			if st == nil {
				return
			}
			if err := st.send(ev); err != nil {
				cancel(err) // nobody reads the progress: stop downloading
				return
			}
		}
	}
	th := newProgressThrottle(pullInterval, time.Now)
	opt := s.cfg.Pull
	opt.Progress = func(ev store.Progress) { send(th.add(ev)) }
	p, err := store.NewPuller(s.cfg.Store, opt)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	m, err := p.Pull(ctx, name)
	send(th.flush())
	if err != nil {
		err = pullError(ctx, err)
		if st != nil {
			return nil, s.streamFailed(st, dialectOllama, err)
		}
		return nil, err
	}
	s.log.Info("pulled model", "model", m.Name, "digest", m.Digest, "verified", m.Verified)
	if st != nil {
		return nil, nil // the store's "success" was the last line
	}
	return store.Progress{Status: "success"}, nil
}

// firstOf returns the first of its arguments that is not empty.
func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pullError classifies a failed pull: a refused name is the client's
// fault, a hub's failure a bad gateway.
func pullError(ctx context.Context, err error) error {
	var pe *store.PullError
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case !errors.As(err, &pe):
		return invalid("model", "%v", err) // the name was refused before any hub was asked
	case errors.Is(err, store.ErrNoSpace):
		return &apiError{status: http.StatusInsufficientStorage, typ: "server_error", code: "insufficient_storage", msg: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model", msg: err.Error()}
	}
	return &apiError{status: http.StatusBadGateway, typ: "server_error", code: "pull_failed", msg: err.Error()}
}

// progressThrottle passes a pull's events on with byte counts at most every
// interval per download. A count that comes sooner is held, and sent before
// any later event of another download or kind (or at flush), so the last
// count always goes out; a count that completes a download goes at once.
type progressThrottle struct {
	every time.Duration
	now   func() time.Time
	sent  map[string]time.Time // when each download's last count went
	held  *store.Progress
}

func newProgressThrottle(every time.Duration, now func() time.Time) *progressThrottle {
	return &progressThrottle{every: every, now: now, sent: map[string]time.Time{}}
}

// add takes one event and returns those to send now.
func (t *progressThrottle) add(ev store.Progress) []store.Progress {
	if ev.Total <= 0 || !strings.HasPrefix(ev.Status, "pulling ") {
		return append(t.flush(), ev) // a step, not a count
	}
	key := firstOf(ev.Digest, ev.Status)
	var out []store.Progress
	if t.held != nil && firstOf(t.held.Digest, t.held.Status) != key {
		out = t.flush()
	}
	now := t.now()
	if last, ok := t.sent[key]; ok && now.Sub(last) < t.every && ev.Completed < ev.Total {
		t.held = &ev
		return out
	}
	t.sent[key] = now
	t.held = nil
	return append(out, ev)
}

// flush returns the held count, if any.
func (t *progressThrottle) flush() []store.Progress {
	if t.held == nil {
		return nil
	}
	ev := *t.held
	t.held = nil
	t.sent[firstOf(ev.Digest, ev.Status)] = t.now()
	return []store.Progress{ev}
}

// ollamaCopy is POST /api/copy: a second name for a model in the store.
func (s *Server) ollamaCopy(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaCopyRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	switch {
	case req.Source == "":
		return nil, invalid("source", "source is required")
	case req.Destination == "":
		return nil, invalid("destination", "destination is required")
	case s.cfg.Store == nil:
		return nil, errNoStore("copy")
	}
	f, err := s.models.find(req.Source)
	if err != nil {
		return nil, err
	}
	if f.manifest == nil {
		return nil, invalid("source", "model %s is the file %s, not a model in the store: add it with zhiyan import", f.name, f.path)
	}
	dst, err := store.ParseName(req.Destination)
	if err != nil {
		return nil, invalid("destination", "%v", err)
	}
	if other, ok := s.models.shadowedBy(dst); ok {
		return nil, invalid("destination", "%s is already the name of the file %s", other.name, other.path)
	}
	if err := s.cfg.Store.Copy(f.name, dst.String()); err != nil {
		return nil, fmt.Errorf("copy %s to %s: %w", f.name, dst, err)
	}
	s.log.Info("copied model", "from", f.name, "to", dst.String())
	return nil, nil
}

// ollamaDelete is DELETE /api/delete: a name in the store (its file goes
// when no other name uses it). Files the server was given are the user's
// and are never deleted.
func (s *Server) ollamaDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ollamaModelRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	name, err := req.model()
	if err != nil {
		return nil, err
	}
	f, err := s.models.find(name)
	if err != nil {
		return nil, err
	}
	switch {
	case f.fromCLI:
		return nil, invalid("model", "model %s is the file %s given on the command line: the server does not delete files it was given", f.name, f.path)
	case f.manifest == nil:
		return nil, invalid("model", "model %s is the file %s in the GGUF directory: the server does not delete it; remove it yourself", f.name, f.path)
	}
	// In-flight requests finish on the open file; new ones no longer find it.
	s.models.unloadNow(f.name)
	if err := s.cfg.Store.Remove(f.name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errModelNotFound(name)
		}
		return nil, fmt.Errorf("delete %s: %w", f.name, err)
	}
	s.log.Info("deleted model", "model", f.name)
	return nil, nil
}

// ollamaNotYet answers the routes zhiyan does not offer.
func (s *Server) ollamaNotYet(w http.ResponseWriter, r *http.Request) (any, error) {
	switch r.URL.Path {
	case "/api/create":
		return nil, errNotImplemented("create is not supported: zhiyan has no Modelfiles; add a GGUF file with zhiyan import FILE NAME, or pull one with /api/pull")
	case "/api/push":
		return nil, errNotImplemented("push is not supported: zhiyan pulls from Hugging Face and ModelScope but does not upload")
	}
	return nil, errNotFound
}
