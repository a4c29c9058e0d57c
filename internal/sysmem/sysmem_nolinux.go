//go:build !linux

package sysmem

func adviseHuge([]byte) {}

// Available cannot tell here.
func Available() (uint64, bool) { return 0, false }
