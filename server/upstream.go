package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"zhiyan/internal/metrics"
	"zhiyan/store"
)

// Upstream is a model whose generation another server does: an
// OpenAI-compatible endpoint such as vLLM, SGLang or another zhiyan.
type Upstream struct {
	// Name is the model name clients ask for here.
	Name string
	// BaseURL is the endpoint's OpenAI base, "http://10.0.0.5:8000/v1":
	// requests go to BaseURL + "/chat/completions" and so on.
	BaseURL string
	// APIKey, when set, is sent upstream as "Authorization: Bearer KEY".
	// Our own clients' credentials are never forwarded.
	APIKey string
	// RemoteModel is the model id upstream; "" means Name.
	RemoteModel string
}

// DefaultUpstreamTimeout is how long an upstream may stay silent when
// Config.UpstreamTimeout is 0.
const DefaultUpstreamTimeout = 5 * time.Minute

// upstreamDialTimeout bounds connecting (and TLS) to an upstream: a server
// that cannot be reached is reported quickly as 502.
const upstreamDialTimeout = 10 * time.Second

// maxUpstreamEvent caps one streamed event (or error body) read from an
// upstream, so a broken one cannot exhaust memory.
const maxUpstreamEvent = 16 << 20

// ParseUpstream reads the command line's "NAME=URL" or
// "NAME=URL#REMOTE-MODEL". The key is set separately.
func ParseUpstream(spec string) (Upstream, error) {
	name, rest, ok := strings.Cut(spec, "=")
	if !ok {
		return Upstream{}, fmt.Errorf("upstream %q: want NAME=URL or NAME=URL#REMOTE-MODEL", spec)
	}
	u := Upstream{Name: strings.TrimSpace(name), BaseURL: strings.TrimSpace(rest)}
	if base, remote, ok := strings.Cut(u.BaseURL, "#"); ok {
		u.BaseURL, u.RemoteModel = base, remote
	}
	if _, err := checkUpstream(u); err != nil {
		return Upstream{}, err
	}
	return u, nil
}

