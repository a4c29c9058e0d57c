// Package gguf reads and writes GGUF files (versions 2 and 3, little-endian):
// metadata key/values, tensor descriptions and memory-mapped tensor data.
// It checks every count, length and offset in a file before trusting it, and
// knows nothing about model architectures or tokenizers.
//
// Decisions where the spec or llama.cpp leave room (all checked by Parse):
//   - general.alignment must be UINT32 (as ggml and gguf-py write it), a
//     power of two in 1..MaxAlignment.
//   - Keys and tensor names are 1..MaxNameLen bytes of valid UTF-8; string
//     values are any bytes. Duplicate keys and duplicate tensor names are errors.
//   - Booleans must be stored as 0 or 1.
//   - Arrays of arrays nest at most MaxArrayDepth deep.
//   - Tensors have 1..4 dims, every dim ≥ 1 (zero-size tensors are rejected),
//     at most MaxElements elements, Dims[0] a multiple of the block size.
//   - Tensor offsets must be multiples of the alignment; tensors must lie inside
//     the data section and must not overlap. Their order and the gaps between
//     them are free, which covers llama.cpp's stricter running-sum layout.
//   - A file without tensors may end before its (padded) data offset, as the
//     vocabulary-only files llama.cpp writes do.
package gguf

import (
	"fmt"
	"math"
	"unsafe"

	"zhiyan/tensor"
)

// Limits enforced on files read and written.
const (
	DefaultAlignment = 32
	MaxAlignment     = 1 << 20 // larger values serve no mmap or SIMD purpose
	MaxArrayDepth    = 8       // nesting of arrays of arrays (1 = a plain array)
	MaxDims          = 4       // GGML_MAX_DIMS
	MaxElements      = 1 << 62 // elements per tensor
	MaxNameLen       = 65535   // keys and tensor names
)

const magic = "GGUF"

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
	"BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
}

func (t ValueType) String() string {
	if int64(t) < int64(len(valueTypeNames)) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

func (t ValueType) valid() bool { return t <= TypeFloat64 }

// KV is one metadata entry. Value holds a Go value of the matching type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64 or float64; an ARRAY holds a typed slice ([]uint8, []int32, []string, …)
// or, for arrays of arrays, an []any whose elements are such slices or []any.
// Slices returned by a File are shared: do not modify them.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // ggml ne order: Dims[0] is the row length
	Type   tensor.Type
	Offset uint64 // relative to the start of the data section
	Size   uint64 // bytes
}

// Elements is the number of elements of the tensor.
func (ti *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims {
		n *= d
	}
	return n
}

// Rows is the number of rows: the product of Dims[1:].
func (ti *TensorInfo) Rows() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims[1:] {
		n *= d
	}
	return n
}

// FormatError reports a malformed file: the byte offset where the bad field
// starts, the field, and what is wrong with it.
type FormatError struct {
	Offset int64
	Field  string // e.g. `kv[3] "tokenizer.ggml.tokens"` or "tensor_count"
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("gguf: offset %d: %s: %s", e.Offset, e.Field, e.Msg)
}

// File is a parsed GGUF file. Its tensor data aliases the file's bytes (a
// memory map after Open), so slices from TensorData are valid until Close.
type File struct {
	Version    uint32
	KVs        []KV         // in file order
	Tensors    []TensorInfo // in file order
	Alignment  uint64
	DataOffset uint64 // absolute file offset of the data section

	data    []byte // the whole file
	kvIdx   map[string]int
	tensIdx map[string]int
	closer  func() error
	mapped  bool   // data maps the file (Open on a system with mmap)
	mem     memory // what Alloc hands out
}

// Close releases the file's memory map and the memory Alloc handed out.
// Slices from TensorData and Alloc must not be used afterwards. Close is
// idempotent.
func (f *File) Close() error {
	c := f.closer
	f.closer, f.mapped = nil, false
	f.data = nil
	merr := f.mem.free()
	if c == nil {
		return merr
	}
	if err := c(); err != nil {
		return err
	}
	return merr
}

