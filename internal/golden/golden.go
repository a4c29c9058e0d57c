// Package golden finds the llama.cpp oracle data tests compare against: the
// subset committed under testdata/golden, and the full set that sits beside
// the repository as shared/golden (CI has it) when present.
package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("golden: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dirs returns the golden directories that exist, committed subset first.
func Dirs(tb testing.TB) []string {
	tb.Helper()
	root := repoRoot(tb)
	var dirs []string
	for _, d := range []string{
		filepath.Join(root, "testdata", "golden"),
		filepath.Join(root, "..", "shared", "golden"),
	} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Path returns the path of a golden file, e.g. "llama-mini/llama-mini-F32.gguf",
// from the first directory that has it. The test is skipped when no directory
// has it: only the full set (beside the repository, always present in CI) holds
// every file.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	for _, d := range Dirs(tb) {
		p := filepath.Join(d, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	tb.Skipf("golden file %s is not present (the full set lives in ../shared/golden)", rel)
	return ""
}

// Has reports whether a golden file is present.
func Has(tb testing.TB, rel string) bool {
	tb.Helper()
	for _, d := range Dirs(tb) {
		if _, err := os.Stat(filepath.Join(d, rel)); err == nil {
			return true
		}
	}
	return false
}
