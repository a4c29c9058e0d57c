package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"zhiyan/db"
)

// Cookie names.
const (
	sessionCookie = "zhiyan_session"
	csrfCookie    = "zhiyan_csrf" // readable by the page: the double-submit copy
)

var (
	// ErrUnauthenticated: no valid session cookie or API key.
	ErrUnauthenticated = errors.New("web: no valid session or API key")
	// ErrRateLimited: the API key made more requests this minute than its limit.
	ErrRateLimited = errors.New("web: the API key's rate limit is exceeded")
	// ErrQuotaExceeded: the API key used up its token quota.
	ErrQuotaExceeded = errors.New("web: the API key's token quota is used up")
	// ErrCSRF: a state-changing request signed in with the session cookie
	// lacks the session's X-CSRF-Token.
	ErrCSRF = errors.New("web: missing or wrong CSRF token")
)

const (
	loginWindow   = 5 * time.Minute
	loginFailures = 10 // failed logins per name and window before 429
	setupTTL      = 24 * time.Hour
	minPassword   = 8
)

// Authenticate reports who sent r: a session cookie or an
// "Authorization: Bearer <API key>". A key over its rate limit or quota does
// not authenticate (Identify tells why).
func (a *App) Authenticate(r *http.Request) (db.User, bool) {
	u, _, err := a.Identify(r)
	return u, err == nil
}

// Identify is Authenticate with the API key used (nil for a session) and
// the reason of a refusal: ErrUnauthenticated, ErrRateLimited,
// ErrQuotaExceeded or ErrCSRF (a POST signed in with only the cookie must
// carry X-CSRF-Token, as the UI's own requests do). Each call counts
// against the key's rate limit.
func (a *App) Identify(r *http.Request) (db.User, *db.APIKey, error) {
	if plain, ok := bearer(r); ok {
		k, u, err := a.lookupKey(r.Context(), plain)
		if err != nil {
			return db.User{}, nil, err
		}
		return u, &k, nil
	}
	c, err := a.identify(r)
	if err != nil {
		return db.User{}, nil, err
	}
	if stateChanging(r.Method) && !csrfOK(r, c.session) {
		return db.User{}, nil, ErrCSRF
	}
	return c.user, nil, nil
}

// RecordUsage adds tokens to the key's usage, for its quota.
func (a *App) RecordUsage(ctx context.Context, keyID, tokens int64) error {
	_, err := a.db.AddKeyUsage(ctx, keyID, tokens)
	return err
}

func (a *App) identify(r *http.Request) (*caller, error) {
	if plain, ok := bearer(r); ok {
		_, u, err := a.lookupKey(r.Context(), plain)
		if err != nil {
			return nil, err
		}
		return &caller{user: u}, nil
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, ErrUnauthenticated
	}
	s, u, err := a.db.LookupSession(r.Context(), ck.Value)
	if err != nil {
		if !errors.Is(err, db.ErrNotFound) {
			a.log.Error("web: session lookup", "err", err)
		}
		return nil, ErrUnauthenticated
	}
	return &caller{user: u, session: &s, token: ck.Value}, nil
}

