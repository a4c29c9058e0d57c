package store

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in, path, tag string // path "" = must be rejected
	}{
		{"qwen3:0.6b", "qwen3", "0.6b"},
		{"mymodel", "mymodel", "latest"},
		{"MyModel:Q4_K_M", "mymodel", "q4_k_m"},
		{"hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", "hf.co/qwen/qwen3-0.6b-gguf", "q8_0"},
		{"a/b/c/d:t", "a/b/c/d", "t"},
		{"x:_tag", "x", "_tag"},
		{"x:file-Q4_K_M.gguf", "x", "file-q4_k_m.gguf"},

		{"", "", ""},
		{"..", "", ""},
		{"../x", "", ""},
		{"x/../y", "", ""},
		{"x/./y", "", ""},
		{"./x", "", ""},
		{"/etc/passwd", "", ""},
		{"\\x", "", ""},
		{"x\\..\\y", "", ""},
		{"C:\\x", "", ""},
		{"c:/x", "", ""},
		{"x:..", "", ""},
		{"x:.hidden", "", ""},
		{"x:a/b", "", ""},
		{"x:", "", ""},
		{"x::y", "", ""},
		{"a:b/c:d", "", ""},
		{"x//y", "", ""},
		{"x/", "", ""},
		{"-x", "", ""},
		{".x", "", ""},
		{"x.", "", ""},
		{"a/b/c/d/e", "", ""},
		{"x\x00y", "", ""},
		{"x\ny", "", ""},
		{"模型", "", ""},
		{"x y", "", ""},
		{"x+y", "", ""},
		{"con", "", ""},
		{"a/nul.txt", "", ""},
		{"x:com1", "", ""},
		{strings.Repeat("a", 101), "", ""},
		{"x:" + strings.Repeat("t", 129), "", ""},
	} {
		n, err := ParseName(tc.in)
		switch {
		case tc.path == "" && err == nil:
			t.Errorf("ParseName(%q) = %v, want an error", tc.in, n)
		case tc.path != "" && err != nil:
			t.Errorf("ParseName(%q): %v", tc.in, err)
		case tc.path != "" && (n.Path != tc.path || n.Tag != tc.tag):
			t.Errorf("ParseName(%q) = %q:%q, want %q:%q", tc.in, n.Path, n.Tag, tc.path, tc.tag)
		}
	}
}

// The digests of the Probllama fix (CVE-2024-37032) and the digest→path
// traversal of CVE-2026-7020: only exact lower-case sha256 passes.
func TestParseDigest(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"sha256:" + good, true},
		{"sha256-" + good, true},
		{"sha256:../../../tmp/x", false},
		{"sha256:" + good[:63], false},
		{"sha256:" + good + "0", false},
		{"sha256:" + strings.ToUpper(good), false},
		{"sha256:" + good[:32] + "\x00" + good[33:], false},
		{"sha256:" + good + "\n", false},
		{"sha256:" + good[:60] + "/../", false},
		{"sha512:" + good, false},
		{good, false},
		{"", false},
	} {
		d, err := ParseDigest(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseDigest(%q) = %v, %v; want ok %v", tc.in, d, err, tc.ok)
		}
		if err == nil && (d.String() != "sha256:"+good || d.fileName() != "sha256-"+good) {
			t.Errorf("ParseDigest(%q) = %q / %q", tc.in, d.String(), d.fileName())
		}
	}
}

func TestDigestFromHex(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		good:                           good,
		strings.ToUpper(good):          good,
		good[:63]:                      "",
		good + "a":                     "",
		"../../../tmp/x":               "",
		good[:62] + "/.":               "",
		"sha256:" + good:               "",
		good[:10] + "\x00" + good[11:]: "",
	} {
		if got := digestFromHex(in).Hex(); got != want {
			t.Errorf("digestFromHex(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkNamePath asserts that a name's manifest path is exactly two levels
// below manifests/ of root.
func checkNamePath(t *testing.T, in string, n Name) {
	t.Helper()
	root := filepath.FromSlash("/store")
	s := &Store{root: root}
	p := s.manifestPath(n)
	rel, err := filepath.Rel(filepath.Join(root, "manifests"), p)
	if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
		t.Fatalf("%q: manifest path %q escapes the store", in, p)
	}
	if parts := strings.Split(filepath.ToSlash(rel), "/"); len(parts) != 2 || parts[0] == "" || parts[1] == "" || parts[0] == ".." || parts[1] == ".." {
		t.Fatalf("%q: manifest path %q is not manifests/<name>/<tag>", in, rel)
	}
	back, err := nameFromDir(n.dirName(), n.Tag)
	if err != nil || back != n {
		t.Fatalf("%q: %v does not come back from its directory (%v, %v)", in, n, back, err)
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"qwen3:0.6b", "hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", "../x", "a/b:c", "x:..", "modelscope.cn/a/b:f.gguf", "qwen3:0.6b:q8_0", "C:\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err == nil {
			checkNamePath(t, s, n)
			if again, err := ParseName(n.String()); err != nil || again != n {
				t.Fatalf("ParseName(%q) = %v, but its String parses to %v, %v", s, n, again, err)
			}
		}
		if n, err := canonicalName(s); err == nil {
			checkNamePath(t, s, n)
		}
		if ref, ok, err := parseHubRef(s); ok && err == nil {
			checkNamePath(t, s, ref.storeName())
			if ref.sel != "" && fileRE.MatchString(ref.sel) && strings.ContainsAny(ref.sel, `/\`) {
				t.Fatalf("%q: file selector %q has a separator", s, ref.sel)
			}
		}
	})
}
