// Package web serves zhiyan's browser chat: the embedded UI at "/" and the
// JSON API it talks to under "/app/", with accounts, sessions and CSRF checks.
// It stores through package db and generates through a Generator the server
// provides; it knows nothing of models, engines or the OpenAI/Ollama APIs.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
)

// Generator produces a chat answer; the server implements it.
type Generator interface {
	// Models lists the names a conversation may pick.
	Models(ctx context.Context) []string
	// Chat streams the answer to req through emit; an error from emit, or
	// the cancellation of ctx, ends the generation.
	Chat(ctx context.Context, req ChatRequest, emit func(Delta) error) (Usage, error)
}

// ChatRequest is one generation for a conversation.
type ChatRequest struct {
	Model       string
	Messages    []chat.Message // the system prompt first, when there is one
	Temperature *float64       // nil = the model's default
	TopP        *float64
	MaxTokens   int   // 0 = the server's limit
	Think       *bool // nil = the template's default
}

// Delta is a piece of the answer as it streams.
type Delta struct {
	Content   string `json:"content,omitempty"`
	Reasoning string `json:"reasoning,omitempty"`
}

// Usage describes a finished generation.
type Usage struct {
	PromptTokens, CompletionTokens int
	Duration                       time.Duration
	FinishReason                   string // "stop", "length", "cancelled"
}

// Config configures an App.
type Config struct {
	DB     *db.DB
	Gen    Generator
	Secure bool // mark cookies Secure (the site is served over HTTPS)
	Logger *slog.Logger
	// RunsDir holds training runs (`zhiyan train --out RUNSDIR/NAME`) that
	// administrators watch live; "" for none.
	RunsDir string

	SessionTTL time.Duration    // 0 = 30 days
	Now        func() time.Time // the clock of rate limits and of runs' status; nil = time.Now
}

// App is the web chat: UI, JSON API and authentication.
type App struct {
	db     *db.DB
	gen    Generator
	secure bool
	log    *slog.Logger
	ttl    time.Duration
	now    func() time.Time

	keyRate *limiter // API-key requests per minute, by key id
	logins  *limiter // failed logins, by lower-cased name
	runs    runs     // the training runs directory and what was read of it

	mu      sync.Mutex
	running map[string]bool // conversations streaming an answer here
	handler http.Handler
}

// New checks cfg and builds the App.
func New(cfg Config) (*App, error) {
	if cfg.DB == nil {
		return nil, errors.New("web: Config.DB is nil")
	}
	if cfg.Gen == nil {
		return nil, errors.New("web: Config.Gen is nil")
	}
	a := &App{
		db:      cfg.DB,
		gen:     cfg.Gen,
		secure:  cfg.Secure,
		log:     cfg.Logger,
		ttl:     cfg.SessionTTL,
		now:     cfg.Now,
		running: map[string]bool{},
		runs:    runs{dir: cfg.RunsDir, state: map[string]*runState{}},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.ttl <= 0 {
		a.ttl = 30 * 24 * time.Hour
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.keyRate = newLimiter(time.Minute, a.now)
	a.logins = newLimiter(loginWindow, a.now)
	a.handler = a.routes()
	return a, nil
}

// Handler serves "/" (the UI) and "/app/..." (its JSON API).
func (a *App) Handler() http.Handler { return a.handler }

func (a *App) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", a.index)
	m.HandleFunc("GET /app/static/{file...}", a.static)

	m.Handle("POST /app/setup", a.apiW(public, a.setup))
	m.Handle("POST /app/login", a.apiW(public, a.login))
	m.Handle("POST /app/logout", a.apiW(public, a.logout))
	m.Handle("GET /app/session", a.api(signedIn, a.session))

	m.Handle("GET /app/models", a.api(signedIn, a.models))
	m.Handle("GET /app/presets", a.api(signedIn, a.presets))
	m.Handle("POST /app/presets", a.api(signedIn, a.savePreset))
	m.Handle("DELETE /app/presets/{id}", a.api(signedIn, a.deletePreset))
	m.Handle("POST /app/presets/restore", a.api(signedIn, a.restorePresets))

	m.Handle("GET /app/conversations", a.api(signedIn, a.conversations))
	m.Handle("POST /app/conversations", a.api(signedIn, a.createConversation))
	m.Handle("GET /app/conversations/{id}", a.api(signedIn, a.conversation))
	m.Handle("PATCH /app/conversations/{id}", a.api(signedIn, a.updateConversation))
	m.Handle("DELETE /app/conversations/{id}", a.api(signedIn, a.deleteConversation))
	m.Handle("GET /app/conversations/{id}/export", a.apiW(signedIn, a.export))
	m.Handle("POST /app/conversations/{id}/messages", a.apiW(signedIn, a.postMessage))

	m.Handle("GET /app/admin/users", a.api(admin, a.users))
	m.Handle("POST /app/admin/users", a.api(admin, a.createUser))
	m.Handle("PATCH /app/admin/users/{id}", a.api(admin, a.updateUser))
	m.Handle("DELETE /app/admin/users/{id}", a.api(admin, a.deleteUser))
	m.Handle("GET /app/admin/keys", a.api(admin, a.keys))
	m.Handle("POST /app/admin/keys", a.api(admin, a.createKey))
	m.Handle("DELETE /app/admin/keys/{id}", a.api(admin, a.revokeKey))
	m.Handle("GET /app/admin/conversations", a.api(admin, a.allConversations))
	m.Handle("GET /app/admin/conversations/{id}", a.api(admin, a.anyConversation))
	m.Handle("GET /app/admin/runs", a.api(admin, a.listRuns))
	m.Handle("GET /app/admin/runs/{name}", a.api(admin, a.getRun))

	m.Handle("/app/", a.api(public, func(*http.Request, *caller) (any, error) {
		return nil, errNotFound
	}))
	return m
}

// claim marks conversation id as streaming here; false when it already is
// (a second tab sending at once would interleave the answers).
func (a *App) claim(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running[id] {
		return false
	}
	a.running[id] = true
	return true
}

func (a *App) release(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, id)
}
