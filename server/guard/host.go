package guard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// hostPattern is an allowed Host: a lower-case name and a port ("" for any).
type hostPattern struct {
	name, port string
}

func parseHostPattern(s string) (hostPattern, error) {
	name, port, ok := splitHost(s)
	if !ok || strings.ContainsAny(name, "/@?#*") {
		return hostPattern{}, errors.New("want name or name:port")
	}
	return hostPattern{name, port}, nil
}

// hostAllowed reports whether a request's Host names this server: a
// loopback name or IP, or an allowed host. A name that merely resolves to
// loopback (127.0.0.1.nip.io) is exactly what DNS rebinding uses, so only
// the literal IPs and "localhost" count.
func (g *Guard) hostAllowed(hostport string) bool {
	if g.anyHost {
		return true
	}
	name, port, ok := splitHost(hostport)
	if !ok {
		return false
	}
	if loopbackName(name) {
		return true
	}
	for _, p := range g.hosts {
		if p.name == name && (p.port == "" || p.port == port) {
			return true
		}
	}
	return false
}

func loopbackName(name string) bool {
	if name == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// loopbackListen reports whether a listen address (host:port or host)
// binds loopback only.
func loopbackListen(listen string) bool {
	host := listen
	if h, _, err := net.SplitHostPort(listen); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return loopbackName(strings.ToLower(host))
}

// splitHost splits "name", "name:port", "[v6]" or "[v6]:port" into a
// lower-case name and a port ("" when absent). It refuses bare IPv6, bad
// ports and empty names.
func splitHost(s string) (name, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		name, s = s[1:end], s[end+1:]
		if !strings.Contains(name, ":") {
			return "", "", false
		}
		if s != "" {
			if s[0] != ':' {
				return "", "", false
			}
			port = s[1:]
		}
	} else {
		name = s
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			name, port = s[:i], s[i+1:]
		}
		if strings.Contains(name, ":") {
			return "", "", false
		}
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || strconv.FormatUint(n, 10) != port {
			return "", "", false
		}
	}
	return strings.ToLower(name), port, name != ""
}

// originPattern is a parsed origin; port "" is the scheme's default, "*" any.
type originPattern struct {
	scheme, name, port string
}

func (p originPattern) matches(o originPattern) bool {
	return p.scheme == o.scheme && p.name == o.name && (p.port == "*" || p.port == o.port)
}

// parseOrigin parses "scheme://host[:port]", with ":*" when wildcard is set.
func parseOrigin(s string, wildcard bool) (originPattern, error) {
	var p originPattern
	anyPort := false
	if wildcard {
		if t, ok := strings.CutSuffix(s, ":*"); ok {
			s, anyPort = t, true
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return p, err
	}
	if u.Scheme == "" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return p, fmt.Errorf("want scheme://host[:port]")
	}
	name, port, ok := splitHost(u.Host)
	if !ok || anyPort && port != "" {
		return p, fmt.Errorf("bad host %q", u.Host)
	}
	if port == defaultPort(u.Scheme) {
		port = ""
	}
	if anyPort {
		port = "*"
	}
	return originPattern{strings.ToLower(u.Scheme), name, port}, nil
}

func defaultPort(scheme string) string {
	switch strings.ToLower(scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// checkOrigin refuses a browser request from another origin unless that
// origin is allowed; for allowed ones it adds CORS headers and answers
// preflights. It reports whether the request has been answered.
// Requests without Origin come from other programs or are same-origin
// navigations, and pass.
func (g *Guard) checkOrigin(w http.ResponseWriter, r *http.Request) (done bool) {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return false
	}
	origin := values[0]
	o, err := parseOrigin(origin, false)
	if len(values) == 1 && err == nil && sameOrigin(o, r.Host) {
		return false
	}
	if len(values) > 1 || !g.originAllowed(o, err == nil) {
		g.reject(w, r, http.StatusForbidden, CodeOriginNotAllowed,
			fmt.Sprintf("origin %q may not call this server; add it to the allowed origins", origin))
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		return false
	}
	// A preflight carries no credentials, so it is answered before the key check.
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS")
	if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(req, ", "))
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (g *Guard) originAllowed(o originPattern, parsed bool) bool {
	if g.anyOrigin {
		return true
	}
	if !parsed {
		return false // "null" and other opaque origins
	}
	for _, p := range g.origins {
		if p.matches(o) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether the origin names the Host the request was
// sent to. The scheme is not compared: behind a TLS proxy the server
// cannot know it, so a Host without a port matches the origin's default port.
func sameOrigin(o originPattern, hostport string) bool {
	name, port, ok := splitHost(hostport)
	if !ok || name != o.name {
		return false
	}
	if port == "" {
		return o.port == ""
	}
	return port == o.port || o.port == "" && port == defaultPort(o.scheme)
}
