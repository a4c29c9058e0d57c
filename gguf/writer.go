package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"zhiyan/tensor"
)

// Writer builds a GGUF v3 file. It holds references to the values and tensor
// data it is given until WriteTo; they must not change before then.
type Writer struct {
	align   uint64
	kvs     []KV
	kvIdx   map[string]int
	tensors []wtensor
	tensIdx map[string]int
}

type wtensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns an empty writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{align: DefaultAlignment, kvIdx: map[string]int{}, tensIdx: map[string]int{}}
}

// SetAlignment sets the data alignment and records it as general.alignment.
// It panics unless n is a power of two in 1..MaxAlignment.
func (w *Writer) SetAlignment(n uint64) {
	if n == 0 || n&(n-1) != 0 || n > MaxAlignment {
		panic(fmt.Sprintf("gguf: alignment %d is not a power of two in 1..%d", n, MaxAlignment))
	}
	if err := w.Set("general.alignment", uint32(n)); err != nil {
		panic(err) // unreachable: the value was checked above
	}
}

// Set adds a metadata entry, or replaces the value of an existing key in
// place. value must be one of the Go types listed at KV; there is no implicit
// conversion (an int is an error). general.alignment must be a uint32 and sets
// the alignment.
func (w *Writer) Set(key string, value any) error {
	if err := checkName(key); err != nil {
		return fmt.Errorf("gguf: key: %w", err)
	}
	t, err := typeOf(value, 0)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 || a > MaxAlignment {
			return fmt.Errorf("gguf: key %q: want a uint32 power of two in 1..%d, got %T %v", key, MaxAlignment, value, value)
		}
		w.align = uint64(a)
	}
	kv := KV{Key: key, Type: t, Value: value}
	if i, ok := w.kvIdx[key]; ok {
		w.kvs[i] = kv
		return nil
	}
	w.kvIdx[key] = len(w.kvs)
	w.kvs = append(w.kvs, kv)
	return nil
}

// AddTensor appends a tensor. data must hold exactly the tensor's bytes; it
// is not copied.
func (w *Writer) AddTensor(name string, typ tensor.Type, dims []uint64, data []byte) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("gguf: tensor name: %w", err)
	}
	if _, dup := w.tensIdx[name]; dup {
		return fmt.Errorf("gguf: tensor %q: duplicate name", name)
	}
	if !typ.Known() {
		return fmt.Errorf("gguf: tensor %q: unknown type %d", name, uint32(typ))
	}
	if len(dims) < 1 || len(dims) > MaxDims {
		return fmt.Errorf("gguf: tensor %q: %d dims, want 1..%d", name, len(dims), MaxDims)
	}
	elems := uint64(1)
	for j, x := range dims {
		hi, lo := bits.Mul64(elems, x)
		if x == 0 || hi != 0 || lo > MaxElements {
			return fmt.Errorf("gguf: tensor %q: bad dims %v (ne[%d]: every dim ≥ 1, at most %d elements)", name, dims, j, uint64(MaxElements))
		}
		elems = lo
	}
	size, err := tensorSize(typ, dims)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, %s %v needs %d", name, len(data), typ, dims, size)
	}
	w.tensIdx[name] = len(w.tensors)
	w.tensors = append(w.tensors, wtensor{
		info: TensorInfo{Name: name, Dims: slices.Clone(dims), Type: typ, Size: size},
		data: data,
	})
	return nil
}

// WriteTo writes the file: tensors in the order added, each at the next
// multiple of the alignment, the last one padded too (as gguf-py does).
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	var h bytes.Buffer
	h.WriteString(magic)
	le := binary.LittleEndian
	h.Write(le.AppendUint32(nil, 3))
	h.Write(le.AppendUint64(nil, uint64(len(w.tensors))))
	h.Write(le.AppendUint64(nil, uint64(len(w.kvs))))
	for _, kv := range w.kvs {
		putString(&h, kv.Key)
		h.Write(le.AppendUint32(nil, uint32(kv.Type)))
		putValue(&h, kv.Value)
	}
	off := uint64(0)
	for _, t := range w.tensors {
		putString(&h, t.info.Name)
		h.Write(le.AppendUint32(nil, uint32(len(t.info.Dims))))
		for _, d := range t.info.Dims {
			h.Write(le.AppendUint64(nil, d))
		}
		h.Write(le.AppendUint32(nil, uint32(t.info.Type)))
		h.Write(le.AppendUint64(nil, off))
		off += alignUp(t.info.Size, w.align)
	}
	h.Write(make([]byte, alignUp(uint64(h.Len()), w.align)-uint64(h.Len())))

	total, err := h.WriteTo(out)
	if err != nil {
		return total, err
	}
	pad := make([]byte, w.align)
	for _, t := range w.tensors {
		n, err := out.Write(t.data)
		total += int64(n)
		if err != nil {
			return total, err
		}
		n, err = out.Write(pad[:alignUp(t.info.Size, w.align)-t.info.Size])
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// WriteFile writes the file to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if _, err = w.WriteTo(bw); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: sync %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: close %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	// Make the rename durable; not every platform can sync a directory.
	if dir, derr := os.Open(filepath.Dir(path)); derr == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// checkName applies the rules for keys and tensor names.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case len(s) > MaxNameLen:
		return fmt.Errorf("name of %d bytes exceeds %d", len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("name %q is not valid UTF-8", s)
	}
	return nil
}

