package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// testGGUF builds a valid GGUF of about size bytes whose content depends on
// seed, so that two test files differ.
func testGGUF(t testing.TB, arch string, size int, seed uint64) []byte {
	t.Helper()
	w := gguf.NewWriter()
	if err := w.Set("general.architecture", arch); err != nil {
		t.Fatal(err)
	}
	n := size / 4
	data := make([]byte, 4*n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := w.AddTensor("filler", tensor.F32, []uint64{uint64(n)}, data); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fakeHub behaves like Hugging Face and ModelScope for the files it holds:
//
//	HF  HEAD|GET /{user}/{repo}/resolve/main/{file}  → 302 to /cdn/…, with X-Linked-Etag/-Size
//	HF  GET /api/models/{user}/{repo}/tree/main      → listing with lfs.oid
//	MS  HEAD|GET /models/{user}/{repo}/resolve/master/{file} → the bytes
//	MS  GET /api/v1/models/{user}/{repo}/repo/files   → listing with Sha256
//	    GET /cdn/{user}/{repo}/{file}                 → the bytes, with Range
//
// and misbehaves on request: 5xx, bodies cut short, stalls, corruption,
// ignored ranges, lying sizes, and redirects elsewhere.
type fakeHub struct {
	srv *httptest.Server

	mu    sync.Mutex
	files map[string][]byte // "user/repo/file"

	fail       int           // the next fail content GETs answer 503
	cutAfter   int64         // content bodies end after this many bytes…
	cuts       int           // …for this many responses
	dieAtCut   bool          // after a cut, every content GET answers 503
	stall      time.Duration // content bodies pause this long before the first byte…
	stalls     int           // …for this many responses
	corrupt    bool          // serve flipped bytes under the right sha256
	noRanges   bool          // ignore Range, answer 200 with everything
	noSHA      bool          // publish no sha256 anywhere
	wrongSHA   string        // publish this sha256 instead
	sizeDelta  int64         // the resolve endpoint claims the file is this much larger
	redirectTo string        // base URL the resolve endpoint redirects to ("" = /cdn here)
	hfDown     bool          // every Hugging Face route answers 500
	linkedEtag string        // X-Linked-Etag to send verbatim, if set
	headDenied bool          // content HEADs answer 403, as URLs presigned for GET do

	contentGets int   // content GETs received
	servedBytes int64 // content bytes written
	ranges      []string
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{files: map[string][]byte{}, cutAfter: -1}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) add(repo, file string, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[repo+"/"+file] = data
}

func (h *fakeHub) url() string { return h.srv.URL }

func (h *fakeHub) stats() (gets int, bytes int64, ranges []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.contentGets, h.servedBytes, append([]string(nil), h.ranges...)
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/models/"):
		h.hfListing(w, strings.TrimPrefix(p, "/api/models/"))
	case strings.HasPrefix(p, "/api/v1/models/"):
		h.msListing(w, strings.TrimPrefix(p, "/api/v1/models/"))
	case strings.HasPrefix(p, "/cdn/"):
		h.content(w, r, strings.TrimPrefix(p, "/cdn/"))
	case strings.HasPrefix(p, "/models/") && strings.Contains(p, "/resolve/master/"):
		h.content(w, r, strings.Replace(strings.TrimPrefix(p, "/models/"), "/resolve/master/", "/", 1))
	case strings.Contains(p, "/resolve/main/"):
		h.resolve(w, r, strings.Replace(strings.TrimPrefix(p, "/"), "/resolve/main/", "/", 1))
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) published(data []byte) string {
	switch {
	case h.noSHA:
		return ""
	case h.wrongSHA != "":
		return h.wrongSHA
	}
	return sha256Hex(data)
}

func (h *fakeHub) resolve(w http.ResponseWriter, r *http.Request, key string) {
	h.mu.Lock()
	data, ok := h.files[key]
	down, target, sha, delta, linked := h.hfDown, h.redirectTo, h.published(data), h.sizeDelta, h.linkedEtag
	h.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if target == "" {
		target = h.srv.URL
	}
	w.Header().Set("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef01234567"`) // a git blob id, not a sha256
	if linked != "" {
		w.Header().Set("X-Linked-Etag", linked)
	} else if sha != "" {
		w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
	}
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)+int(delta)))
	w.Header().Set("Location", target+"/cdn/"+key)
	w.WriteHeader(http.StatusFound)
}

func (h *fakeHub) hfListing(w http.ResponseWriter, rest string) {
	repo, ok := strings.CutSuffix(rest, "/tree/main")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hfDown {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	type lfs struct {
		OID  string `json:"oid"`
		Size int    `json:"size"`
	}
	type entry struct {
		Type string `json:"type"`
		Path string `json:"path"`
		Size int    `json:"size"`
		LFS  *lfs   `json:"lfs,omitempty"`
	}
	list := []entry{{Type: "file", Path: "README.md", Size: 10}, {Type: "directory", Path: "Q8_0"}}
	found := false
	for k, data := range h.files {
		if f, ok2 := strings.CutPrefix(k, repo+"/"); ok && ok2 {
			found = true
			e := entry{Type: "file", Path: f, Size: len(data)}
			if sha := h.published(data); sha != "" {
				e.LFS = &lfs{OID: sha, Size: len(data)}
			}
			list = append(list, e)
		}
	}
	if !found {
		http.NotFound(w, nil)
		return
	}
	json.NewEncoder(w).Encode(list)
}

func (h *fakeHub) msListing(w http.ResponseWriter, rest string) {
	repo, _ := strings.CutSuffix(rest, "/repo/files")
	h.mu.Lock()
	defer h.mu.Unlock()
	type file struct {
		Name, Path, Type, Sha256 string
		Size                     int
	}
	var files []file
	for k, data := range h.files {
		if f, ok := strings.CutPrefix(k, repo+"/"); ok {
			files = append(files, file{Name: f, Path: f, Type: "blob", Sha256: h.published(data), Size: len(data)})
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"Code": 200, "Data": map[string]any{"Files": files}})
}

// content serves a file's bytes with the configured faults.
func (h *fakeHub) content(w http.ResponseWriter, r *http.Request, key string) {
	h.mu.Lock()
	data, ok := h.files[key]
	if !ok {
		h.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodHead && h.headDenied {
		h.mu.Unlock()
		http.Error(w, "SignatureDoesNotMatch", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodGet {
		h.contentGets++
		h.ranges = append(h.ranges, r.Header.Get("Range"))
	}
	// Each request suffers at most one fault: a 503, else a stall, else a cut.
	body := r.Method == http.MethodGet && r.Header.Get("Range") != "bytes=0-0"
	fail := body && h.fail > 0
	cut := int64(-1)
	var stall time.Duration
	switch {
	case fail:
		h.fail--
	case body && h.stalls > 0:
		h.stalls--
		stall = h.stall
	case body && h.cuts > 0:
		h.cuts--
		cut = h.cutAfter
	}
	if h.corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	noRanges := h.noRanges
	h.mu.Unlock()
	if fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	cw := &countingWriter{ResponseWriter: w, hub: h, limit: cut, stall: stall, ctx: r}
	if noRanges {
		r.Header.Del("Range")
		w.Header().Set("Accept-Ranges", "bytes") // and ignore them anyway
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		cw.Write(data)
		return
	}
	http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(data))
}

// countingWriter counts bytes and injects cuts and stalls into a body.
type countingWriter struct {
	http.ResponseWriter
	hub     *fakeHub
	limit   int64 // abort after this many body bytes; -1 = never
	written int64
	stall   time.Duration
	ctx     *http.Request
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.stall > 0 {
		select {
		case <-time.After(c.stall):
		case <-c.ctx.Context().Done():
			panic(http.ErrAbortHandler)
		}
		c.stall = 0
	}
	if c.limit >= 0 && c.written+int64(len(p)) > c.limit {
		p = p[:c.limit-c.written]
		n, _ := c.ResponseWriter.Write(p)
		c.count(n)
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		c.hub.mu.Lock()
		if c.hub.dieAtCut {
			c.hub.fail = 1 << 30
		}
		c.hub.mu.Unlock()
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}
	n, err := c.ResponseWriter.Write(p)
	c.count(n)
	return n, err
}

func (c *countingWriter) count(n int) {
	c.written += int64(n)
	c.hub.mu.Lock()
	c.hub.servedBytes += int64(n)
	c.hub.mu.Unlock()
}
