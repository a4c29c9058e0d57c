package tensor

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"
)

// A minimal GGUF reader for the golden files, test-only: enough to list the
// tensors and slice their data (the real reader lives in package gguf).

type ggufTensor struct {
	name string
	ne   []int // GGML order: ne[0] is the row length
	typ  Type
	data []byte
}

func (t ggufTensor) elements() int {
	n := 1
	for _, d := range t.ne {
		n *= d
	}
	return n
}

type ggufReader struct {
	b   []byte
	off int
	err error
}

func (r *ggufReader) next(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = fmt.Errorf("gguf: %d bytes at offset %d run past the end (%d)", n, r.off, len(r.b))
		return make([]byte, max(n, 0))
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *ggufReader) u32() uint32 { return binary.LittleEndian.Uint32(r.next(4)) }
func (r *ggufReader) u64() uint64 { return binary.LittleEndian.Uint64(r.next(8)) }
func (r *ggufReader) str() string { return string(r.next(int(r.u64()))) }

// value reads one metadata value of GGUF type typ and returns it as uint64
// when it is an integer (for general.alignment), else 0.
func (r *ggufReader) value(typ uint32) uint64 {
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	switch typ {
	case 8:
		r.str()
		return 0
	case 9:
		et, n := r.u32(), r.u64()
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.value(et)
		}
		return 0
	}
	size, ok := sizes[typ]
	if !ok {
		r.err = fmt.Errorf("gguf: unknown value type %d at offset %d", typ, r.off)
		return 0
	}
	p := r.next(size)
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

func readGGUF(path string) (map[string]ggufTensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	r := &ggufReader{b: b}
	if string(r.next(4)) != "GGUF" {
		return nil, fmt.Errorf("%s: not a GGUF file", path)
	}
	if v := r.u32(); v != 3 && v != 2 {
		return nil, fmt.Errorf("%s: GGUF version %d", path, v)
	}
	nTensors, nKV := r.u64(), r.u64()
	align := uint64(32)
	for i := uint64(0); i < nKV && r.err == nil; i++ {
		key := r.str()
		v := r.value(r.u32())
		if key == "general.alignment" {
			align = v
		}
	}
	type info struct {
		t   ggufTensor
		off uint64
	}
	infos := make([]info, 0, nTensors)
	for i := uint64(0); i < nTensors && r.err == nil; i++ {
		var in info
		in.t.name = r.str()
		nd := r.u32()
		for d := uint32(0); d < nd; d++ {
			in.t.ne = append(in.t.ne, int(r.u64()))
		}
		in.t.typ = Type(r.u32())
		in.off = r.u64()
		infos = append(infos, in)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", path, r.err)
	}
	base := (uint64(r.off) + align - 1) / align * align
	tensors := make(map[string]ggufTensor, len(infos))
	for _, in := range infos {
		size, err := in.t.typ.RowBytes(in.t.elements())
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %w", path, in.t.name, err)
		}
		start := base + in.off
		if start+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%s: tensor %s: data [%d, %d) past end of file", path, in.t.name, start, start+uint64(size))
		}
		in.t.data = b[start : start+uint64(size)]
		tensors[in.t.name] = in.t
	}
	return tensors, nil
}

// f32Data returns an F32 tensor's values.
func (t ggufTensor) f32Data() []float32 {
	x := make([]float32, t.elements())
	dequantizeF32(x, t.data)
	return x
}

func loadGGUF(tb testing.TB, path string) map[string]ggufTensor {
	tb.Helper()
	ts, err := readGGUF(path)
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}
