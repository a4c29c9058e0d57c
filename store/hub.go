package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Hub is a model hub.
type Hub string

const (
	HuggingFace Hub = "hf"
	ModelScope  Hub = "modelscope"
)

// Public endpoints, and the branches files are taken from.
const (
	defaultHFEndpoint = "https://huggingface.co"
	defaultMSEndpoint = "https://modelscope.cn"
	hfRevision        = "main"
	msRevision        = "master"
)

func (h Hub) revision() string {
	if h == ModelScope {
		return msRevision
	}
	return hfRevision
}

// hubRef is a direct reference such as hf.co/USER/REPO:Q8_0.
type hubRef struct {
	hub  Hub
	repo string // "Qwen/Qwen3-0.6B-GGUF", as typed: hub paths are case-sensitive
	sel  string // a quantization ("Q8_0"), a file ("x.gguf") or ""
}

var (
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	quantRE = regexp.MustCompile(`(?i)^(i?q[0-9][a-z0-9_]*|f16|bf16|f32)$`)
	// Files are single path components: the store never writes a hub's
	// path, but a tag is made from it.
	fileRE  = regexp.MustCompile(`(?i)^[a-z0-9][a-z0-9._-]{0,120}\.gguf$`)
	splitRE = regexp.MustCompile(`-\d{5}-of-\d{5}$`)
)

// hubHosts maps the host spellings users type to a hub and the host the
// store names it by.
var hubHosts = map[string]struct {
	hub  Hub
	name string
}{
	"hf.co":             {HuggingFace, "hf.co"},
	"huggingface.co":    {HuggingFace, "hf.co"},
	"modelscope.cn":     {ModelScope, "modelscope.cn"},
	"www.modelscope.cn": {ModelScope, "modelscope.cn"},
}

// parseHubRef recognises hf.co/USER/REPO[:QUANT|:FILE] and
// modelscope.cn/USER/REPO[:…]; ok is false for anything else.
func parseHubRef(s string) (ref hubRef, ok bool, err error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	host, rest, found := strings.Cut(s, "/")
	h, known := hubHosts[strings.ToLower(host)]
	if !found || !known {
		return hubRef{}, false, nil
	}
	ref.hub = h.hub
	ref.repo = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		ref.repo, ref.sel = rest[:i], rest[i+1:]
	}
	if !repoRE.MatchString(ref.repo) || strings.Contains(ref.repo, "..") || strings.HasSuffix(ref.repo, ".") {
		return hubRef{}, true, fmt.Errorf("invalid repository %q in %q: want USER/REPO", ref.repo, s)
	}
	if ref.sel != "" && !quantRE.MatchString(ref.sel) && !fileRE.MatchString(ref.sel) {
		return hubRef{}, true, fmt.Errorf("invalid selector %q in %q: want a quantization such as Q4_K_M or a file name ending in .gguf", ref.sel, s)
	}
	if _, err := ParseName(ref.storeString()); err != nil {
		return hubRef{}, true, err
	}
	return ref, true, nil
}

func (r hubRef) storeString() string {
	host := "hf.co"
	if r.hub == ModelScope {
		host = "modelscope.cn"
	}
	tag := DefaultTag
	if r.sel != "" {
		tag = r.sel
	}
	return host + "/" + r.repo + ":" + tag
}

// storeName is the name the file is kept under; parseHubRef checked it.
func (r hubRef) storeName() Name {
	n, err := ParseName(r.storeString())
	if err != nil {
		panic(err)
	}
	return n
}

// endpoints are the hubs' base URLs.
type endpoints struct {
	hf, ms  string
	hfToken string
}

func (e *endpoints) base(h Hub) string {
	if h == ModelScope {
		return e.ms
	}
	return e.hf
}

func escapeRepo(repo string) string {
	user, name, _ := strings.Cut(repo, "/")
	return url.PathEscape(user) + "/" + url.PathEscape(name)
}

