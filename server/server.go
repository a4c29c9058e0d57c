// Package server serves GGUF models over HTTP with OpenAI's API (/v1/…) and
// Ollama's (/api/…): chat, completions and embeddings, streamed or not, from
// one scheduler per loaded model. It turns requests into engine requests and
// engine output back into each API's shapes; it knows nothing of tensors or
// terminals.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"zhiyan/bot"
	"zhiyan/db"
	"zhiyan/server/guard"
	"zhiyan/store"
	"zhiyan/web"
)

// Config configures a Server.
type Config struct {
	// Addr is the address served ("127.0.0.1:11435"): it decides which Host
	// headers are accepted and whether API keys are required.
	Addr string
	// Models are GGUF files, each served under its base name without
	// ".gguf".
	Models []string
	// ModelDir holds more models: every *.gguf in it, named likewise.
	ModelDir string
	// Store, when set, serves every model in it under its name
	// ("qwen3:0.6b", "hf.co/user/repo:q4_k_m") and backs /api/pull,
	// /api/copy and /api/delete. A file's name shadows a store name that
	// equals it (or it with ":latest").
	Store *store.Store
	// Pull configures /api/pull's downloads (hubs, tokens, AllowPrivate);
	// its Progress is set per request.
	Pull store.Options
	// AutoPull downloads a model a request names on first use when the
	// store can fetch it (a catalogue name, hf.co/…, modelscope.cn/…).
	AutoPull bool
	// Parallel, Context and Threads size each loaded model's scheduler
	// (slots, positions per slot, threads); 0 takes the engine's defaults.
	Parallel, Context, Threads int
	// KeepAlive is how long a model stays loaded after its last request
	// when the request does not say: 0 unloads at once, < 0 never. The
	// command line's default is DefaultKeepAlive.
	KeepAlive time.Duration
	// MaxLoaded is how many models may be in memory at once; 0 means 1.
	MaxLoaded int
	// APIKeys, when set, are required as "Authorization: Bearer KEY" on
	// every route but /health. They must be set to serve a non-loopback
	// address.
	APIKeys []string
	// AllowedHosts are Host header values accepted besides loopback names
	// (for a reverse proxy's public name).
	AllowedHosts []string
	// AllowedOrigins are browser origins ("https://app.example", "*")
	// allowed to call the API besides the server's own.
	AllowedOrigins []string
	// MaxBody caps request bodies in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// WriteTimeout bounds each write of a response, so a client that stops
	// reading frees its slot; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// DB, when set, turns accounts on: the web chat at "/" with its users,
	// sessions and API keys, which /v1 and /api then accept too.
	DB *db.DB
	// SecureCookies marks the web chat's cookies Secure (served over HTTPS).
	SecureCookies bool
	// RunsDir holds training runs that the web chat's administrators
	// watch live (web.Config.RunsDir); "" for none.
	RunsDir string
	// Channels, when set, serves the chat-platform bots under /channel/
	// (WeChat, WeCom, Feishu, DingTalk); it needs DB. Its DB and Gen are the
	// server's.
	Channels *bot.Config
	// RequireAuth asks for an API key or a session on /v1 and /api even
	// without APIKeys: for accounts on a network address.
	RequireAuth bool
	// Upstreams are models whose generation other OpenAI-compatible
	// servers do (vLLM, SGLang, another zhiyan): requests naming them on
	// the generation and embedding routes are forwarded. An upstream name
	// hides a local model of the same name.
	Upstreams []Upstream
	// UpstreamTimeout is how long an upstream may stay silent, before its
	// answer starts or between streamed events; 0 means
	// DefaultUpstreamTimeout, < 0 no limit.
	UpstreamTimeout time.Duration
	// Logger receives one line per request and model events; nil discards.
	// Prompts and outputs are never logged.
	Logger *slog.Logger
}

// Defaults for Config fields.
const (
	DefaultKeepAlive    = 5 * time.Minute
	DefaultMaxBody      = 8 << 20
	DefaultWriteTimeout = 30 * time.Second
)

