package model

import (
	"math"
	"path"
	"slices"
	"testing"

	"zhiyan/internal/golden"
)

// TestBatchMatchesSeparateStates: sequences run together — prefill of one
// beside decode steps of others, at different positions — get the logits each
// gets alone.
func TestBatchMatchesSeparateStates(t *testing.T) {
	for _, file := range []string{"llama-mini/llama-mini-Q8_0.gguf", "qwen2-mini/qwen2-mini-F32.gguf"} {
		m := loadGolden(t, file)
		V := m.Config.Vocab
		prompts := [][]int32{
			{1, 450, 298, 2668, 310, 278},
			{1, 364, 2147},
			{1, 304, 1233, 1812, 42, 43, 44, 45, 46},
		}
		const steps = 4
		// alone: prompt, then the next tokens 7, 8, … one at a time
		want := make([][][]float32, len(prompts))
		for i, p := range prompts {
			s := m.NewState(Options{Context: 32, Threads: 2})
			for k := range steps + 1 {
				logits := make([]float32, V)
				in := p
				if k > 0 {
					in = []int32{int32(6 + k)}
				}
				if err := s.Forward(in, logits); err != nil {
					t.Fatal(err)
				}
				want[i] = append(want[i], logits)
			}
			s.Close()
		}

		// together: sequence i starts i steps late, so prefills share passes
		// with other sequences' decode steps
		b := m.NewBatch(BatchOptions{Context: 32, Batch: 16, Seqs: len(prompts), Threads: 2})
		defer b.Close()
		seqs := make([]*Seq, len(prompts))
		for i := range seqs {
			seqs[i] = b.NewSeq(32)
		}
		done := make([]int, len(prompts))
		for pass := 0; pass < steps+len(prompts); pass++ {
			var st []Step
			var who []int
			for i, p := range prompts {
				k := pass - i
				if k < 0 || k > steps {
					continue
				}
				in := p
				if k > 0 {
					in = []int32{int32(6 + k)}
				}
				st = append(st, Step{Seq: seqs[i], Tokens: in, Logits: make([]float32, V)})
				who = append(who, i)
			}
			if err := b.Forward(st); err != nil {
				t.Fatal(err)
			}
			for j, i := range who {
				compareLogits(t, file, st[j].Logits, want[i][done[i]])
				done[i]++
			}
		}
	}
}

func compareLogits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: logit %d = %g, want %g", name, i, got[i], want[i])
		}
	}
}

// TestHiddenIsWhatTheHeadSees: Hidden rows times the output matrix are the
// logits.
func TestHiddenIsWhatTheHeadSees(t *testing.T) {
	m := loadGolden(t, "qwen2-mini/qwen2-mini-F32.gguf")
	C, V := m.Config.Embd, m.Config.Vocab
	tokens := []int32{1, 2, 3, 4}
	s := m.NewState(Options{Context: 8})
	defer s.Close()
	hidden := make([]float32, len(tokens)*C)
	if err := s.Hidden(tokens, hidden); err != nil {
		t.Fatal(err)
	}
	s.Truncate(0)
	logits := make([]float32, len(tokens)*V)
	if err := s.Forward(tokens, logits); err != nil {
		t.Fatal(err)
	}
	head := m.net.(*llama).output
	row := make([]float32, C)
	for r := range tokens {
		for _, id := range []int{0, 7, V - 1} {
			head.Row(row, id)
			var dot float64
			for i := range C {
				dot += float64(row[i]) * float64(hidden[r*C+i])
			}
			if d := math.Abs(dot - float64(logits[r*V+id])); d > 1e-3 {
				t.Errorf("row %d token %d: hidden·head = %g, logit %g", r, id, dot, logits[r*V+id])
			}
		}
	}
}

func TestBatchErrors(t *testing.T) {
	m := loadGolden(t, "llama-mini/llama-mini-Q4_0.gguf")
	V := m.Config.Vocab
	b := m.NewBatch(BatchOptions{Context: 8, Batch: 4, Seqs: 2})
	defer b.Close()
	s1, s2, s3 := b.NewSeq(8), b.NewSeq(8), b.NewSeq(8)
	lg := func() []float32 { return make([]float32, V) }
	for _, c := range []struct {
		name  string
		steps []Step
	}{
		{"too many tokens", []Step{{Seq: s1, Tokens: []int32{1, 2, 3}}, {Seq: s2, Tokens: []int32{1, 2}}}},
		{"same sequence twice", []Step{{Seq: s1, Tokens: []int32{1}}, {Seq: s1, Tokens: []int32{2}}}},
		{"too many logits", []Step{{Seq: s1, Tokens: []int32{1}, Logits: lg()}, {Seq: s2, Tokens: []int32{1}, Logits: lg()}, {Seq: s3, Tokens: []int32{1}, Logits: lg()}}},
		{"all rows beside another", []Step{{Seq: s1, Tokens: []int32{1, 2}, Logits: make([]float32, 2*V)}, {Seq: s2, Tokens: []int32{1}}}},
		{"empty step", []Step{{Seq: s1}}},
		{"no steps", nil},
	} {
		if err := b.Forward(c.steps); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if s1.Pos()+s2.Pos()+s3.Pos() != 0 {
			t.Fatalf("%s: positions moved", c.name)
		}
	}
}

