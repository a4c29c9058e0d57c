package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"zhiyan/db"
)

// access is what a route requires of its caller.
type access int

const (
	public   access = iota // anyone (setup, login)
	signedIn               // a session or an API key
	admin                  // an administrator
)

// caller is who sent a request.
type caller struct {
	user    db.User
	session *db.Session // nil when signed in with an API key
	token   string      // the session cookie's value
}

// apiFunc handles one /app request; the value it returns is written as
// JSON, an error through errorStatus. A handler that writes the response
// itself (a stream, a download) returns (nil, nil).
type apiFunc func(w http.ResponseWriter, r *http.Request, c *caller) (any, error)

// httpError is an error with the status it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

var (
	errNotFound     = errorf(http.StatusNotFound, "not found")
	errUnauthorized = errorf(http.StatusUnauthorized, "sign in first")
	errForbidden    = errorf(http.StatusForbidden, "forbidden")
	errCSRF         = errorf(http.StatusForbidden, "missing or wrong CSRF token")
)

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// api wraps f with the checks every /app route shares: who the caller is,
// the CSRF token of state-changing requests made with a session cookie,
// and the JSON answer or error.
func (a *App) api(need access, f func(*http.Request, *caller) (any, error)) http.Handler {
	return a.apiW(need, func(_ http.ResponseWriter, r *http.Request, c *caller) (any, error) { return f(r, c) })
}

func (a *App) apiW(need access, f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		v, err := a.serveAPI(w, r, need, f)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if v != nil {
			writeJSON(w, http.StatusOK, v)
		}
	})
}

func (a *App) serveAPI(w http.ResponseWriter, r *http.Request, need access, f apiFunc) (any, error) {
	c, err := a.identify(r)
	switch {
	case err == nil:
	case errors.Is(err, ErrRateLimited), errors.Is(err, ErrQuotaExceeded):
		return nil, errorf(http.StatusTooManyRequests, "%v", err)
	case need != public:
		return nil, errUnauthorized
	}
	if need == admin && !c.user.Admin {
		return nil, errForbidden
	}
	// Public routes (sign-in, setup) act on no session, so a stale cookie
	// beside them does not matter; logout checks its token itself.
	if need != public && c.session != nil && stateChanging(r.Method) && !csrfOK(r, c.session) {
		return nil, errCSRF
	}
	return f(w, r, c)
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func csrfOK(r *http.Request, s *db.Session) bool {
	got := r.Header.Get("X-CSRF-Token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

func (a *App) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, db.ErrNotFound):
		he = errNotFound.(*httpError)
	case errors.Is(err, db.ErrExists):
		he = &httpError{http.StatusConflict, "already exists"}
	default:
		a.log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		he = &httpError{http.StatusInternalServerError, "internal error"}
	}
	writeJSON(w, he.status, map[string]string{"error": he.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads the request's JSON body into dst. Requiring the JSON content
// type also keeps cross-site HTML forms (which cannot send it without a
// CORS preflight) away from the login and setup routes.
func decode(r *http.Request, dst any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON body: %v", err)
	}
	return nil
}

// pathID reads the numeric path value name.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// securityHeaders keep the UI's pages and answers from being framed,
// sniffed or given script from anywhere but the binary.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}
