package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/internal/golden"
	"zhiyan/store"
)

// testHub serves data as Hugging Face serves repo's file: the resolve URL
// redirects to a CDN path with the sha256 and size in X-Linked-* headers,
// and the CDN answers byte ranges. With hold, the CDN sends the first hold
// bytes and then waits for the client to go away; started and gone say
// when a download began and ended.
type testHub struct {
	*httptest.Server
	sha           string
	hold          int64
	started, gone chan struct{}
}

func newTestHub(t *testing.T, repo, file string, data []byte, hold int64) *testHub {
	t.Helper()
	sum := sha256.Sum256(data)
	h := &testHub{sha: hex.EncodeToString(sum[:]), hold: hold, started: make(chan struct{}, 8), gone: make(chan struct{}, 8)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + repo + "/resolve/main/" + file:
			w.Header().Set("X-Linked-Etag", `"`+h.sha+`"`)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
			http.Redirect(w, r, "/cdn/"+h.sha, http.StatusFound)
		case "/cdn/" + h.sha:
			w.Header().Set("Content-Type", "application/octet-stream")
			var body io.ReadSeeker = bytes.NewReader(data)
			if h.hold > 0 && r.Method == http.MethodGet {
				h.started <- struct{}{}
				body = &heldReader{r: bytes.NewReader(data), ctx: r.Context(), hold: h.hold}
			}
			http.ServeContent(w, r, "", time.Time{}, body)
			if r.Method == http.MethodGet && h.hold > 0 {
				h.gone <- struct{}{}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// heldReader reads up to hold bytes, then blocks until ctx ends.
type heldReader struct {
	r    *bytes.Reader
	ctx  context.Context
	hold int64
}

func (h *heldReader) Read(p []byte) (int, error) {
	pos, _ := h.r.Seek(0, io.SeekCurrent)
	if pos >= h.hold {
		<-h.ctx.Done()
		return 0, h.ctx.Err()
	}
	return h.r.Read(p[:min(int64(len(p)), h.hold-pos)])
}

func (h *heldReader) Seek(off int64, whence int) (int64, error) { return h.r.Seek(off, whence) }

// storeServer serves an empty store that pulls from hub.
func storeServer(t *testing.T, hub *testHub, cfg Config) (*Server, *store.Store, string) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	cfg.Pull = store.Options{Source: "hf", HFEndpoint: hub.URL, HFToken: "-", Parallel: 1, RetryDelay: time.Millisecond, StallTimeout: 20 * time.Second}
	cfg.KeepAlive = time.Minute
	s, ts := testServer(t, cfg)
	return s, st, ts.URL
}

// TestPullChatTagsDelete: /api/pull streams Ollama's progress lines, then
// the pulled name chats, is listed with its digest, copies and deletes.
func TestPullChatTagsDelete(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, qwen2Mini))
	if err != nil {
		t.Fatal(err)
	}
	hub := newTestHub(t, "some/repo", "qwen2-mini.gguf", data, 0)
	s, st, url := storeServer(t, hub, Config{})
	const name = "hf.co/some/repo:qwen2-mini.gguf"

	if _, data := do(t, "GET", url+"/v1/models", nil, nil); !strings.Contains(string(data), `"data":[]`) {
		t.Fatalf("an empty store lists %s", data)
	}
	resp, body := post(t, url+"/api/pull", map[string]any{"model": name})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("pull = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	checkPullLines(t, body, hub.sha, int64(len(data)))

	// The name chats, and is listed by both APIs with the blob's digest.
	resp, body = post(t, url+"/api/chat", map[string]any{"model": name, "stream": false,
		"messages": []map[string]any{{"role": "user", "content": "hi"}}, "options": map[string]any{"num_predict": 3}})
	if r := decode[ollamaChatResponse](t, body); resp.StatusCode != 200 || !r.Done || r.EvalCount != 3 || r.Model != name {
		t.Fatalf("chat with the pulled model = %d %s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", url+"/api/tags", nil, nil)
	tags := decode[struct{ Models []ollamaListModel }](t, body).Models
	if len(tags) != 1 || tags[0].Name != name || tags[0].Digest != hub.sha || tags[0].Size != int64(len(data)) || tags[0].Details.Family != "qwen2" {
		t.Fatalf("tags = %s", body)
	}
	_, body = do(t, "GET", url+"/api/ps", nil, nil)
	if ps := decode[struct{ Models []ollamaRunningModel }](t, body).Models; len(ps) != 1 || ps[0].Digest != hub.sha {
		t.Fatalf("ps = %s", body)
	}
	_, body = post(t, url+"/api/show", map[string]any{"model": name})
	if show := decode[ollamaShowResponse](t, body); !strings.Contains(show.Modelfile, "from hf some/repo, file qwen2-mini.gguf") || show.Details.QuantizationLevel != "F32" {
		t.Errorf("show = %s", body)
	}

	// copy, then delete: the loaded model is unloaded, the copy keeps the file.
	if resp, body := post(t, url+"/api/copy", map[string]any{"source": name, "destination": "Mini"}); resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("copy = %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "DELETE", url+"/api/delete", map[string]any{"model": name}, nil); resp.StatusCode != 200 {
		t.Fatalf("delete = %d %s", resp.StatusCode, body)
	}
	if running(s) != "" {
		t.Errorf("still loaded after delete: %s", running(s))
	}
	_, body = do(t, "GET", url+"/v1/models", nil, nil)
	if ids := modelIDs(decode[modelList](t, body)); !slices.Equal(ids, []string{"mini:latest"}) {
		t.Errorf("models after delete = %q, want [mini:latest]", ids)
	}
	resp, body = post(t, url+"/api/generate", map[string]any{"model": "mini", "prompt": "hi", "stream": false, "options": map[string]any{"num_predict": 2}})
	if resp.StatusCode != 200 || decode[ollamaGenerateResponse](t, body).Model != "mini:latest" {
		t.Errorf("generate with the copy = %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(t, url+"/api/show", map[string]any{"model": name}); resp.StatusCode != 404 {
		t.Errorf("show after delete = %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", url+"/api/delete", map[string]any{"name": "mini:latest"}, nil); resp.StatusCode != 200 {
		t.Errorf("delete mini = %d", resp.StatusCode)
	}
	if list, _ := st.List(); len(list) != 0 {
		t.Errorf("store after deleting both names: %v", list)
	}

	// stream:false answers once, at the end.
	resp, body = post(t, url+"/api/pull", map[string]any{"name": name, "stream": false})
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"success"}` {
		t.Errorf("pull without streaming = %d %s", resp.StatusCode, body)
	}
}

// checkPullLines checks a pull's NDJSON against Ollama's shapes and order.
func checkPullLines(t *testing.T, body []byte, sha string, size int64) {
	t.Helper()
	var statuses []string
	var last store.Progress
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for k := range raw {
			if k != "status" && k != "digest" && k != "total" && k != "completed" {
				t.Errorf("line %s has field %q", sc.Text(), k)
			}
		}
		ev := decode[store.Progress](t, sc.Bytes())
		if strings.HasPrefix(ev.Status, "pulling ") && ev.Status != "pulling manifest" {
			if ev.Status != "pulling "+sha[:12] || ev.Digest != "sha256:"+sha || ev.Total != size || ev.Completed < last.Completed {
				t.Errorf("progress line %s", sc.Text())
			}
			last = ev
			if len(statuses) > 0 && statuses[len(statuses)-1] == ev.Status {
				continue
			}
		}
		statuses = append(statuses, ev.Status)
	}
	want := []string{"pulling manifest", "pulling " + sha[:12], "verifying sha256 digest", "writing manifest", "success"}
	if !slices.Equal(statuses, want) || last.Completed != size {
		t.Errorf("pull statuses %q (last count %d), want %q ending at %d:\n%s", statuses, last.Completed, want, size, body)
	}
}

func modelIDs(l modelList) []string {
	var ids []string
	for _, m := range l.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestPullErrors(t *testing.T) {
	hub := newTestHub(t, "some/repo", "m.gguf", []byte("GGUF"), 0)
	_, _, url := storeServer(t, hub, Config{})
	for _, tt := range []struct {
		body   map[string]any
		status int
		want   string
	}{
		{map[string]any{}, 400, "model is required"},
		{map[string]any{"model": "hf.co/../x"}, 400, "invalid model name"},
		{map[string]any{"model": "nosuchmodel:7b"}, 400, "not in the catalogue"},
		{map[string]any{"model": "hf.co/some/missing:m.gguf", "stream": false}, 404, "404"},
	} {
		resp, body := post(t, url+"/api/pull", tt.body)
		if e := decode[ollamaError](t, body); resp.StatusCode != tt.status || !strings.Contains(e.Error, tt.want) {
			t.Errorf("pull %v = %d %s, want %d %q", tt.body, resp.StatusCode, body, tt.status, tt.want)
		}
	}
	// Once the stream has started, the error is its last line.
	resp, body := post(t, url+"/api/pull", map[string]any{"model": "hf.co/some/missing:m.gguf"})
	lines := ndjson(t, body)
	if resp.StatusCode != 200 || len(lines) != 2 || lines[0]["status"] != "pulling manifest" || !strings.Contains(lines[1]["error"].(string), "404") {
		t.Errorf("streamed pull of a missing file = %d %s", resp.StatusCode, body)
	}
	for _, tt := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/api/copy", map[string]any{"source": "nope", "destination": "x"}, 404},
		{"POST", "/api/copy", map[string]any{"source": "nope"}, 400},
		{"DELETE", "/api/delete", map[string]any{"model": "nope"}, 404},
		{"DELETE", "/api/delete", map[string]any{"model": "a/../b"}, 400},
		{"POST", "/api/create", map[string]any{"model": "x"}, 501},
	} {
		if resp, body := do(t, tt.method, url+tt.path, tt.body, nil); resp.StatusCode != tt.status {
			t.Errorf("%s %s %v = %d %s, want %d", tt.method, tt.path, tt.body, resp.StatusCode, body, tt.status)
		}
	}
}

// TestPullDisconnectCancels: a client that goes away mid-download stops
// it, and the bytes received stay for the next pull to resume from.
func TestPullDisconnectCancels(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, qwen2Mini))
	if err != nil {
		t.Fatal(err)
	}
	hub := newTestHub(t, "some/repo", "m.gguf", data, 1<<20)
	_, st, url := storeServer(t, hub, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/pull", strings.NewReader(`{"model":"hf.co/some/repo:m.gguf"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if ev := decode[store.Progress](t, line); err != nil || ev.Status != "pulling manifest" {
		t.Fatalf("first line %q, %v", line, err)
	}
	select {
	case <-hub.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the download did not start")
	}
	cancel()
	select {
	case <-hub.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the download went on after the client left")
	}
	partial, _ := os.ReadDir(filepath.Join(st.Root(), "partial"))
	if len(partial) == 0 {
		t.Errorf("no partial download kept to resume from")
	}
	if list, _ := st.List(); len(list) != 0 {
		t.Errorf("a cancelled pull registered %v", list)
	}
}

func TestProgressThrottle(t *testing.T) {
	count := func(d string, done int64) store.Progress {
		return store.Progress{Status: "pulling " + d, Digest: "sha256:" + d, Total: 100, Completed: done}
	}
	step := func(s string) store.Progress { return store.Progress{Status: s} }
	type in struct {
		at time.Duration
		ev store.Progress
	}
	tests := []struct {
		name string
		in   []in
		want []store.Progress
	}{
		{"steps pass", []in{{0, step("pulling manifest")}, {1, step("success")}},
			[]store.Progress{step("pulling manifest"), step("success")}},
		{"first count passes, close ones are held", []in{{0, count("a", 1)}, {10 * time.Millisecond, count("a", 2)}, {20 * time.Millisecond, count("a", 3)}},
			[]store.Progress{count("a", 1)}},
		{"held count goes before the next step", []in{{0, count("a", 1)}, {10 * time.Millisecond, count("a", 2)}, {20 * time.Millisecond, step("verifying sha256 digest")}},
			[]store.Progress{count("a", 1), count("a", 2), step("verifying sha256 digest")}},
		{"a count after the interval passes", []in{{0, count("a", 1)}, {50 * time.Millisecond, count("a", 2)}, {100 * time.Millisecond, count("a", 3)}},
			[]store.Progress{count("a", 1), count("a", 3)}},
		{"completion always passes", []in{{0, count("a", 1)}, {1 * time.Millisecond, count("a", 100)}},
			[]store.Progress{count("a", 1), count("a", 100)}},
		{"another download flushes the held count", []in{{0, count("a", 1)}, {1 * time.Millisecond, count("a", 2)}, {2 * time.Millisecond, count("b", 5)}},
			[]store.Progress{count("a", 1), count("a", 2), count("b", 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			th := newProgressThrottle(100*time.Millisecond, func() time.Time { return now })
			var got []store.Progress
			for _, x := range tt.in {
				now = time.Unix(0, 0).Add(x.at)
				got = append(got, th.add(x.ev)...)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sent %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStoreNames: store models are served under the store's names, files
// shadow them, and names are checked by the store's rules.
func TestStoreNames(t *testing.T) {
	src := golden.Path(t, qwen2Mini)
	st, err := store.Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"MyModel", "qwen", "hf.co/a/b:q8_0"} {
		if _, err := st.Import(src, n); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &Config{Store: st, Models: []string{modelCopy(t, src, "qwen", "")}}
	ms, err := newModels(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms.list() {
		names = append(names, m.name)
		if len(m.digest) != 64 {
			t.Errorf("model %s has digest %q", m.name, m.digest)
		}
	}
	if want := []string{"hf.co/a/b:q8_0", "mymodel:latest", "qwen"}; !slices.Equal(names, want) {
		t.Errorf("list = %q, want %q", names, want)
	}
	for _, tt := range []struct{ ask, name string }{
		{"mymodel", "mymodel:latest"},
		{"MyModel:latest", "mymodel:latest"},
		{"HF.co/a/b:Q8_0", "hf.co/a/b:q8_0"},
		{"qwen", "qwen"},
		{"qwen:latest", "qwen"},
	} {
		f, err := ms.find(tt.ask)
		if err != nil || f.name != tt.name {
			t.Errorf("find(%q) = %q, %v; want %q", tt.ask, f.name, err, tt.name)
		}
	}
	if f, _ := ms.find("qwen"); !f.fromCLI || f.manifest != nil {
		t.Errorf("find(qwen) = %+v, want the file", f)
	}
	for ask, status := range map[string]int{"nope": 404, "hf.co/a/c": 404, "a/../b": 400, "hf.co/a:b:c": 400, "x\x00": 400} {
		if _, err := ms.find(ask); asAPIError(err).status != status {
			t.Errorf("find(%q) = %v, want status %d", ask, err, status)
		}
	}
}

func TestGate(t *testing.T) {
	g := newGate(1, 1)
	ctx := context.Background()
	if err := g.enter(ctx); err != nil {
		t.Fatal(err)
	}
	entered := make(chan error)
	go func() { entered <- g.enter(ctx) }()
	for g.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := g.enter(ctx); err != errBusy {
		t.Errorf("enter with the queue full = %v, want errBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.enter(cctx); err != errBusy {
		t.Errorf("a cancelled enter with the queue full = %v, want errBusy", err)
	}
	g.leave()
	if err := <-entered; err != nil {
		t.Errorf("the waiting enter = %v", err)
	}
	if err := g.enter(cctx); err != context.Canceled {
		t.Errorf("a cancelled enter with room to wait = %v, want context.Canceled", err)
	}
	g.leave()
	if err := g.enter(ctx); err != nil {
		t.Errorf("enter of a free gate = %v", err)
	}
}

// TestRepulledNameReloads: a name pulled again points at a new file, and
// the next request loads that instead of serving the old one.
func TestRepulledNameReloads(t *testing.T) {
	src := golden.Path(t, qwen2Mini)
	st, err := store.Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(src, "m"); err != nil {
		t.Fatal(err)
	}
	s, ts := testServer(t, Config{Store: st, KeepAlive: time.Minute})
	load := func() string {
		t.Helper()
		if resp, body := post(t, ts.URL+"/api/generate", map[string]any{"model": "m"}); resp.StatusCode != 200 {
			t.Fatalf("load = %d %s", resp.StatusCode, body)
		}
		run := s.models.running()
		if len(run) != 1 {
			t.Fatalf("running %d models", len(run))
		}
		return run[0].path
	}
	first := load()
	if _, err := st.Import(modelCopy(t, src, "other", "Qwen-Qwen3-0.6B.jinja"), "m"); err != nil {
		t.Fatal(err)
	}
	if second := load(); second == first {
		t.Errorf("still serving %s after the name moved", first)
	}
}

// TestAutoPull: with AutoPull a request naming a model the store can fetch
// downloads it first and is answered; a name no hub has stays 404, and
// without AutoPull nothing is fetched.
func TestAutoPull(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, qwen2Mini))
	if err != nil {
		t.Fatal(err)
	}
	hub := newTestHub(t, "some/repo", "qwen2-mini.gguf", data, 0)
	const name = "hf.co/some/repo:qwen2-mini.gguf"
	chat := map[string]any{"model": name, "max_tokens": 2, "messages": []map[string]any{{"role": "user", "content": "hi"}}}

	_, st, url := storeServer(t, hub, Config{})
	if resp, body := post(t, url+"/v1/chat/completions", chat); resp.StatusCode != 404 {
		t.Errorf("without AutoPull: %d %s, want 404", resp.StatusCode, body)
	}
	if list, _ := st.List(); len(list) != 0 {
		t.Errorf("without AutoPull the store got %d models", len(list))
	}

	_, st, url = storeServer(t, hub, Config{AutoPull: true})
	if resp, body := post(t, url+"/v1/chat/completions", chat); resp.StatusCode != 200 {
		t.Fatalf("first use with AutoPull: %d %s", resp.StatusCode, body)
	}
	if _, err := st.Resolve(name); err != nil {
		t.Errorf("the model was not registered: %v", err)
	}
	missing := map[string]any{"model": "hf.co/some/repo:other.gguf", "max_tokens": 2, "messages": chat["messages"]}
	if resp, body := post(t, url+"/v1/chat/completions", missing); resp.StatusCode != 404 && resp.StatusCode != 502 {
		t.Errorf("a file the hub lacks: %d %s, want 404 or 502", resp.StatusCode, body)
	}
}