// fileURL is the hub's download URL for one file.
func (e *endpoints) fileURL(h Hub, repo, file string) string {
	if h == ModelScope {
		return fmt.Sprintf("%s/models/%s/resolve/%s/%s", e.ms, escapeRepo(repo), msRevision, url.PathEscape(file))
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", e.hf, escapeRepo(repo), hfRevision, url.PathEscape(file))
}

// listURL is the hub's API listing a repository's top-level files.
func (e *endpoints) listURL(h Hub, repo string) string {
	if h == ModelScope {
		return fmt.Sprintf("%s/api/v1/models/%s/repo/files?Revision=%s&Recursive=false", e.ms, escapeRepo(repo), msRevision)
	}
	return fmt.Sprintf("%s/api/models/%s/tree/%s", e.hf, escapeRepo(repo), hfRevision)
}

// hubFile is one file of a listing.
type hubFile struct {
	path string
	size int64
	sha  Digest // zero when the hub did not say
}

// maxListing bounds a listing body.
const maxListing = 8 << 20

// listFiles asks a hub for a repository's top-level files.
func (p *Puller) listFiles(ctx context.Context, h Hub, repo string) ([]hubFile, error) {
	u := p.ep.listURL(h, repo)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	p.authorize(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list %s on %s: %w", repo, h, err)
	}
	defer resp.Body.Close()
	if err := statusError(resp, "list "+repo); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListing))
	if err != nil {
		return nil, fmt.Errorf("list %s on %s: %w", repo, h, err)
	}
	if h == ModelScope {
		return parseMSListing(body)
	}
	return parseHFListing(body)
}

func parseHFListing(body []byte) ([]hubFile, error) {
	var entries []struct {
		Type string `json:"type"`
		Path string `json:"path"`
		Size int64  `json:"size"`
		LFS  *struct {
			OID  string `json:"oid"`
			Size int64  `json:"size"`
		} `json:"lfs"`
	}
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("hugging face listing: %w", err)
	}
	var files []hubFile
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		f := hubFile{path: e.Path, size: e.Size}
		if e.LFS != nil {
			f.sha = digestFromHex(e.LFS.OID) // an LFS oid is the content's sha256
			if e.LFS.Size > 0 {
				f.size = e.LFS.Size
			}
		}
		files = append(files, f)
	}
	return files, nil
}

func parseMSListing(body []byte) ([]hubFile, error) {
	var r struct {
		Code int `json:"Code"`
		Data struct {
			Files []struct {
				Type   string `json:"Type"`
				Path   string `json:"Path"`
				Size   int64  `json:"Size"`
				Sha256 string `json:"Sha256"`
			} `json:"Files"`
		} `json:"Data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("modelscope listing: %w", err)
	}
	if r.Code != 0 && r.Code != 200 {
		return nil, fmt.Errorf("modelscope listing: code %d", r.Code)
	}
	var files []hubFile
	for _, e := range r.Data.Files {
		if e.Type != "" && e.Type != "blob" {
			continue
		}
		files = append(files, hubFile{path: e.Path, size: e.Size, sha: digestFromHex(e.Sha256)})
	}
	return files, nil
}

// selectFile picks the file a selector means from a listing: a file by its
// name, a quantization by the suffix of single-file GGUFs ("…-Q4_K_M.gguf"),
// and for no selector Q4_K_M or the repository's only GGUF.
func selectFile(files []hubFile, sel string) (hubFile, error) {
	var ggufs []hubFile
	for _, f := range files {
		stem, ok := strings.CutSuffix(strings.ToLower(f.path), ".gguf")
		if !ok || !fileRE.MatchString(f.path) || splitRE.MatchString(stem) || strings.Contains(stem, "mmproj") {
			continue
		}
		ggufs = append(ggufs, f)
	}
	if strings.HasSuffix(strings.ToLower(sel), ".gguf") {
		for _, f := range files {
			if f.path == sel {
				return f, nil
			}
		}
		for _, f := range ggufs {
			if strings.EqualFold(f.path, sel) {
				return f, nil
			}
		}
		return hubFile{}, fmt.Errorf("no file %q in the repository%s", sel, fileList(ggufs))
	}
	quant := strings.ToLower(sel)
	if quant == "" {
		quant = DefaultQuant
	}
	var match []hubFile
	for _, f := range ggufs {
		stem := strings.TrimSuffix(strings.ToLower(f.path), ".gguf")
		if stem == quant || strings.HasSuffix(stem, "-"+quant) || strings.HasSuffix(stem, "."+quant) || strings.HasSuffix(stem, "_"+quant) {
			match = append(match, f)
		}
	}
	if len(match) == 0 && sel == "" && len(ggufs) == 1 {
		return ggufs[0], nil
	}
	if len(match) == 0 {
		return hubFile{}, fmt.Errorf("no single-file GGUF for %s in the repository%s", strings.ToUpper(quant), fileList(ggufs))
	}
	// "X-Q4_K_M.gguf" before "X-UD-Q4_K_M.gguf": the plain one is shortest.
	slices.SortFunc(match, func(a, b hubFile) int {
		if len(a.path) != len(b.path) {
			return len(a.path) - len(b.path)
		}
		return strings.Compare(a.path, b.path)
	})
	return match[0], nil
}

func fileList(files []hubFile) string {
	if len(files) == 0 {
		return " (it has no single-file GGUFs)"
	}
	var names []string
	for _, f := range files {
		names = append(names, f.path)
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}
