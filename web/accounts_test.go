package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSetupLinkMakesTheFirstAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	link, err := e.app.SetupLink(ctx, e.srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	prefix := e.srv.URL + "/#setup="
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("SetupLink = %q, want %s…", link, prefix)
	}
	token, _ := url.QueryUnescape(strings.TrimPrefix(link, prefix))

	c := e.client(t)
	c.call("POST", "/app/setup", credentials{Token: "wrong", Name: "root", Password: "long enough"}, http.StatusForbidden, nil)
	c.call("POST", "/app/setup", credentials{Token: token, Name: "root", Password: "short"}, http.StatusBadRequest, nil)
	var s sessionInfo
	c.call("POST", "/app/setup", credentials{Token: token, Name: "root", Password: "long enough"}, http.StatusOK, &s)
	if !s.User.Admin || s.User.Name != "root" || s.CSRF == "" {
		t.Fatalf("setup = %+v, want a signed-in administrator", s)
	}
	c.csrf = s.CSRF
	c.call("GET", "/app/admin/users", nil, http.StatusOK, nil)

	// The link is spent, and no new one is made once there is a user.
	e.client(t).call("POST", "/app/setup", credentials{Token: token, Name: "evil", Password: "long enough"}, http.StatusConflict, nil)
	if link, err := e.app.SetupLink(ctx, e.srv.URL); err != nil || link != "" {
		t.Errorf("SetupLink with users = %q, %v; want \"\"", link, err)
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "dora", false)
	// Cookies: the session is HttpOnly and Lax; the CSRF copy is readable.
	resp := c.do("POST", "/app/login", credentials{Name: "dora", Password: "password-dora"}, nil)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.SameSite != http.SameSiteLaxMode || ck.Secure {
			t.Errorf("cookie %s: SameSite %v Secure %v, want Lax and not Secure (not configured)", ck.Name, ck.SameSite, ck.Secure)
		}
		if (ck.Name == sessionCookie) != ck.HttpOnly {
			t.Errorf("cookie %s: HttpOnly %v", ck.Name, ck.HttpOnly)
		}
	}
	c.login("dora", "password-dora", http.StatusOK)
	c.call("GET", "/app/session", nil, http.StatusOK, nil)
	c.call("POST", "/app/logout", nil, http.StatusOK, nil)
	c.call("GET", "/app/session", nil, http.StatusUnauthorized, nil)

	e.client(t).login("dora", "wrong password", http.StatusUnauthorized)
	e.client(t).login("nobody", "password-dora", http.StatusUnauthorized)

	// A cross-site form cannot post the JSON the sign-in wants.
	form, err := http.Post(e.srv.URL+"/app/login", "application/x-www-form-urlencoded", strings.NewReader("name=dora&password=password-dora"))
	if err != nil {
		t.Fatal(err)
	}
	form.Body.Close()
	if form.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form login = %d, want 415", form.StatusCode)
	}
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t)
	e.app.secure = true
	e.user(t, "sec", false)
	c := e.client(t)
	resp := c.do("POST", "/app/login", credentials{Name: "sec", Password: "password-sec"}, nil)
	resp.Body.Close()
	if len(resp.Cookies()) == 0 {
		t.Fatal("no cookies")
	}
	for _, ck := range resp.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure with Config.Secure", ck.Name)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.user(t, "eve", false)
	c := e.client(t)
	for range loginFailures {
		c.login("eve", "guess", http.StatusUnauthorized)
	}
	c.login("eve", "password-eve", http.StatusTooManyRequests)
}

func TestAdminManagesUsers(t *testing.T) {
	e := newEnv(t)
	admin := e.user(t, "root", true)
	user := e.user(t, "frank", false)
	user.call("GET", "/app/admin/users", nil, http.StatusForbidden, nil)
	user.call("POST", "/app/admin/keys", map[string]any{"name": "k"}, http.StatusForbidden, nil)

	var g userJSON
	admin.call("POST", "/app/admin/users", map[string]any{"name": "grace", "password": "grace-pass"}, http.StatusOK, &g)
	admin.call("POST", "/app/admin/users", map[string]any{"name": "GRACE", "password": "grace-pass"}, http.StatusConflict, nil)
	e.client(t).login("grace", "grace-pass", http.StatusOK)

	// Disabling ends the user's sessions and sign-ins.
	id := user.user.ID
	admin.call("PATCH", "/app/admin/users/"+itoa(id), map[string]any{"disabled": true}, http.StatusOK, nil)
	user.call("GET", "/app/session", nil, http.StatusUnauthorized, nil)
	e.client(t).login("frank", "password-frank", http.StatusUnauthorized)
	admin.call("PATCH", "/app/admin/users/"+itoa(id), map[string]any{"disabled": false, "password": "new-password"}, http.StatusOK, nil)
	e.client(t).login("frank", "new-password", http.StatusOK)

	// No locking oneself out.
	admin.call("PATCH", "/app/admin/users/"+itoa(admin.user.ID), map[string]any{"disabled": true}, http.StatusBadRequest, nil)
	admin.call("DELETE", "/app/admin/users/"+itoa(admin.user.ID), nil, http.StatusBadRequest, nil)

	admin.call("DELETE", "/app/admin/users/"+itoa(g.ID), nil, http.StatusOK, nil)
	admin.call("DELETE", "/app/admin/users/"+itoa(g.ID), nil, http.StatusNotFound, nil)
	var list struct{ Users []userJSON }
	admin.call("GET", "/app/admin/users", nil, http.StatusOK, &list)
	if len(list.Users) != 2 {
		t.Errorf("users = %+v, want root and frank", list.Users)
	}
}

