package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"zhiyan/engine"
	"zhiyan/sample"
)

// ParallelReport compares the aggregate decode speed of N concurrent
// streams through a Scheduler with that of one stream, measured in the same
// run.
type ParallelReport struct {
	Model     string  `json:"model"`
	Streams   int     `json:"streams"`
	Threads   int     `json:"threads"`
	Prompt    int     `json:"prompt_tokens"`
	Gen       int     `json:"gen_tokens_per_stream"`
	Single    Stat    `json:"single_stream_tokens_per_second"`
	Aggregate Stat    `json:"aggregate_tokens_per_second"`
	Speedup   float64 `json:"speedup"` // median aggregate ÷ median single
}

// Parallel runs one stream, then streams at once, each generating c.Gen
// tokens after a c.Prompt-token prompt, c.Reps times, alternating so that
// both see the same machine.
func Parallel(e *engine.Engine, name string, streams int, c Config) (*ParallelReport, error) {
	progress := func(format string, args ...any) {
		if c.Progress != nil {
			c.Progress(fmt.Sprintf(format, args...))
		}
	}
	s := e.NewScheduler(engine.SchedulerOptions{Parallel: streams, Context: c.Prompt + c.Gen + 1, Threads: c.Threads, Prepack: true})
	defer s.Close()
	// Random prompts, greedy, and the end-of-generation tokens banned, so
	// every stream runs its full length.
	V := e.Model.Config.Vocab
	params := sample.Params{Temperature: 0, LogitBias: map[int32]float32{}}
	for id := range int32(e.Tokenizer.VocabSize()) {
		if e.Tokenizer.IsEOG(id) {
			params.LogitBias[id] = float32(math.Inf(-1))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prompt := func() []int32 {
		p := make([]int32, c.Prompt)
		for i := range p {
			p[i] = int32(rng.IntN(V))
		}
		return p
	}
	run := func(n int) (float64, error) {
		prompts := make([][]int32, n)
		for i := range prompts {
			prompts[i] = prompt()
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		tokens := make([]int, n)
		start := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var r engine.Result
				r, errs[i] = s.Generate(context.Background(), engine.Request{Prompt: prompts[i], MaxTokens: c.Gen, Sampling: params}, func(engine.Token) error { return nil })
				tokens[i] = r.Tokens
			}()
		}
		wg.Wait()
		d := time.Since(start)
		total := 0
		for i := range n {
			if errs[i] != nil {
				return 0, errs[i]
			}
			total += tokens[i]
		}
		return float64(total) / d.Seconds(), nil
	}
	progress("warm-up")
	if _, err := run(1); err != nil {
		return nil, err
	}
	var single, agg []float64
	for rep := range c.Reps {
		progress("1 stream, run %d/%d", rep+1, c.Reps)
		v, err := run(1)
		if err != nil {
			return nil, err
		}
		single = append(single, v)
		progress("%d streams, run %d/%d", streams, rep+1, c.Reps)
		if v, err = run(streams); err != nil {
			return nil, err
		}
		agg = append(agg, v)
	}
	r := &ParallelReport{Model: name, Streams: streams, Threads: c.Threads, Prompt: c.Prompt, Gen: c.Gen,
		Single: newStat(single), Aggregate: newStat(agg)}
	r.Speedup = r.Aggregate.Median / r.Single.Median
	return r, nil
}
