package train

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"zhiyan/engine"
	"zhiyan/model"
	"zhiyan/tensor"
)

// TestExportEngineAgreement writes a model in each export type, loads it with
// the engine (as zhiyan run and eval do) and compares the engine's logits
// for every position with the trainer's forward pass.
func TestExportEngineAgreement(t *testing.T) {
	v, err := CharVocab(poems, 0, []string{TokUNK, TokBOS, TokEOS})
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Vocab: v.Size(), Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, FFN: 40, Context: 16, NormEps: 1e-5, RopeBase: 10000}
	m, err := NewModel[float32](c, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Weights well away from the initialisation, so that every layer moves
	// the logits.
	rng := rand.New(rand.NewPCG(8, 9))
	for _, ts := range m.Tensors {
		w := m.Params[ts.Off : ts.Off+ts.Size()]
		for i := range w {
			if ts.Matrix() {
				w[i] = float32(rng.NormFloat64() * 0.3)
			} else {
				w[i] = float32(1 + rng.NormFloat64()*0.2)
			}
		}
	}
	text := "舉頭望明月，低頭思故鄉。\n春眠"
	tokens := v.Encode(text)
	m.Forward(tokens, nil, 1)
	want := slices.Clone(m.Logits())
	// For the lossy types, the trainer runs on the weights as stored
	// (rounded by the export), so only the engine's activation rounding and
	// summation order differ.
	stored := func(typ tensor.Type) []float32 {
		w := slices.Clone(m.Params)
		for _, ts := range m.Tensors {
			if !ts.Matrix() || typ == tensor.F32 {
				continue
			}
			ty := typ
			if ty == tensor.Q8_0 && ts.Cols%32 != 0 {
				ty = tensor.F16
			}
			b, err := encodeTensor(ty, w[ts.Off:ts.Off+ts.Size()])
			if err != nil {
				t.Fatal(err)
			}
			tensor.Dequantize(ty, w[ts.Off:ts.Off+ts.Size()], b)
		}
		return w
	}

	for _, tc := range []struct {
		typ tensor.Type
		tol float64
	}{
		{tensor.F32, 1e-4},
		// The engine also rounds activations to F16 and Q8_0 for these, which
		// moves logits of this span (±7) by up to ~0.02 and ~0.4; the exact
		// check of the stored weights below covers the layout.
		{tensor.F16, 0.05},
		{tensor.Q8_0, 0.6},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			want := want
			if tc.typ != tensor.F32 {
				m2, err := NewModel[float32](c, 1, 1)
				if err != nil {
					t.Fatal(err)
				}
				defer m2.Close()
				copy(m2.Params, stored(tc.typ))
				m2.Forward(tokens, nil, 1)
				want = m2.Logits()
			}
			path := filepath.Join(t.TempDir(), "model.gguf")
			if err := Export(path, c, m.Params, v, ExportOptions{Type: tc.typ, Name: "test"}); err != nil {
				t.Fatal(err)
			}
			e, err := engine.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rounded := stored(tc.typ)
			for _, ts := range m.Tensors {
				ti, _ := e.File.Tensor(ts.Name)
				data, err := e.File.TensorData(ts.Name)
				if err != nil {
					t.Fatal(err)
				}
				back := make([]float32, ts.Size())
				tensor.Dequantize(ti.Type, back, data)
				if !slices.Equal(back, rounded[ts.Off:ts.Off+ts.Size()]) {
					t.Fatalf("tensor %s (%s) does not hold the exported weights", ts.Name, ti.Type)
				}
			}
			if got := e.Tokenizer.Encode(text, true, true); !slices.Equal(got, tokens) {
				t.Fatalf("engine tokens %v, trainer %v", got, tokens)
			}
			s := e.Model.NewState(model.Options{Context: c.Context, Threads: 2})
			defer s.Close()
			got := make([]float32, len(tokens)*c.Vocab)
			if err := s.Forward(tokens, got); err != nil {
				t.Fatal(err)
			}
			worst, at := 0.0, 0
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > worst {
					worst, at = d, i
				}
			}
			t.Logf("%s: max |engine − trainer| = %.3g at position %d (logits span ±%.2f)", tc.typ, worst, at/c.Vocab, maxAbs(want))
			if worst > tc.tol {
				t.Errorf("engine logit [%d][%d] = %g, trainer %g: differ by %.3g > %g", at/c.Vocab, at%c.Vocab, got[at], want[at], worst, tc.tol)
			}
		})
	}
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

func TestExportRejects(t *testing.T) {
	v, _ := CharVocab(poems, 0, []string{TokUNK})
	c := Config{Vocab: v.Size(), Dim: 8, Layers: 1, Heads: 2, KVHeads: 1, FFN: 8, Context: 4, NormEps: 1e-5, RopeBase: 10000}
	w := make([]float32, c.NumParams())
	small := c
	small.Vocab = 3
	for _, tc := range []struct {
		name string
		c    Config
		w    []float32
		typ  tensor.Type
	}{
		{"short weights", c, w[:10], tensor.F32},
		{"Q4_0", c, w, tensor.Q4_0},
		{"vocabulary larger than the model", small, make([]float32, small.NumParams()), tensor.F32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Export(filepath.Join(t.TempDir(), "m.gguf"), tc.c, tc.w, v, ExportOptions{Type: tc.typ})
			if err == nil {
				t.Error("Export succeeded")
			}
		})
	}
}
