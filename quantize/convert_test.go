package quantize

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
	"zhiyan/tensor"
)

// The golden quantized files were made by `llama-quantize --pure <set>-F32.gguf
// <out> <TYPE>` and are named after the tensor type; llama-quantize reads
// "Q4_K" as Q4_K_M and so on, as ParseFileType does.
var pureGoldenTypes = []string{"F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}

var goldenSets = []string{"llama-mini", "qwen2-mini"}

func openGGUF(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestConvertPureMatchesLlamaQuantize(t *testing.T) {
	for _, set := range goldenSets {
		t.Run(set, func(t *testing.T) {
			in := openGGUF(t, golden.Path(t, set+"/"+set+"-F32.gguf"))
			for _, name := range pureGoldenTypes {
				rel := set + "/" + set + "-" + name + ".gguf"
				t.Run(name, func(t *testing.T) {
					if !golden.Has(t, rel) {
						t.Skipf("%s is not present", rel)
					}
					ft, err := ParseFileType(name)
					if err != nil {
						t.Fatal(err)
					}
					out := filepath.Join(t.TempDir(), "out.gguf")
					if err := Convert(in, out, ft, Options{Pure: true}); err != nil {
						t.Fatalf("Convert: %v", err)
					}
					compareTensors(t, openGGUF(t, out), openGGUF(t, golden.Path(t, rel)))
				})
			}
		})
	}
}

// compareTensors checks that got has exactly want's tensors, with the same
// types, dims and bytes (in any order: llama-quantize sorts them by layer).
func compareTensors(t *testing.T, got, want *gguf.File) {
	t.Helper()
	if len(got.Tensors) != len(want.Tensors) {
		t.Errorf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for _, wi := range want.Tensors {
		gi, ok := got.Tensor(wi.Name)
		if !ok {
			t.Errorf("tensor %s missing", wi.Name)
			continue
		}
		if gi.Type != wi.Type || !reflect.DeepEqual(gi.Dims, wi.Dims) {
			t.Errorf("%s: %s %v, want %s %v", wi.Name, gi.Type, gi.Dims, wi.Type, wi.Dims)
			continue
		}
		gd, err := got.TensorData(wi.Name)
		if err != nil {
			t.Fatal(err)
		}
		wd, err := want.TensorData(wi.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gd, wd) {
			t.Errorf("%s (%s): data differs from llama-quantize's at byte %d of %d", wi.Name, wi.Type, firstDiff(gd, wd), len(wd))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestConvertMixed converts with the llama-quantize rules (not pure) and
// checks the result loads, every tensor has the type the policy predicts,
// the metadata is carried over and the file type recorded.
func TestConvertMixed(t *testing.T) {
	for _, set := range goldenSets {
		t.Run(set, func(t *testing.T) {
			in := openGGUF(t, golden.Path(t, set+"/"+set+"-F32.gguf"))
			ft, err := ParseFileType("Q4_K_M")
			if err != nil {
				t.Fatal(err)
			}
			var calls int
			var last, total int64
			out := filepath.Join(t.TempDir(), "out.gguf")
			progress := func(done, all int64) { calls, last, total = calls+1, done, all }
			if err := Convert(in, out, ft, Options{Progress: progress}); err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if calls != len(in.Tensors) || last != total || total != sumSizes(in) {
				t.Errorf("progress: %d calls, last %d/%d, want %d calls ending at %d", calls, last, total, len(in.Tensors), sumSizes(in))
			}
			f := openGGUF(t, out)

			p := newPlan(in, ft, false)
			if len(f.Tensors) != len(in.Tensors) {
				t.Errorf("%d tensors, want %d", len(f.Tensors), len(in.Tensors))
			}
			types := map[tensor.Type]int{}
			for i := range in.Tensors {
				ti := &in.Tensors[i]
				got, ok := f.Tensor(ti.Name)
				if !ok {
					t.Errorf("tensor %s missing", ti.Name)
					continue
				}
				want := p.typeFor(ti)
				if got.Type != want || !reflect.DeepEqual(got.Dims, ti.Dims) {
					t.Errorf("%s: %s %v, want %s %v", ti.Name, got.Type, got.Dims, want, ti.Dims)
				}
				types[got.Type]++
				if got.Type == ti.Type {
					// Unconverted tensors (norms, biases) are copied as they are.
					a, _ := f.TensorData(ti.Name)
					b, _ := in.TensorData(ti.Name)
					if !bytes.Equal(a, b) {
						t.Errorf("%s: copied data differs", ti.Name)
					}
				}
			}
			// The rules must actually have mixed types: Q4_K, Q6_K, F32.
			if types[tensor.Q4_K] == 0 || types[tensor.Q6_K] == 0 || types[tensor.F32] == 0 {
				t.Errorf("tensor types %v: want a mix of Q4_K, Q6_K and F32", types)
			}

			if want := len(in.KVs) + missing(in, "general.file_type", "general.quantization_version"); len(f.KVs) != want {
				t.Errorf("%d metadata keys, want %d", len(f.KVs), want)
			}
			for _, kv := range in.KVs {
				got, ok := f.Lookup(kv.Key)
				if !ok {
					t.Errorf("key %s missing", kv.Key)
					continue
				}
				switch kv.Key {
				case "general.file_type", "general.quantization_version":
					continue
				}
				if got.Type != kv.Type || !reflect.DeepEqual(got.Value, kv.Value) {
					t.Errorf("key %s = %v (%s), want %v (%s)", kv.Key, short(got.Value), got.Type, short(kv.Value), kv.Type)
				}
			}
			if v, ok := f.Lookup("general.file_type"); !ok || v.Value != ft.ID {
				t.Errorf("general.file_type = %v, want uint32 %d", v.Value, ft.ID)
			}
			if v, ok := f.Lookup("general.quantization_version"); !ok || v.Value != uint32(2) {
				t.Errorf("general.quantization_version = %v, want uint32 2", v.Value)
			}
			if f.Alignment != in.Alignment {
				t.Errorf("alignment %d, want %d", f.Alignment, in.Alignment)
			}
		})
	}
}

// missing counts the keys f does not have.
func missing(f *gguf.File, keys ...string) int {
	n := 0
	for _, k := range keys {
		if _, ok := f.Lookup(k); !ok {
			n++
		}
	}
	return n
}

func sumSizes(f *gguf.File) int64 {
	var n int64
	for _, ti := range f.Tensors {
		n += int64(ti.Size)
	}
	return n
}

// short keeps error messages about long arrays readable.
func short(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Len() > 4 {
		return rv.Slice(0, 4).Interface()
	}
	return v
}

func TestNewPlanReadsModel(t *testing.T) {
	for _, tt := range []struct {
		set     string
		layers  int
		hasHead bool
		gqa     int
	}{
		{"llama-mini", 2, false, 2},
		{"qwen2-mini", 2, true, 2},
	} {
		f := openGGUF(t, golden.Path(t, tt.set+"/"+tt.set+"-F32.gguf"))
		ft, _ := ParseFileType("Q2_K")
		p := newPlan(f, ft, true)
		if p.layers != tt.layers || p.hasHead != tt.hasHead || p.gqa != tt.gqa || !p.pure || p.ft != ft {
			t.Errorf("newPlan(%s) = %+v, want layers %d, hasHead %v, gqa %d, pure", tt.set, *p, tt.layers, tt.hasHead, tt.gqa)
		}
	}
}

// TestConvertUndecodableType: a matrix in a type we cannot decode is an
// error (not a panic), and no output file is left behind.
func TestConvertUndecodableType(t *testing.T) {
	dir := t.TempDir()
	w := gguf.NewWriter()
	if err := w.Set("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("blk.0.attn_q.weight", tensor.IQ4_NL, []uint64{32, 2}, make([]byte, 2*18)); err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(dir, "in.gguf")
	if err := w.WriteFile(inPath); err != nil {
		t.Fatal(err)
	}
	in := openGGUF(t, inPath)
	out := filepath.Join(dir, "out.gguf")
	ft, _ := ParseFileType("Q4_0")
	if err := Convert(in, out, ft, Options{}); err == nil {
		t.Fatal("Convert of an IQ4_NL tensor to Q4_0 succeeded, want an error")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output file exists after a failed Convert (stat: %v)", err)
	}
}
