package guard

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAPIKeys(t *testing.T) {
	g := mustNew(t, Options{Listen: "127.0.0.1:11435", APIKeys: []string{"sk-right", "sk-other"}, Public: []string{"/health"}})
	if !g.KeyRequired() {
		t.Fatal("KeyRequired() = false with keys")
	}
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		code    string // "" = allowed
	}{
		{"missing", "/v1/models", nil, CodeMissingAPIKey},
		{"right", "/v1/models", map[string]string{"Authorization": "Bearer sk-right"}, ""},
		{"second key", "/v1/models", map[string]string{"Authorization": "Bearer sk-other"}, ""},
		{"scheme case", "/v1/models", map[string]string{"Authorization": "bearer sk-right"}, ""},
		{"extra spaces", "/v1/models", map[string]string{"Authorization": "Bearer   sk-right "}, ""},
		{"wrong", "/v1/models", map[string]string{"Authorization": "Bearer sk-wrong"}, CodeInvalidAPIKey},
		{"prefix of a key", "/v1/models", map[string]string{"Authorization": "Bearer sk-righ"}, CodeInvalidAPIKey},
		{"key plus more", "/v1/models", map[string]string{"Authorization": "Bearer sk-right2"}, CodeInvalidAPIKey},
		{"upper-cased key", "/v1/models", map[string]string{"Authorization": "Bearer SK-RIGHT"}, CodeInvalidAPIKey},
		{"empty bearer", "/v1/models", map[string]string{"Authorization": "Bearer "}, CodeInvalidAPIKey},
		{"bearer without key", "/v1/models", map[string]string{"Authorization": "Bearer"}, CodeInvalidAPIKey},
		{"bare key", "/v1/models", map[string]string{"Authorization": "sk-right"}, CodeInvalidAPIKey},
		{"basic", "/v1/models", map[string]string{"Authorization": "Basic c2stcmlnaHQ6"}, CodeInvalidAPIKey},
		{"x-api-key", "/v1/models", map[string]string{"X-Api-Key": "sk-other"}, ""},
		{"x-api-key wrong", "/v1/models", map[string]string{"X-Api-Key": "sk-nope"}, CodeInvalidAPIKey},
		{"basic and x-api-key", "/v1/models", map[string]string{"Authorization": "Basic abc", "X-Api-Key": "sk-right"}, ""},
		{"wrong bearer, right x-api-key", "/v1/models", map[string]string{"Authorization": "Bearer sk-wrong", "X-Api-Key": "sk-right"}, CodeInvalidAPIKey},
		{"public path", "/health", nil, ""},
		{"public path with wrong key", "/health", map[string]string{"Authorization": "Bearer sk-wrong"}, ""},
		{"public path, trailing slash", "/health/", nil, CodeMissingAPIKey},
		{"public prefix", "/healthz", nil, CodeMissingAPIKey},
		{"dot-dot through public", "/health/../v1/models", nil, CodeMissingAPIKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotStatus int
			var gotCode string
			o := Options{Listen: "127.0.0.1:11435", APIKeys: []string{"sk-right", "sk-other"}, Public: []string{"/health"},
				Reject: func(w http.ResponseWriter, r *http.Request, status int, code, message string) {
					gotStatus, gotCode = status, code
					w.WriteHeader(status)
				}}
			r := httptest.NewRequest("GET", "http://localhost:11435"+tc.path, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w, reached := serve(t, mustNew(t, o), r)
			if reached != (tc.code == "") || gotCode != tc.code {
				t.Fatalf("status %d, code %q, handler ran %v; want code %q", w.Code, gotCode, reached, tc.code)
			}
			if tc.code != "" && (gotStatus != 401 || w.Header().Get("WWW-Authenticate") == "") {
				t.Errorf("refusal: status %d, WWW-Authenticate %q", gotStatus, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestNoKeys(t *testing.T) {
	g := mustNew(t, Options{Listen: "127.0.0.1:11435"})
	if g.KeyRequired() {
		t.Fatal("KeyRequired() = true without keys")
	}
	r := httptest.NewRequest("GET", "http://localhost/v1/models", nil)
	r.Header.Set("Authorization", "Bearer anything")
	if w, reached := serve(t, g, r); !reached {
		t.Errorf("without keys: status %d", w.Code)
	}
}

// TestKeysStoredAsDigests checks that a Guard holds no plain key (a dump of
// it in a log or a core file reveals none) and that matching goes through
// the constant-time digest comparison for every configured key.
func TestKeysStoredAsDigests(t *testing.T) {
	keys := []string{"sk-zhiyan-0123456789abcdef", "sk-second-key"}
	g := mustNew(t, Options{APIKeys: keys})
	dump := fmt.Sprintf("%#v %+v", *g, g.keys)
	for _, k := range keys {
		if strings.Contains(dump, k) {
			t.Errorf("guard holds the plain key %q", k)
		}
	}
	if len(g.keys) != len(keys) {
		t.Fatalf("%d digests for %d keys", len(g.keys), len(keys))
	}
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{keys[0], true}, {keys[1], true},
		{keys[0][:len(keys[0])-1], false}, // differs only in length
		{keys[0][:len(keys[0])-1] + "0", false},
		{"", false},
		{strings.Repeat("x", 1<<16), false},
	} {
		if got := g.keyValid(tc.key); got != tc.want {
			t.Errorf("keyValid(%.20q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	var reached, chunked bool
	// The handler reads the whole body and answers 413 as the server does.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached, chunked = true, r.ContentLength == -1
		b, err := io.ReadAll(r.Body)
		switch {
		case TooLarge(err):
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			fmt.Fprintf(w, "%d", len(b))
		}
	})
	g := mustNew(t, Options{Listen: "127.0.0.1:1", AllowedHosts: []string{"*"}, MaxBody: 16})
	srv := httptest.NewServer(g.Wrap(h))
	defer srv.Close()

	tests := []struct {
		name     string
		size     int
		chunked  bool
		status   int
		reaching bool // the handler runs
	}{
		{"empty", 0, false, 200, true},
		{"at the limit", 16, false, 200, true},
		{"over the limit: refused before reading", 17, false, 413, false},
		{"far over the limit", 1 << 20, false, 413, false},
		{"chunked at the limit", 16, true, 200, true},
		{"chunked over the limit: cut while reading", 17, true, 413, true},
		{"chunked far over the limit", 1 << 20, true, 413, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached = false
			var body io.Reader = strings.NewReader(strings.Repeat("a", tc.size))
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest("POST", srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || reached != tc.reaching {
				t.Errorf("status %d (%q), handler ran %v; want %d, %v", resp.StatusCode, got, reached, tc.status, tc.reaching)
			}
			if reached && tc.size > 0 && chunked != tc.chunked {
				t.Errorf("request chunked = %v, want %v", chunked, tc.chunked)
			}
			if tc.status == 200 && string(got) != fmt.Sprint(tc.size) {
				t.Errorf("handler read %s bytes, want %d", got, tc.size)
			}
		})
	}
}

func TestBodyLimitDefaults(t *testing.T) {
	for _, tc := range []struct {
		max  int64
		size int64
		ok   bool
	}{
		{0, DefaultMaxBody, true},
		{0, DefaultMaxBody + 1, false},
		{-1, 1 << 40, true},
	} {
		g := mustNew(t, Options{Listen: "127.0.0.1:1", MaxBody: tc.max})
		r := httptest.NewRequest("POST", "http://localhost/v1/embeddings", strings.NewReader("{}"))
		r.ContentLength = tc.size // declared only: the pre-check must not read
		w, reached := serve(t, g, r)
		if reached != tc.ok || !tc.ok && w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("MaxBody %d, Content-Length %d: status %d, handler ran %v; want ok=%v", tc.max, tc.size, w.Code, reached, tc.ok)
		}
	}
}

// TestOrder checks which refusal wins when several apply: a foreign Host is
// refused before anything else, even with a valid key.
func TestOrder(t *testing.T) {
	var codes []string
	g := mustNew(t, Options{Listen: "127.0.0.1:1", APIKeys: []string{"k"}, MaxBody: 1,
		Reject: func(w http.ResponseWriter, r *http.Request, status int, code, _ string) {
			codes = append(codes, code)
			w.WriteHeader(status)
		}})
	req := func(host, origin, key string) *http.Request {
		r := httptest.NewRequest("POST", "/v1/completions", strings.NewReader("too long"))
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		return r
	}
	serve(t, g, req("attacker.example", "https://attacker.example", "k"))
	serve(t, g, req("localhost:1", "https://attacker.example", "k"))
	serve(t, g, req("localhost:1", "", "wrong"))
	serve(t, g, req("localhost:1", "", "k"))
	want := []string{CodeHostNotAllowed, CodeOriginNotAllowed, CodeInvalidAPIKey, CodeBodyTooLarge}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("codes = %v, want %v", codes, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"host with scheme", Options{AllowedHosts: []string{"http://example.com"}}},
		{"host with path", Options{AllowedHosts: []string{"example.com/x"}}},
		{"host with bad port", Options{AllowedHosts: []string{"example.com:http"}}},
		{"empty host", Options{AllowedHosts: []string{""}}},
		{"host wildcard label", Options{AllowedHosts: []string{"*.example.com"}}},
		{"origin without scheme", Options{AllowedOrigins: []string{"localhost:3000"}}},
		{"origin with path", Options{AllowedOrigins: []string{"https://example.com/app"}}},
		{"origin with query", Options{AllowedOrigins: []string{"https://example.com?x=1"}}},
		{"origin with user", Options{AllowedOrigins: []string{"https://u@example.com"}}},
		{"empty key", Options{APIKeys: []string{""}}},
		{"key with space", Options{APIKeys: []string{"sk one"}}},
		{"key with line feed", Options{APIKeys: []string{"sk\n"}}},
		{"relative public path", Options{Public: []string{"health"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Errorf("New(%+v) succeeded", tc.opts)
			}
		})
	}
}

// TestAuthenticator: with accounts, a request passes with a configured key
// or whatever the authenticator accepts; public prefixes need neither.
func TestAuthenticator(t *testing.T) {
	accept := func(r *http.Request) (*http.Request, bool) {
		return r, r.Header.Get("Authorization") == "Bearer zy-account"
	}
	for _, tc := range []struct {
		name    string
		o       Options
		path    string
		auth    string
		allowed bool
	}{
		{"account key", Options{RequireAuth: true, Authenticate: accept}, "/v1/models", "Bearer zy-account", true},
		{"no credentials", Options{RequireAuth: true, Authenticate: accept}, "/v1/models", "", false},
		{"wrong key", Options{RequireAuth: true, Authenticate: accept}, "/v1/models", "Bearer zy-other", false},
		{"static key beside accounts", Options{APIKeys: []string{"sk-static"}, Authenticate: accept}, "/api/tags", "Bearer sk-static", true},
		{"account key beside static keys", Options{APIKeys: []string{"sk-static"}, Authenticate: accept}, "/api/tags", "Bearer zy-account", true},
		{"public prefix", Options{RequireAuth: true, Authenticate: accept, PublicPrefixes: []string{"/app/"}}, "/app/login", "", true},
		{"outside the prefix", Options{RequireAuth: true, Authenticate: accept, PublicPrefixes: []string{"/app/"}}, "/apps", "", false},
		{"not required", Options{Authenticate: accept}, "/v1/models", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Listen = "127.0.0.1:11435"
			r := httptest.NewRequest("GET", "http://localhost:11435"+tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if _, reached := serve(t, mustNew(t, tc.o), r); reached != tc.allowed {
				t.Errorf("handler ran %v, want %v", reached, tc.allowed)
			}
		})
	}
	if _, err := New(Options{RequireAuth: true}); err == nil {
		t.Error("RequireAuth with no way to authenticate was accepted")
	}
}