// Release tells the system that b, a slice of the file's tensor data, will
// not be read for a while (its weights were copied into another layout,
// say), so that the pages wholly inside it leave the process's memory.
// Reading them later still works: they come back from the file. It does
// nothing for data that is not a map of a file (Parse).
func (f *File) Release(b []byte) {
	if !f.mapped || len(b) == 0 || len(f.data) == 0 {
		return
	}
	lo := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(f.data))))
	if lo < 0 || lo > len(f.data)-len(b) {
		return
	}
	releasePages(f.data, lo, lo+len(b))
}

// Size is the length of the file in bytes (0 after Close).
func (f *File) Size() int64 { return int64(len(f.data)) }

// Lookup returns the entry for key.
func (f *File) Lookup(key string) (KV, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return KV{}, false
	}
	return f.KVs[i], true
}

// String returns a STRING value.
func (f *File) String(key string) (string, bool) {
	kv, _ := f.Lookup(key)
	s, ok := kv.Value.(string)
	return s, ok
}

// Bool returns a BOOL value.
func (f *File) Bool(key string) (bool, bool) {
	kv, _ := f.Lookup(key)
	b, ok := kv.Value.(bool)
	return b, ok
}

// Uint returns an integer value of any integer type if it is non-negative.
func (f *File) Uint(key string) (uint64, bool) {
	kv, _ := f.Lookup(key)
	return asUint(kv.Value)
}

// Int returns an integer value of any integer type if it fits an int64.
func (f *File) Int(key string) (int64, bool) {
	kv, _ := f.Lookup(key)
	return asInt(kv.Value)
}

// Float returns a FLOAT32 or FLOAT64 value, or an integer value converted.
func (f *File) Float(key string) (float64, bool) {
	kv, _ := f.Lookup(key)
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	case uint64:
		return float64(v), true
	}
	if i, ok := asInt(kv.Value); ok {
		return float64(i), true
	}
	return 0, false
}

// Strings returns an array of STRING. The slice is shared: do not modify it.
func (f *File) Strings(key string) ([]string, bool) {
	kv, _ := f.Lookup(key)
	s, ok := kv.Value.([]string)
	return s, ok
}

// Float32s returns an array of FLOAT32. The slice is shared: do not modify it.
func (f *File) Float32s(key string) ([]float32, bool) {
	kv, _ := f.Lookup(key)
	s, ok := kv.Value.([]float32)
	return s, ok
}

// Int32s returns an array of INT32 (shared: do not modify it), or an array of
// another integer type converted if every element fits an int32.
func (f *File) Int32s(key string) ([]int32, bool) {
	kv, _ := f.Lookup(key)
	switch v := kv.Value.(type) {
	case []int32:
		return v, true
	case []uint8:
		return convertInts(v)
	case []int8:
		return convertInts(v)
	case []uint16:
		return convertInts(v)
	case []int16:
		return convertInts(v)
	case []uint32:
		return convertInts(v)
	case []uint64:
		return convertInts(v)
	case []int64:
		return convertInts(v)
	}
	return nil, false
}

func convertInts[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](s []T) ([]int32, bool) {
	out := make([]int32, len(s))
	for i, x := range s {
		if x < 0 && int64(x) < math.MinInt32 || x > 0 && uint64(x) > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(x)
	}
	return out, true
}

func asUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	}
	if i, ok := asInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case uint8:
		return int64(v), true
	case int8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case int16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensIdx[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the bytes of the named tensor: a slice of the file (no
// copy) whose capacity ends with the tensor. Do not modify it.
func (f *File) TensorData(name string) ([]byte, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %q", name)
	}
	if f.data == nil {
		return nil, fmt.Errorf("gguf: tensor %q: file is closed", name)
	}
	// Parse proved DataOffset+Offset+Size ≤ len(data).
	start := f.DataOffset + ti.Offset
	end := start + ti.Size
	return f.data[start:end:end], nil
}
