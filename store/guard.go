package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// netPolicy keeps pulls on the public internet: the configured hub
// endpoints are trusted as the user wrote them (a private mirror on
// 127.0.0.1 is the user's choice), but everything a hub redirects to must
// be https and must not resolve to a loopback, private, link-local or
// otherwise internal address (SSRF through a redirect, DNS rebinding).
type netPolicy struct {
	mu      sync.Mutex
	trusted map[string]bool // "host:port" of endpoints, allowed hosts and proxies
	// allowPrivate lifts the address checks everywhere (tests, private
	// networks); https is still required off the trusted hosts.
	allowPrivate bool
	lookup       func(ctx context.Context, host string) ([]net.IPAddr, error)
	dialer       net.Dialer
}

const maxRedirects = 10

func newNetPolicy(allowPrivate bool, trusted ...string) *netPolicy {
	np := &netPolicy{trusted: map[string]bool{}, allowPrivate: allowPrivate, lookup: net.DefaultResolver.LookupIPAddr}
	np.dialer = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	for _, t := range trusted {
		np.trust(t)
	}
	return np
}

// trust adds a URL's or a host:port's address to the trusted set.
func (np *netPolicy) trust(s string) {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = hostPort(u)
	}
	np.mu.Lock()
	np.trusted[strings.ToLower(s)] = true
	np.mu.Unlock()
}

func (np *netPolicy) isTrusted(hostport string) bool {
	np.mu.Lock()
	defer np.mu.Unlock()
	return np.trusted[strings.ToLower(hostport)]
}

// hostPort is a URL's host with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// checkRedirect vets every hop a hub sends a download to.
func (np *netPolicy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	return np.checkURL(req.URL)
}

func (np *netPolicy) checkURL(u *url.URL) error {
	if np.isTrusted(hostPort(u)) {
		return nil
	}
	if u.Scheme != "https" {
		return fmt.Errorf("refusing redirect to %s://%s: only https is followed", u.Scheme, u.Host)
	}
	if np.allowPrivate {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("refusing redirect to %s: a local address", u.Host)
	}
	if ip := net.ParseIP(host); ip != nil && !publicIP(ip) {
		return fmt.Errorf("refusing redirect to %s: a private or local address", u.Host)
	}
	return nil
}

// dialContext connects to trusted addresses as given and to anything else
// only after checking every address the name resolves to, then dials the
// checked address itself so that a second lookup cannot swap it.
func (np *netPolicy) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if np.allowPrivate || np.isTrusted(addr) {
		return np.dialer.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []net.IPAddr
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IPAddr{{IP: ip}}
	} else if ips, err = np.lookup(ctx, host); err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s: no addresses", host)
	}
	for _, ip := range ips {
		if !publicIP(ip.IP) {
			return nil, fmt.Errorf("refusing to connect to %s: it resolves to %s, a private or local address", host, ip.IP)
		}
	}
	var errs []error
	for _, ip := range ips {
		c, err := np.dialer.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// publicIP reports an address on the public internet.
func publicIP(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, n := range internalNets {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// internalNets are the ranges net.IP's predicates do not cover.
var internalNets = func() []*net.IPNet {
	var nets []*net.IPNet
	for _, s := range []string{
		"0.0.0.0/8",     // "this network"
		"100.64.0.0/10", // carrier-grade NAT
		"192.0.0.0/24",  // IETF protocol assignments
		"198.18.0.0/15", // benchmarking
		"240.0.0.0/4",   // reserved, and broadcast
		"64:ff9b::/96",  // NAT64: would reach IPv4 space unchecked
		"2002::/16",     // 6to4, likewise
	} {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			panic(err)
		}
		nets = append(nets, n)
	}
	return nets
}()

// newClient builds the HTTP client pulls use.
func (np *netPolicy) newClient(tlsConfig *tls.Config) *http.Client {
	t := &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			u, err := http.ProxyFromEnvironment(req)
			if u != nil {
				np.trust(hostPort(u)) // the user's proxy is theirs to choose
			}
			return u, err
		},
		DialContext:           np.dialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t, CheckRedirect: np.checkRedirect}
}
