package sysmem

import (
	"testing"
	"unsafe"
)

func TestMap(t *testing.T) {
	const size = 3*HugePage + 12345
	b, free, err := Map(size)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size || cap(b) != size {
		t.Fatalf("Map(%d): len %d cap %d", size, len(b), cap(b))
	}
	if p := uintptr(unsafe.Pointer(&b[0])); p%HugePage != 0 {
		t.Errorf("region at %#x is not aligned to %d", p, HugePage)
	}
	for i := 0; i < size; i += 4096 {
		if b[i] != 0 {
			t.Fatalf("byte %d is %d, not zero", i, b[i])
		}
		b[i] = byte(i)
	}
	b[size-1] = 7
	if err := free(); err != nil {
		t.Fatal(err)
	}
}

func TestFits(t *testing.T) {
	if !Fits(1 << 20) {
		t.Error("1 MiB does not fit")
	}
	if avail, ok := Available(); ok && Fits(int(avail)) {
		t.Errorf("all %d available bytes fit in three quarters of them", avail)
	}
}
