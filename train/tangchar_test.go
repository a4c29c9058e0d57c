package train

import (
	"math"
	"runtime"
	"testing"
)

func TestFLOPsPerToken(t *testing.T) {
	// tang-char: 6 × 418,624 matrix weights (layers and the tied head) and
	// attention's 3 × 5 layers × 4 × 64 × 32.5.
	if got, want := DefaultOptions(3001).Model.FLOPsPerToken(), 6*418624.0+3*5*4*64*32.5; got != want {
		t.Errorf("FLOPsPerToken() = %g, want %g", got, want)
	}
}

// TestTangCharSmoke is the CI tier of the tang-char benchmark: its data,
// vocabulary, model and schedule, but only the first 80 of the 2,000
// steps. The first loss is the recorded one for seed 1337 (≈ ln 3001), and
// by step 80 the model must be well on its way down to the unigram
// entropy (6.22): the full run's mean over steps 71–80 was 6.75.
func TestTangCharSmoke(t *testing.T) {
	switch {
	case testing.Short():
		t.Skip("about 10 s")
	case !simdKernels:
		t.Skip("minutes with the portable kernels")
	}
	c, err := ReadCorpus(tangFile, 20)
	if err != nil {
		t.Skipf("no prepared corpus: %v", err)
	}
	v, err := CharVocab(JoinDocuments(c.Train), 3000, []string{TokUNK})
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(v.Size())
	o.Threads = runtime.NumCPU()
	tr, err := NewTrainer(o, v, c.Encode(v))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	runSteps(t, tr, 80)
	l := losses(tr.History)
	// Recorded from the first full run (the log of zhiyan train).
	const first = 8.023011
	if math.Abs(l[0]-first) > 1e-4 {
		t.Errorf("step 1 loss %.6f, want %.6f", l[0], first)
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("loss %v", v)
			}
			s += v
		}
		return s / float64(len(x))
	}
	early, late := mean(l[30:40]), mean(l[70:80])
	t.Logf("mean loss: steps 31–40 %.3f, 71–80 %.3f", early, late)
	if !(late < 7.0 && late < early-0.6) {
		t.Errorf("mean loss of steps 71–80 %.3f, want below 7.0 and 0.6 below steps 31–40 (%.3f)", late, early)
	}
	if len(tr.Events) > 0 {
		t.Errorf("monitor events %v", tr.Events)
	}
}

func TestCharClass(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"春", "Han"}, {"，", "，。"}, {"。", "，。"}, {"\n", "\\n"}, {"<unk>", "other"}, {"a", "other"}, {"？", "other"},
	} {
		if got := CharClass(tt.text); got != tt.want {
			t.Errorf("CharClass(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestEvaluateClasses checks the breakdown adds up to the full validation
// loss, over every target.
func TestEvaluateClasses(t *testing.T) {
	tr := tinyRun(t, 30, nil)
	runSteps(t, tr, 30)
	full := tr.Evaluate(true)
	var sum float64
	n := 0
	for _, c := range tr.EvaluateClasses(CharClass) {
		if c.Accuracy < 0 || c.Accuracy > 1 {
			t.Errorf("%s: accuracy %g", c.Class, c.Accuracy)
		}
		sum += c.Loss * float64(c.Targets)
		n += c.Targets
	}
	if want := len(evalWindows(tr.Data.Val, tr.Opt.Model.Context, 0)) * tr.Opt.Model.Context; n != want {
		t.Errorf("%d targets, want %d", n, want)
	}
	if got := sum / float64(n); math.Abs(got-full) > 1e-5 {
		t.Errorf("classes average %.6f, full validation loss %.6f", got, full)
	}
}