// Server is the HTTP API over a set of models.
type Server struct {
	cfg     Config
	log     *slog.Logger
	models  *models
	ups     *upstreams // nil without upstreams
	metrics *serverMetrics
	// embedGate runs one embedding at a time: each uses every core and
	// bypasses the schedulers, so more would only starve generation.
	embedGate *gate
	handler   http.Handler
	web       *web.App // the web chat and accounts; nil without a DB
	bot       *bot.Bot // the chat-platform bots; nil without Channels

	abortCtx context.Context // cancelled when Shutdown's grace period ends
	abort    context.CancelFunc

	mu       sync.Mutex
	draining bool
	active   int           // requests being handled
	idle     chan struct{} // closed once draining with no active request
	http     *http.Server
}

// New checks cfg and its model files; models load on first use.
func New(cfg Config) (*Server, error) {
	if cfg.MaxLoaded <= 0 {
		cfg.MaxLoaded = 1
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Parallel < 0 || cfg.Context < 0 || cfg.Threads < 0 {
		return nil, fmt.Errorf("server: parallel, context and threads must not be negative")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ms, err := newModels(&cfg, log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ups, err := newUpstreams(cfg.Upstreams, cfg.UpstreamTimeout, log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, log: log, models: ms, ups: ups, idle: make(chan struct{}), embedGate: newGate(1, embedQueue(cfg.Parallel))}
	s.abortCtx, s.abort = context.WithCancel(context.Background())
	s.metrics = newServerMetrics(s)
	ups.register(s.metrics.reg)
	opts := guard.Options{
		AllowedHosts:   cfg.AllowedHosts,
		AllowedOrigins: cfg.AllowedOrigins,
		Listen:         cfg.Addr,
		APIKeys:        cfg.APIKeys,
		RequireAuth:    cfg.RequireAuth,
		MaxBody:        cfg.MaxBody,
		Public:         []string{"/health"},
		Reject:         s.reject,
	}
	if cfg.DB != nil {
		if s.web, err = web.New(web.Config{DB: cfg.DB, Gen: assistant{s}, Secure: cfg.SecureCookies, Logger: log, RunsDir: cfg.RunsDir}); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		// The web chat signs its users in itself.
		opts.Public = append(opts.Public, "/")
		opts.PublicPrefixes = []string{"/app/"}
		opts.Authenticate = s.authenticate
	}
	if cfg.Channels != nil {
		if cfg.DB == nil {
			return nil, fmt.Errorf("server: the chat-platform bots need a database")
		}
		c := *cfg.Channels
		c.DB, c.Gen = cfg.DB, botAssistant{s}
		if c.Logger == nil {
			c.Logger = log
		}
		if s.bot, err = bot.New(c); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		// The platforms sign their callbacks; the bots check them.
		opts.PublicPrefixes = append(opts.PublicPrefixes, "/channel/")
	}
	g, err := guard.New(opts)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.handler = g.Wrap(s.routes())
	return s, nil
}

// Handler returns the server's routes behind its Host, key and size checks.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("GET /metrics", s.metrics.handler(s.models.running))
	oa := func(pattern string, f apiFunc) { mux.Handle(pattern, s.api(dialectOpenAI, pattern, f)) }
	oa("POST /v1/chat/completions", s.viaUpstream(s.chatCompletions, s.forwardOpenAI("/chat/completions")))
	oa("POST /v1/completions", s.viaUpstream(s.completions, s.forwardOpenAI("/completions")))
	oa("POST /v1/embeddings", s.viaUpstream(s.embeddings, s.forwardOpenAI("/embeddings")))
	oa("GET /v1/models", s.listModels)
	oa("GET /v1/models/{id...}", s.getModel)
	ol := func(pattern string, f apiFunc) { mux.Handle(pattern, s.api(dialectOllama, pattern, f)) }
	if s.bot != nil {
		mux.Handle("/channel/", http.StripPrefix("/channel", s.bot.Handler()))
	}
	if s.web != nil {
		mux.Handle("GET /{$}", s.web.Handler())
		mux.Handle("/app/", s.web.Handler())
	} else {
		mux.Handle("GET /{$}", s.api(dialectOllama, "GET /{$}", s.ollamaRoot))
	}
	ol("POST /api/chat", s.viaUpstream(s.ollamaChat, s.upstreamOllamaChat))
	ol("POST /api/generate", s.viaUpstream(s.ollamaGenerate, s.upstreamOllamaGenerate))
	ol("POST /api/embed", s.viaUpstream(s.ollamaEmbed, s.upstreamOllamaEmbed))
	ol("POST /api/embeddings", s.viaUpstream(s.ollamaEmbeddings, s.upstreamOllamaEmbeddings))
	ol("GET /api/tags", s.ollamaTags)
	ol("POST /api/show", s.ollamaShow)
	ol("GET /api/ps", s.ollamaPS)
	ol("GET /api/version", s.ollamaVersion)
	ol("DELETE /api/delete", s.ollamaDelete)
	ol("POST /api/pull", s.ollamaPull)
	ol("POST /api/copy", s.ollamaCopy)
	for _, p := range []string{"POST /api/push", "POST /api/create"} {
		ol(p, s.ollamaNotYet)
	}
	// Anything else gets a JSON 404 (or 405) in its API's shape.
	oa("/v1/", s.unknownRoute)
	ol("/", s.unknownRoute)
	return mux
}

// apiFunc handles one request: it returns a value to send as JSON, or an
// error to send in the route's error shape, or (nil, nil) when it has
// written the response itself (streams).
type apiFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// api adapts f: shutdown refusal, cancellation at the end of a shutdown's
// grace period, errors and panics in the dialect's shape, metrics and a log
// line.
func (s *Server) api(d dialect, route string, f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseWriter{ResponseWriter: w}
		defer func() {
			if !rw.wrote {
				rw.status = http.StatusOK // what net/http sends for an empty reply
			}
			s.metrics.request(route, rw.status)
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.status, "took", time.Since(start).Round(time.Microsecond))
		}()
		if !s.enter() {
			d.writeError(rw, errShuttingDown)
			return
		}
		defer s.leave()
		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		defer context.AfterFunc(s.abortCtx, func() { cancel(errShuttingDown) })()
		defer s.recoverPanic(d, rw)
		mctx, record, err := s.meter(ctx, r)
		if err != nil {
			d.writeError(rw, asAPIError(err))
			return
		}
		defer record()
		v, err := f(rw, r.WithContext(mctx))
		if !rw.wrote {
			// A client that does not read its reply must not hold the
			// request (and Shutdown) for ever.
			_ = http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		}
		switch {
		case err != nil && !rw.wrote:
			e := asAPIError(err)
			if e.status >= 500 && e.status != http.StatusServiceUnavailable {
				s.log.Error("request failed", "path", r.URL.Path, "err", err)
			}
			d.writeError(rw, e)
		case err != nil:
			s.log.Warn("request ended with an error after the response started", "path", r.URL.Path, "err", err)
		case v != nil:
			writeJSON(rw, http.StatusOK, v)
		}
	})
}

