// Package sysmem is about the system's memory: how much is available, and
// anonymous memory for data that is streamed through at every token, such
// as model weights, aligned to huge pages and, on Linux, asking for them,
// because 4 KiB pages cost TLB misses and cut the hardware prefetchers'
// runs short.
package sysmem

import "unsafe"

// HugePage is the alignment of the memory Map returns.
const HugePage = 2 << 20

// Map returns size bytes of zeroed memory, HugePage-aligned, and the
// function that gives it back (after which it must not be used). Pages are
// only taken as they are first written.
func Map(size int) ([]byte, func() error, error) {
	region, unmap, err := mapAnon(size + HugePage)
	if err != nil {
		return nil, nil, err
	}
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(region))) & (HugePage - 1))
	region = region[skip : skip+size : skip+size]
	adviseHuge(region)
	return region, unmap, nil
}

// Fits reports whether size bytes fit in three quarters of the memory the
// system reports available, or true when it cannot tell.
func Fits(size int) bool {
	avail, ok := Available()
	return !ok || uint64(size) <= avail/4*3
}
