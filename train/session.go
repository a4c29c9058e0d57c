package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Files a run writes into its directory.
const (
	FileCheckpoint = "checkpoint.bin" // the latest state, to resume
	FileLog        = "train.log"      // the log lines
	FileMetrics    = "metrics.jsonl"  // one JSON record per step, evaluation and event
	FileModel      = "model.gguf"     // the exported model
)

// RunOptions say where and how often a run saves its work.
type RunOptions struct {
	Dir             string
	CheckpointEvery int           // steps between checkpoints (and report refreshes); 0 = only at the end
	Export          ExportOptions // of the final model
	Title           string        // of the report
	Progress        func(done, total int)
}

// RunIn trains to the end with the run's files in o.Dir: the log, the
// metrics, a checkpoint every CheckpointEvery steps, the report, and at the
// end the model. When the monitor gives up, the report is written and the
// last checkpoint (from before the failure) is kept.
func (t *Trainer) RunIn(o RunOptions) (err error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(o.Dir, FileLog), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer logf.Close()
	metf, err := os.OpenFile(filepath.Join(o.Dir, FileMetrics), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer metf.Close()
	metrics := &metricsWriter{w: metf}
	record := func(typ string, rec any) {
		if err := metrics.write(typ, rec); err != nil {
			t.logf("%v; no more records go there\n", err)
		}
	}

	prevStep := t.Hooks.Step
	t.logAll = logf
	defer func() { t.logAll, t.Hooks.Step = nil, prevStep }()
	t.Hooks.Step = func(r StepRecord, events []Event) {
		record("step", r)
		for _, e := range events {
			record("event", e)
		}
		if prevStep != nil {
			prevStep(r, events)
		}
	}
	if t.Step == 0 {
		t.logHeader()
	} else {
		t.logf("resuming at step %d of %d\n", t.Step, t.Opt.Steps)
	}
	title := o.Title
	if title == "" {
		title = "zhiyan training run"
	}
	evals := len(t.Evals)
	saveEvals := func() {
		for _, e := range t.Evals[evals:] {
			record("eval", e)
		}
		evals = len(t.Evals)
	}
	for !t.Done() {
		if _, _, err := t.TrainStep(); err != nil {
			saveEvals()
			t.logf("%v\nmonitor: %s\n", err, t.Summary())
			if rerr := t.WriteReport(o.Dir, title); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		saveEvals()
		if o.Progress != nil {
			o.Progress(t.Step, t.Opt.Steps)
		}
		if o.CheckpointEvery > 0 && t.Step%o.CheckpointEvery == 0 && !t.Done() {
			if err := t.SaveCheckpoint(filepath.Join(o.Dir, FileCheckpoint)); err != nil {
				return err
			}
			if err := t.WriteReport(o.Dir, title); err != nil {
				return err
			}
		}
	}
	if n := len(t.Evals); n == 0 || !t.Evals[n-1].Full {
		t.Evaluate(true)
		saveEvals()
	}
	t.logf("monitor: %s\n", t.Summary())
	t.logf("speed: %s\n", t.Speed())
	if err := t.SaveCheckpoint(filepath.Join(o.Dir, FileCheckpoint)); err != nil {
		return err
	}
	if err := t.WriteReport(o.Dir, title); err != nil {
		return err
	}
	return t.Export(filepath.Join(o.Dir, FileModel), o.Export)
}

// Speed describes the run's throughput: tokens per second and the estimated
// GFLOP/s of the steps taken (Config.FLOPsPerToken).
func (t *Trainer) Speed() string {
	tok, sec := t.TokensPerSecond()
	return fmt.Sprintf("%d steps in %s: %.0f tokens/s, %.2f GFLOP/s (%.2f MFLOP per token)",
		t.Step, time.Duration(sec*float64(time.Second)).Round(time.Second), tok,
		tok*t.Opt.Model.FLOPsPerToken()/1e9, t.Opt.Model.FLOPsPerToken()/1e6)
}

// TokensPerSecond is the training throughput so far and the seconds spent.
func (t *Trainer) TokensPerSecond() (float64, float64) {
	sec := t.Elapsed.Seconds()
	if sec == 0 {
		return 0, 0
	}
	o := t.Opt
	return float64(len(t.History)*o.Batch*o.Accum*o.Model.Context) / sec, sec
}

// Export writes the model in its current state.
func (t *Trainer) Export(path string, o ExportOptions) error {
	return Export(path, t.Opt.Model, t.Model.Params, t.Vocab, o)
}

// logHeader prints the settings as a table at the start of a run.
func (t *Trainer) logHeader() {
	o, c := t.Opt, t.Opt.Model
	rows := [][2]string{
		{"model", fmt.Sprintf("llama: dim %d, %d layers, %d heads / %d KV, FFN %d, context %d", c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.Context)},
		{"weights", fmt.Sprint(c.NumParams())},
		{"vocabulary", fmt.Sprintf("%d tokens (%s)", c.Vocab, map[bool]string{true: "characters", false: "byte-level BPE"}[t.Vocab.IsChars()])},
		{"data", fmt.Sprintf("%d training, %d validation tokens; unigram entropy %.4f", len(t.Data.Train), len(t.Data.Val), t.Unigram)},
		{"fine-tuning", fmt.Sprintf("%d training chats; %d of the tokens are targets (the assistant's)", len(t.Data.TrainStarts), len(targetTokens(t.Data.Train, t.Data.TrainTarget)))},
		{"batch", fmt.Sprintf("%d × %d tokens × %d accumulated = %d per step", o.Batch, c.Context, o.Accum, o.Batch*c.Context*o.Accum)},
		{"steps", fmt.Sprintf("%d (%d tokens)", o.Steps, o.Steps*o.Batch*c.Context*o.Accum)},
		{"learning rate", fmt.Sprintf("%g → %g, warmup %d, cosine", o.LR, o.MinLR, o.Warmup)},
		{"AdamW", fmt.Sprintf("β1 %g, β2 %g, ε %g, weight decay %g (matrices)", o.AdamW.Beta1, o.AdamW.Beta2, o.AdamW.Eps, o.AdamW.WeightDecay)},
		{"clip", fmt.Sprint(o.Clip)},
		{"seed, threads", fmt.Sprintf("%d, %d", o.Seed, o.Threads)},
		{"monitor", fmt.Sprintf("policy %s, z-window %d, spike z > %g", o.Monitor.Policy, o.Monitor.Window, o.Monitor.SpikeZ)},
		{"machine", fmt.Sprintf("%s, GOMAXPROCS %d, %s/%s", cpuModel(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)},
		{"started", time.Now().Format(time.RFC3339)},
	}
	for _, r := range rows {
		if r[0] == "fine-tuning" && t.Data.TrainStarts == nil {
			continue
		}
		t.logf("%-14s %s\n", r[0], r[1])
	}
}

// cpuModel names the processor (Linux), for the log header: a run's speed
// means little without it.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
