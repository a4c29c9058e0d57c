package model

import (
	"runtime"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
)

func loadGolden(t *testing.T, rel string) *Model {
	t.Helper()
	f, err := gguf.Open(golden.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDecodeAllocatesNothing: the per-token step reuses the State's buffers,
// for weights as mapped and as moved (Q4_0's interleaved rows too).
func TestDecodeAllocatesNothing(t *testing.T) {
	for _, file := range []string{"llama-mini/llama-mini-Q8_0.gguf", "llama-mini/llama-mini-Q4_0.gguf"} {
		m := loadGolden(t, file)
		for _, moved := range []bool{false, true} {
			if moved {
				m.MoveWeights()
			}
			s := m.NewState(Options{Context: 64, Threads: 2})
			logits := make([]float32, m.Config.Vocab)
			tok := []int32{42}
			if err := s.Forward([]int32{1, 2, 3}, logits); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				s.Truncate(3)
				if err := s.Forward(tok, logits); err != nil {
					t.Fatal(err)
				}
			})
			s.Close()
			if allocs != 0 {
				t.Errorf("%s (moved %v): decode step allocates %.1f times, want 0", file, moved, allocs)
			}
		}
	}
}

// TestMoveWeightsKeepsHeap: moved weights live outside the Go heap, and
// the file's pages they came from are given back.
func TestMoveWeightsKeepsHeap(t *testing.T) {
	m := loadGolden(t, "qwen2-mini/qwen2-mini-F32.gguf")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := m.MoveWeights()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n == 0 {
		t.Skip("weights not moved: no room on this machine")
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > int64(n)/10 {
		t.Errorf("moving %d bytes of weights grew the heap by %d bytes", n, grew)
	}
}

// TestLoadMapsWeights: loading keeps the weights in the mapped file, not on
// the Go heap.
func TestLoadMapsWeights(t *testing.T) {
	path := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > f.Size()/10 {
		t.Errorf("loading a %d-byte model grew the heap by %d bytes", f.Size(), grew)
	}
	runtime.KeepAlive(m)
}

// TestBatchingAndThreadsAgree: the same tokens give the same logits whether
// fed at once, in small batches or one by one, on one thread or two.
func TestBatchingAndThreadsAgree(t *testing.T) {
	m := loadGolden(t, "llama-mini/llama-mini-Q4_K.gguf")
	tokens := []int32{1, 450, 298, 2668, 310, 278, 364, 2147, 304, 1233, 1812}
	V := m.Config.Vocab
	run := func(o Options, step int) []float32 {
		s := m.NewState(o)
		defer s.Close()
		logits := make([]float32, V)
		for i := 0; i < len(tokens); i += step {
			if err := s.Forward(tokens[i:min(i+step, len(tokens))], logits); err != nil {
				t.Fatal(err)
			}
		}
		return logits
	}
	want := run(Options{Context: 32, Threads: 1}, len(tokens))
	for _, c := range []struct {
		name string
		o    Options
		step int
	}{
		{"two threads", Options{Context: 32, Threads: 2}, len(tokens)},
		{"batch of 4", Options{Context: 32, Batch: 4, Threads: 2}, len(tokens)},
		{"one by one", Options{Context: 32, Threads: 2}, 1},
	} {
		got := run(c.o, c.step)
		for i := range want {
			if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Errorf("%s: logit %d = %g, want %g", c.name, i, got[i], want[i])
				break
			}
		}
	}
}

func TestForwardErrors(t *testing.T) {
	m := loadGolden(t, "llama-mini/llama-mini-Q4_0.gguf")
	s := m.NewState(Options{Context: 4})
	defer s.Close()
	V := m.Config.Vocab
	for _, c := range []struct {
		name   string
		tokens []int32
		logits int
	}{
		{"token out of range", []int32{int32(V)}, V},
		{"negative token", []int32{-1}, V},
		{"context overflow", []int32{1, 2, 3, 4, 5}, V},
		{"logits buffer", []int32{1, 2}, V + 1},
		{"no tokens", nil, V},
	} {
		if err := s.Forward(c.tokens, make([]float32, c.logits)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if s.Pos() != 0 {
			t.Fatalf("%s: position moved to %d", c.name, s.Pos())
		}
	}
}