// typeOf returns the GGUF type of a Go value nested in depth arrays, checking
// arrays of arrays all the way down.
func typeOf(v any, depth int) (ValueType, error) {
	switch v := v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case []any:
		if depth+1 > MaxArrayDepth {
			return 0, fmt.Errorf("arrays nested deeper than %d", MaxArrayDepth)
		}
		for i, e := range v {
			if t, err := typeOf(e, depth+1); err != nil {
				return 0, err
			} else if t != TypeArray {
				return 0, fmt.Errorf("element %d of an array of arrays is a %T", i, e)
			}
		}
		return TypeArray, nil
	}
	if _, ok := elemType(v); ok {
		if depth+1 > MaxArrayDepth {
			return 0, fmt.Errorf("arrays nested deeper than %d", MaxArrayDepth)
		}
		return TypeArray, nil
	}
	return 0, fmt.Errorf("unsupported value type %T", v)
}

// elemType is the element type of a typed slice value.
func elemType(v any) (ValueType, bool) {
	switch v.(type) {
	case []uint8:
		return TypeUint8, true
	case []int8:
		return TypeInt8, true
	case []uint16:
		return TypeUint16, true
	case []int16:
		return TypeInt16, true
	case []uint32:
		return TypeUint32, true
	case []int32:
		return TypeInt32, true
	case []float32:
		return TypeFloat32, true
	case []bool:
		return TypeBool, true
	case []string:
		return TypeString, true
	case []uint64:
		return TypeUint64, true
	case []int64:
		return TypeInt64, true
	case []float64:
		return TypeFloat64, true
	case []any:
		return TypeArray, true
	}
	return 0, false
}

func putString(b *bytes.Buffer, s string) {
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
	b.WriteString(s)
}

// putValue encodes a value already checked by typeOf.
func putValue(b *bytes.Buffer, v any) {
	le := binary.LittleEndian
	var buf [8]byte
	switch v := v.(type) {
	case uint8:
		b.WriteByte(v)
	case int8:
		b.WriteByte(byte(v))
	case bool:
		if v {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case uint16:
		b.Write(le.AppendUint16(buf[:0], v))
	case int16:
		b.Write(le.AppendUint16(buf[:0], uint16(v)))
	case uint32:
		b.Write(le.AppendUint32(buf[:0], v))
	case int32:
		b.Write(le.AppendUint32(buf[:0], uint32(v)))
	case float32:
		b.Write(le.AppendUint32(buf[:0], math.Float32bits(v)))
	case uint64:
		b.Write(le.AppendUint64(buf[:0], v))
	case int64:
		b.Write(le.AppendUint64(buf[:0], uint64(v)))
	case float64:
		b.Write(le.AppendUint64(buf[:0], math.Float64bits(v)))
	case string:
		putString(b, v)
	default:
		putArray(b, v)
	}
}

func putArray(b *bytes.Buffer, v any) {
	et, _ := elemType(v)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(et)))
	switch v := v.(type) {
	case []uint8:
		putSlice(b, v)
	case []int8:
		putSlice(b, v)
	case []uint16:
		putSlice(b, v)
	case []int16:
		putSlice(b, v)
	case []uint32:
		putSlice(b, v)
	case []int32:
		putSlice(b, v)
	case []float32:
		putSlice(b, v)
	case []bool:
		putSlice(b, v)
	case []string:
		putSlice(b, v)
	case []uint64:
		putSlice(b, v)
	case []int64:
		putSlice(b, v)
	case []float64:
		putSlice(b, v)
	case []any:
		putSlice(b, v)
	default:
		panic(fmt.Sprintf("gguf: putArray of %T", v))
	}
}

func putSlice[T any](b *bytes.Buffer, s []T) {
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
	for _, x := range s {
		putValue(b, x)
	}
}
