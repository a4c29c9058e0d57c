package gguf

import (
	"fmt"
	"math"
	"os"
)

// Open memory-maps the file at path read-only and parses it. Tensor data is
// not copied: TensorData slices point into the map until Close. As with any
// mapping, truncating the file while it is open faults readers of the lost pages.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close() // the map outlives the descriptor
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	// FIFOs and devices (/dev/zero, /dev/random) have no size to bound reads by.
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf: %s: not a regular file", path)
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("gguf: %s: %d bytes do not fit in the address space", path, st.Size())
	}
	data, unmap, err := mapFile(fh, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("gguf: map %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer, f.mapped = unmap, mapsFiles
	return f, nil
}