func (s *Server) recoverPanic(d dialect, rw *responseWriter) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.log.Error("panic serving a request", "panic", v, "stack", string(debug.Stack()))
	if !rw.wrote {
		d.writeError(rw, &apiError{status: http.StatusInternalServerError, typ: "server_error", msg: fmt.Sprintf("internal error: %v", v)})
	}
}

// responseWriter records the status and whether anything was written.
type responseWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reject writes the guard's refusals in the API's shape of the path.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	typ := "invalid_request_error"
	switch status {
	case http.StatusUnauthorized:
		typ = "authentication_error"
	case http.StatusForbidden:
		typ = "permission_error"
	}
	s.metrics.request("rejected", status)
	s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "code", code)
	dialectOf(r.URL.Path).writeError(w, &apiError{status: status, typ: typ, code: code, msg: message})
}

func dialectOf(path string) dialect {
	if strings.HasPrefix(path, "/v1/") {
		return dialectOpenAI
	}
	return dialectOllama
}

// knownPaths are the routes' paths, to tell 405 from 404.
var knownPaths = map[string]bool{
	"/v1/chat/completions": true, "/v1/completions": true, "/v1/embeddings": true, "/v1/models": true,
	"/api/chat": true, "/api/generate": true, "/api/embed": true, "/api/embeddings": true, "/api/tags": true,
	"/api/show": true, "/api/ps": true, "/api/version": true, "/api/delete": true, "/api/pull": true,
	"/api/push": true, "/api/create": true, "/api/copy": true, "/health": true, "/metrics": true,
}