// clock is a settable clock for the rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	clk := &clock{t: time.Unix(1e9, 0)}
	e.app.keyRate = newLimiter(time.Minute, clk.now)
	admin := e.user(t, "root", true)
	user := e.user(t, "hana", false)

	var k struct {
		Key    string  `json:"key"`
		APIKey keyJSON `json:"api_key"`
	}
	admin.call("POST", "/app/admin/keys", map[string]any{"name": "bot", "user_id": user.user.ID, "requests_per_minute": 2, "token_quota": 100}, http.StatusOK, &k)
	bearer := http.Header{"Authorization": {"Bearer " + k.Key}}
	anon := e.client(t)
	status := func() int {
		r := anon.do("GET", "/app/session", nil, bearer)
		r.Body.Close()
		return r.StatusCode
	}
	req, _ := http.NewRequest("GET", "/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
	if u, ok := e.app.Authenticate(req); !ok || u.ID != user.user.ID {
		t.Fatalf("Authenticate(key) = %+v, %v; want the key's user", u, ok)
	}
	if got := status(); got != http.StatusOK {
		t.Errorf("second request = %d, want 200", got)
	}
	if got := status(); got != http.StatusTooManyRequests {
		t.Errorf("third request in a minute = %d, want 429", got)
	}
	clk.add(time.Minute)
	if got := status(); got != http.StatusOK {
		t.Errorf("a minute later = %d, want 200", got)
	}
	// A key is no session: no CSRF token is needed with it.
	r := anon.do("POST", "/app/conversations", conversationInput{}, bearer)
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Errorf("POST with a key = %d, want 200", r.StatusCode)
	}

	clk.add(time.Minute)
	if err := e.app.RecordUsage(context.Background(), k.APIKey.ID, 100); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.app.Identify(req); err != ErrQuotaExceeded {
		t.Errorf("Identify over quota = %v, want ErrQuotaExceeded", err)
	}
	admin.call("DELETE", "/app/admin/keys/"+itoa(k.APIKey.ID), nil, http.StatusOK, nil)
	if _, ok := e.app.Authenticate(req); ok {
		t.Error("a revoked key still authenticates")
	}
	// A session authenticates through the same call.
	sreq, _ := http.NewRequest("GET", "/api/tags", nil)
	for _, ck := range user.hc.Jar.Cookies(mustParse(t, e.srv.URL)) {
		sreq.AddCookie(ck)
	}
	if u, ok := e.app.Authenticate(sreq); !ok || u.Name != "hana" {
		t.Errorf("Authenticate(session) = %+v, %v", u, ok)
	}
	// A POST with only the cookie needs the CSRF token too.
	post, _ := http.NewRequest("POST", "/v1/chat/completions", nil)
	for _, ck := range user.hc.Jar.Cookies(mustParse(t, e.srv.URL)) {
		post.AddCookie(ck)
	}
	if _, _, err := e.app.Identify(post); err != ErrCSRF {
		t.Errorf("Identify(cookie POST without token) = %v, want ErrCSRF", err)
	}
	post.Header.Set("X-CSRF-Token", user.csrf)
	if _, ok := e.app.Authenticate(post); !ok {
		t.Error("Authenticate(cookie POST with token) failed")
	}
}

func TestLimiter(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	l := newLimiter(time.Minute, clk.now)
	steps := []struct {
		advance time.Duration
		want    bool
	}{{0, true}, {10 * time.Second, true}, {10 * time.Second, false}, {40 * time.Second, true}, {0, false}, {10 * time.Second, true}}
	for i, s := range steps {
		clk.add(s.advance)
		if got := l.allow("k", 2); got != s.want {
			t.Errorf("step %d: allow = %v, want %v", i, got, s.want)
		}
	}
	if n := l.count("other"); n != 0 {
		t.Errorf("count(other) = %d", n)
	}
	// Stale keys are swept once there are many.
	for i := range maxKeys + 1 {
		l.allow(strconv.Itoa(i), 1)
	}
	clk.add(time.Minute)
	l.allow("new", 1)
	if n := len(l.events); n != 1 {
		t.Errorf("%d keys kept after a sweep, want 1", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
