package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/internal/golden"
	"zhiyan/store"
)

// testHub serves one file the way Hugging Face does: the resolve URL
// redirects to a CDN path with the LFS sha256 and size in X-Linked-*
// headers, and the CDN takes byte ranges.
func testHub(t *testing.T, repo, file string, data []byte) *httptest.Server {
	t.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + repo + "/resolve/main/" + file:
			w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
			http.Redirect(w, r, "/cdn/"+sha, http.StatusFound)
		case "/cdn/" + sha:
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPullListRun: HF_ENDPOINT=http://127.0.0.1:PORT zhiyan pull
// hf.co/some/repo:file.gguf, then list shows it and run uses it.
func TestPullListRun(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := testHub(t, "some/repo", "qwen2-mini.gguf", data)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("ZHIYAN_SOURCE", "")
	t.Setenv("ZHIYAN_HOME", filepath.Join(t.TempDir(), "models"))
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])[:12]

	stdout, stderr, code := zhiyan(t, "pull", "hf.co/some/repo:qwen2-mini.gguf")
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"pulling manifest", "pulling " + id, "100%", "verifying sha256 digest", "writing manifest"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("pull progress lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "hf.co/some/repo:qwen2-mini.gguf") || !strings.Contains(stdout, id) {
		t.Errorf("pull output %q", stdout)
	}

	stdout, stderr, code = zhiyan(t, "list")
	if code != 0 || !strings.Contains(stdout, "hf.co/some/repo:qwen2-mini.gguf") || !strings.Contains(stdout, id) || !strings.Contains(stdout, "qwen2") {
		t.Fatalf("list: exit %d, %q %q", code, stdout, stderr)
	}

	stdout, stderr, code = zhiyan(t, "run", "--seed", "1", "-n", "4", "hf.co/some/repo:qwen2-mini.gguf", "hello")
	if code != 0 || strings.TrimSpace(stdout) == "" || strings.Contains(stderr, "pulling") {
		t.Fatalf("run by name: exit %d, %q %q", code, stdout, stderr)
	}
	if stdout, stderr, code = zhiyan(t, "show", "hf.co/some/repo:qwen2-mini.gguf"); code != 0 || !strings.Contains(stdout, "qwen2") {
		t.Fatalf("show by name: exit %d, %q %q", code, stdout, stderr)
	}

	// A second pull finds the file and downloads nothing.
	if _, stderr, code = zhiyan(t, "pull", "hf.co/some/repo:qwen2-mini.gguf"); code != 0 {
		t.Fatalf("second pull: %s", stderr)
	}

	// cp, import, rm.
	if _, stderr, code = zhiyan(t, "cp", "hf.co/some/repo:qwen2-mini.gguf", "mini"); code != 0 {
		t.Fatalf("cp: %s", stderr)
	}
	local := filepath.Join(t.TempDir(), "local.gguf")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code = zhiyan(t, "import", local, "imported:v1"); code != 0 || !strings.Contains(stdout, id) {
		t.Fatalf("import: exit %d %q %q", code, stdout, stderr)
	}
	if _, stderr, code = zhiyan(t, "rm", "hf.co/some/repo:qwen2-mini.gguf", "mini"); code != 0 {
		t.Fatalf("rm: %s", stderr)
	}
	stdout, _, _ = zhiyan(t, "list")
	if strings.Contains(stdout, "mini:latest") || !strings.Contains(stdout, "imported:v1") {
		t.Errorf("list after rm:\n%s", stdout)
	}
	if _, err := store.ResolveModel("imported:v1"); err != nil {
		t.Errorf("the imported copy lost its file when the others were removed: %v", err)
	}
	if _, stderr, code = zhiyan(t, "rm", "nothere"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("rm of a missing name: exit %d %q", code, stderr)
	}
}

// TestRunPullsOnFirstUse: run with a name the store lacks downloads it,
// then chats with it; show does not download.
func TestRunPullsOnFirstUse(t *testing.T) {
	data, err := os.ReadFile(golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := testHub(t, "some/repo", "qwen2-mini.gguf", data)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("ZHIYAN_SOURCE", "")
	t.Setenv("ZHIYAN_HOME", filepath.Join(t.TempDir(), "models"))
	if _, stderr, code := zhiyan(t, "show", "hf.co/some/repo:qwen2-mini.gguf"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("show of a model not pulled: exit %d %q", code, stderr)
	}
	stdout, stderr, code := zhiyan(t, "run", "--seed", "1", "-n", "4", "hf.co/some/repo:qwen2-mini.gguf", "hello")
	if code != 0 || strings.TrimSpace(stdout) == "" || !strings.Contains(stderr, "pulling") {
		t.Fatalf("run of a model not pulled: exit %d, %q %q", code, stdout, stderr)
	}
	if _, err := store.ResolveModel("hf.co/some/repo:qwen2-mini.gguf"); err != nil {
		t.Errorf("after run: %v", err)
	}
	if _, stderr, code := zhiyan(t, "run", "no/such:thing", "hi"); code != 1 {
		t.Errorf("run of an unknown name: exit %d %q", code, stderr)
	}
}

func TestPullErrors(t *testing.T) {
	t.Setenv("ZHIYAN_HOME", filepath.Join(t.TempDir(), "models"))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pull"}, 2, "Usage"},
		{[]string{"pull", "--source", "ftp", "qwen3:0.6b"}, 1, "unknown source"},
		{[]string{"pull", "qwen3:30b-a3b"}, 1, "cannot run yet"},
		{[]string{"pull", "hf.co/../../x"}, 1, "invalid"},
		{[]string{"pull", "qwen3"}, 1, "needs a size"},
		{[]string{"import", "nope.gguf", "x"}, 1, "no such file"},
	} {
		_, stderr, code := zhiyan(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("zhiyan %q: exit %d %q, want %d %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	stdout, _, code := zhiyan(t, "list", "--catalog")
	if code != 0 || !strings.Contains(stdout, "qwen2.5:7b") || !strings.Contains(stdout, "not runnable yet") {
		t.Errorf("list --catalog:\n%s", stdout)
	}
}
