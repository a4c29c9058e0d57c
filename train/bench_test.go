package train

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// BenchmarkTrainStep times one step of the tang-char benchmark's model
// (dim 64, 5 layers, vocabulary 3003, 12×64 tokens) on random text; the
// benchmark needs about 4.4 GFLOP/s (≈ 0.6 s a step) to finish in 15 minutes.
func BenchmarkTrainStep(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(map[int]string{1: "1thread", 2: "2threads"}[threads], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			var sb strings.Builder
			for range 200000 {
				sb.WriteRune(rune(0x4e00 + rng.IntN(3000)))
			}
			v, err := CharVocab(sb.String(), 3000, []string{TokUNK, TokBOS, TokEOS})
			if err != nil {
				b.Fatal(err)
			}
			ids := v.Encode(sb.String())
			o := DefaultOptions(v.Size())
			o.Threads = threads
			tr, err := NewTrainer(o, v, Tokens{Train: ids, Val: ids[:1000]})
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			flops := 6 * float64(o.Model.NumParams()) * float64(o.Batch*o.Model.Context)
			b.ResetTimer()
			for range b.N {
				if _, _, err := tr.TrainStep(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(b.N*o.Batch*o.Model.Context)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
