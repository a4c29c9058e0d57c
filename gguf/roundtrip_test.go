package gguf

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"zhiyan/tensor"
)

// sampleKVs has every value type, arrays of every element type (empty ones
// too) and nested arrays.
func sampleKVs() []KV {
	return []KV{
		{"general.architecture", TypeString, "llama"},
		{"u8", TypeUint8, uint8(200)},
		{"i8", TypeInt8, int8(-5)},
		{"u16", TypeUint16, uint16(60000)},
		{"i16", TypeInt16, int16(-30000)},
		{"u32", TypeUint32, uint32(4000000000)},
		{"i32", TypeInt32, int32(-2000000000)},
		{"f32", TypeFloat32, float32(1e-6)},
		{"bool.true", TypeBool, true},
		{"bool.false", TypeBool, false},
		{"str", TypeString, "héllo 世界\x00\n"},
		{"str.empty", TypeString, ""},
		{"u64", TypeUint64, uint64(1<<63 + 5)},
		{"i64", TypeInt64, int64(-1 << 62)},
		{"f64", TypeFloat64, math.Pi},
		{"a.u8", TypeArray, []uint8{0, 1, 255}},
		{"a.i8", TypeArray, []int8{-128, 0, 127}},
		{"a.u16", TypeArray, []uint16{1, 65535}},
		{"a.i16", TypeArray, []int16{-32768, 32767}},
		{"a.u32", TypeArray, []uint32{0, math.MaxUint32}},
		{"a.i32", TypeArray, []int32{math.MinInt32, -1, 0, math.MaxInt32}},
		{"a.f32", TypeArray, []float32{-1.5, float32(math.Inf(1)), 3.25e-30}},
		{"a.bool", TypeArray, []bool{true, false, true}},
		{"a.str", TypeArray, []string{"a", "", "日本語", strings.Repeat("z", 300)}},
		{"a.u64", TypeArray, []uint64{math.MaxUint64}},
		{"a.i64", TypeArray, []int64{math.MinInt64, math.MaxInt64}},
		{"a.f64", TypeArray, []float64{math.SmallestNonzeroFloat64, -0.5}},
		{"a.empty.i32", TypeArray, []int32{}},
		{"a.empty.str", TypeArray, []string{}},
		{"a.nested", TypeArray, []any{
			[]int32{1, 2},
			[]string{"x"},
			[]any{[]uint8{}, []any{}, []any{[]float64{1}}},
		}},
		{"a.empty.nested", TypeArray, []any{}},
	}
}

type sampleTensor struct {
	name string
	typ  tensor.Type
	dims []uint64
}

// sampleTensors covers plain and block-quantized types, 1 to 4 dims. The last
// one's size is a multiple of 64, so files end exactly with tensor data.
var sampleTensors = []sampleTensor{
	{"f32", tensor.F32, []uint64{4, 3}},
	{"f16", tensor.F16, []uint64{7}},
	{"q4_0", tensor.Q4_0, []uint64{64, 2}},
	{"q4_k", tensor.Q4_K, []uint64{256, 1, 2}},
	{"q8_0", tensor.Q8_0, []uint64{32, 1, 1, 3}},
	{"q6_k", tensor.Q6_K, []uint64{256}},
	{"bf16", tensor.BF16, []uint64{3, 3}},
	{"i32", tensor.I32, []uint64{16}},
}

// sampleWriter fills a writer with sampleKVs and sampleTensors (random data)
// and returns the data it was given.
func sampleWriter(t testing.TB) (*Writer, map[string][]byte) {
	w := NewWriter()
	for _, kv := range sampleKVs() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := map[string][]byte{}
	for _, st := range sampleTensors {
		ti := TensorInfo{Dims: st.dims}
		n := ti.Rows() * st.dims[0] / uint64(st.typ.BlockSize()) * uint64(st.typ.BlockBytes())
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		data[st.name] = b
		if err := w.AddTensor(st.name, st.typ, st.dims, b); err != nil {
			t.Fatal(err)
		}
	}
	return w, data
}