// UpstreamKeyEnv is the environment variable that may hold the upstream
// NAME's key: ZHIYAN_UPSTREAM_KEY_ and NAME in capitals, every other
// character than a letter or digit made '_' ("qwen3:32b" →
// ZHIYAN_UPSTREAM_KEY_QWEN3_32B).
func UpstreamKeyEnv(name string) string {
	var b strings.Builder
	b.WriteString("ZHIYAN_UPSTREAM_KEY_")
	for _, c := range strings.ToUpper(name) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// upstream is a checked Upstream.
type upstream struct {
	Upstream
	base   string // BaseURL without a trailing '/'
	host   string // for logs: never the path, query or key
	digest string
}

func (u *upstream) remote() string {
	if u.RemoteModel != "" {
		return u.RemoteModel
	}
	return u.Name
}

// checkUpstream refuses what cannot work or would leak: a non-HTTP URL,
// credentials in it (use APIKey), names clients could not send.
func checkUpstream(c Upstream) (*upstream, error) {
	switch {
	case c.Name == "":
		return nil, fmt.Errorf("upstream %q: the model name is empty", c.BaseURL)
	case len(c.Name) > 255:
		return nil, fmt.Errorf("upstream %q: the model name is longer than 255 bytes", c.Name)
	case strings.ContainsFunc(c.Name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return nil, fmt.Errorf("upstream %q: the model name may not contain spaces or control characters", c.Name)
	case strings.ContainsFunc(c.RemoteModel, unicode.IsControl):
		return nil, fmt.Errorf("upstream %s: the remote model id may not contain control characters", c.Name)
	case strings.ContainsAny(c.APIKey, "\r\n\x00"):
		return nil, fmt.Errorf("upstream %s: the key may not contain line breaks", c.Name)
	}
	p, err := url.Parse(c.BaseURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("upstream %s: %q is not a URL like http://10.0.0.5:8000/v1", c.Name, c.BaseURL)
	case p.Scheme != "http" && p.Scheme != "https":
		return nil, fmt.Errorf("upstream %s: the URL must be http or https, not %q", c.Name, p.Scheme)
	case p.Host == "":
		return nil, fmt.Errorf("upstream %s: %q is not a URL like http://10.0.0.5:8000/v1", c.Name, c.BaseURL)
	case p.User != nil:
		return nil, fmt.Errorf("upstream %s: the URL may not hold credentials: give the key with --upstream-key", c.Name)
	case p.RawQuery != "" || p.ForceQuery:
		return nil, fmt.Errorf("upstream %s: the URL may not have a query", c.Name)
	}
	sum := sha256.Sum256([]byte(c.Name + "\x00" + c.BaseURL + "\x00" + c.RemoteModel))
	return &upstream{Upstream: c, base: strings.TrimRight(p.String(), "/"), host: p.Host, digest: hex.EncodeToString(sum[:])}, nil
}

// upstreams are the configured upstream models and the client reaching them.
// A nil *upstreams has none.
type upstreams struct {
	byKey   map[string]*upstream // by name without ":latest"
	list    []*upstream          // by name
	client  *http.Client
	timeout time.Duration // of silence; <= 0 none
	started time.Time     // reported as their modification time
	log     *slog.Logger

	requests *metrics.Counter // model, code
	active   *metrics.Gauge   // model
}

func newUpstreams(cfg []Upstream, timeout time.Duration, log *slog.Logger) (*upstreams, error) {
	if len(cfg) == 0 {
		return nil, nil
	}
	if timeout == 0 {
		timeout = DefaultUpstreamTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = upstreamDialTimeout
	tr.MaxIdleConnsPerHost = 16
	us := &upstreams{byKey: map[string]*upstream{}, timeout: timeout, started: time.Now(), log: log,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an error: keys stay with the configured host
		}}}
	for _, c := range cfg {
		u, err := checkUpstream(c)
		if err != nil {
			return nil, err
		}
		key := baseName(u.Name)
		if us.byKey[key] != nil {
			return nil, fmt.Errorf("upstream %s is configured twice", u.Name)
		}
		us.byKey[key] = u
		us.list = append(us.list, u)
		log.Info("upstream model", "model", u.Name, "host", u.host)
	}
	slices.SortFunc(us.list, func(a, b *upstream) int { return strings.Compare(a.Name, b.Name) })
	return us, nil
}

func baseName(name string) string { return strings.TrimSuffix(name, ":"+store.DefaultTag) }

func (us *upstreams) register(r *metrics.Registry) {
	if us == nil {
		return
	}
	us.requests = r.Counter("zhiyan_upstream_requests_total", "Requests sent to upstream servers, by model and upstream status code (\"error\" when none answered).", "model", "code")
	us.active = r.Gauge("zhiyan_upstream_requests_active", "Requests being answered by upstream servers.", "model")
}

// find returns the upstream serving name, or nil.
func (us *upstreams) find(name string) *upstream {
	if us == nil {
		return nil
	}
	return us.byKey[baseName(name)]
}

// shadows reports whether a local model of that name is hidden by an
// upstream one.
func (us *upstreams) shadows(name string) bool { return us.find(name) != nil }

// all lists the upstream models by name.
func (us *upstreams) all() []*upstream {
	if us == nil {
		return nil
	}
	return us.list
}

func (us *upstreams) closeIdle() {
	if us != nil {
		us.client.CloseIdleConnections()
	}
}

// upstreamFunc answers a request for upstream u; body is the request body,
// already read.
type upstreamFunc func(w http.ResponseWriter, r *http.Request, u *upstream, body []byte) (any, error)

// viaUpstream routes requests naming an upstream model to fwd and the rest
// to local. Without upstreams it is local itself.
func (s *Server) viaUpstream(local apiFunc, fwd upstreamFunc) apiFunc {
	if s.ups == nil {
		return local
	}
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, invalid("", "cannot read the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var peek struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(body, &peek) != nil {
			return local(w, r) // its decoding reports the error
		}
		u := s.ups.find(peek.Model)
		if u == nil {
			return local(w, r)
		}
		g := s.ups.active.With(u.Name)
		g.Add(1)
		defer g.Add(-1)
		return fwd(w, r, u, body)
	}
}

// errUpstreamTimeout ends a request whose upstream stayed silent too long.
var errUpstreamTimeout = errors.New("upstream timed out")

// call is one request to an upstream: its context ends when the client's
// does, or when the upstream has been silent for the timeout.
type call struct {
	us     *upstreams
	u      *upstream
	parent context.Context // the client's request
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func (us *upstreams) newCall(parent context.Context, u *upstream) *call {
	c := &call{us: us, u: u, parent: parent}
	c.ctx, c.cancel = context.WithCancelCause(parent)
	if us.timeout > 0 {
		c.timer = time.AfterFunc(us.timeout, func() { c.cancel(errUpstreamTimeout) })
	}
	return c
}

// kick restarts the silence timer: the upstream said something.
func (c *call) kick() {
	if c.timer != nil {
		c.timer.Reset(c.us.timeout)
	}
}

func (c *call) end() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(nil)
}

// post sends payload as JSON to the upstream's path ("/chat/completions").
// An answer other than 2xx is returned as the matching error; the caller
// closes the body of the one returned.
func (c *call) post(path string, payload any) (*http.Response, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding the upstream request: %w", err)
	}
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.u.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("upstream request: %w", err)
	}
	// Only these headers: nothing of the client's (its key above all).
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("User-Agent", "zhiyan")
	if c.u.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.u.APIKey)
	}
	resp, err := c.us.client.Do(req)
	if err != nil {
		c.us.count(c.u, "error")
		return nil, c.failed(err)
	}
	c.kick()
	c.us.count(c.u, strconv.Itoa(resp.StatusCode))
	resp.Body = &kickReader{ReadCloser: resp.Body, c: c}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamEvent))
		e := upstreamError(c.u, resp.StatusCode, resp.Header, data)
		c.us.log.Warn("upstream refused a request", "model", c.u.Name, "host", c.u.host, "status", resp.StatusCode, "err", e.msg)
		return nil, e
	}
	return resp, nil
}

