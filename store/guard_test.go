package store

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestPublicIP(t *testing.T) {
	for ip, want := range map[string]bool{
		"8.8.8.8":          true,
		"2606:4700::1111":  true,
		"127.0.0.1":        false,
		"127.9.9.9":        false,
		"::1":              false,
		"10.1.2.3":         false,
		"172.16.0.1":       false,
		"192.168.1.1":      false,
		"169.254.169.254":  false, // cloud metadata
		"100.64.0.1":       false,
		"0.0.0.0":          false,
		"::":               false,
		"fc00::1":          false,
		"fe80::1":          false,
		"224.0.0.1":        false,
		"::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1":  false,
		"64:ff9b::a00:1":   false,
		"255.255.255.255":  false,
	} {
		if got := publicIP(net.ParseIP(ip)); got != want {
			t.Errorf("publicIP(%s) = %v, want %v", ip, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	np := newNetPolicy(false, "http://127.0.0.1:8080", "https://mirror.example")
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8080/x":            true, // the configured endpoint
		"https://mirror.example/x":           true,
		"https://cdn-lfs.hf.co/x":            true,
		"http://cdn-lfs.hf.co/x":             false,
		"http://127.0.0.1:8081/x":            false,
		"https://127.0.0.1:8081/x":           false,
		"https://169.254.169.254/latest":     false,
		"https://[::1]/x":                    false,
		"https://10.0.0.8/x":                 false,
		"https://localhost/x":                false,
		"https://a.localhost/x":              false,
		"file:///etc/passwd":                 false,
		"ftp://example.com/x":                false,
		"https://[::ffff:169.254.169.254]/x": false,
	} {
		u, _ := url.Parse(raw)
		if err := np.checkURL(u); (err == nil) != ok {
			t.Errorf("checkURL(%s) = %v, want ok %v", raw, err, ok)
		}
	}
	loose := newNetPolicy(true)
	for raw, ok := range map[string]bool{"https://127.0.0.1:1/x": true, "http://127.0.0.1:1/x": false} {
		u, _ := url.Parse(raw)
		if err := loose.checkURL(u); (err == nil) != ok {
			t.Errorf("AllowPrivate: checkURL(%s) = %v, want ok %v", raw, err, ok)
		}
	}
}

// A name that resolves to a private address is refused when dialled, even
// though the redirect check (which sees only the name) let it through.
func TestDialRefusesRebinding(t *testing.T) {
	np := newNetPolicy(false)
	np.lookup = func(ctx context.Context, host string) ([]net.IPAddr, error) {
		return []net.IPAddr{{IP: net.ParseIP("8.8.8.8")}, {IP: net.ParseIP("127.0.0.1")}}, nil
	}
	_, err := np.dialContext(context.Background(), "tcp", "rebind.example:443")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("dial = %v, want a refusal naming 127.0.0.1", err)
	}
}

func TestPullRedirects(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	// The files also sit on a second, untrusted server, plain and TLS.
	plain := newFakeHub(t)
	plain.add(testRepo, "model-Q4_K_M.gguf", e.data)
	tlsHub := &fakeHub{files: map[string][]byte{}, cutAfter: -1}
	tlsHub.srv = httptest.NewTLSServer(http.HandlerFunc(tlsHub.serve))
	t.Cleanup(tlsHub.srv.Close)
	tlsHub.add(testRepo, "model-Q4_K_M.gguf", e.data)
	trustTLS := tlsHub.srv.Client().Transport.(*http.Transport).TLSClientConfig

	for _, tc := range []struct {
		name   string
		target string
		mod    func(*Options)
		want   string // "" = success
	}{
		{"plain http elsewhere", plain.url(), nil, "only https"},
		{"https to loopback", tlsHub.url(), func(o *Options) { o.TLSConfig = trustTLS }, "private"},
		{"https to loopback, allowed", tlsHub.url(), func(o *Options) { o.TLSConfig = trustTLS; o.AllowPrivate = true }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.hub.mu.Lock()
			e.hub.redirectTo = tc.target
			e.hub.mu.Unlock()
			_, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", tc.mod)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if gets, _, _ := plain.stats(); gets != 0 {
				t.Errorf("the refused server was sent %d GETs", gets)
			}
			e.checkNothingRegistered()
		})
	}

	// A DNS name that resolves to loopback is refused at the dial.
	e.hub.mu.Lock()
	e.hub.redirectTo = "https://rebind.example:" + tlsHub.srv.URL[strings.LastIndexByte(tlsHub.srv.URL, ':')+1:]
	e.hub.mu.Unlock()
	p := e.puller(func(o *Options) { o.TLSConfig = trustTLS; o.Retries = 1 })
	p.policy.lookup = func(ctx context.Context, host string) ([]net.IPAddr, error) {
		return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
	}
	_, err := p.Pull(context.Background(), "hf.co/some/repo:model-Q4_K_M.gguf")
	if err == nil || !strings.Contains(err.Error(), "resolves to 127.0.0.1") {
		t.Fatalf("rebinding: err = %v", err)
	}
}

func TestPullRedirectLoop(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPuller(s, Options{HFEndpoint: srv.URL, Source: "hf", Retries: 1, RetryDelay: 1, TLSConfig: &tls.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Pull(context.Background(), "hf.co/a/b:x.gguf")
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("err = %v, want too many redirects", err)
	}
}
