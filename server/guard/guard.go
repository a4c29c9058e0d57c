// Package guard is the safety layer in front of the HTTP API: it refuses
// foreign Host names (DNS rebinding), cross-origin browser requests, missing
// or wrong API keys and oversized bodies. It knows nothing about the routes
// behind it; the server supplies the shape of its error replies.
package guard

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// DefaultMaxBody is the body limit when Options.MaxBody is 0.
const DefaultMaxBody = 8 << 20

// Codes passed to Options.Reject, so the server can map them to its API's errors.
const (
	CodeHostNotAllowed   = "host_not_allowed"   // 403
	CodeOriginNotAllowed = "origin_not_allowed" // 403
	CodeMissingAPIKey    = "missing_api_key"    // 401
	CodeInvalidAPIKey    = "invalid_api_key"    // 401
	CodeBodyTooLarge     = "request_too_large"  // 413
)

// Options configures a Guard.
type Options struct {
	// Listen is the address served (host:port); it decides the Host default.
	// Empty counts as loopback, the strict choice.
	Listen string
	// AllowedHosts are Host header values accepted besides loopback names and
	// IPs: "name" (any port), "name:port", or "*" for any. Empty means
	// loopback only when Listen is loopback, and any host otherwise (API keys
	// are then required: see RequireKeyOffLoopback).
	AllowedHosts []string
	// AllowedOrigins are browser origins, besides the server's own, that may
	// call the API: "scheme://host[:port]", "scheme://host:*" for any port,
	// or "*" for any. Their requests get CORS headers and preflights answers.
	AllowedOrigins []string
	// APIKeys, when any are given, are required as "Authorization: Bearer KEY"
	// or "X-Api-Key: KEY". Only their SHA-256 digests are kept.
	APIKeys []string
	// RequireAuth asks for credentials even when no APIKeys are given: then
	// only Authenticate can let a request through.
	RequireAuth bool
	// Authenticate, when set, accepts credentials besides APIKeys (the
	// accounts' keys and sessions), and is asked when no APIKey matches. The
	// request it returns (with what it learnt in its context) goes on to
	// the handler.
	Authenticate func(r *http.Request) (*http.Request, bool)
	// Public are paths served without a key, such as "/health"; exact match.
	Public []string
	// PublicPrefixes are path prefixes served without a key, such as a web
	// application that signs its users in itself.
	PublicPrefixes []string
	// MaxBody is the largest request body in bytes; 0 means DefaultMaxBody,
	// a negative value no limit.
	MaxBody int64
	// Reject writes a refusal in the API's error shape; nil writes plain text.
	Reject func(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// Guard checks requests before they reach the API.
type Guard struct {
	anyHost   bool
	hosts     []hostPattern
	anyOrigin bool
	origins   []originPattern
	keys      [][sha256.Size]byte
	required  bool
	authn     func(r *http.Request) (*http.Request, bool)
	public    map[string]bool
	prefixes  []string
	maxBody   int64
	reject    func(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// New checks the options and returns a Guard.
func New(o Options) (*Guard, error) {
	g := &Guard{public: map[string]bool{}, maxBody: o.MaxBody, reject: o.Reject, authn: o.Authenticate}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxBody
	}
	if g.reject == nil {
		g.reject = func(w http.ResponseWriter, _ *http.Request, status int, _, message string) {
			http.Error(w, message, status)
		}
	}
	g.anyHost = len(o.AllowedHosts) == 0 && o.Listen != "" && !loopbackListen(o.Listen)
	for _, h := range o.AllowedHosts {
		if h == "*" {
			g.anyHost = true
			continue
		}
		p, err := parseHostPattern(h)
		if err != nil {
			return nil, fmt.Errorf("guard: allowed host %q: %w", h, err)
		}
		g.hosts = append(g.hosts, p)
	}
	for _, o := range o.AllowedOrigins {
		if o == "*" {
			g.anyOrigin = true
			continue
		}
		p, err := parseOrigin(o, true)
		if err != nil {
			return nil, fmt.Errorf("guard: allowed origin %q: %w", o, err)
		}
		g.origins = append(g.origins, p)
	}
	for i, k := range o.APIKeys {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("guard: API key %d is empty or holds spaces or control characters", i+1)
		}
		g.keys = append(g.keys, sha256.Sum256([]byte(k)))
	}
	g.required = len(g.keys) > 0 || o.RequireAuth
	if g.required && len(g.keys) == 0 && g.authn == nil {
		return nil, fmt.Errorf("guard: credentials are required but neither API keys nor an authenticator are given")
	}
	for _, p := range append(slices.Clone(o.Public), o.PublicPrefixes...) {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("guard: public path %q does not start with /", p)
		}
	}
	for _, p := range o.Public {
		g.public[p] = true
	}
	g.prefixes = o.PublicPrefixes
	return g, nil
}

// KeyRequired reports whether requests to non-public paths need credentials.
func (g *Guard) KeyRequired() bool { return g.required }

func (g *Guard) isPublic(path string) bool {
	if g.public[path] {
		return true
	}
	for _, p := range g.prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// RequireKeyOffLoopback returns an error when listen is not a loopback
// address and no API key is configured: an open server on a network is
// how unauthenticated model servers end up on the internet. An empty host
// (":11435") means every interface, and host names other than localhost
// are not resolved, so both count as off loopback.
func RequireKeyOffLoopback(listen string, keys int) error {
	if keys > 0 || loopbackListen(listen) {
		return nil
	}
	return fmt.Errorf("refusing to serve %q without an API key: only loopback addresses (127.0.0.1, ::1, localhost) may be served without one", listen)
}

// Wrap returns h behind the checks, in this order: Host, Origin (answering
// CORS preflights of allowed origins), API key, body size. A body without
// Content-Length is cut at the limit while h reads it; h should answer 413
// when TooLarge reports the read error.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostAllowed(r.Host) {
			g.reject(w, r, http.StatusForbidden, CodeHostNotAllowed,
				fmt.Sprintf("host %q is not allowed; add it to the allowed hosts to serve it", r.Host))
			return
		}
		if done := g.checkOrigin(w, r); done {
			return
		}
		if g.required && !g.isPublic(r.URL.Path) {
			if code, msg := g.checkKey(r); code != "" {
				ok := false
				if g.authn != nil {
					r, ok = g.authn(r)
				}
				if !ok {
					w.Header().Set("WWW-Authenticate", `Bearer realm="zhiyan"`)
					g.reject(w, r, http.StatusUnauthorized, code, msg)
					return
				}
			}
		}
		if g.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > g.maxBody {
				g.reject(w, r, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
					fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, g.maxBody))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
		}
		h.ServeHTTP(w, r)
	})
}

// TooLarge reports whether err comes from reading past the body limit.
func TooLarge(err error) bool {
	var e *http.MaxBytesError
	return errors.As(err, &e)
}

// checkKey returns an error code and message, or "" when the key is valid.
func (g *Guard) checkKey(r *http.Request) (code, message string) {
	key, found := "", false
	if scheme, k, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		key, found = strings.TrimSpace(k), true
	} else if k := r.Header.Get("X-Api-Key"); k != "" {
		key, found = k, true
	} else if r.Header.Get("Authorization") != "" {
		found = true // another scheme, such as Basic: not a key of ours
	}
	switch {
	case !found:
		return CodeMissingAPIKey, "an API key is required: send Authorization: Bearer KEY"
	case !g.keyValid(key):
		return CodeInvalidAPIKey, "invalid API key"
	}
	return "", ""
}

// keyValid compares digests, so neither the key's length nor where it
// first differs shows in the time taken, and compares all keys, so neither
// does which key matched.
func (g *Guard) keyValid(key string) bool {
	d := sha256.Sum256([]byte(key))
	match := 0
	for i := range g.keys {
		match |= subtle.ConstantTimeCompare(d[:], g.keys[i][:])
	}
	return match == 1
}
