package tensor

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"

	"zhiyan/internal/golden"
)

// The golden quantized models were made by `llama-quantize --pure <F32 file>
// <out> <TYPE>` (llama.cpp c392e509): every 2-D matrix has the file's type
// and was quantized from the F32 file's data by ggml's reference quantizers.

var goldenModels = []string{"qwen2-mini", "llama-mini"}

var goldenTypes = []Type{F16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

var f32Models sync.Map // model name → map[string]ggufTensor

func loadF32Model(t *testing.T, model string) map[string]ggufTensor {
	t.Helper()
	if ts, ok := f32Models.Load(model); ok {
		return ts.(map[string]ggufTensor)
	}
	ts := loadGGUF(t, golden.Path(t, fmt.Sprintf("%s/%s-F32.gguf", model, model)))
	f32Models.Store(model, ts)
	return ts
}

// matrices returns the names of the 2-D tensors of a quantized file, sorted,
// after checking each has the file's type.
func matrices(t *testing.T, q map[string]ggufTensor, typ Type) []string {
	t.Helper()
	var names []string
	for name, tq := range q {
		if len(tq.ne) != 2 {
			continue
		}
		if tq.typ != typ {
			t.Fatalf("%s has type %s, want %s (file made with --pure)", name, tq.typ, typ)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no 2-D tensors")
	}
	return names
}

func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	for _, model := range goldenModels {
		for _, typ := range goldenTypes {
			rel := fmt.Sprintf("%s/%s-%s.gguf", model, model, typ)
			t.Run(model+"/"+typ.String(), func(t *testing.T) {
				if !golden.Has(t, rel) {
					t.Skipf("%s is not present", rel)
				}
				f32 := loadF32Model(t, model)
				q := loadGGUF(t, golden.Path(t, rel))
				blocks := 0
				for _, name := range matrices(t, q, typ) {
					tq := q[name]
					src, ok := f32[name]
					if !ok {
						t.Fatalf("%s: not in the F32 file", name)
					}
					got := make([]byte, len(tq.data))
					if err := Quantize(typ, got, src.f32Data()); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					blocks += len(got) / typ.BlockBytes()
					if bad := diffBlocks(got, tq.data, typ.BlockBytes()); len(bad) > 0 {
						bb := typ.BlockBytes()
						i := bad[0]
						t.Errorf("%s: %d of %d blocks differ; first is block %d:\n got %x\nwant %x",
							name, len(bad), len(got)/bb, i, got[i*bb:(i+1)*bb], tq.data[i*bb:(i+1)*bb])
					}
				}
				t.Logf("%d blocks compared", blocks)
			})
		}
	}
}

// diffBlocks returns the indices of the blocks of size bb that differ.
func diffBlocks(got, want []byte, bb int) []int {
	var bad []int
	for i := 0; i*bb < len(want); i++ {
		if !bytes.Equal(got[i*bb:(i+1)*bb], want[i*bb:(i+1)*bb]) {
			bad = append(bad, i)
		}
	}
	return bad
}

// maxMeanAbsErr bounds the mean |dequantized − original| over the golden
// models' matrices (weights are 0.02·N(0,1)). Both models measure about 80% of
// these; a decoder with a misplaced bit or scale lands far above.
var maxMeanAbsErr = map[Type]float64{
	F16:  3.5e-6,  // measured 2.8e-6
	Q8_0: 1.1e-4,  // 9.0e-5
	Q6_K: 3.6e-4,  // 2.9e-4
	Q5_1: 7.5e-4,  // 6.3e-4
	Q5_0: 8.5e-4,  // 7.1e-4
	Q5_K: 7.5e-4,  // 6.1e-4
	Q4_1: 1.6e-3,  // 1.29e-3
	Q4_0: 1.75e-3, // 1.43e-3
	Q4_K: 1.5e-3,  // 1.19e-3
	Q3_K: 3.1e-3,  // 2.5e-3
	Q2_K: 5.8e-3,  // 4.8e-3
}

func TestDequantizeGolden(t *testing.T) {
	for _, model := range goldenModels {
		for _, typ := range goldenTypes {
			rel := fmt.Sprintf("%s/%s-%s.gguf", model, model, typ)
			t.Run(model+"/"+typ.String(), func(t *testing.T) {
				if !golden.Has(t, rel) {
					t.Skipf("%s is not present", rel)
				}
				f32 := loadF32Model(t, model)
				q := loadGGUF(t, golden.Path(t, rel))
				var sum float64
				var n int
				for _, name := range matrices(t, q, typ) {
					tq := q[name]
					want := f32[name].f32Data()
					got := make([]float32, tq.elements())
					Dequantize(typ, got, tq.data)
					for i := range got {
						sum += math.Abs(float64(got[i]) - float64(want[i]))
					}
					n += len(got)
				}
				mean := sum / float64(n)
				t.Logf("mean abs error %.3g over %d weights", mean, n)
				if mean > maxMeanAbsErr[typ] {
					t.Errorf("mean abs error %.3g, want ≤ %.3g", mean, maxMeanAbsErr[typ])
				}
			})
		}
	}
}
