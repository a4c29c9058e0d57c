package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Path attacks (shared/golden/gguf-attacks.md C2: Probllama CVE-2024-37032,
// CVE-2026-7020): names, selectors, listings and hub digests that try to
// write outside the store. The store sits four directories down a temporary
// tree, so that any "../" that worked would land inside the tree, where a
// walk finds it.

var storeFileRE = regexp.MustCompile(`^(blobs/sha256-[0-9a-f]{64}|manifests/[a-z0-9._+-]+/[a-z0-9_][a-z0-9._-]*|partial/[a-z0-9-]+\.(partial|json)|locks/[a-z0-9.-]+\.lock|tmp/[a-z0-9-]+)$`)

// walkOutside lists regular files under top that are not store files.
func walkOutside(t *testing.T, top string, s *Store) []string {
	t.Helper()
	var bad []string
	filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(s.root, path)
		if err != nil || strings.HasPrefix(rel, "..") || !storeFileRE.MatchString(filepath.ToSlash(rel)) {
			bad = append(bad, path)
		}
		return nil
	})
	return bad
}

func TestTraversalAttempts(t *testing.T) {
	top := t.TempDir()
	s, err := Open(filepath.Join(top, "a", "b", "c", "models"))
	if err != nil {
		t.Fatal(err)
	}
	hub := newFakeHub(t)
	data := testGGUF(t, "llama", 64<<10, 1)
	hub.add(testRepo, "model-Q4_K_M.gguf", data)
	// Files whose listed names climb out: never selected.
	hub.add(testRepo, "../../../../evil-Q5_K_M.gguf", data)
	hub.add(testRepo, "sub/../../evil-Q6_K.gguf", data)
	e := &pullEnv{t: t, root: top, store: s, hub: hub, data: data}

	refs := []string{
		"hf.co/../../../etc:passwd",
		"hf.co/some/repo:../../../x.gguf",
		"hf.co/some/repo:..%2f..%2fx.gguf",
		"hf.co/some/repo:/abs.gguf",
		"hf.co/some/..:x.gguf",
		"hf.co/some/repo/../../x:x.gguf",
		"modelscope.cn/../repo:x.gguf",
		"hf.co/some/repo:x\x00.gguf",
		"/etc/passwd",
		"../../../../x",
		"..\\..\\x",
		"C:\\Windows\\x",
		"qwen3:../../x",
		"qwen3:0.6b/../../x",
		"hf.co/some/repo:Q5_K_M", // only the climbing file has this quant
		"hf.co/some/repo:Q6_K",
	}
	for _, ref := range refs {
		if _, err := e.pull(ref, nil); err == nil {
			t.Errorf("pull %q succeeded", ref)
		}
	}
	if gets, _, _ := hub.stats(); gets != 0 {
		t.Errorf("rejected references made %d downloads", gets)
	}

	// Hub digests that are not sha256 hex are ignored, never used as paths.
	good := sha256Hex(data)
	for _, etag := range []string{
		`"sha256:../../../../tmp/x"`,
		`"../../../../evil"`,
		`"` + good[:63] + `"`,
		`"` + good + `0"`,
		`"` + good[:20] + "\x00" + good[21:] + `"`,
		`"` + strings.ToUpper(good) + `"`,
	} {
		hub.mu.Lock()
		hub.linkedEtag = etag
		hub.mu.Unlock()
		m, err := e.pull("hf.co/some/repo:model-Q4_K_M.gguf", nil)
		if err != nil {
			// A NUL in a header is refused by the HTTP client itself.
			if !strings.Contains(etag, "\x00") {
				t.Errorf("X-Linked-Etag %q: %v", etag, err)
			}
			continue
		}
		if m.Digest != "sha256:"+good {
			t.Errorf("X-Linked-Etag %q: digest %s", etag, m.Digest)
		}
	}

	// Manifests edited to point outside the store are refused, not followed.
	victim := filepath.Join(top, "victim")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	evil := filepath.Join(s.root, "manifests", "evil")
	os.MkdirAll(evil, 0o755)
	for tag, digest := range map[string]string{
		"up":    "sha256:../../../../victim",
		"short": "sha256:" + good[:63],
		"upper": "sha256:" + strings.ToUpper(good),
	} {
		os.WriteFile(filepath.Join(evil, tag), []byte(`{"schemaVersion":1,"digest":"`+digest+`","size":7}`), 0o644)
		if p, err := s.Resolve("evil:" + tag); err == nil {
			t.Errorf("Resolve(evil:%s) = %s", tag, p)
		}
		if err := s.Remove("evil:" + tag); err == nil {
			t.Errorf("Remove(evil:%s) succeeded", tag)
		}
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "keep me" {
		t.Errorf("victim file touched: %q %v", got, err)
	}
	models, _ := s.List()
	for _, m := range models {
		if strings.HasPrefix(m.Name, "evil") {
			t.Errorf("List shows the tampered %s", m.Name)
		}
	}
	os.RemoveAll(evil)
	os.Remove(victim)

	if bad := walkOutside(t, top, s); len(bad) != 0 {
		t.Errorf("files written outside the store's layout: %q", bad)
	}
}
