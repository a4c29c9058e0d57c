package gguf

import (
	"errors"
	"math"
	"strings"
	"testing"

	"zhiyan/tensor"
)

// attack is a hostile (or control) file and the error it must produce.
type attack struct {
	name  string
	file  []byte
	field string // exact FormatError.Field; "" means the file must parse
	msg   string // substring of FormatError.Msg
	at    int64  // FormatError.Offset, checked when ≥ 0
	check func(t *testing.T, f *File)
}

// nested is a file with one KV holding arrays nested depth deep, the innermost
// an empty UINT8 array.
func nested(depth int) []byte {
	r := newRaw(3, 0, 1).key("nest", TypeArray)
	for range depth - 1 {
		r.arr(TypeArray, 1)
	}
	return r.arr(TypeUint8, 0).bytes()
}

// withKVs is a tensor-less file holding the given encoded KVs.
func withKVs(n uint64, kvs func(r *raw)) []byte {
	r := newRaw(3, 0, n)
	kvs(r)
	return r.bytes()
}

func strs(n int, s string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func stringArray(r *raw, key string, ss []string) {
	r.key(key, TypeArray).arr(TypeString, uint64(len(ss)))
	for _, s := range ss {
		r.str(s)
	}
}

func int32Array(r *raw, key string, xs []int32) {
	r.key(key, TypeArray).arr(TypeInt32, uint64(len(xs)))
	for _, x := range xs {
		r.u32(uint32(x))
	}
}

// attacks lists the inputs of gguf-attacks.md section C1, row by row, plus the
// other malformations Parse must name. Rows that describe a well-formed GGUF
// whose content is hostile to a model or tokenizer (block_count 513, bad BYTE
// tokens, …) must parse here: rejecting them is the job of the packages that
// interpret those keys, and the cases check the values arrive intact.
// GHSA-7rxv-5jhh-j6xx (huge prompt text) has no file input and is not here.
func attacks() []attack {
	const u64max = math.MaxUint64
	alignKV := func(t ValueType, v func(r *raw)) []byte {
		return withKVs(1, func(r *raw) { r.key("general.alignment", t); v(r) })
	}
	oneTensor := func(typ tensor.Type, off uint64, data int, dims ...uint64) []byte {
		return newRaw(3, 1, 0).tensor("t", typ, off, dims...).pad(32).zeros(data).bytes()
	}
	return []attack{
		// CVE-2024-21802, -21825, -21836, -23496, -23605 (Cisco Talos).
		{name: "talos/n_kv=2^62", file: newRaw(3, 0, 1<<62).zeros(64).bytes(),
			field: "kv_count", msg: "kv count 4611686018427387904 exceeds remaining 64 bytes", at: 16},
		{name: "talos/n_tensors=2^62", file: newRaw(3, 1<<62, 0).zeros(64).bytes(),
			field: "tensor_count", msg: "exceeds remaining", at: 8},
		{name: "talos/key_len=2^64-1", file: newRaw(3, 0, 1).u64(u64max).zeros(16).bytes(),
			field: "kv[0]", msg: "key length 18446744073709551615 exceeds the limit", at: 24},
		{name: "talos/value_string_len=2^64-1", file: withKVs(1, func(r *raw) { r.key("general.name", TypeString).u64(u64max).zeros(16) }),
			field: `kv[0] "general.name"`, msg: "string length 18446744073709551615 exceeds remaining 16 bytes", at: 24 + 8 + 12 + 4},
		{name: "talos/value_string_len=2^40", file: withKVs(1, func(r *raw) { r.key("general.name", TypeString).u64(1 << 40).zeros(16) }),
			field: `kv[0] "general.name"`, msg: "string length 1099511627776 exceeds remaining 16 bytes", at: 48},
		{name: "talos/array_uint64_len=2^61", file: withKVs(1, func(r *raw) { r.key("a", TypeArray).arr(TypeUint64, 1<<61).zeros(64) }),
			field: `kv[0] "a"`, msg: "array length 2305843009213693952 exceeds remaining 64 bytes", at: 24 + 9 + 4 + 4},
		{name: "talos/n_dims=5", file: oneTensor(tensor.F32, 0, 32, 8, 1, 1, 1, 1),
			field: `tensor[0] "t"`, msg: "n_dims 5 not in 1..4", at: 24 + 9},
		{name: "talos/n_dims=200", file: newRaw(3, 1, 0).str("t").u32(200).zeros(2000).bytes(),
			field: `tensor[0] "t"`, msg: "n_dims 200 not in 1..4"},

		// issue #15711: a count that passes SIZE_MAX/sizeof(info) must still fail against the file size.
		{name: "issue15711/n_tensors=SIZE_MAX/sizeof(info)", file: newRaw(3, u64max/88, 0).zeros(256).bytes(),
			field: "tensor_count", msg: "exceeds remaining 264 bytes"},

		// GHSA-vgg9-87g3-85w8 / CVE-2025-53630: tensor sizes summing past 2^64.
		{name: "GHSA-vgg9/two_sizes_of_2^63", file: newRaw(3, 2, 0).
			tensor("a", tensor.F32, 0, 1<<61).tensor("b", tensor.F32, 1<<63, 1<<61).pad(32).zeros(64).bytes(),
			field: `tensor[0] "a"`, msg: "larger than 2^63-1 bytes"},
		{name: "GHSA-vgg9/three_sizes_sum_past_2^64", file: newRaw(3, 3, 0).
			tensor("a", tensor.F32, 0, 1<<61-8).tensor("b", tensor.F32, 1<<63-32, 1<<61-8).
			tensor("c", tensor.F32, 1<<64-64, 1<<61-8).pad(32).zeros(64).bytes(),
			field: `tensor[0] "a"`, msg: "exceeds the 64-byte data section"},
		// GHSA-3p4r-fq3f-q74v / CVE-2026-27940: padding that would wrap near 2^64.
		{name: "GHSA-3p4r/pad_wraps_near_2^64", file: oneTensor(tensor.I8, 1<<64-32, 64, 31),
			field: `tensor[0] "t"`, msg: "data at offset 18446744073709551584, size 31 exceeds the 64-byte data section"},
		// GHSA-96jg-mvhq-q7q7 / CVE-2026-33298: nelements × type size overflow.
		{name: "GHSA-96jg/F32_ne=[2^62,8]", file: oneTensor(tensor.F32, 0, 64, 1<<62, 8),
			field: `tensor[0] "t"`, msg: "element count of dims [4611686018427387904 8] exceeds"},
		// PR #24759: GGML_PAD overflow for ne[0] = (2^64-1)/4.
		{name: "PR24759/F32_ne0=(2^64-1)/4", file: oneTensor(tensor.F32, 0, 64, u64max/4),
			field: `tensor[0] "t"`, msg: "is larger than 2^63-1 bytes"},
		// issue #27203: element count overflowing to negative.
		{name: "issue27203/I8_ne=[INT64_MAX,2,1,1]", file: oneTensor(tensor.I8, 0, 64, math.MaxInt64, 2, 1, 1),
			field: `tensor[0] "t"`, msg: "element count of dims [9223372036854775807]"},
		// PR #18674: a dim whose strides wrap; must not load.
		{name: "PR18674/token_embd_ne1=2^42+1", file: newRaw(3, 1, 0).
			tensor("token_embd.weight", tensor.F32, 0, 256, 1<<42+1).pad(32).zeros(1024).bytes(),
			field: `tensor[0] "token_embd.weight"`, msg: "exceeds the 1024-byte data section"},

		// PR #19856 hardening.
		{name: "PR19856/alignment=0", file: alignKV(TypeUint32, func(r *raw) { r.u32(0) }),
			field: `kv[0] "general.alignment"`, msg: "alignment 0 is not a power of two", at: 24},
		{name: "PR19856/alignment=3", file: alignKV(TypeUint32, func(r *raw) { r.u32(3) }),
			field: `kv[0] "general.alignment"`, msg: "alignment 3 is not a power of two"},
		{name: "PR19856/alignment=2^31", file: alignKV(TypeUint32, func(r *raw) { r.u32(1 << 31) }),
			field: `kv[0] "general.alignment"`, msg: "alignment 2147483648 is not a power of two in 1..1048576"},
		{name: "PR19856/tensor_type=0xFFFFFFFF", file: oneTensor(tensor.Type(0xFFFFFFFF), 0, 32, 8),
			field: `tensor[0] "t"`, msg: "unknown tensor type 4294967295", at: 24 + 9 + 4 + 8},
		{name: "PR19856/duplicate_general.architecture", file: withKVs(2, func(r *raw) {
			r.key("general.architecture", TypeString).str("llama")
			r.key("general.architecture", TypeString).str("qwen2")
		}), field: `kv[1] "general.architecture"`, msg: "duplicate key (first is kv[0])", at: 24 + 28 + 4 + 13},
		{name: "PR19856/string_bytes_exceed_file", file: withKVs(1, func(r *raw) {
			r.key("tokenizer.ggml.tokens", TypeArray).arr(TypeString, 3).str(strings.Repeat("a", 30)).u64(30).zeros(20)
		}), field: `kv[0] "tokenizer.ggml.tokens"`, msg: "string [1] length 30 exceeds remaining 20 bytes"},

		// PR #26318: general.alignment with the wrong type.
		{name: "PR26318/alignment_INT32", file: alignKV(TypeInt32, func(r *raw) { r.u32(32) }),
			field: `kv[0] "general.alignment"`, msg: "alignment has type INT32, want UINT32"},
		{name: "PR26318/alignment_STRING", file: alignKV(TypeString, func(r *raw) { r.str("32") }),
			field: `kv[0] "general.alignment"`, msg: "alignment has type STRING, want UINT32"},

		// PR #25821 / #26051: block_count beyond LLAMA_MAX_LAYERS is the model's to reject.
		{name: "PR25821/block_count=513_parses", file: withKVs(1, func(r *raw) { r.key("llama.block_count", TypeUint32).u32(513) }),
			check: wantUint("llama.block_count", 513)},
		{name: "PR25821/block_count=2^32-1_parses", file: withKVs(1, func(r *raw) { r.key("llama.block_count", TypeUint32).u32(math.MaxUint32) }),
			check: wantUint("llama.block_count", math.MaxUint32)},
		{name: "PR26051/per_layer_array_len!=block_count_parses", file: withKVs(2, func(r *raw) {
			r.key("llama.block_count", TypeUint32).u32(4)
			int32Array(r, "llama.attention.head_count", []int32{8, 8, 8})
		}), check: func(t *testing.T, f *File) {
			if got, ok := f.Int32s("llama.attention.head_count"); !ok || len(got) != 3 {
				t.Errorf("Int32s(head_count) = %v, %v, want 3 values", got, ok)
			}
		}},

		// PR #25969 and GHSA-8wwf-w4qm-gpqr: hostile vocabularies are the tokenizer's to reject.
		{name: "PR25969/byte_tokens_parse", file: withKVs(1, func(r *raw) {
			stringArray(r, "tokenizer.ggml.tokens", []string{"<0x-1>", "<0xZZ>", "<0x100>"})
		}), check: wantStrings("tokenizer.ggml.tokens", []string{"<0x-1>", "<0xZZ>", "<0x100>"})},
		{name: "GHSA-8wwf/1MiB_token_parses", file: withKVs(1, func(r *raw) {
			stringArray(r, "tokenizer.ggml.tokens", []string{"a", strings.Repeat("x", 1<<20)})
		}), check: func(t *testing.T, f *File) {
			if got, _ := f.Strings("tokenizer.ggml.tokens"); len(got) != 2 || len(got[1]) != 1<<20 {
				t.Errorf("tokens not read back intact")
			}
		}},
		{name: "GHSA-8wwf/mismatched_vocab_arrays_parse", file: withKVs(3, func(r *raw) {
			stringArray(r, "tokenizer.ggml.tokens", []string{"a", "b", "c"})
			r.key("tokenizer.ggml.scores", TypeArray).arr(TypeFloat32, 2).u32(0).u32(0)
			int32Array(r, "tokenizer.ggml.token_type", []int32{1, 99, -1, 1})
		}), check: func(t *testing.T, f *File) {
			s, _ := f.Float32s("tokenizer.ggml.scores")
			tt, _ := f.Int32s("tokenizer.ggml.token_type")
			if len(s) != 2 || len(tt) != 4 || tt[1] != 99 || tt[2] != -1 {
				t.Errorf("scores %v, token_type %v not read back intact", s, tt)
			}
		}},
		{name: "GHSA-8wwf/merges_out_of_vocab_parse", file: withKVs(2, func(r *raw) {
			stringArray(r, "tokenizer.ggml.tokens", []string{"a", "b"})
			stringArray(r, "tokenizer.ggml.merges", []string{"a b", "ab zz"})
		}), check: wantStrings("tokenizer.ggml.merges", []string{"a b", "ab zz"})},

		// gguf-py F001: deep nesting.
		{name: "F001/nested_10000", file: nested(10000),
			field: `kv[0] "nest"`, msg: "arrays nested deeper than 8", at: 24 + 12 + 4 + 7*12},
		{name: "F001/nested_1000000", file: nested(1000000),
			field: `kv[0] "nest"`, msg: "arrays nested deeper than 8"},
		{name: "F001/nested_9", file: nested(MaxArrayDepth + 1),
			field: `kv[0] "nest"`, msg: "arrays nested deeper than 8"},
		{name: "F001/nested_8_parses", file: nested(MaxArrayDepth)},

		// Ollama CVE-2026-7482 "Bleeding Llama": offset and size against the file length.
		{name: "BleedingLlama/offset=2^50", file: oneTensor(tensor.F32, 1<<50, 32, 8),
			field: `tensor[0] "t"`, msg: "data at offset 1125899906842624, size 32 exceeds the 32-byte data section", at: 24},
		{name: "BleedingLlama/size_past_EOF_by_1", file: oneTensor(tensor.F32, 0, 31, 8),
			field: `tensor[0] "t"`, msg: "data at offset 0, size 32 exceeds the 31-byte data section"},
		{name: "BleedingLlama/size_exactly_EOF_parses", file: oneTensor(tensor.F32, 0, 32, 8)},
		{name: "BleedingLlama/offset=2^64-16", file: oneTensor(tensor.F32, 1<<64-16, 32, 4),
			field: `tensor[0] "t"`, msg: "data offset 18446744073709551600 is not a multiple of the alignment 32"},
		{name: "BleedingLlama/offset=2^64-32", file: oneTensor(tensor.F32, 1<<64-32, 32, 8),
			field: `tensor[0] "t"`, msg: "data at offset 18446744073709551584, size 32 exceeds"},

		// Ollama 383a4cee6: count checked per element, not per byte.
		{name: "ollama383a4cee6/array_uint64_count=fileSize/2", file: withKVs(1, func(r *raw) { r.key("a", TypeArray).arr(TypeUint64, 100).zeros(160) }),
			field: `kv[0] "a"`, msg: "array length 100 exceeds remaining 160 bytes (at least 8 bytes each)"},
		// Ollama ffea32adc: zero-size tensors.
		{name: "ollamaffea32adc/ne1=0", file: oneTensor(tensor.F32, 0, 32, 8, 0),
			field: `tensor[0] "t"`, msg: "ne[1] is 0"},

		// Other malformations.
		{name: "empty_file", file: nil, field: "magic", msg: "needs 4 bytes, only 0 remain", at: 0},
		{name: "bad_magic", file: []byte("GGML\x03\x00\x00\x00"), field: "magic", msg: `"GGML" is not "GGUF"`},
		{name: "truncated_header", file: newRaw(3, 0, 0).bytes()[:20], field: "kv_count", msg: "needs 8 bytes, only 4 remain", at: 16},
		{name: "version_1", file: newRaw(1, 0, 0).bytes(), field: "version", msg: "version 1 is not supported", at: 4},
		{name: "version_4", file: newRaw(4, 0, 0).bytes(), field: "version", msg: "unsupported version 4"},
		{name: "big_endian", file: newRaw(3<<24, 0, 0).bytes(), field: "version", msg: "big-endian"},
		{name: "value_type_99", file: withKVs(1, func(r *raw) { r.key("a", 99).u32(0) }),
			field: `kv[0] "a"`, msg: "unknown value type 99", at: 33},
		{name: "array_elem_type_99", file: withKVs(1, func(r *raw) { r.key("a", TypeArray).arr(99, 1).u32(0) }),
			field: `kv[0] "a"`, msg: "unknown array element type 99"},
		{name: "bool_byte_2", file: withKVs(1, func(r *raw) { r.key("a", TypeBool).u8(2) }),
			field: `kv[0] "a"`, msg: "bool byte 2 is not 0 or 1"},
		{name: "bool_array_byte_2", file: withKVs(1, func(r *raw) { r.key("a", TypeArray).arr(TypeBool, 2).u8(1).u8(2) }),
			field: `kv[0] "a"`, msg: "bool [1] byte 2 is not 0 or 1", at: 24 + 9 + 4 + 12 + 1},
		{name: "empty_key", file: withKVs(1, func(r *raw) { r.key("", TypeUint8).u8(0).zeros(8) }),
			field: "kv[0]", msg: "empty key"},
		{name: "key_invalid_utf8", file: withKVs(1, func(r *raw) { r.key("a\xff", TypeUint8).u8(0) }),
			field: "kv[0]", msg: "not valid UTF-8"},
		{name: "key_too_long", file: withKVs(1, func(r *raw) { r.key(strings.Repeat("k", MaxNameLen+1), TypeUint8).u8(0) }),
			field: "kv[0]", msg: "key length 65536 exceeds the limit of 65535"},
		{name: "alignment=2^21", file: alignKV(TypeUint32, func(r *raw) { r.u32(1 << 21) }),
			field: `kv[0] "general.alignment"`, msg: "not a power of two in 1..1048576"},
		{name: "offset_unaligned", file: oneTensor(tensor.F32, 16, 64, 4),
			field: `tensor[0] "t"`, msg: "data offset 16 is not a multiple of the alignment 32"},
		{name: "offset_unaligned_to_alignment_64", file: withKVs(1, func(r *raw) {
			r.b[8] = 1 // one tensor
			r.key("general.alignment", TypeUint32).u32(64).tensor("t", tensor.F32, 32, 8).pad(64).zeros(64)
		}), field: `tensor[0] "t"`, msg: "not a multiple of the alignment 64"},
		{name: "n_dims=0", file: oneTensor(tensor.F32, 0, 32), field: `tensor[0] "t"`, msg: "n_dims 0 not in 1..4"},
		{name: "Q4_0_ne0_not_block_multiple", file: oneTensor(tensor.Q4_0, 0, 64, 33),
			field: `tensor[0] "t"`, msg: "ne[0] 33 is not a multiple of the Q4_0 block size 32"},
		{name: "duplicate_tensor_name", file: newRaw(3, 2, 0).tensor("t", tensor.F32, 0, 8).tensor("t", tensor.F32, 32, 8).pad(32).zeros(64).bytes(),
			field: `tensor[1] "t"`, msg: "duplicate tensor name (first is tensor[0])"},
		{name: "tensors_overlap", file: newRaw(3, 2, 0).tensor("a", tensor.F32, 0, 16).tensor("b", tensor.F32, 32, 8).pad(32).zeros(96).bytes(),
			field: `tensor[1] "b"`, msg: "data at offset 32 overlaps tensor[0] \"a\" at [0, 64)"},
		{name: "tensors_out_of_order_parse", file: newRaw(3, 2, 0).tensor("a", tensor.F32, 64, 16).tensor("b", tensor.F32, 0, 16).pad(32).zeros(128).bytes()},
		{name: "data_section_past_EOF", file: newRaw(3, 1, 0).tensor("t", tensor.F32, 0, 8).bytes(),
			field: "data", msg: "starts past the end"},
		{name: "tensorless_unpadded_parses", file: withKVs(1, func(r *raw) { r.key("general.architecture", TypeString).str("llama") }),
			check: func(t *testing.T, f *File) {
				if s, _ := f.String("general.architecture"); s != "llama" {
					t.Errorf("general.architecture = %q", s)
				}
			}},
	}
}

func wantUint(key string, want uint64) func(*testing.T, *File) {
	return func(t *testing.T, f *File) {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("Uint(%q) = %d, %v, want %d", key, got, ok, want)
		}
	}
}

