//go:build !unix

package sysmem

// mapAnon uses the heap where there are no anonymous maps; the garbage
// collector frees it.
func mapAnon(size int) ([]byte, func() error, error) {
	return make([]byte, size), func() error { return nil }, nil
}