// TestPrepackSameLogits: weights packed once give the logits of the other
// batch kernels (up to float32 summation order).
func TestPrepackSameLogits(t *testing.T) {
	for _, file := range []string{"llama-mini/llama-mini-Q8_0.gguf", "llama-mini/llama-mini-Q4_0.gguf"} {
		m := loadGolden(t, file)
		tokens := []int32{1, 450, 298, 2668, 310, 278, 364, 2147}
		V := m.Config.Vocab
		run := func() []float32 {
			s := m.NewState(Options{Context: 16, Threads: 2})
			defer s.Close()
			logits := make([]float32, len(tokens)*V)
			if err := s.Forward(tokens, logits); err != nil {
				t.Fatal(err)
			}
			return logits
		}
		want := run()
		if m.Prepack() == 0 {
			t.Skipf("%s: no packed kernels on this machine", file)
		}
		got := run()
		compareLogits(t, file, got, want)
	}
}

// TestMoveWeightsSameLogits: moved (and interleaved) weights give the logits
// of the mapped file: bit for bit for a prompt and for a batch of a few
// sequences, whose kernels do the same arithmetic in the same order on
// either layout, and up to float32 summation order for decoding one token,
// whose interleaved kernel adds in another order.
func TestMoveWeightsSameLogits(t *testing.T) {
	for _, file := range []string{"llama-mini/llama-mini-Q4_0.gguf", "llama-mini/llama-mini-Q8_0.gguf", "qwen2-mini/qwen2-mini-Q5_0.gguf"} {
		t.Run(path.Base(file), func(t *testing.T) {
			if !golden.Has(t, file) {
				t.Skipf("%s is not present", file)
			}
			m := loadGolden(t, file)
			V := m.Config.Vocab
			prompt := []int32{1, 450, 298, 2668, 310, 278, 364, 2147}
			run := func() (prefill, decode []float32) {
				s := m.NewState(Options{Context: 16, Threads: 2})
				defer s.Close()
				prefill = make([]float32, len(prompt)*V)
				if err := s.Forward(prompt, prefill); err != nil {
					t.Fatal(err)
				}
				for _, tok := range []int32{42, 43, 44} {
					logits := make([]float32, V)
					if err := s.Forward([]int32{tok}, logits); err != nil {
						t.Fatal(err)
					}
					decode = append(decode, logits...)
				}
				return prefill, decode
			}
			wantPrefill, wantDecode := run()
			wantBatch := batchLogits(t, m)
			n := m.MoveWeights()
			if n == 0 {
				t.Skip("weights not moved: no room on this machine")
			}
			if m.MoveWeights() != n {
				t.Error("a second MoveWeights reported another size")
			}
			prefill, decode := run()
			if !slices.Equal(prefill, wantPrefill) {
				t.Error("moved weights give other prompt logits")
			}
			compareLogits(t, file+" decoding", decode, wantDecode)
			if got := batchLogits(t, m); !slices.Equal(got, wantBatch) {
				t.Error("moved weights give other logits in a batch")
			}
		})
	}
}

// batchLogits runs three sequences together: prompts of different lengths,
// then two decoding steps of all three (2 ≤ T ≤ 4 tokens a step).
func batchLogits(t *testing.T, m *Model) []float32 {
	t.Helper()
	V := m.Config.Vocab
	b := m.NewBatch(BatchOptions{Seqs: 3, Context: 16, Threads: 2})
	defer b.Close()
	seqs := []*Seq{b.NewSeq(0), b.NewSeq(0), b.NewSeq(0)}
	var out []float32
	for k, toks := range [][]int32{{1, 450, 298}, {7}, {8}} {
		var steps []Step
		for i, s := range seqs {
			in := toks
			if k == 0 {
				in = toks[:i+1]
			}
			steps = append(steps, Step{Seq: s, Tokens: in, Logits: make([]float32, V)})
		}
		if err := b.Forward(steps); err != nil {
			t.Fatal(err)
		}
		for _, st := range steps {
			out = append(out, st.Logits...)
		}
	}
	return out
}
