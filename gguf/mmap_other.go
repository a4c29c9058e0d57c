//go:build !unix

package gguf

import (
	"io"
	"os"
)

// mapsFiles tells that mapFile reads rather than maps.
const mapsFiles = false

// mapFile reads the file into memory where mmap is not available.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

// releasePages does nothing: the data is a heap copy.
func releasePages(data []byte, lo, hi int) {}
