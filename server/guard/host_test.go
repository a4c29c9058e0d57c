package guard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// serve runs one request through a guard around a handler that answers 200
// "ok", and returns the recorder and whether the handler ran.
func serve(t *testing.T, g *Guard, r *http.Request) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	reached := false
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.Write([]byte("ok"))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, reached
}

func mustNew(t *testing.T, o Options) *Guard {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return g
}

func TestHost(t *testing.T) {
	loopback := Options{Listen: "127.0.0.1:11435"}
	listed := Options{Listen: "0.0.0.0:11435", AllowedHosts: []string{"api.example.com", "lan.example:8080"}}
	open := Options{Listen: "0.0.0.0:11435"}
	tests := []struct {
		name string
		opts Options
		host string
		ok   bool
	}{
		{"loopback: attacker", loopback, "attacker.example", false},
		{"loopback: attacker with port", loopback, "attacker.example:11435", false},
		{"loopback: localhost", loopback, "localhost", true},
		{"loopback: localhost:1234", loopback, "localhost:1234", true},
		{"loopback: upper case", loopback, "LocalHost:11435", true},
		{"loopback: 127.0.0.1", loopback, "127.0.0.1", true},
		{"loopback: 127.0.0.1:11435", loopback, "127.0.0.1:11435", true},
		{"loopback: 127.1.2.3", loopback, "127.1.2.3:80", true},
		{"loopback: [::1]:80", loopback, "[::1]:80", true},
		{"loopback: [::1]", loopback, "[::1]", true},
		{"loopback: mapped v4", loopback, "[::ffff:127.0.0.1]:80", true},
		{"rebinding: nip.io", loopback, "127.0.0.1.nip.io", false},
		{"rebinding: nip.io with port", loopback, "127.0.0.1.nip.io:11435", false},
		{"rebinding: localtest.me", loopback, "localtest.me", false},
		{"rebinding: sub.localhost", loopback, "evil.localhost", false},
		{"rebinding: localhost.attacker", loopback, "localhost.attacker.example", false},
		{"rebinding: .local", loopback, "printer.local", false},
		{"rebinding: .internal", loopback, "x.internal", false},
		{"trailing dot", loopback, "localhost.", false},
		{"private IP on loopback", loopback, "192.168.1.5:11435", false},
		{"unspecified", loopback, "0.0.0.0:11435", false},
		{"non-canonical IPv4", loopback, "127.1", false},
		{"octal-looking IPv4", loopback, "0177.0.0.1", false},
		{"empty host", loopback, "", false},
		{"bare IPv6", loopback, "::1", false},
		{"unclosed bracket", loopback, "[::1:80", false},
		{"IPv4 in brackets", loopback, "[127.0.0.1]", false},
		{"bad port", loopback, "localhost:http", false},
		{"port too big", loopback, "localhost:65536", false},
		{"port with sign", loopback, "localhost:+80", false},
		{"empty listen is strict", Options{}, "attacker.example", false},
		{"listed: name any port", listed, "api.example.com:443", true},
		{"listed: name upper case", listed, "API.Example.COM", true},
		{"listed: name:port", listed, "lan.example:8080", true},
		{"listed: other port", listed, "lan.example:8081", false},
		{"listed: no port", listed, "lan.example", false},
		{"listed: loopback still fine", listed, "localhost:11435", true},
		{"listed: other", listed, "attacker.example", false},
		{"listed: suffix", listed, "evil-api.example.com", false},
		{"off loopback, no list: any", open, "attacker.example", true},
		{"off loopback v6, no list: any", Options{Listen: "[::]:80"}, "whatever.example", true},
		{"star", Options{Listen: "127.0.0.1:1", AllowedHosts: []string{"*"}}, "attacker.example", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/models", nil)
			r.Host = tc.host
			w, reached := serve(t, mustNew(t, tc.opts), r)
			if reached != tc.ok || (w.Code == 200) != tc.ok {
				t.Errorf("Host %q: status %d, handler ran %v; want allowed=%v", tc.host, w.Code, reached, tc.ok)
			}
			if !tc.ok && w.Code != http.StatusForbidden {
				t.Errorf("Host %q: status %d, want 403", tc.host, w.Code)
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	strict := Options{Listen: "127.0.0.1:11435"}
	allowing := Options{Listen: "127.0.0.1:11435", AllowedOrigins: []string{"https://app.example.com", "http://localhost:*"}}
	tests := []struct {
		name    string
		opts    Options
		host    string
		origins []string
		ok      bool
		cors    bool // Access-Control-Allow-Origin set
	}{
		{"no origin", strict, "localhost:11435", nil, true, false},
		{"same origin", strict, "localhost:11435", []string{"http://localhost:11435"}, true, false},
		{"same origin, case", strict, "localhost:11435", []string{"http://LOCALHOST:11435"}, true, false},
		{"same origin, default port", strict, "localhost", []string{"http://localhost"}, true, false},
		{"same origin, https behind a proxy", strict, "localhost", []string{"https://localhost"}, true, false},
		{"same origin, explicit port 80", strict, "localhost:80", []string{"http://localhost"}, true, false},
		{"same origin, IPv6", strict, "[::1]:11435", []string{"http://[::1]:11435"}, true, false},
		{"other port", strict, "localhost:11435", []string{"http://localhost:3000"}, false, false},
		{"origin port, host none", strict, "localhost", []string{"http://localhost:8080"}, false, false},
		{"host port, origin none", strict, "localhost:8080", []string{"http://localhost"}, false, false},
		{"other name for the same server", strict, "localhost:11435", []string{"http://127.0.0.1:11435"}, false, false},
		{"attacker", strict, "localhost:11435", []string{"https://attacker.example"}, false, false},
		{"null", strict, "localhost:11435", []string{"null"}, false, false},
		{"garbage", strict, "localhost:11435", []string{"::::"}, false, false},
		{"two origins", strict, "localhost:11435", []string{"http://localhost:11435", "https://attacker.example"}, false, false},
		{"allowed exact", allowing, "localhost:11435", []string{"https://app.example.com"}, true, true},
		{"allowed, explicit default port", allowing, "localhost:11435", []string{"https://app.example.com:443"}, true, true},
		{"allowed name, wrong scheme", allowing, "localhost:11435", []string{"http://app.example.com"}, false, false},
		{"allowed name, wrong port", allowing, "localhost:11435", []string{"https://app.example.com:8443"}, false, false},
		{"allowed any port", allowing, "localhost:11435", []string{"http://localhost:5173"}, true, true},
		{"allowed any port, none given", allowing, "localhost:11435", []string{"http://localhost"}, true, true},
		{"not allowed", allowing, "localhost:11435", []string{"https://attacker.example"}, false, false},
		{"star", Options{Listen: "127.0.0.1:1", AllowedOrigins: []string{"*"}}, "localhost:1", []string{"null"}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			r.Host = tc.host
			for _, o := range tc.origins {
				r.Header.Add("Origin", o)
			}
			w, reached := serve(t, mustNew(t, tc.opts), r)
			if reached != tc.ok {
				t.Errorf("Origin %q to %q: status %d, handler ran %v; want allowed=%v", tc.origins, tc.host, w.Code, reached, tc.ok)
			}
			if !tc.ok && w.Code != http.StatusForbidden {
				t.Errorf("status %d, want 403", w.Code)
			}
			acao := w.Header().Get("Access-Control-Allow-Origin")
			if (acao != "") != tc.cors || tc.cors && acao != tc.origins[0] {
				t.Errorf("Access-Control-Allow-Origin = %q, want set=%v", acao, tc.cors)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	g := mustNew(t, Options{Listen: "127.0.0.1:11435", APIKeys: []string{"sk-test"},
		AllowedOrigins: []string{"https://app.example.com"}})
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest("OPTIONS", "/v1/chat/completions", nil)
		r.Host = "localhost:11435"
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-stainless-os")
		return r
	}
	// Allowed: answered here without a key (preflights carry none).
	w, reached := serve(t, g, preflight("https://app.example.com"))
	if reached || w.Code != http.StatusNoContent {
		t.Fatalf("allowed preflight: status %d, handler ran %v; want 204 from the guard", w.Code, reached)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example.com",
		"Access-Control-Allow-Headers": "authorization, content-type, x-stainless-os",
		"Access-Control-Max-Age":       "600",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if w.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("no Access-Control-Allow-Methods")
	}
	// Refused origin: 403, no CORS headers.
	w, reached = serve(t, g, preflight("https://attacker.example"))
	if reached || w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight: status %d, handler ran %v, ACAO %q", w.Code, reached, w.Header().Get("Access-Control-Allow-Origin"))
	}
	// The real request from the allowed origin still needs the key.
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	r.Host = "localhost:11435"
	r.Header.Set("Origin", "https://app.example.com")
	w, reached = serve(t, g, r)
	if reached || w.Code != http.StatusUnauthorized || w.Header().Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("keyless cross-origin POST: status %d, handler ran %v, ACAO %q; want 401 readable by the page",
			w.Code, reached, w.Header().Get("Access-Control-Allow-Origin"))
	}
}

func TestRequireKeyOffLoopback(t *testing.T) {
	tests := []struct {
		listen string
		keys   int
		ok     bool
	}{
		{"127.0.0.1:11435", 0, true},
		{"127.0.0.1", 0, true},
		{"127.9.9.9:1", 0, true},
		{"localhost:11435", 0, true},
		{"LOCALHOST:11435", 0, true},
		{"[::1]:11435", 0, true},
		{"0.0.0.0:11435", 0, false},
		{"[::]:11435", 0, false},
		{":11435", 0, false},
		{"", 0, false},
		{"192.168.1.5:11435", 0, false},
		{"myhost:11435", 0, false},
		{"127.0.0.1.nip.io:11435", 0, false},
		{"0.0.0.0:11435", 1, true},
		{":11435", 2, true},
	}
	for _, tc := range tests {
		err := RequireKeyOffLoopback(tc.listen, tc.keys)
		if (err == nil) != tc.ok {
			t.Errorf("RequireKeyOffLoopback(%q, %d) = %v, want ok=%v", tc.listen, tc.keys, err, tc.ok)
		}
	}
}
