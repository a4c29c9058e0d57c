package gguf

import (
	"encoding/binary"

	"zhiyan/tensor"
)

// raw assembles GGUF bytes field by field, so that tests can write exactly
// the malformed headers, KVs and tensor infos they need.
type raw struct{ b []byte }

func newRaw(version uint32, nTensors, nKV uint64) *raw {
	r := &raw{b: []byte(magic)}
	return r.u32(version).u64(nTensors).u64(nKV)
}

func (r *raw) u8(v uint8) *raw   { r.b = append(r.b, v); return r }
func (r *raw) u32(v uint32) *raw { r.b = binary.LittleEndian.AppendUint32(r.b, v); return r }
func (r *raw) u64(v uint64) *raw { r.b = binary.LittleEndian.AppendUint64(r.b, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.b = append(r.b, s...); return r }

// key starts a KV: the key and the value type; the caller appends the value.
func (r *raw) key(k string, t ValueType) *raw { return r.str(k).u32(uint32(t)) }

// arr starts an array value: element type and length.
func (r *raw) arr(t ValueType, n uint64) *raw { return r.u32(uint32(t)).u64(n) }

func (r *raw) tensor(name string, t tensor.Type, off uint64, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(t)).u64(off)
}

// pad appends zeros up to a multiple of align.
func (r *raw) pad(align int) *raw {
	for len(r.b)%align != 0 {
		r.b = append(r.b, 0)
	}
	return r
}

func (r *raw) zeros(n int) *raw { r.b = append(r.b, make([]byte, n)...); return r }

func (r *raw) bytes() []byte { return r.b }
