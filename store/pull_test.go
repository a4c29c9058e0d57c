package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRepo = "some/repo"

// pullEnv is a store, a fake hub holding one GGUF, and a fast Puller.
type pullEnv struct {
	t      *testing.T
	root   string // the temporary directory holding the store
	store  *Store
	hub    *fakeHub
	data   []byte
	events []Progress
	mu     sync.Mutex
}

func newPullEnv(t *testing.T, size int) *pullEnv {
	t.Helper()
	root := t.TempDir()
	s, err := Open(filepath.Join(root, "models"))
	if err != nil {
		t.Fatal(err)
	}
	e := &pullEnv{t: t, root: root, store: s, hub: newFakeHub(t), data: testGGUF(t, "qwen2", size, 1)}
	e.hub.add(testRepo, "model-Q4_K_M.gguf", e.data)
	return e
}

func (e *pullEnv) puller(mod func(*Options)) *Puller {
	e.t.Helper()
	opt := Options{
		Source:             "auto",
		HFEndpoint:         e.hub.url(),
		ModelScopeEndpoint: e.hub.url(),
		HFToken:            "-",
		Parallel:           3,
		ChunkSize:          256 << 10,
		Retries:            3,
		RetryDelay:         time.Millisecond,
		StallTimeout:       300 * time.Millisecond,
		Progress: func(p Progress) {
			e.mu.Lock()
			e.events = append(e.events, p)
			e.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&opt)
	}
	p, err := NewPuller(e.store, opt)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *pullEnv) pull(ref string, mod func(*Options)) (*Manifest, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.puller(mod).Pull(ctx, ref)
}

