package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportListResolveCopyRemove(t *testing.T) {
	s := openTemp(t)
	a := testGGUF(t, "llama", 64<<10, 1)
	b := testGGUF(t, "qwen3", 64<<10, 2)
	m, err := s.Import(writeTemp(t, "a.gguf", a), "Mine:v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != "sha256:"+sha256Hex(a) || m.Size != int64(len(a)) || m.Architecture != "llama" || m.Verified != VerifiedLocal {
		t.Errorf("manifest %+v", m)
	}
	// Through a relative symlink, which must not end up in the store as one.
	bfile := writeTemp(t, "b.gguf", b)
	link := filepath.Join(filepath.Dir(bfile), "link.gguf")
	if err := os.Symlink("b.gguf", link); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(link, "other"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(s.BlobPath(digestFromHex(sha256Hex(b)))); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("blob imported through a symlink: %v, %v", fi, err)
	}
	if err := s.Copy("mine:v1", "hf.co/me/copy:q4_k_m"); err != nil {
		t.Fatal(err)
	}
	models, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	if got, want := strings.Join(names, " "), "hf.co/me/copy:q4_k_m mine:v1 other:latest"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	for name, want := range map[string][]byte{"mine:v1": a, "MINE:V1": a, "other": b, "hf.co/me/copy:Q4_K_M": a} {
		p, err := s.Resolve(name)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != string(want) {
			t.Errorf("Resolve(%q) gives the wrong file", name)
		}
	}
	// Removing one of two names keeps the shared file; removing the last
	// deletes it.
	blob := s.BlobPath(digestFromHex(sha256Hex(a)))
	if err := s.Remove("mine:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("shared blob removed with one of its names: %v", err)
	}
	if err := s.Remove("hf.co/me/copy:q4_k_m"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blob); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreferenced blob kept: %v", err)
	}
	if _, err := s.Resolve("mine:v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of a removed name: %v", err)
	}
	if err := s.Remove("mine:v1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	if m, err := s.Show("other"); err != nil || m.Architecture != "qwen3" {
		t.Errorf("Show = %+v, %v", m, err)
	}
}

func TestImportRejects(t *testing.T) {
	s := openTemp(t)
	dir := t.TempDir()
	for _, tc := range []struct{ name, file, model, want string }{
		{"not gguf", writeTemp(t, "x.gguf", []byte("this is not a model file")), "x", "not a GGUF"},
		{"truncated gguf", writeTemp(t, "y.gguf", testGGUF(t, "llama", 4096, 1)[:100]), "y", ""},
		{"directory", dir, "d", "not a regular file"},
		{"missing", filepath.Join(dir, "nope.gguf"), "n", "no such file"},
		{"bad name", writeTemp(t, "z.gguf", testGGUF(t, "llama", 4096, 1)), "../z", "invalid model name"},
	} {
		_, err := s.Import(tc.file, tc.model)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Import = %v, want %q", tc.name, err, tc.want)
		}
	}
	if models, _ := s.List(); len(models) != 0 {
		t.Errorf("rejected imports registered %v", models)
	}
	if left, _ := os.ReadDir(filepath.Join(s.root, "tmp")); len(left) != 0 {
		t.Errorf("tmp/ holds %v", left)
	}
	if blobs, _ := os.ReadDir(filepath.Join(s.root, "blobs")); len(blobs) != 0 {
		t.Errorf("blobs/ holds %v", blobs)
	}
}

func TestResolveModel(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("ZHIYAN_HOME", home)
	s, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	if s.Root() != home {
		t.Errorf("default store at %s, want $ZHIYAN_HOME %s", s.Root(), home)
	}
	data := testGGUF(t, "llama", 4096, 1)
	file := writeTemp(t, "local.gguf", data)
	if _, err := s.Import(file, "qwen3:0.6b"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ arg, want, err string }{
		{file, file, ""},
		{"qwen3:0.6b", s.BlobPath(digestFromHex(sha256Hex(data))), ""},
		{"qwen3:0.6b:q4_k_m", s.BlobPath(digestFromHex(sha256Hex(data))), ""},
		{"qwen3:1.7b", "", "zhiyan pull qwen3:1.7b"},
		{"missing.gguf", "", "no such file"},
		{"./missing", "", "no such file"},
		{filepath.Join(home, "nope.gguf"), "", "no such file"},
		{t.TempDir(), "", "not a regular file"},
		{"../../etc/passwd:x", "", "no such file"},
		{"hf.co/../x:y", "", "invalid"},
	} {
		got, err := ResolveModel(tc.arg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveModel(%q) = %q, %v; want error %q", tc.arg, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveModel(%q) = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
	if _, err := ResolveModel("qwen3:1.7b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing name: %v does not wrap ErrNotFound", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("ZHIYAN_HOME", "")
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	if d, err := DefaultDir(); err != nil || d != filepath.Join(home, ".zhiyan") {
		t.Errorf("DefaultDir = %q, %v", d, err)
	}
}