func wantStrings(key string, want []string) func(*testing.T, *File) {
	return func(t *testing.T, f *File) {
		got, ok := f.Strings(key)
		if !ok || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("Strings(%q) = %q, %v, want %q", key, got, ok, want)
		}
	}
}

func TestAttacks(t *testing.T) {
	for _, tc := range attacks() {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.file)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Parse = %v, want success", err)
				}
				touch(f)
				if tc.check != nil {
					tc.check(t, f)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FormatError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("Parse = %v\nwant field %s, message containing %q", err, tc.field, tc.msg)
			}
			if tc.at >= 0 && fe.Offset != tc.at && (tc.at != 0 || tc.field == "magic") {
				t.Errorf("Parse error offset = %d, want %d (%v)", fe.Offset, tc.at, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") || len(err.Error()) > 400 {
				t.Errorf("error is not one short line: %q", err)
			}
		})
	}
}

// touch reads every value and every tensor byte range of a parsed file, as
// a caller would, so that the fuzzer and the tests see any bad slice.
func touch(f *File) (n int) {
	for _, kv := range f.KVs {
		n += walk(kv.Value)
		if got, ok := f.Lookup(kv.Key); !ok || got.Key != kv.Key {
			panic("Lookup misses " + kv.Key)
		}
	}
	for _, ti := range f.Tensors {
		b, err := f.TensorData(ti.Name)
		if err != nil {
			panic(err)
		}
		if uint64(len(b)) != ti.Size || cap(b) != len(b) {
			panic("TensorData length or capacity differs from Size")
		}
		n += int(b[0]) + int(b[len(b)-1])
	}
	return n
}

func walk(v any) int {
	switch v := v.(type) {
	case []any:
		n := len(v)
		for _, e := range v {
			n += walk(e)
		}
		return n
	case []string:
		n := 0
		for _, s := range v {
			n += len(s)
		}
		return n
	}
	return 1
}
