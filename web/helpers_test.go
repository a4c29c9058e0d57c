package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/db"
	"zhiyan/engine"
	"zhiyan/internal/golden"
	"zhiyan/sample"
)

// engineGen generates with the real engine: the golden qwen2-mini behind
// a Scheduler, greedy, as the server would.
type engineGen struct {
	name  string
	eng   *engine.Engine
	sched *engine.Scheduler
	pace  time.Duration // wait before each token (lets a test stop mid-answer)
}

var (
	genOnce sync.Once
	genEng  *engine.Engine
	genErr  error
)

// newEngineGen opens the golden model once per test binary and starts a
// scheduler for t.
func newEngineGen(t *testing.T) *engineGen {
	t.Helper()
	path := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	genOnce.Do(func() { genEng, genErr = engine.Open(path) })
	if genErr != nil {
		t.Fatal(genErr)
	}
	s := genEng.NewScheduler(engine.SchedulerOptions{Parallel: 2, Context: 1024, Threads: 2})
	t.Cleanup(s.Close)
	return &engineGen{name: "qwen2-mini", eng: genEng, sched: s}
}

func (g *engineGen) Models(context.Context) []string { return []string{g.name} }

func (g *engineGen) Chat(ctx context.Context, req ChatRequest, emit func(Delta) error) (Usage, error) {
	text, err := g.eng.ChatPrompt(req.Messages, engine.PromptOptions{Thinking: req.Think})
	if err != nil {
		return Usage{}, err
	}
	p := sample.DefaultParams()
	p.Temperature = 0
	max := req.MaxTokens
	if max == 0 {
		max = 24
	}
	r, err := g.sched.Generate(ctx, engine.Request{
		Prompt:    g.eng.Tokenizer.Encode(text, true, true),
		MaxTokens: max,
		Stop:      g.eng.Format.StopStrings(),
		Sampling:  p,
	}, func(tok engine.Token) error {
		if g.pace > 0 {
			select {
			case <-time.After(g.pace):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if tok.Text == "" {
			return nil
		}
		return emit(Delta{Content: tok.Text})
	})
	return Usage{PromptTokens: r.PromptTokens + r.CachedTokens, CompletionTokens: r.Tokens,
		Duration: r.PromptDuration + r.GenerateDuration, FinishReason: r.Reason}, err
}

// env is an App on a real loopback server with a fresh SQLite database.
type env struct {
	app *App
	db  *db.DB
	gen *engineGen
	srv *httptest.Server

	dbFile string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gen := newEngineGen(t)
	file := filepath.Join(t.TempDir(), "zhiyan.db")
	d, err := db.Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	app, err := New(Config{DB: d, Gen: gen})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return &env{app: app, db: d, gen: gen, srv: srv, dbFile: file}
}

// client is a browser-like client: a cookie jar and the CSRF token its
// session was given.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
	user userJSON
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.srv.URL, hc: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// user creates a user in the database and signs a client in as them.
func (e *env) user(t *testing.T, name string, admin bool) *client {
	t.Helper()
	if _, err := e.db.CreateUser(context.Background(), name, "password-"+name, admin); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.login(name, "password-"+name, http.StatusOK)
	return c
}

func (c *client) login(name, password string, want int) {
	c.t.Helper()
	var s sessionInfo
	c.call("POST", "/app/login", credentials{Name: name, Password: password}, want, &s)
	c.csrf, c.user = s.CSRF, s.User
}

// do sends a request with the CSRF header (when the client has a token)
// and a JSON body (when body is not nil).
func (c *client) do(method, path string, body any, header http.Header) *http.Response {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// call makes a JSON request, checks the status and decodes the answer
// into out (when not nil).
func (c *client) call(method, path string, body any, want int, out any) {
	c.t.Helper()
	resp := c.do(method, path, body, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, bytes.TrimSpace(b), want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

type event struct {
	name string
	data json.RawMessage
}

// readEvents parses a Server-Sent Events body to its end.
func readEvents(t *testing.T, r io.Reader) []event {
	t.Helper()
	var evs []event
	var cur event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				evs = append(evs, cur)
			}
			cur = event{}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = json.RawMessage(line[6:])
		}
	}
	return evs
}

// newConversation creates a conversation and returns its id.
func (c *client) newConversation(body conversationInput) conversationJSON {
	c.t.Helper()
	var cv conversationJSON
	c.call("POST", "/app/conversations", body, http.StatusOK, &cv)
	return cv
}

// chat sends a turn and reads the whole answer stream.
func (c *client) chat(id string, in messageInput) []event {
	c.t.Helper()
	resp := c.do("POST", "/app/conversations/"+id+"/messages", in, nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("POST messages = %d %s", resp.StatusCode, b)
	}
	return readEvents(c.t, resp.Body)
}

func ptr[T any](v T) *T { return &v }

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
