//go:build unix

package gguf

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapsFiles tells that mapFile maps rather than reads.
const mapsFiles = true

// mapFile maps size bytes of fh read-only.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	if size == 0 { // mmap rejects empty lengths
		return []byte{}, func() error { return nil }, nil
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// releasePages drops the whole pages of data[lo:hi] (a read-only file map)
// from the process; touching them again reads them back from the file.
func releasePages(data []byte, lo, hi int) {
	page := os.Getpagesize()
	lo = (lo + page - 1) / page * page
	hi = hi / page * page
	if lo < hi {
		_ = unix.Madvise(data[lo:hi], unix.MADV_DONTNEED) // advice: nothing to undo if refused
	}
}
