package gguf

import "zhiyan/internal/sysmem"

// memory is the anonymous memory a File hands out with Alloc: one region
// the size of all the file's tensor data, carved from the front.
type memory struct {
	region  []byte
	used    int
	refused bool // the region could not be had, or would not fit
	unmap   func() error
}

// Alloc returns n bytes of zeroed memory that lasts until Close, for the
// caller's own copy of tensor data: weights rewritten into another layout,
// or moved out of the page cache, whose 4 KiB pages stream from memory
// more slowly than the huge pages this memory asks for (see sysmem). Copy
// and then Release the file's bytes, and memory use stays the same.
//
// Alloc returns nil when the file is not a map (Parse, or a system without
// mmap: its data is on the heap already), when the file's tensor data would
// not fit in three quarters of the memory the system has available (the
// weights then stay in the page cache, which the system can drop and read
// again), or when n is more than is left. It is not safe for concurrent use.
func (f *File) Alloc(n int) []byte {
	m := &f.mem
	if !f.mapped || n <= 0 || m.refused {
		return nil
	}
	if m.region == nil {
		// all the tensor data, with room for each tensor's alignment
		size := len(f.data) - int(min(f.DataOffset, uint64(len(f.data)))) + 64*len(f.Tensors)
		if !sysmem.Fits(size) {
			m.refused = true
			return nil
		}
		region, unmap, err := sysmem.Map(size)
		if err != nil {
			m.refused = true
			return nil
		}
		m.region, m.unmap = region, unmap
	}
	off := (m.used + 63) &^ 63
	if n > len(m.region)-off {
		return nil
	}
	m.used = off + n
	return m.region[off : off+n : off+n]
}

func (m *memory) free() error {
	u := m.unmap
	*m = memory{}
	if u == nil {
		return nil
	}
	return u()
}
