package gguf

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"zhiyan/internal/golden"
)

// TestAllocAndRelease: a mapped file hands out zeroed, 64-byte aligned,
// disjoint memory up to the size of its tensor data and no more; its
// tensor data reads the same after Release; a parsed file hands out none.
func TestAllocAndRelease(t *testing.T) {
	path := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !mapsFiles {
		if f.Alloc(64) != nil {
			t.Fatal("Alloc gave memory where the file is read, not mapped")
		}
		return
	}
	var got [][]byte
	total := 0
	for _, ti := range f.Tensors {
		data, err := f.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		buf := f.Alloc(len(data))
		if buf == nil {
			t.Skipf("no room for %d bytes of weights on this machine", f.Size())
		}
		if len(buf) != len(data) || cap(buf) != len(data) || uintptr(unsafe.Pointer(&buf[0]))%64 != 0 {
			t.Fatalf("Alloc(%d): %d bytes, cap %d, at %p", len(data), len(buf), cap(buf), &buf[0])
		}
		if bytes.IndexFunc(buf, func(r rune) bool { return r != 0 }) >= 0 {
			t.Fatal("Alloc's memory is not zeroed")
		}
		copy(buf, data)
		want := bytes.Clone(data)
		f.Release(data)
		if !bytes.Equal(data, want) {
			t.Fatalf("%s reads differently after Release", ti.Name)
		}
		got = append(got, buf)
		total += len(data)
	}
	for i, buf := range got {
		if d, _ := f.TensorData(f.Tensors[i].Name); !bytes.Equal(buf, d) {
			t.Fatalf("copy of %s was overwritten by a later one", f.Tensors[i].Name)
		}
	}
	if f.Alloc(int(f.Size())) != nil {
		t.Error("Alloc gave more than the file's tensor data")
	}
	t.Logf("%d tensors, %d bytes moved", len(got), total)

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Alloc(64) != nil {
		t.Error("a parsed file gave memory")
	}
	p.Release(raw[len(raw)/2:]) // does nothing, and must not fault
}