func (a *App) lookupKey(ctx context.Context, plain string) (db.APIKey, db.User, error) {
	k, u, err := a.db.LookupAPIKey(ctx, plain)
	if err != nil {
		if !errors.Is(err, db.ErrNotFound) {
			a.log.Error("web: API key lookup", "err", err)
		}
		return db.APIKey{}, db.User{}, ErrUnauthenticated
	}
	if u.Disabled {
		return db.APIKey{}, db.User{}, ErrUnauthenticated
	}
	if k.Limits.TokenQuota > 0 && k.TokensUsed >= k.Limits.TokenQuota {
		return db.APIKey{}, db.User{}, ErrQuotaExceeded
	}
	if rpm := k.Limits.RequestsPerMinute; rpm > 0 && !a.keyRate.allow(fmt.Sprint(k.ID), rpm) {
		return db.APIKey{}, db.User{}, ErrRateLimited
	}
	return k, u, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// SetupLink creates the one-time link that makes the first administrator,
// valid for a day; it returns "" when there are users already. The token
// travels in the URL's fragment, which browsers send to no server.
func (a *App) SetupLink(ctx context.Context, baseURL string) (string, error) {
	n, err := a.db.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("web: setup link: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	tok, err := a.db.CreateSetupToken(ctx, setupTTL)
	if err != nil {
		return "", fmt.Errorf("web: setup link: %w", err)
	}
	return strings.TrimRight(baseURL, "/") + "/#setup=" + url.QueryEscape(tok), nil
}

type credentials struct {
	Token    string `json:"token,omitempty"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// sessionInfo is what the page learns about its session.
type sessionInfo struct {
	User userJSON `json:"user"`
	CSRF string   `json:"csrf,omitempty"`
}

func (a *App) setup(w http.ResponseWriter, r *http.Request, _ *caller) (any, error) {
	var in credentials
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := checkAccount(in.Name, in.Password); err != nil {
		return nil, err
	}
	n, err := a.db.CountUsers(r.Context())
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, errorf(http.StatusConflict, "setup is done already: sign in")
	}
	if err := a.db.ConsumeSetupToken(r.Context(), in.Token); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, errorf(http.StatusForbidden, "the setup link is invalid or used")
		}
		return nil, err
	}
	u, err := a.db.CreateUser(r.Context(), strings.TrimSpace(in.Name), in.Password, true)
	if err != nil {
		return nil, err
	}
	a.log.Info("web: administrator created", "name", u.Name)
	return a.startSession(w, r, u)
}

func (a *App) login(w http.ResponseWriter, r *http.Request, _ *caller) (any, error) {
	var in credentials
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	name := strings.ToLower(strings.TrimSpace(in.Name))
	if a.logins.count(name) >= loginFailures {
		return nil, errorf(http.StatusTooManyRequests, "too many failed sign-ins; wait a few minutes")
	}
	u, err := a.db.Authenticate(r.Context(), strings.TrimSpace(in.Name), in.Password)
	if errors.Is(err, db.ErrBadCredentials) || (err == nil && u.Disabled) {
		a.logins.allow(name, loginFailures)
		return nil, errorf(http.StatusUnauthorized, "wrong name or password")
	}
	if err != nil {
		return nil, err
	}
	return a.startSession(w, r, u)
}

func (a *App) startSession(w http.ResponseWriter, r *http.Request, u db.User) (any, error) {
	tok, s, err := a.db.CreateSession(r.Context(), u.ID, a.ttl)
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, a.cookie(sessionCookie, tok, s.Expires, true))
	http.SetCookie(w, a.cookie(csrfCookie, s.CSRF, s.Expires, false))
	return sessionInfo{User: toUserJSON(u), CSRF: s.CSRF}, nil
}

func (a *App) cookie(name, value string, expires time.Time, httpOnly bool) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: httpOnly, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// logout ends the caller's session. It is public so a stale page can always
// clear its cookies, but a live session needs its CSRF token.
func (a *App) logout(w http.ResponseWriter, r *http.Request, c *caller) (any, error) {
	if c != nil && c.session != nil {
		if !csrfOK(r, c.session) {
			return nil, errCSRF
		}
		if err := a.db.DeleteSession(r.Context(), c.token); err != nil {
			return nil, err
		}
	}
	http.SetCookie(w, a.cookie(sessionCookie, "", time.Time{}, true))
	http.SetCookie(w, a.cookie(csrfCookie, "", time.Time{}, false))
	return map[string]bool{"ok": true}, nil
}

func (a *App) session(r *http.Request, c *caller) (any, error) {
	info := sessionInfo{User: toUserJSON(c.user)}
	if c.session != nil {
		info.CSRF = c.session.CSRF
	}
	return info, nil
}

func checkAccount(name, password string) error {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 || strings.ContainsAny(name, "\x00\r\n\t") {
		return errorf(http.StatusBadRequest, "the name must have 1 to 64 characters")
	}
	return checkPassword(password)
}

func checkPassword(p string) error {
	if utf8.RuneCountInString(p) < minPassword || len(p) > 1024 {
		return errorf(http.StatusBadRequest, "the password must have at least %d characters", minPassword)
	}
	return nil
}
