package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhiyan/db"
	"zhiyan/internal/golden"
)

func TestWatchHint(t *testing.T) {
	home := t.TempDir()
	t.Setenv("ZHIYAN_HOME", home)
	t.Chdir(t.TempDir())
	cwd, _ := os.Getwd()
	tests := []struct {
		out, want string
	}{
		{filepath.Join(home, "runs", "tang"), "watch it live: zhiyan serve, then"},
		{filepath.Join(home, "elsewhere", "tang"), "watch it live: zhiyan serve --runs " + filepath.Join(home, "elsewhere") + ", then"},
		{"run", "watch it live: zhiyan serve --runs " + cwd + ", then"},
		{filepath.Join(home, "my runs", "a"), `zhiyan serve --runs "` + filepath.Join(home, "my runs") + `", then`},
	}
	for _, tt := range tests {
		if got := watchHint(tt.out); !strings.Contains(got, tt.want) {
			t.Errorf("watchHint(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

// TestServeWatchesRuns: a run `zhiyan train` wrote into the default runs
// directory is listed, finished, by `zhiyan serve`'s web API; --runs
// points elsewhere.
func TestServeWatchesRuns(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	home := filepath.Join(t.TempDir(), "models")
	t.Setenv("ZHIYAN_HOME", home)
	t.Setenv("ZHIYAN_API_KEY", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	t.Setenv("ZHIYAN_DB", "")
	data := filepath.Join(t.TempDir(), "poems.txt")
	poems := strings.Repeat("床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。\n\n", 60)
	if err := os.WriteFile(data, []byte(poems), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := zhiyan(t, "train", "--out", filepath.Join(home, "runs", "tiny"), "--dim", "16", "--layers", "1",
		"--heads", "2", "--kv-heads", "1", "--ctx", "16", "--batch", "2", "--steps", "5", "--warmup", "1", "--eval-every", "0",
		"--threads", "1", data)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "watch it live: zhiyan serve, then") {
		t.Errorf("train printed no hint to watch it:\n%s", stdout)
	}
	other := t.TempDir()

	for _, tt := range []struct {
		name string
		args []string
		dir  string
		runs []string
	}{
		{"default", []string{model}, filepath.Join(home, "runs"), []string{"tiny"}},
		{"flag", []string{model, "--runs", other}, other, nil},
	} {
		t.Run(tt.name, func(t *testing.T) { checkServedRuns(t, tt.args, tt.dir, tt.runs) })
	}
}

func checkServedRuns(t *testing.T, args []string, dir string, runs []string) {
	base, _ := startServe(t, args...)
	admin := signIn(t, base, "root")
	var list struct {
		Dir  string
		Runs []struct{ Name, Status string }
	}
	resp, err := admin.Get(base + "/app/admin/runs")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /app/admin/runs = %d, %v", resp.StatusCode, err)
	}
	var names []string
	for _, r := range list.Runs {
		names = append(names, r.Name)
		if r.Status != "finished" {
			t.Errorf("run %s is %s, want finished", r.Name, r.Status)
		}
	}
	if list.Dir != dir || strings.Join(names, ",") != strings.Join(runs, ",") {
		t.Errorf("serve %q lists %v in %s, want %v in %s", args, names, list.Dir, runs, dir)
	}
}

// signIn makes an administrator in the served database and returns a
// client with their session.
func signIn(t *testing.T, base, name string) *http.Client {
	t.Helper()
	d, err := db.Open(context.Background(), filepath.Join(os.Getenv("ZHIYAN_HOME"), "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.CreateUser(context.Background(), name, "a long passphrase", true); err != nil && !errors.Is(err, db.ErrExists) {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(base+"/app/login", "application/json", strings.NewReader(`{"name":"`+name+`","password":"a long passphrase"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	return c
}
