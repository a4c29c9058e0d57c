package engine

import (
	"context"
	"errors"
	"math"
	"runtime"

	"zhiyan/model"
)

// Embed returns the embedding of tokens: the mean over tokens of the
// model's final normalized hidden states (what its output head reads),
// scaled to unit length. Each call runs on its own sequence, so it is safe
// beside a Scheduler.
func (e *Engine) Embed(ctx context.Context, tokens []int32) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, errors.New("engine: nothing to embed")
	}
	if n := e.Model.Config.ContextLen; len(tokens) > n {
		return nil, &ContextError{Prompt: len(tokens), Context: n}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	C := e.Model.Config.Embd
	s := e.Model.NewState(model.Options{Context: len(tokens), Threads: runtime.NumCPU()})
	defer s.Close()
	hidden := make([]float32, len(tokens)*C)
	if err := s.Hidden(tokens, hidden); err != nil {
		return nil, err
	}
	sum := make([]float64, C)
	for t := range tokens {
		for i, h := range hidden[t*C : (t+1)*C] {
			sum[i] += float64(h)
		}
	}
	var norm float64
	for _, v := range sum {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	out := make([]float32, C)
	if norm > 0 {
		for i, v := range sum {
			out[i] = float32(v / norm)
		}
	}
	return out, nil
}
