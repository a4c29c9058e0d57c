package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"zhiyan/tensor"
)

// Minimum encoded sizes, used to bound counts by the bytes left before
// anything is allocated for them.
const (
	minKVBytes     = 8 + 1 + 4 + 1         // key length, 1-byte key, value type, 1-byte value
	minTensorBytes = 8 + 1 + 4 + 8 + 4 + 8 // name length, 1-byte name, n_dims, one dim, type, offset
	minArrayBytes  = 4 + 8                 // element type, length
)

// Parse parses a GGUF file held in memory. Tensor data and the returned File
// alias data; metadata values are copies.
func Parse(data []byte) (*File, error) {
	d := &decoder{buf: data}
	f, err := d.file()
	if err != nil {
		return nil, err
	}
	f.data = data
	return f, nil
}

// decoder reads fields from buf, checking each against the bytes left.
type decoder struct {
	buf []byte
	off int
}

func (d *decoder) errorf(at int, field, format string, args ...any) error {
	return &FormatError{Offset: int64(at), Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) remaining() uint64 { return uint64(len(d.buf) - d.off) }

// take returns the next n bytes.
func (d *decoder) take(n uint64, field, what string) ([]byte, error) {
	if n > d.remaining() {
		return nil, d.errorf(d.off, field, "%s needs %d bytes, only %d remain", what, n, d.remaining())
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

func (d *decoder) u8(field, what string) (uint8, error) {
	b, err := d.take(1, field, what)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u32(field, what string) (uint32, error) {
	b, err := d.take(4, field, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(field, what string) (uint64, error) {
	b, err := d.take(8, field, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a string: uint64 length, then the bytes.
func (d *decoder) str(field, what string, maxLen uint64) (string, error) {
	at := d.off
	n, err := d.u64(field, what+" length")
	if err != nil {
		return "", err
	}
	if n > maxLen {
		return "", d.errorf(at, field, "%s length %d exceeds the limit of %d", what, n, maxLen)
	}
	if n > d.remaining() {
		return "", d.errorf(at, field, "%s length %d exceeds remaining %d bytes", what, n, d.remaining())
	}
	b, _ := d.take(n, field, what)
	return string(b), nil
}

// name reads a key or tensor name: non-empty, bounded, valid UTF-8.
func (d *decoder) name(field, what string) (string, error) {
	at := d.off
	s, err := d.str(field, what, MaxNameLen)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", d.errorf(at, field, "empty %s", what)
	}
	if !utf8.ValidString(s) {
		return "", d.errorf(at, field, "%s %q is not valid UTF-8", what, s)
	}
	return s, nil
}

// count reads a uint64 count of items needing at least minSize bytes each
// and proves they fit in the bytes left.
func (d *decoder) count(field, what string, minSize uint64) (int, error) {
	at := d.off
	n, err := d.u64(field, what)
	if err != nil {
		return 0, err
	}
	if n > d.remaining()/minSize {
		return 0, d.errorf(at, field, "%s %d exceeds remaining %d bytes (at least %d bytes each)", what, n, d.remaining(), minSize)
	}
	return int(n), nil
}

func (d *decoder) file() (*File, error) {
	b, err := d.take(4, "magic", "magic")
	if err != nil {
		return nil, err
	}
	if string(b) != magic {
		return nil, d.errorf(0, "magic", "%q is not %q", b, magic)
	}
	version, err := d.u32("version", "version")
	if err != nil {
		return nil, err
	}
	switch swapped := bits.ReverseBytes32(version); {
	case version == 2 || version == 3:
	case version == 1:
		return nil, d.errorf(4, "version", "GGUF version 1 is not supported (re-convert the model with a current tool)")
	case swapped >= 1 && swapped <= 3:
		return nil, d.errorf(4, "version", "big-endian GGUF files are not supported")
	default:
		return nil, d.errorf(4, "version", "unsupported version %d (want 2 or 3)", version)
	}
	nTensors, err := d.count("tensor_count", "tensor count", minTensorBytes)
	if err != nil {
		return nil, err
	}
	nKV, err := d.count("kv_count", "kv count", minKVBytes)
	if err != nil {
		return nil, err
	}
	f := &File{
		Version:   version,
		Alignment: DefaultAlignment,
		KVs:       make([]KV, 0, nKV),
		kvIdx:     make(map[string]int, nKV),
	}
	alignAt := -1
	for i := range nKV {
		at := d.off
		kv, err := d.kv(i)
		if err != nil {
			return nil, err
		}
		if j, dup := f.kvIdx[kv.Key]; dup {
			return nil, d.errorf(at, kvField(i, kv.Key), "duplicate key (first is kv[%d])", j)
		}
		if kv.Key == "general.alignment" {
			alignAt = at
		}
		f.kvIdx[kv.Key] = i
		f.KVs = append(f.KVs, kv)
	}
	if alignAt >= 0 {
		kv := f.KVs[f.kvIdx["general.alignment"]]
		a, ok := kv.Value.(uint32)
		if !ok {
			return nil, d.errorf(alignAt, kvField(f.kvIdx[kv.Key], kv.Key), "alignment has type %s, want UINT32", kv.Type)
		}
		if a == 0 || a&(a-1) != 0 || a > MaxAlignment {
			return nil, d.errorf(alignAt, kvField(f.kvIdx[kv.Key], kv.Key), "alignment %d is not a power of two in 1..%d", a, MaxAlignment)
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.tensIdx = make(map[string]int, nTensors)
	infoAt := make([]int, 0, nTensors)
	for i := range nTensors {
		at := d.off
		ti, err := d.tensorInfo(i, f.Alignment)
		if err != nil {
			return nil, err
		}
		if j, dup := f.tensIdx[ti.Name]; dup {
			return nil, d.errorf(at, tensorField(i, ti.Name), "duplicate tensor name (first is tensor[%d])", j)
		}
		f.tensIdx[ti.Name] = i
		f.Tensors = append(f.Tensors, ti)
		infoAt = append(infoAt, at)
	}

	// The data section starts at the next multiple of the alignment. A
	// tensor-less file may stop short of it.
	f.DataOffset = alignUp(uint64(d.off), f.Alignment)
	if nTensors == 0 {
		return f, nil
	}
	if f.DataOffset > uint64(len(d.buf)) {
		return nil, d.errorf(d.off, "data", "data section at %d starts past the end of the %d-byte file", f.DataOffset, len(d.buf))
	}
	if err := d.checkPlacement(f, infoAt); err != nil {
		return nil, err
	}
	return f, nil
}

// checkPlacement proves every tensor lies inside the data section and that no
// two tensors overlap.
func (d *decoder) checkPlacement(f *File, infoAt []int) error {
	dataLen := uint64(len(d.buf)) - f.DataOffset
	for i, ti := range f.Tensors {
		if ti.Offset > dataLen || ti.Size > dataLen-ti.Offset {
			return d.errorf(infoAt[i], tensorField(i, ti.Name),
				"data at offset %d, size %d exceeds the %d-byte data section", ti.Offset, ti.Size, dataLen)
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmpUint(f.Tensors[a].Offset, f.Tensors[b].Offset)
	})
	for k := 1; k < len(order); k++ {
		prev, cur := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if cur.Offset < prev.Offset+prev.Size {
			i := order[k]
			return d.errorf(infoAt[i], tensorField(i, cur.Name),
				"data at offset %d overlaps tensor[%d] %q at [%d, %d)",
				cur.Offset, order[k-1], prev.Name, prev.Offset, prev.Offset+prev.Size)
		}
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// alignUp rounds x up to a multiple of the power of two a. Callers keep x
// far below 2^64 (a file offset), so it cannot wrap.
func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }

func kvField(i int, key string) string { return fmt.Sprintf("kv[%d] %q", i, clip(key)) }

func tensorField(i int, name string) string { return fmt.Sprintf("tensor[%d] %q", i, clip(name)) }

// clip shortens names quoted in errors so a hostile file cannot make them huge.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func (d *decoder) kv(i int) (KV, error) {
	key, err := d.name(fmt.Sprintf("kv[%d]", i), "key")
	if err != nil {
		return KV{}, err
	}
	field := kvField(i, key)
	at := d.off
	t, err := d.u32(field, "value type")
	if err != nil {
		return KV{}, err
	}
	if !ValueType(t).valid() {
		return KV{}, d.errorf(at, field, "unknown value type %d", t)
	}
	v, err := d.value(field, ValueType(t), 0)
	if err != nil {
		return KV{}, err
	}
	return KV{Key: key, Type: ValueType(t), Value: v}, nil
}

// value reads one value of type t; depth counts the arrays enclosing it.
func (d *decoder) value(field string, t ValueType, depth int) (any, error) {
	if t == TypeArray {
		return d.array(field, depth+1)
	}
	if t == TypeString {
		return d.str(field, "string", math.MaxUint64)
	}
	at := d.off
	b, err := d.take(scalarSize(t), field, t.String())
	if err != nil {
		return nil, err
	}
	if t == TypeBool && b[0] > 1 {
		return nil, d.errorf(at, field, "bool byte %d is not 0 or 1", b[0])
	}
	return decodeScalar(t, b), nil
}

// scalarSize is the encoded size of a fixed-size type (0 for STRING and ARRAY).
func scalarSize(t ValueType) uint64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

func decodeScalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] != 0
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	panic("gguf: decodeScalar of " + t.String())
}

// array reads an array at nesting depth (1 for a top-level array) into a
// typed slice, or []any for arrays of arrays.
func (d *decoder) array(field string, depth int) (any, error) {
	at := d.off
	et, err := d.u32(field, "array element type")
	if err != nil {
		return nil, err
	}
	t := ValueType(et)
	if !t.valid() {
		return nil, d.errorf(at, field, "unknown array element type %d", et)
	}
	if t == TypeArray && depth >= MaxArrayDepth {
		return nil, d.errorf(at, field, "arrays nested deeper than %d", MaxArrayDepth)
	}
	minSize := scalarSize(t)
	switch t {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = minArrayBytes
	}
	n, err := d.count(field, "array length", minSize)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeString:
		s := make([]string, n)
		for i := range s {
			if s[i], err = d.str(field, fmt.Sprintf("string [%d]", i), math.MaxUint64); err != nil {
				return nil, err
			}
		}
		return s, nil
	case TypeArray:
		s := make([]any, n)
		for i := range s {
			if s[i], err = d.array(field, depth+1); err != nil {
				return nil, err
			}
		}
		return s, nil
	case TypeBool:
		b, _ := d.take(uint64(n), field, "array")
		s := make([]bool, n)
		for i, x := range b {
			if x > 1 {
				return nil, d.errorf(d.off-n+i, field, "bool [%d] byte %d is not 0 or 1", i, x)
			}
			s[i] = x != 0
		}
		return s, nil
	}
	b, _ := d.take(uint64(n)*minSize, field, "array")
	return decodeSlice(t, b, n), nil
}

func decodeSlice(t ValueType, b []byte, n int) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return slices.Clone(b)
	case TypeInt8:
		return fill(make([]int8, n), func(i int) int8 { return int8(b[i]) })
	case TypeUint16:
		return fill(make([]uint16, n), func(i int) uint16 { return le.Uint16(b[2*i:]) })
	case TypeInt16:
		return fill(make([]int16, n), func(i int) int16 { return int16(le.Uint16(b[2*i:])) })
	case TypeUint32:
		return fill(make([]uint32, n), func(i int) uint32 { return le.Uint32(b[4*i:]) })
	case TypeInt32:
		return fill(make([]int32, n), func(i int) int32 { return int32(le.Uint32(b[4*i:])) })
	case TypeFloat32:
		return fill(make([]float32, n), func(i int) float32 { return math.Float32frombits(le.Uint32(b[4*i:])) })
	case TypeUint64:
		return fill(make([]uint64, n), func(i int) uint64 { return le.Uint64(b[8*i:]) })
	case TypeInt64:
		return fill(make([]int64, n), func(i int) int64 { return int64(le.Uint64(b[8*i:])) })
	case TypeFloat64:
		return fill(make([]float64, n), func(i int) float64 { return math.Float64frombits(le.Uint64(b[8*i:])) })
	}
	panic("gguf: decodeSlice of " + t.String())
}

func fill[T any](s []T, at func(int) T) []T {
	for i := range s {
		s[i] = at(i)
	}
	return s
}

func (d *decoder) tensorInfo(i int, align uint64) (TensorInfo, error) {
	name, err := d.name(fmt.Sprintf("tensor[%d]", i), "name")
	if err != nil {
		return TensorInfo{}, err
	}
	field := tensorField(i, name)
	at := d.off
	nDims, err := d.u32(field, "n_dims")
	if err != nil {
		return TensorInfo{}, err
	}
	if nDims < 1 || nDims > MaxDims {
		return TensorInfo{}, d.errorf(at, field, "n_dims %d not in 1..%d", nDims, MaxDims)
	}
	dims := make([]uint64, nDims)
	elems := uint64(1)
	for j := range dims {
		at = d.off
		if dims[j], err = d.u64(field, fmt.Sprintf("ne[%d]", j)); err != nil {
			return TensorInfo{}, err
		}
		if dims[j] == 0 {
			return TensorInfo{}, d.errorf(at, field, "ne[%d] is 0 (empty tensors are not allowed)", j)
		}
		hi, lo := bits.Mul64(elems, dims[j])
		if hi != 0 || lo > MaxElements {
			return TensorInfo{}, d.errorf(at, field, "element count of dims %v exceeds 2^62", dims[:j+1])
		}
		elems = lo
	}
	at = d.off
	typ, err := d.u32(field, "type")
	if err != nil {
		return TensorInfo{}, err
	}
	tt := tensor.Type(typ)
	if !tt.Known() {
		return TensorInfo{}, d.errorf(at, field, "unknown tensor type %d", typ)
	}
	size, err := tensorSize(tt, dims)
	if err != nil {
		return TensorInfo{}, d.errorf(at, field, "%v", err)
	}
	at = d.off
	off, err := d.u64(field, "offset")
	if err != nil {
		return TensorInfo{}, err
	}
	if off%align != 0 {
		return TensorInfo{}, d.errorf(at, field, "data offset %d is not a multiple of the alignment %d", off, align)
	}
	return TensorInfo{Name: name, Dims: dims, Type: tt, Offset: off, Size: size}, nil
}

// tensorSize is the byte size of a tensor of a known type whose element count
// is at most MaxElements; it fails when a row does not hold whole blocks or the
// size does not fit a uint64.
func tensorSize(t tensor.Type, dims []uint64) (uint64, error) {
	bs, bb := uint64(t.BlockSize()), uint64(t.BlockBytes())
	if dims[0]%bs != 0 {
		return 0, fmt.Errorf("ne[0] %d is not a multiple of the %s block size %d", dims[0], t, bs)
	}
	rows := uint64(1)
	for _, x := range dims[1:] {
		rows *= x // cannot wrap: the product of all dims is ≤ MaxElements
	}
	hi, size := bits.Mul64(rows, dims[0]/bs)
	hi2, size2 := bits.Mul64(size, bb)
	if hi != 0 || hi2 != 0 || size2 > math.MaxInt64 {
		return 0, fmt.Errorf("%s tensor of dims %v is larger than 2^63-1 bytes", t, dims)
	}
	return size2, nil
}
