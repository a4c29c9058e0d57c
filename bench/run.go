package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"zhiyan/model"
)

// Config is one benchmark run.
type Config struct {
	Prompt  int // tokens of the prefill test (pp)
	Gen     int // tokens of the decode test (tg)
	Reps    int // repetitions of each test
	Threads int
	// Progress, if set, is told what runs now.
	Progress func(step string)
}

// Stat summarises repeated measurements.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func newStat(runs []float64) Stat {
	s := slices.Clone(runs)
	slices.Sort(s)
	return Stat{Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: runs}
}

// Report is the result of a run.
type Report struct {
	Model       string  `json:"model"`
	Threads     int     `json:"threads"`
	Prompt      int     `json:"prompt_tokens"`
	Gen         int     `json:"gen_tokens"`
	Prefill     Stat    `json:"prefill_tokens_per_second"`
	Decode      Stat    `json:"decode_tokens_per_second"`
	TTFT        Stat    `json:"time_to_first_token_ms"`
	BytesPerTok uint64  `json:"weight_bytes_per_token"`
	FLOPPerTok  float64 `json:"prefill_flop_per_token"`
	Bandwidth   float64 `json:"memory_read_bytes_per_second"`
	FMAPeak     float64 `json:"fma_flop_per_second"`
	BWEff       float64 `json:"bandwidth_efficiency"`
	ComputeEff  float64 `json:"compute_efficiency"`
	PeakRSS     uint64  `json:"peak_rss_bytes"`
	LoadAvg     string  `json:"loadavg"`
}

// Run measures prefill and decode speed of m and the machine's limits.
func Run(m *model.Model, name string, c Config) (*Report, error) {
	progress := func(format string, args ...any) {
		if c.Progress != nil {
			c.Progress(fmt.Sprintf(format, args...))
		}
	}
	cfg := m.Config
	r := &Report{Model: name, Threads: c.Threads, Prompt: c.Prompt, Gen: c.Gen}
	r.BytesPerTok, r.FLOPPerTok = decodeBytes(m), prefillFLOP(m, c.Prompt)
	s := m.NewState(model.Options{Context: c.Prompt + c.Gen + 1, Batch: c.Prompt, Threads: c.Threads})
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := make([]int32, c.Prompt+c.Gen)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(cfg.Vocab))
	}
	logits := make([]float32, cfg.Vocab)

	// Warm up: fault in the mapped weights and the caches.
	progress("warm-up")
	if err := s.Forward(tokens[:min(8, c.Prompt)], logits); err != nil {
		return nil, err
	}
	var pp, tg, ttft []float64
	for rep := range c.Reps {
		progress("prefill %d tokens, run %d/%d", c.Prompt, rep+1, c.Reps)
		s.Truncate(0)
		start := time.Now()
		if err := s.Forward(tokens[:c.Prompt], logits); err != nil {
			return nil, err
		}
		d := time.Since(start)
		pp = append(pp, float64(c.Prompt)/d.Seconds())
		ttft = append(ttft, float64(d.Microseconds())/1e3)

		progress("decode %d tokens, run %d/%d", c.Gen, rep+1, c.Reps)
		s.Truncate(0)
		start = time.Now()
		for i := range c.Gen {
			if err := s.Forward(tokens[i:i+1], logits); err != nil {
				return nil, err
			}
		}
		tg = append(tg, float64(c.Gen)/time.Since(start).Seconds())
	}
	r.Prefill, r.Decode, r.TTFT = newStat(pp), newStat(tg), newStat(ttft)
	r.PeakRSS = peakRSS() // before the bandwidth probe's buffer

	progress("memory bandwidth and FMA peak")
	r.Bandwidth = MemoryBandwidth(c.Threads, 5)
	r.FMAPeak = FMAPeak(c.Threads, 3)
	r.BWEff = float64(r.BytesPerTok) * r.Decode.Median / r.Bandwidth
	r.ComputeEff = r.FLOPPerTok * r.Prefill.Median / r.FMAPeak
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		r.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return r, nil
}

// decodeBytes is the weight bytes one decode step reads: every tensor but
// the token embedding, of which it reads one row unless it is also the
// output head.
func decodeBytes(m *model.Model) uint64 {
	_, untied := m.File.Tensor("output.weight")
	var n uint64
	for i := range m.File.Tensors {
		ti := &m.File.Tensors[i]
		if ti.Name == "token_embd.weight" && untied {
			n += ti.Size / ti.Rows()
			continue
		}
		n += ti.Size
	}
	return n
}

// prefillFLOP is the arithmetic of one prompt token in a prefill of n:
// two per weight of the layers' matrices, attention over on average n/2
// positions, and the output head for the last token only.
func prefillFLOP(m *model.Model, n int) float64 {
	c := m.Config
	var params uint64
	for i := range m.File.Tensors {
		ti := &m.File.Tensors[i]
		if len(ti.Dims) == 2 && strings.HasPrefix(ti.Name, "blk.") {
			params += ti.Elements()
		}
	}
	attn := 4 * float64(c.Layers*c.Heads*c.HeadDim) * float64(n) / 2
	head := 2 * float64(c.Vocab*c.Embd) / float64(n)
	return 2*float64(params) + attn + head
}

// peakRSS reads the process's peak resident set size (Linux), or 0.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