func (us *upstreams) count(u *upstream, code string) {
	if us.requests != nil {
		us.requests.With(u.Name, code).Inc()
	}
}

// failed classifies an error talking to the upstream: the client gone (or
// the server shutting down), the upstream silent, or unreachable.
func (c *call) failed(err error) error {
	if c.parent.Err() != nil {
		return context.Cause(c.parent)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text holds the whole URL; logs get the host only
	}
	if errors.Is(context.Cause(c.ctx), errUpstreamTimeout) {
		c.us.log.Warn("upstream timed out", "model", c.u.Name, "host", c.u.host, "after", c.us.timeout)
		return &apiError{status: http.StatusGatewayTimeout, typ: "server_error", code: "upstream_timeout",
			msg: fmt.Sprintf("upstream error: the server of model %s sent nothing for %v", c.u.Name, c.us.timeout)}
	}
	c.us.log.Warn("upstream unreachable", "model", c.u.Name, "host", c.u.host, "err", err)
	return &apiError{status: http.StatusBadGateway, typ: "server_error", code: "upstream_error",
		msg: fmt.Sprintf("upstream error: cannot reach the server of model %s", c.u.Name)}
}

// kickReader restarts the call's silence timer on every read.
type kickReader struct {
	io.ReadCloser
	c *call
}

func (r *kickReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.c.kick()
	}
	return n, err
}

// upstreamError maps an upstream's refusal to ours: its 4xx pass through
// (404 for an unknown remote model, 429 with Retry-After), but 401 and 403
// mean our configured key is wrong, which the client cannot fix, so they
// become 502 like every 5xx.
func upstreamError(u *upstream, status int, h http.Header, body []byte) *apiError {
	msg, typ, code, param := upstreamErrorBody(body)
	if msg == "" {
		msg = fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	e := &apiError{status: status, typ: typ, code: code, param: param, msg: msg}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err == nil && ra > 0 {
		e.retryAfter = ra
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.status, e.typ, e.code, e.param = http.StatusBadGateway, "server_error", "upstream_error", ""
		e.msg = fmt.Sprintf("upstream error: the server of model %s refused our credentials (%d): %s", u.Name, status, msg)
	case status >= 400 && status < 500:
		if e.typ == "" {
			e.typ = "invalid_request_error"
		}
	default:
		e.status, e.typ, e.code, e.param = http.StatusBadGateway, "server_error", "upstream_error", ""
		e.msg = "upstream error: " + msg
	}
	return e
}

// upstreamErrorBody reads the error bodies servers send: OpenAI's
// {"error":{…}}, Ollama's {"error":"…"}, vLLM's older {"message","type"}
// and FastAPI's {"detail":…}. Codes that are not strings are dropped.
func upstreamErrorBody(body []byte) (msg, typ, code, param string) {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", "", "", ""
	}
	var inner struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Param   json.RawMessage `json:"param"`
	}
	var s string
	switch {
	case json.Unmarshal(v.Error, &s) == nil && s != "":
		return s, "", "", ""
	case json.Unmarshal(v.Error, &inner) == nil && inner.Message != "":
		json.Unmarshal(inner.Code, &code)
		json.Unmarshal(inner.Param, &param)
		return inner.Message, inner.Type, code, param
	case v.Message != "":
		return v.Message, v.Type, "", ""
	case json.Unmarshal(v.Detail, &s) == nil:
		return s, "", "", ""
	case len(v.Detail) > 0:
		return "invalid request: " + string(v.Detail), "", "", ""
	}
	return "", "", "", ""
}

// openAIModels are the upstream models as /v1/models lists them.
func (us *upstreams) openAIModels() []modelObject {
	var out []modelObject
	for _, u := range us.all() {
		out = append(out, u.openAIModel(us.started))
	}
	return out
}

func (u *upstream) openAIModel(created time.Time) modelObject {
	return modelObject{ID: u.Name, Object: "model", Created: created.Unix(), OwnedBy: "upstream"}
}

// upstreamDetails describe an upstream model to Ollama clients: its family
// is "upstream"; nothing else is known here.
func upstreamDetails() ollamaDetails {
	return ollamaDetails{Family: "upstream", Families: []string{"upstream"}}
}

func (us *upstreams) ollamaModels() []ollamaListModel {
	var out []ollamaListModel
	for _, u := range us.all() {
		out = append(out, ollamaListModel{Name: u.Name, Model: u.Name, ModifiedAt: us.started, Digest: u.digest, Details: upstreamDetails()})
	}
	return out
}

// show is /api/show's minimal answer for an upstream model.
func (us *upstreams) show(u *upstream) ollamaShowResponse {
	return ollamaShowResponse{
		Modelfile:    fmt.Sprintf("# %s is served by an upstream OpenAI-compatible server\nFROM %s\n", u.Name, u.Name),
		Details:      upstreamDetails(),
		ModelInfo:    map[string]any{"general.architecture": "upstream"},
		Capabilities: []string{"completion"},
		ModifiedAt:   us.started,
	}
}
