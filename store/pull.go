package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"zhiyan/model"
)

// Progress is one step of a pull, shaped like Ollama's /api/pull stream:
// "pulling manifest", then "pulling <digest>" with Total and Completed
// bytes, "verifying sha256 digest", "writing manifest" and "success".
type Progress struct {
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Completed int64  `json:"completed,omitempty"`
}

// Options configure a Puller. Zero values mean the environment's setting
// or the default.
type Options struct {
	// Source is "hf", "modelscope" or "auto" (Hugging Face, then ModelScope
	// when Hugging Face fails); "" reads $ZHIYAN_SOURCE, else auto.
	Source string
	// HFEndpoint is Hugging Face's base URL; "" reads $HF_ENDPOINT, as the
	// official tools do (for a mirror), else huggingface.co.
	HFEndpoint string
	// HFToken is sent to the Hugging Face endpoint for gated and private
	// repositories; "" reads $HF_TOKEN.
	HFToken string
	// ModelScopeEndpoint is ModelScope's base URL; "" reads
	// $MODELSCOPE_DOMAIN (a host, as ModelScope's own tools take it), else
	// modelscope.cn.
	ModelScopeEndpoint string
	// AllowPrivate lets redirects reach loopback and private addresses
	// (tests, downloads inside a private network). ZHIYAN_ALLOW_PRIVATE=1
	// sets it too. The configured endpoints are always reachable.
	AllowPrivate bool
	TLSConfig    *tls.Config

	Parallel     int           // range requests in flight per file (default 4)
	ChunkSize    int64         // bytes per range request (default 64 MiB)
	Retries      int           // retries of a chunk that makes no progress (default 5)
	RetryDelay   time.Duration // first retry delay, doubling up to 30 s (default 1 s)
	StallTimeout time.Duration // a connection silent this long is dropped and retried (default 30 s)

	// Progress receives the pull's steps; byte counts at most every 100 ms.
	// It is called from one goroutine at a time.
	Progress func(Progress)
}

// Puller downloads models into a Store.
type Puller struct {
	store   *Store
	opt     Options
	ep      endpoints
	sources []Hub
	policy  *netPolicy
	client  *http.Client

	mu        sync.Mutex // serializes Progress calls
	freeSpace func(dir string) (int64, error)
}

// NewPuller makes a Puller for s.
func NewPuller(s *Store, opt Options) (*Puller, error) {
	if opt.Source == "" {
		opt.Source = os.Getenv("ZHIYAN_SOURCE")
	}
	var sources []Hub
	switch strings.ToLower(opt.Source) {
	case "", "auto":
		sources = []Hub{HuggingFace, ModelScope}
	case "hf", "huggingface":
		sources = []Hub{HuggingFace}
	case "modelscope", "ms":
		sources = []Hub{ModelScope}
	default:
		return nil, fmt.Errorf("unknown source %q: want hf, modelscope or auto", opt.Source)
	}
	hf, err := endpointURL(firstOf(opt.HFEndpoint, os.Getenv("HF_ENDPOINT"), defaultHFEndpoint))
	if err != nil {
		return nil, fmt.Errorf("HF_ENDPOINT: %w", err)
	}
	msDefault := defaultMSEndpoint
	if d := os.Getenv("MODELSCOPE_DOMAIN"); d != "" {
		msDefault = d
		if !strings.Contains(d, "://") {
			msDefault = "https://" + d
		}
	}
	ms, err := endpointURL(firstOf(opt.ModelScopeEndpoint, msDefault))
	if err != nil {
		return nil, fmt.Errorf("ModelScope endpoint: %w", err)
	}
	opt.HFToken = firstOf(opt.HFToken, os.Getenv("HF_TOKEN"))
	opt.AllowPrivate = opt.AllowPrivate || os.Getenv("ZHIYAN_ALLOW_PRIVATE") == "1"
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 64 << 20
	}
	if opt.Retries <= 0 {
		opt.Retries = 5
	}
	if opt.RetryDelay <= 0 {
		opt.RetryDelay = time.Second
	}
	if opt.StallTimeout <= 0 {
		opt.StallTimeout = 30 * time.Second
	}
	p := &Puller{
		store:     s,
		opt:       opt,
		ep:        endpoints{hf: hf, ms: ms, hfToken: opt.HFToken},
		sources:   sources,
		policy:    newNetPolicy(opt.AllowPrivate, hf, ms),
		freeSpace: freeSpace,
	}
	p.client = p.policy.newClient(opt.TLSConfig)
	return p, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// endpointURL checks a hub base URL and drops a trailing slash.
func endpointURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) base URL", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (p *Puller) emit(ev Progress) {
	if p.opt.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opt.Progress(ev)
}

// authorize adds the Hugging Face token to requests for its endpoint only.
func (p *Puller) authorize(req *http.Request) {
	if p.ep.hfToken == "" {
		return
	}
	if hf, err := url.Parse(p.ep.hf); err == nil && strings.EqualFold(req.URL.Host, hf.Host) {
		req.Header.Set("Authorization", "Bearer "+p.ep.hfToken)
	}
}

// candidate is one place a file can come from.
type candidate struct {
	hub  Hub
	repo string
	file string // "" = pick from the listing by sel
	sel  string
	sha  Digest // pinned by the catalogue
	size int64  // the catalogue's hint
}

// plan is what a reference asks for.
type plan struct {
	name  Name
	quant string
	arch  string
	cands []candidate
}

func (p *Puller) plan(ref string) (*plan, error) {
	if e, q, ok, err := lookupCatalog(ref); ok {
		if err != nil {
			return nil, err
		}
		if !e.Runs() {
			return nil, fmt.Errorf("%s is a %s model, which zhiyan cannot run yet (it runs %s)", e.Name, e.Arch, strings.Join(model.Supported(), ", "))
		}
		n, err := ParseName(e.storeName(q))
		if err != nil {
			return nil, err
		}
		pl := &plan{name: n, quant: q.Tag, arch: e.Arch}
		var sha Digest
		if q.SHA256 != "" {
			sha = digestFromHex(q.SHA256)
		}
		for _, h := range p.sources {
			repo := q.HF
			if h == ModelScope {
				repo = q.MS
			}
			if repo != "" {
				pl.cands = append(pl.cands, candidate{hub: h, repo: repo, file: q.File, sha: sha, size: q.Size})
			}
		}
		if len(pl.cands) == 0 {
			return nil, fmt.Errorf("%s (%s) is not available from %s", e.storeName(q), q.Tag, hubNames(p.sources))
		}
		return pl, nil
	}
	r, ok, err := parseHubRef(ref)
	if ok {
		if err != nil {
			return nil, err
		}
		if !slices.Contains(p.sources, r.hub) {
			return nil, fmt.Errorf("%s is on %s, but the source is %s", ref, r.hub, hubNames(p.sources))
		}
		c := candidate{hub: r.hub, repo: r.repo, sel: r.sel}
		if fileRE.MatchString(r.sel) {
			c.file = r.sel
		}
		quant := ""
		if quantRE.MatchString(r.sel) {
			quant = strings.ToLower(r.sel)
		}
		return &plan{name: r.storeName(), quant: quant, cands: []candidate{c}}, nil
	}
	if hint := familyHint(ref); hint != "" {
		return nil, fmt.Errorf("%q needs a size: %s", ref, hint)
	}
	if _, err := ParseName(ref); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("unknown model %q: not in the catalogue (zhiyan list --catalog); pull hf.co/USER/REPO[:QUANT] or modelscope.cn/USER/REPO[:QUANT]", ref)
}

func hubNames(hs []Hub) string {
	var s []string
	for _, h := range hs {
		s = append(s, string(h))
	}
	return strings.Join(s, " and ")
}

// Errors a pull can end with.
var (
	// ErrCorrupt: the bytes received do not match the published sha256.
	ErrCorrupt = errors.New("download corrupt")
	// ErrNoSpace: the disk cannot hold the file.
	ErrNoSpace = errors.New("not enough disk space")
)