// checkStored asserts that name resolves to a byte-identical copy of want.
func (e *pullEnv) checkStored(name string, want []byte) {
	e.t.Helper()
	path, err := e.store.Resolve(name)
	if err != nil {
		e.t.Fatalf("Resolve(%q): %v", name, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("%s: stored file differs from the hub's (%d vs %d bytes)", name, len(got), len(want))
	}
}

// checkNothingRegistered asserts that a failed pull left no model and no
// blob behind.
func (e *pullEnv) checkNothingRegistered() {
	e.t.Helper()
	models, err := e.store.List()
	if err != nil {
		e.t.Fatal(err)
	}
	if len(models) != 0 {
		e.t.Errorf("failed pull registered %v", models)
	}
	blobs, _ := os.ReadDir(filepath.Join(e.store.root, "blobs"))
	if len(blobs) != 0 {
		e.t.Errorf("failed pull left blobs %v", blobs)
	}
}

func TestPullDirectFile(t *testing.T) {
	e := newPullEnv(t, 3<<20)
	m, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
	want := "sha256:" + sha256Hex(e.data)
	if m.Digest != want || m.Size != int64(len(e.data)) || m.Verified != VerifiedPublished || m.Architecture != "qwen2" {
		t.Errorf("manifest = %+v, want digest %s, size %d, published sha256, qwen2", m, want, len(e.data))
	}
	if m.Source == nil || m.Source.Hub != "hf" || m.Source.Repo != testRepo || m.Source.File != "model-Q4_K_M.gguf" {
		t.Errorf("source = %+v", m.Source)
	}
	// The stream reads like Ollama's.
	var statuses []string
	last := int64(-1)
	for _, ev := range e.events {
		if len(statuses) == 0 || statuses[len(statuses)-1] != ev.Status {
			statuses = append(statuses, ev.Status)
		}
		if strings.HasPrefix(ev.Status, "pulling sha") || strings.HasPrefix(ev.Status, "pulling "+sha256Hex(e.data)[:12]) {
			if ev.Completed < last || ev.Total != int64(len(e.data)) || ev.Digest != want {
				t.Errorf("progress event %+v after completed %d", ev, last)
			}
			last = ev.Completed
		}
	}
	wantStatuses := []string{"pulling manifest", "pulling " + sha256Hex(e.data)[:12], "verifying sha256 digest", "writing manifest", "success"}
	if !slices.Equal(statuses, wantStatuses) {
		t.Errorf("statuses = %q\nwant %q", statuses, wantStatuses)
	}
	if last != int64(len(e.data)) {
		t.Errorf("last completed = %d, want %d", last, len(e.data))
	}
	// Chunks were fetched in parallel ranges, and the partial files are gone.
	if _, _, ranges := e.hub.stats(); len(ranges) < 3 {
		t.Errorf("ranges requested: %q, want several chunks", ranges)
	}
	if left, _ := os.ReadDir(filepath.Join(e.store.root, "partial")); len(left) != 0 {
		t.Errorf("partial/ still holds %v", left)
	}
}

func TestProgressJSONIsOllamaShaped(t *testing.T) {
	b, _ := json.Marshal(Progress{Status: "pulling 0123456789ab", Digest: "sha256:x", Total: 10, Completed: 5})
	if got, want := string(b), `{"status":"pulling 0123456789ab","digest":"sha256:x","total":10,"completed":5}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	b, _ = json.Marshal(Progress{Status: "success"})
	if string(b) != `{"status":"success"}` {
		t.Errorf("JSON = %s", b)
	}
}

func TestPullByQuantFromListing(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	other := testGGUF(t, "llama", 1<<20, 2)
	e.hub.add(testRepo, "model-Q8_0.gguf", other)
	e.hub.add(testRepo, "model-UD-Q8_0.gguf", testGGUF(t, "llama", 1<<20, 3))
	if _, err := e.pull("hf.co/Some/Repo:Q8_0", nil); err == nil {
		t.Fatal("pull of a repository by the wrong case worked on a case-sensitive hub")
	}
	m, err := e.pull("hf.co/some/repo:Q8_0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.File != "model-Q8_0.gguf" || m.Quantization != "q8_0" || m.Architecture != "llama" {
		t.Errorf("manifest %+v source %+v", m, m.Source)
	}
	e.checkStored("hf.co/some/repo:q8_0", other)
	// No selector means Q4_K_M.
	if m, err = e.pull("hf.co/some/repo", nil); err != nil || m.Source.File != "model-Q4_K_M.gguf" {
		t.Fatalf("default pull = %+v, %v", m, err)
	}
	e.checkStored("hf.co/some/repo", e.data)
	if _, err := e.pull("hf.co/some/repo:Q6_K", nil); err == nil || !strings.Contains(err.Error(), "model-Q8_0.gguf") {
		t.Errorf("missing quant: err = %v, want the files listed", err)
	}
}

func TestPullRetriesFaults(t *testing.T) {
	e := newPullEnv(t, 2<<20)
	e.hub.fail = 2 // two 503s
	e.hub.cuts = 2 // two connections cut mid-body
	e.hub.cutAfter = 1000
	e.hub.stalls = 1 // one body that never starts
	e.hub.stall = 5 * time.Second
	start := time.Now()
	if _, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("pull took %v: the stall was not cut short", d)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
}

func TestPullResumesAfterInterruption(t *testing.T) {
	e := newPullEnv(t, 3<<20)
	// The connection drops after 300 KiB and the hub then fails: the first
	// pull gives up part-way.
	e.hub.cuts, e.hub.cutAfter, e.hub.dieAtCut = 1, 300<<10, true
	_, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", func(o *Options) { o.Retries = 1; o.Parallel = 1; o.ChunkSize = 1 << 20 })
	if err == nil {
		t.Fatal("pull through a hub that cuts every body succeeded")
	}
	e.checkNothingRegistered()
	_, firstBytes, _ := e.hub.stats()
	if firstBytes == 0 || firstBytes >= int64(len(e.data)) {
		t.Fatalf("first pull received %d bytes, want part of %d", firstBytes, len(e.data))
	}
	e.hub.mu.Lock()
	e.hub.fail, e.hub.ranges, e.hub.servedBytes = 0, nil, 0
	e.hub.mu.Unlock()
	if _, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", func(o *Options) { o.Parallel = 1; o.ChunkSize = 1 << 20 }); err != nil {
		t.Fatal(err)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
	_, second, ranges := e.hub.stats()
	if second+firstBytes > int64(len(e.data))+int64(1<<20) {
		t.Errorf("resumed pull fetched %d bytes after %d: it started over", second, firstBytes)
	}
	if len(ranges) == 0 || ranges[0] == "bytes=0-1048575" {
		t.Errorf("resumed pull's first range %q starts from zero", ranges)
	}
}

func TestPullCancelledThenResumed(t *testing.T) {
	e := newPullEnv(t, 3<<20)
	// One chunk hangs; the others arrive; then the user presses Ctrl-C.
	e.hub.stalls, e.hub.stall = 1, 10*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	p := e.puller(func(o *Options) { o.Parallel, o.ChunkSize, o.StallTimeout = 2, 512<<10, 20*time.Second })
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.Pull(ctx, "hf.co/some/repo:model-Q4_K_M.gguf")
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled pull: err = %v after %v", err, time.Since(start))
	}
	_, first, _ := e.hub.stats()
	e.checkNothingRegistered()
	state, err := filepath.Glob(filepath.Join(e.store.root, "partial", "*.json"))
	if err != nil || len(state) != 1 {
		t.Fatalf("resume state after cancel: %v %v", state, err)
	}
	if _, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", func(o *Options) { o.ChunkSize = 512 << 10 }); err != nil {
		t.Fatal(err)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
	if _, total, _ := e.hub.stats(); total-first > 512<<10 {
		t.Errorf("resumed pull fetched %d more bytes, want only the hung chunk's (at most %d)", total-first, 512<<10)
	}
}

func TestPullDetectsCorruption(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	e.hub.corrupt = true
	_, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), sha256Hex(e.data)) {
		t.Fatalf("err = %v, want ErrCorrupt naming the published sha256", err)
	}
	e.checkNothingRegistered()
	if left, _ := os.ReadDir(filepath.Join(e.store.root, "partial")); len(left) != 0 {
		t.Errorf("corrupt download kept in partial/: %v", left)
	}
}

func TestPullWithoutPublishedSHA(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	e.hub.noSHA = true
	m, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Verified != VerifiedSize || m.Digest != "sha256:"+sha256Hex(e.data) {
		t.Errorf("manifest %+v: want the received bytes' digest, verified by size", m)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
}

func TestPullWhereHEADIsDenied(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	e.hub.headDenied = true
	for _, ref := range []string{"hf.co/some/repo:model-Q4_K_M.gguf", "modelscope.cn/some/repo:model-Q4_K_M.gguf"} {
		m, err := e.pull(ref, nil)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if m.Verified != VerifiedPublished {
			t.Errorf("%s: verified %q, want the published sha256 (X-Linked-Etag or listing)", ref, m.Verified)
		}
		e.checkStored(ref, e.data)
	}
}

func TestPullServerIgnoringRanges(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	e.hub.noRanges = true
	if _, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil); err != nil {
		t.Fatal(err)
	}
	e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
}

func TestPullSizeMismatch416(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	e.hub.sizeDelta = 300 << 10 // the hub claims more than it has: the last ranges get 416
	_, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("err = %v, want the file reported changed", err)
	}
	e.checkNothingRegistered()
}

func TestPullConcurrentSameModel(t *testing.T) {
	for _, noSHA := range []bool{false, true} {
		t.Run(map[bool]string{false: "published sha256", true: "no sha256"}[noSHA], func(t *testing.T) {
			e := newPullEnv(t, 2<<20)
			e.hub.noSHA = noSHA
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			e.checkStored("hf.co/some/repo:model-Q4_K_M.gguf", e.data)
			blobs, _ := os.ReadDir(filepath.Join(e.store.root, "blobs"))
			if len(blobs) != 1 {
				t.Errorf("blobs = %v, want one", blobs)
			}
			if _, served, _ := e.hub.stats(); !noSHA && served > int64(len(e.data))+1 {
				t.Errorf("four pulls of a published file fetched %d bytes, want it once (%d)", served, len(e.data))
			}
		})
	}
}

func TestPullNoDiskSpace(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	p := e.puller(nil)
	p.freeSpace = func(string) (int64, error) { return 1 << 10, nil }
	_, err := p.Pull(context.Background(), "hf.co/some/repo:model-Q4_K_M.gguf")
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("err = %v, want ErrNoSpace", err)
	}
	if gets, _, _ := e.hub.stats(); gets != 0 {
		t.Errorf("%d downloads started without the space for them", gets)
	}
	e.checkNothingRegistered()
}

func TestPullCatalogFallsBackToModelScope(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	data := testGGUF(t, "qwen3", 1<<20, 7)
	e.hub.add("unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf", data)
	e.hub.hfDown = true
	m, err := e.pull("qwen3:0.6b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source.Hub != "modelscope" || m.Name != "qwen3:0.6b" || m.Quantization != "q4_k_m" || m.Verified != VerifiedPublished {
		t.Errorf("manifest %+v source %+v", m, m.Source)
	}
	e.checkStored("qwen3:0.6b", data)
	e.checkStored("qwen3:0.6b:q4_k_m", data)

	// The source can be pinned, and Hugging Face alone then fails.
	if _, err := e.pull("qwen3:0.6b", func(o *Options) { o.Source = "hf" }); err == nil {
		t.Error("pull with source hf from a hub that is down succeeded")
	}
}

func TestPullCatalogPinnedSHA(t *testing.T) {
	e := newPullEnv(t, 1<<20)
	data := testGGUF(t, "qwen3", 1<<20, 8) // not the real file: its sha256 is not the pinned one
	e.hub.add("Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf", data)
	_, err := e.pull("qwen3:0.6b:q8_0", func(o *Options) { o.Source = "hf" })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "9465e63a") {
		t.Fatalf("err = %v, want a sha256 disagreement naming the pinned digest", err)
	}
	if gets, _, _ := e.hub.stats(); gets != 0 {
		t.Errorf("%d downloads of a file whose published sha256 is wrong", gets)
	}
	e.checkNothingRegistered()
}

func TestPullRefusesUnsupportedArchitecture(t *testing.T) {
	e := newPullEnv(t, 1<<10)
	_, err := e.pull("qwen3:30b-a3b", nil)
	if err == nil || !strings.Contains(err.Error(), "qwen3moe") || !strings.Contains(err.Error(), "cannot run") {
		t.Fatalf("err = %v, want a refusal naming qwen3moe", err)
	}
	if gets, _, _ := e.hub.stats(); gets != 0 {
		t.Error("refused model was downloaded")
	}
}

func TestPullUnknownNames(t *testing.T) {
	e := newPullEnv(t, 1<<10)
	for _, tc := range []struct{ ref, want string }{
		{"qwen3", "needs a size"},
		{"qwen3:99b", "needs a size"},
		{"nosuchmodel:1b", "unknown model"},
		{"qwen3:0.6b-q2_k", "no quantization"},
		{"hf.co/onlyuser", "invalid repository"},
		{"modelscope.cn/some/repo:Q4_K_M", ""}, // allowed, and here it exists
	} {
		_, err := e.pull(tc.ref, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("pull %q: %v", tc.ref, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("pull %q: err = %v, want %q", tc.ref, err, tc.want)
		}
	}
}

// recordAuth makes a hub log each request's path and Authorization header.
func recordAuth(h *fakeHub) func() []string {
	var mu sync.Mutex
	var seen []string
	inner := h.srv.Config.Handler
	h.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func TestPullTokenGoesOnlyToHF(t *testing.T) {
	e := newPullEnv(t, 1<<10)
	hfSeen := recordAuth(e.hub)
	ms := newFakeHub(t)
	ms.add(testRepo, "model-Q4_K_M.gguf", e.data)
	msSeen := recordAuth(ms)
	withToken := func(o *Options) {
		o.HFToken = "hf_secret"
		o.ModelScopeEndpoint = ms.url()
	}
	if _, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", withToken); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pull("modelscope.cn/some/repo:model-Q4_K_M.gguf", withToken); err != nil {
		t.Fatal(err)
	}
	for _, s := range hfSeen() {
		if !strings.HasSuffix(s, " Bearer hf_secret") {
			t.Errorf("HF request %q without the token", s)
		}
	}
	for _, s := range msSeen() {
		if strings.Contains(s, "hf_secret") {
			t.Errorf("ModelScope request %q carries the HF token", s)
		}
	}
	if len(hfSeen()) == 0 || len(msSeen()) == 0 {
		t.Error("a hub saw no requests")
	}
}