func (s *Server) unknownRoute(w http.ResponseWriter, r *http.Request) (any, error) {
	if knownPaths[r.URL.Path] {
		return nil, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error", code: "method_not_allowed",
			msg: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}
	}
	return nil, errNotFound
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// enter counts a request in, unless the server is draining.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.active++
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.draining && s.active == 0 {
		s.closeIdle()
	}
}

// closeIdle closes s.idle once; s.mu is held.
func (s *Server) closeIdle() {
	select {
	case <-s.idle:
	default:
		close(s.idle)
	}
}

// Serve answers requests on l until Shutdown; it then returns nil.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return nil
	}
	s.http = hs
	s.mu.Unlock()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests (new ones get 503), lets in-flight ones
// finish until ctx ends, then ends the rest (streams get an error event) and
// unloads every model. It returns ctx's error if the grace period ran out.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	if s.active == 0 {
		s.closeIdle()
	}
	hs := s.http
	s.mu.Unlock()

	httpDone := make(chan error, 1)
	if hs != nil {
		go func() { httpDone <- hs.Shutdown(ctx) }()
	} else {
		httpDone <- nil
	}
	var err error
	select {
	case <-s.idle:
	case <-ctx.Done():
		err = ctx.Err()
		s.abort() // generations stop within a decode step
		select {
		case <-s.idle:
		case <-time.After(s.cfg.WriteTimeout):
			s.log.Warn("requests still running after shutdown's grace period")
		}
	}
	if herr := <-httpDone; herr != nil && hs != nil {
		hs.Close()
	}
	if s.bot != nil {
		// Before the models go: the bots finish (or record) their answers.
		if berr := s.bot.Close(); berr != nil {
			s.log.Error("closing the chat-platform bots", "err", berr)
		}
	}
	s.models.closeAll()
	s.ups.closeIdle()
	return err
}

// decodeJSON reads a JSON request body into dst: the body must be valid
// UTF-8 (encoding/json would silently replace bad bytes) and hold exactly
// one JSON value; type errors name the field.
func decodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/plain" ||
			mt == "application/x-www-form-urlencoded") { // curl -d sends the last
			return invalid("", "Content-Type %q is not supported: send application/json", ct)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return invalid("", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("", "the request body is empty: send a JSON object")
	}
	if !utf8.Valid(body) {
		return invalid("", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "the request body holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalid("", "We could not parse the JSON body of your request: %v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		te.Field = strings.ReplaceAll(te.Field, "openAISampling.", "") // an embedded struct, not a field
		if te.Field == "" {
			return invalid("", "the request body must be a JSON object, not %s", te.Value)
		}
		return invalid(te.Field, "invalid type for '%s': expected %s, got %s", te.Field, jsonTypeName(te.Type.String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "We could not parse the JSON body of your request: it ends early")
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return invalid(fe.field, "%s: %s", fe.field, fe.msg)
	}
	return invalid("", "We could not parse the JSON body of your request: %v", err)
}

// fieldError is what custom UnmarshalJSON methods return, naming the field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func jsonTypeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "*int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "server."):
		return "an object"
	}
	return goType
}

// jsonErrText is a decoding error's message without the package prefix.
func jsonErrText(err error) string { return strings.TrimPrefix(err.Error(), "json: ") }