// Pull downloads a model by catalogue short name ("qwen3:0.6b",
// "qwen3:0.6b-q8_0") or hub reference ("hf.co/USER/REPO:Q4_K_M",
// "modelscope.cn/USER/REPO:FILE.gguf"), verifies it and registers it. When
// one hub fails the next source is tried; an interrupted pull resumes.
func (p *Puller) Pull(ctx context.Context, ref string) (*Manifest, error) {
	pl, err := p.plan(ref)
	if err != nil {
		return nil, err
	}
	p.emit(Progress{Status: "pulling manifest"})
	perr := &PullError{Name: pl.name.String()}
	for i, c := range pl.cands {
		m, err := p.pullFrom(ctx, pl, c, i < len(pl.cands)-1)
		if err == nil {
			p.emit(Progress{Status: "success"})
			return m, nil
		}
		perr.Hubs = append(perr.Hubs, c.hub)
		perr.Errs = append(perr.Errs, err)
		if ctx.Err() != nil || errors.Is(err, ErrNoSpace) {
			break
		}
	}
	return nil, perr
}

// PullError is a failed pull: what each hub tried said.
type PullError struct {
	Name string
	Hubs []Hub
	Errs []error
}

func (e *PullError) Error() string {
	if len(e.Errs) == 1 {
		return fmt.Sprintf("pull %s from %s: %v", e.Name, e.Hubs[0], e.Errs[0])
	}
	var parts []string
	for i, err := range e.Errs {
		parts = append(parts, fmt.Sprintf("%s: %v", e.Hubs[i], err))
	}
	return fmt.Sprintf("pull %s: %s", e.Name, strings.Join(parts, "; "))
}

func (e *PullError) Unwrap() []error { return e.Errs }

// fallbackAfter bounds how long a hub may take to answer about a file when
// another hub could serve it: where Hugging Face is unreachable, connections
// hang rather than fail.
const fallbackAfter = 20 * time.Second

func (p *Puller) pullFrom(ctx context.Context, pl *plan, c candidate, canFallBack bool) (*Manifest, error) {
	qctx := ctx // for the questions asked before the download
	if canFallBack {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, fallbackAfter)
		defer cancel()
	}
	m, err := p.pullFromWith(ctx, qctx, pl, c)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer within %v: %w", fallbackAfter, err)
	}
	return m, err
}

func (p *Puller) pullFromWith(ctx, qctx context.Context, pl *plan, c candidate) (*Manifest, error) {
	file, listed := c.file, hubFile{}
	if file == "" || c.hub == ModelScope && c.sha.IsZero() {
		files, err := p.listFiles(qctx, c.hub, c.repo)
		switch {
		case err == nil:
			sel := c.sel
			if file != "" {
				sel = file
			}
			f, err := selectFile(files, sel)
			if err != nil && file == "" {
				return nil, fmt.Errorf("%s: %w", c.repo, err)
			}
			if err == nil {
				file, listed = f.path, f
			}
		case file == "":
			return nil, err
		}
		// A listing that fails when the file is known only costs the
		// listing's sha256; the download itself may still carry one.
	}
	u := p.ep.fileURL(c.hub, c.repo, file)
	rf, err := p.probe(qctx, u)
	if err != nil {
		return nil, err
	}
	want, err := agree(c.sha, listed.sha, rf.sha)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", c.repo, file, err)
	}
	if rf.size <= 0 {
		rf.size = listed.size
	}
	if rf.size <= 0 {
		return nil, fmt.Errorf("%s/%s: the hub did not say how large the file is", c.repo, file)
	}
	verified := VerifiedSize
	if !want.IsZero() {
		verified = VerifiedPublished
	}
	m := &Manifest{
		Size:         rf.size,
		Architecture: pl.arch,
		Quantization: pl.quant,
		Source:       &Source{Hub: string(c.hub), Repo: c.repo, Revision: c.hub.revision(), File: file, URL: u},
		Verified:     verified,
	}
	d, err := p.fetch(ctx, rf, want, file, pl.name, m)
	if err != nil {
		return nil, err
	}
	m.Digest = d.String()
	return m, nil
}

// agree returns the sha256 the file must have: every source that published
// one must publish the same.
func agree(pinned, listed, served Digest) (Digest, error) {
	want := pinned
	for _, d := range []Digest{listed, served} {
		if d.IsZero() {
			continue
		}
		if want.IsZero() {
			want = d
		} else if d != want {
			return Digest{}, fmt.Errorf("%w: the hub publishes sha256 %s, expected %s", ErrCorrupt, d.Hex(), want.Hex())
		}
	}
	return want, nil
}
