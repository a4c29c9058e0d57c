//go:build unix

package store

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Importing a FIFO or a device would block or read forever: only regular
// files are taken (gguf-attacks.md C2, CVE-2024-39721).
func TestImportRejectsSpecialFiles(t *testing.T) {
	s := openTemp(t)
	fifo := filepath.Join(t.TempDir(), "fifo.gguf")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, file := range []string{fifo, "/dev/zero"} {
		if _, err := s.Import(file, "x"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Import(%s) = %v, want a refusal", file, err)
		}
	}
}