func checkSample(t *testing.T, f *File, align uint64, data map[string][]byte) {
	t.Helper()
	want := sampleKVs()
	if align != DefaultAlignment {
		want = append(want, KV{"general.alignment", TypeUint32, uint32(align)})
	}
	if !reflect.DeepEqual(f.KVs, want) {
		t.Errorf("KVs differ:\n got %#v\nwant %#v", f.KVs, want)
	}
	if f.Version != 3 || f.Alignment != align || f.DataOffset%align != 0 {
		t.Errorf("version %d, alignment %d, data offset %d; want 3, %d, aligned", f.Version, f.Alignment, f.DataOffset, align)
	}
	if len(f.Tensors) != len(sampleTensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(sampleTensors))
	}
	next := uint64(0)
	for i, st := range sampleTensors {
		ti := f.Tensors[i]
		if ti.Name != st.name || ti.Type != st.typ || !reflect.DeepEqual(ti.Dims, st.dims) {
			t.Errorf("tensor[%d] = %s %s %v, want %s %s %v", i, ti.Name, ti.Type, ti.Dims, st.name, st.typ, st.dims)
		}
		if ti.Offset != next || ti.Size != uint64(len(data[st.name])) {
			t.Errorf("tensor %s at %d size %d, want %d size %d", st.name, ti.Offset, ti.Size, next, len(data[st.name]))
		}
		next = alignUp(ti.Offset+ti.Size, align)
		got, err := f.TensorData(st.name)
		if err != nil || !bytes.Equal(got, data[st.name]) {
			t.Errorf("TensorData(%s) = %d bytes, %v; differs from what was written", st.name, len(got), err)
		}
	}
	if end := f.DataOffset + next; end != uint64(f.Size()) {
		t.Errorf("file is %d bytes, want %d", f.Size(), end)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint64{DefaultAlignment, 64, 1} {
		w, data := sampleWriter(t)
		if align != DefaultAlignment {
			w.SetAlignment(align)
		}
		var buf bytes.Buffer
		n, err := w.WriteTo(&buf)
		if err != nil || n != int64(buf.Len()) {
			t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
		}
		f, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("align %d: %v", align, err)
		}
		checkSample(t, f, align, data)
	}
}

func TestWriteFileOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	w, data := sampleWriter(t)
	os.WriteFile(path, []byte("old contents"), 0o644)
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after WriteFile, want 1 (no temp file left)", len(ents))
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, f, DefaultAlignment, data)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := f.TensorData("f32"); err == nil {
		t.Errorf("TensorData after Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.gguf")
	os.WriteFile(bad, newRaw(1, 0, 0).bytes(), 0o644)
	empty := filepath.Join(dir, "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.gguf"), "no such file"},
		{dir, "not a regular file"},
		{bad, "version 1 is not supported"},
		{empty, "magic needs 4 bytes"},
	} {
		_, err := Open(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	var fe *FormatError
	if _, err := Open(bad); !errors.As(err, &fe) {
		t.Errorf("Open of a malformed file does not wrap a *FormatError: %v", err)
	}
}

// TestTruncation cuts a valid file at every byte: each prefix must fail
// cleanly, since the file ends exactly with its last tensor's data.
func TestTruncation(t *testing.T) {
	w, _ := sampleWriter(t)
	var buf bytes.Buffer
	w.WriteTo(&buf)
	full := buf.Bytes()
	if _, err := Parse(full); err != nil {
		t.Fatal(err)
	}
	for n := range len(full) {
		if _, err := Parse(full[:n:n]); err == nil {
			t.Fatalf("Parse of the first %d of %d bytes succeeded", n, len(full))
		}
	}
}

func TestSetReplacesInPlace(t *testing.T) {
	w := NewWriter()
	w.Set("a", uint32(1))
	w.Set("b", "x")
	w.Set("a", []string{"y"})
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []KV{{"a", TypeArray, []string{"y"}}, {"b", TypeString, "x"}}
	if !reflect.DeepEqual(f.KVs, want) {
		t.Errorf("KVs = %v, want %v", f.KVs, want)
	}
}

func TestWriterErrors(t *testing.T) {
	deep := any([]uint8{})
	for range MaxArrayDepth {
		deep = []any{deep}
	}
	setCases := []struct {
		name  string
		key   string
		value any
		want  string
	}{
		{"int", "k", 1, "unsupported value type int"},
		{"nil", "k", nil, "unsupported value type <nil>"},
		{"[]int", "k", []int{1}, "unsupported value type []int"},
		{"scalar_in_nested", "k", []any{[]int32{1}, int32(2)}, "element 1 of an array of arrays is a int32"},
		{"too_deep", "k", deep, "arrays nested deeper than 8"},
		{"empty_key", "", uint8(1), "empty name"},
		{"bad_utf8_key", "\xff", uint8(1), "not valid UTF-8"},
		{"long_key", strings.Repeat("k", MaxNameLen+1), uint8(1), "exceeds 65535"},
		{"alignment_uint64", "general.alignment", uint64(32), "want a uint32 power of two"},
		{"alignment_3", "general.alignment", uint32(3), "want a uint32 power of two"},
	}
	for _, tc := range setCases {
		err := NewWriter().Set(tc.key, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%s) = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := NewWriter().Set("k", deep.([]any)[0]); err != nil {
		t.Errorf("Set of arrays nested %d deep = %v", MaxArrayDepth, err)
	}

	w := NewWriter()
	if err := w.AddTensor("t", tensor.F32, []uint64{2}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	addCases := []struct {
		name string
		typ  tensor.Type
		dims []uint64
		data int
		want string
	}{
		{"t", tensor.F32, []uint64{2}, 8, "duplicate name"},
		{"", tensor.F32, []uint64{2}, 8, "empty name"},
		{"u", tensor.Type(99), []uint64{2}, 8, "unknown type 99"},
		{"u", tensor.F32, nil, 0, "0 dims"},
		{"u", tensor.F32, []uint64{1, 1, 1, 1, 1}, 4, "5 dims"},
		{"u", tensor.F32, []uint64{2, 0}, 0, "bad dims"},
		{"u", tensor.F32, []uint64{1 << 32, 1 << 31}, 0, "bad dims"},
		{"u", tensor.Q4_0, []uint64{48}, 27, "not a multiple of the Q4_0 block size"},
		{"u", tensor.Q4_0, []uint64{64}, 35, "35 bytes of data, Q4_0 [64] needs 36"},
		{"u", tensor.F32, []uint64{1 << 62}, 0, "larger than 2^63-1 bytes"},
	}
	for _, tc := range addCases {
		err := w.AddTensor(tc.name, tc.typ, tc.dims, make([]byte, tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddTensor(%q, %s, %v, %d bytes) = %v, want an error containing %q", tc.name, tc.typ, tc.dims, tc.data, err, tc.want)
		}
	}
}

func TestSetAlignmentPanics(t *testing.T) {
	for _, n := range []uint64{0, 3, MaxAlignment * 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetAlignment(%d) did not panic", n)
				}
			}()
			NewWriter().SetAlignment(n)
		}()
	}
}

func TestAccessors(t *testing.T) {
	w := NewWriter()
	for _, kv := range []KV{
		{Key: "u8", Value: uint8(7)},
		{Key: "i8neg", Value: int8(-3)},
		{Key: "u64big", Value: uint64(math.MaxUint64)},
		{Key: "i64", Value: int64(-9)},
		{Key: "f32", Value: float32(0.5)},
		{Key: "s", Value: "x"},
		{Key: "b", Value: true},
		{Key: "a.u32", Value: []uint32{1, 2}},
		{Key: "a.u32big", Value: []uint32{1, math.MaxUint32}},
		{Key: "a.i64", Value: []int64{-1, math.MinInt32}},
		{Key: "a.i64big", Value: []int64{math.MinInt32 - 1}},
		{Key: "a.f32", Value: []float32{1}},
		{Key: "a.s", Value: []string{"p"}},
	} {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		v  any
		ok bool
	}
	r := func(v any, ok bool) result { return result{v, ok} }
	for _, tc := range []struct {
		call      string
		got, want result
	}{
		{"Uint(u8)", r(f.Uint("u8")), result{uint64(7), true}},
		{"Uint(i8neg)", r(f.Uint("i8neg")), result{uint64(0), false}},
		{"Uint(u64big)", r(f.Uint("u64big")), result{uint64(math.MaxUint64), true}},
		{"Uint(s)", r(f.Uint("s")), result{uint64(0), false}},
		{"Uint(missing)", r(f.Uint("missing")), result{uint64(0), false}},
		{"Int(i8neg)", r(f.Int("i8neg")), result{int64(-3), true}},
		{"Int(u64big)", r(f.Int("u64big")), result{int64(0), false}},
		{"Int(f32)", r(f.Int("f32")), result{int64(0), false}},
		{"Float(f32)", r(f.Float("f32")), result{0.5, true}},
		{"Float(i64)", r(f.Float("i64")), result{-9.0, true}},
		{"Float(u64big)", r(f.Float("u64big")), result{float64(math.MaxUint64), true}},
		{"Float(s)", r(f.Float("s")), result{0.0, false}},
		{"String(s)", r(f.String("s")), result{"x", true}},
		{"String(u8)", r(f.String("u8")), result{"", false}},
		{"Bool(b)", r(f.Bool("b")), result{true, true}},
		{"Bool(u8)", r(f.Bool("u8")), result{false, false}},
		{"Strings(a.s)", r(f.Strings("a.s")), result{[]string{"p"}, true}},
		{"Strings(s)", r(f.Strings("s")), result{[]string(nil), false}},
		{"Float32s(a.f32)", r(f.Float32s("a.f32")), result{[]float32{1}, true}},
		{"Float32s(a.u32)", r(f.Float32s("a.u32")), result{[]float32(nil), false}},
		{"Int32s(a.u32)", r(f.Int32s("a.u32")), result{[]int32{1, 2}, true}},
		{"Int32s(a.u32big)", r(f.Int32s("a.u32big")), result{[]int32(nil), false}},
		{"Int32s(a.i64)", r(f.Int32s("a.i64")), result{[]int32{-1, math.MinInt32}, true}},
		{"Int32s(a.i64big)", r(f.Int32s("a.i64big")), result{[]int32(nil), false}},
		{"Int32s(a.f32)", r(f.Int32s("a.f32")), result{[]int32(nil), false}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.call, tc.got, tc.want)
		}
	}
	if _, ok := f.Tensor("none"); ok {
		t.Errorf("Tensor(none) found")
	}
	if _, err := f.TensorData("none"); err == nil {
		t.Errorf("TensorData(none) succeeded")
	}
}

func TestValueTypeString(t *testing.T) {
	for _, tc := range []struct {
		t    ValueType
		want string
	}{{TypeUint8, "UINT8"}, {TypeArray, "ARRAY"}, {TypeFloat64, "FLOAT64"}, {13, "type(13)"}} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("ValueType(%d).String() = %q, want %q", uint32(tc.t), got, tc.want)
		}
	}
}
