package sample

import (
	"math"
	"slices"
	"testing"
)

func cands(logits ...float32) []cand {
	c := make([]cand, len(logits))
	for i, x := range logits {
		c[i] = cand{int32(i), x}
	}
	return c
}

func ids(c []cand) []int32 {
	out := make([]int32, len(c))
	for i, x := range c {
		out[i] = x.id
	}
	return out
}

// logs returns log(p) for each p: logits whose softmax is p.
func logs(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, x := range p {
		out[i] = float32(math.Log(x))
	}
	return out
}

var inf = float32(math.Inf(1))

func TestPenalize(t *testing.T) {
	tests := []struct {
		name                   string
		logits                 []float32
		window                 []int32
		repeat, freq, presence float32
		want                   []float32
	}{
		{
			name:   "repeat divides positive, multiplies non-positive",
			logits: []float32{2, -2, 1, 0, 0.5},
			window: []int32{0, 1, 3, 4},
			repeat: 2,
			want:   []float32{1, -4, 1, 0, 0.25},
		},
		{
			name:   "frequency counts occurrences, presence once",
			logits: []float32{2, -2, 1, 0.5},
			window: []int32{0, 1, 1, 3, 3, 3},
			repeat: 1, freq: 0.1, presence: 0.5,
			// 2-0.1-0.5, -2-0.2-0.5, untouched, 0.5-0.3-0.5
			want: []float32{1.4, -2.7, 1, -0.3},
		},
		{
			name:   "repeat then subtract",
			logits: []float32{2, -2, 1, 0.5},
			window: []int32{0, 1, 1, 3, 3, 3},
			repeat: 2, freq: 0.1, presence: 0.5,
			// 2/2-0.6, -2*2-0.7, untouched, 0.5/2-0.8
			want: []float32{0.4, -4.7, 1, -0.55},
		},
		{
			name:   "out-of-vocabulary ids ignored",
			logits: []float32{1, 1},
			window: []int32{-1, 2, 99, 1},
			repeat: 1, presence: 1,
			want: []float32{1, 0},
		},
		{
			name:   "non-positive repeat is off",
			logits: []float32{1, -1},
			window: []int32{0, 1},
			repeat: 0, freq: 0.5,
			want: []float32{0.5, -1.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cands(tt.logits...)
			counts := make([]int32, len(c))
			penalize(c, tt.window, counts, tt.repeat, tt.freq, tt.presence)
			for i, x := range c {
				if math.Abs(float64(x.logit-tt.want[i])) > 1e-6 {
					t.Errorf("token %d: logit %v, want %v", i, x.logit, tt.want[i])
				}
			}
			for i, n := range counts {
				if n != 0 {
					t.Errorf("counts[%d] = %d after penalize, want 0", i, n)
				}
			}
		})
	}
}

func TestTopK(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		k      int
		want   []int32
	}{
		{"k=1", []float32{1, 3, 2}, 1, []int32{1}},
		{"k=2 sorted", []float32{1, 3, 2, 0}, 2, []int32{1, 2}},
		{"ties keep lower id", []float32{5, 7, 5, 5, 7}, 3, []int32{1, 4, 0}},
		{"all ties", []float32{1, 1, 1, 1}, 2, []int32{0, 1}},
		{"banned and NaN never kept", []float32{-inf, 1, float32(math.NaN()), 0}, 3, []int32{1, 3}},
		{"negative logits", []float32{-5, -1, -3, -2}, 3, []int32{1, 3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(topK(make([]cand, 0, tt.k), cands(tt.logits...), tt.k))
			if !slices.Equal(got, tt.want) {
				t.Errorf("topK(%v, %d) = %v, want %v", tt.logits, tt.k, got, tt.want)
			}
		})
	}
}

// TestTopKLarge checks the heap against a full sort on a big random vector
// with many ties.
func TestTopKLarge(t *testing.T) {
	logits := randomLogits(20000, 7)
	for i := range logits {
		logits[i] = float32(math.Round(float64(logits[i]) * 4)) // force ties
	}
	for _, k := range []int{1, 40, 1000, 19999} {
		want := cands(logits...)
		sortDesc(want)
		got := topK(make([]cand, 0, k), cands(logits...), k)
		if !slices.Equal(ids(got), ids(want[:k])) {
			t.Errorf("k=%d: heap top-k differs from sorted prefix", k)
		}
	}
}

func TestTopP(t *testing.T) {
	// probabilities 0.5 0.2 0.15 0.1 0.05; cumulative 0.5 0.7 0.85 0.95 1
	c := cands(logs(0.5, 0.2, 0.15, 0.1, 0.05)...)
	tests := []struct {
		p    float32
		want []int32
	}{
		{0.1, []int32{0}},
		{0.6, []int32{0, 1}},
		{0.8, []int32{0, 1, 2}},
		{0.9, []int32{0, 1, 2, 3}},
		{0.99, []int32{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		// z normalizes exp(logit - max): 1/0.5
		set, _ := topP(c, c[0].logit, 2, tt.p)
		got := ids(set)
		if !slices.Equal(got, tt.want) {
			t.Errorf("topP(p=%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestMinP(t *testing.T) {
	// p_max = 0.4: min-p 0.3 keeps p >= 0.12
	c := cands(logs(0.1, 0.4, 0.2, 0.05, 0.25)...)
	tests := []struct {
		minp float32
		want []int32
	}{
		{0.01, []int32{0, 1, 2, 3, 4}},
		{0.2, []int32{0, 1, 2, 4}},
		{0.3, []int32{1, 2, 4}},
		{0.55, []int32{1, 4}},
		{0.9, []int32{1}},
		{5, []int32{1}}, // above 1: still keeps the maximum
	}
	for _, tt := range tests {
		in := slices.Clone(c)
		got := ids(minP(in, maxLogit(in), tt.minp))
		if !slices.Equal(got, tt.want) {
			t.Errorf("minP(%v) = %v, want %v", tt.minp, got, tt.want)
		}
	}
}

func TestSoftmaxTemperature(t *testing.T) {
	p := []float64{0.5, 0.3, 0.2}
	c := cands(logs(p...)...)
	tests := []struct {
		temp float32
		want []float64
	}{
		{1, p},
		// temperature 2: proportional to sqrt(p)
		{2, normalize(math.Sqrt(0.5), math.Sqrt(0.3), math.Sqrt(0.2))},
		// temperature 0.5: proportional to p^2
		{0.5, normalize(0.25, 0.09, 0.04)},
	}
	for _, tt := range tests {
		got := softmax(make([]float64, len(c)), c, tt.temp)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-6 {
				t.Errorf("softmax(T=%v)[%d] = %v, want %v", tt.temp, i, got[i], tt.want[i])
			}
		}
	}
}

func normalize(x ...float64) []float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	for i := range x {
		x[i] /= s
	}
	return x
}

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		logits []float32
		want   int32
	}{
		{[]float32{1, 3, 2}, 1},
		{[]float32{3, 1, 3}, 0},
		{[]float32{-1, 2, 2, 2}, 1},
		{[]float32{nan, -5, nan}, 1},
		{[]float32{-inf, -inf}, 0},
		{[]float32{-inf, 0}, 1},
	}
	for _, tt := range tests {
		if got := Greedy(tt.logits); got != tt.want {
			t.Errorf("Greedy(%v) = %d, want %d", tt.logits, got, tt.want)
		}
	}
}
