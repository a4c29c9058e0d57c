package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Options configure a training run. DefaultOptions are the tang-char
// benchmark's settings.
type Options struct {
	Model       Config         `json:"model"`
	Batch       int            `json:"batch"`        // B: sequences per micro-batch
	Accum       int            `json:"accum"`        // micro-batches per update
	Steps       int            `json:"steps"`        // updates
	LR          float64        `json:"lr"`           // peak learning rate
	MinLR       float64        `json:"min_lr"`       // at the end of the cosine
	Warmup      int            `json:"warmup"`       // steps of linear warmup
	AdamW       AdamW          `json:"adamw"`        // moments and decay
	Clip        float64        `json:"clip"`         // global gradient-norm clip, 0 for none
	Seed        uint64         `json:"seed"`         // weights and data order
	Threads     int            `json:"threads"`      // for the matrix products; results do not depend on it
	EvalEvery   int            `json:"eval_every"`   // steps between validation estimates, 0 for none
	EvalBatches int            `json:"eval_batches"` // micro-batches of an estimate
	RatioEvery  int            `json:"ratio_every"`  // steps between update-ratio checks
	SnapEvery   int            `json:"snap_every"`   // steps between rollback points
	Monitor     MonitorOptions `json:"monitor"`
}

// DefaultOptions returns the tang-char benchmark's run for a vocabulary of
// vocab tokens: a stories260K-shaped model, 2,000 steps of 12×64 tokens.
func DefaultOptions(vocab int) Options {
	return Options{
		Model: Config{Vocab: vocab, Dim: 64, Layers: 5, Heads: 8, KVHeads: 4, FFN: FFNWidth(64),
			Context: 64, NormEps: 1e-5, RopeBase: 10000},
		Batch: 12, Accum: 1, Steps: 2000, LR: 1e-3, MinLR: 1e-4, Warmup: 100,
		AdamW: AdamW{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1},
		Clip:  1, Seed: 1337, Threads: 1, EvalEvery: 250, EvalBatches: 20, RatioEvery: 10, SnapEvery: 50,
		Monitor: DefaultMonitor,
	}
}

func (o *Options) check() error {
	if err := o.Model.Validate(); err != nil {
		return err
	}
	switch {
	case o.Batch < 1 || o.Accum < 1 || o.Steps < 1:
		return fmt.Errorf("train: batch %d, accumulation %d and steps %d must be positive", o.Batch, o.Accum, o.Steps)
	case o.LR <= 0 || o.MinLR < 0 || o.Warmup < 0:
		return errors.New("train: learning rates must be positive and warmup not negative")
	case o.Clip < 0:
		return errors.New("train: negative clip")
	}
	switch o.Monitor.Policy {
	case "", PolicyWarn, PolicySkip, PolicyRollback:
	default:
		return fmt.Errorf("train: unknown monitor policy %q (warn, skip, rollback)", o.Monitor.Policy)
	}
	return nil
}

// StepRecord is what one step logged.
type StepRecord struct {
	Step    int     `json:"step"`
	Loss    float64 `json:"loss"`
	LossZ   float64 `json:"loss_z"`
	Norm    float64 `json:"norm"`
	NormZ   float64 `json:"norm_z"`
	LR      float64 `json:"lr"`
	Ms      float64 `json:"ms"`
	TokPerS float64 `json:"tok_s"`
	Skipped bool    `json:"skipped,omitempty"`
}

// EvalRecord is a validation estimate.
type EvalRecord struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
	Full bool    `json:"full,omitempty"` // over the whole validation set
}

// Hooks let tests and fault drills interfere with a run.
type Hooks struct {
	LR    func(step int, lr float64) float64 // replaces the step's learning rate
	Batch func(step int, x, y []int32)       // may corrupt a micro-batch
	Grads func(step int, grads []float32)    // may corrupt the gradients
	Clock func() time.Time                   // time.Now when nil
	Step  func(r StepRecord, events []Event) // after every step
}

// Trainer runs the training of one model.
type Trainer struct {
	Opt      Options
	Vocab    *Vocab
	Model    *Model[float32]
	Data     Tokens
	Log      io.Writer // step lines (every LogEvery-th), events and evaluations; nil for none
	LogEvery int       // 0 or 1: every step
	Hooks    Hooks

	Step      int     // steps done
	AdamT     int     // updates applied (AdamW's bias correction)
	LRScale   float64 // multiplier of the schedule, lowered by rollbacks
	Rollbacks int
	History   []StepRecord
	Evals     []EvalRecord
	Events    []Event
	Unigram   float64 // entropy of the training tokens
	Elapsed   time.Duration

	logAll io.Writer // every line (the run's log file), or nil
	mon    *Monitor
	data   *sampler
	snaps  []*snapshot // rollback points, oldest first (at most 2)
	x, y   []int32
}

// snapshot is the last good state, for rollbacks.
type snapshot struct {
	step, adamT      int
	params, mom, vel []float32
	mon              MonitorState
}

// NewTrainer sets up a run of o on tokens encoded with v.
func NewTrainer(o Options, v *Vocab, data Tokens) (*Trainer, error) {
	if o.Model.Vocab < v.Size() {
		return nil, fmt.Errorf("train: model vocabulary %d is smaller than the %d tokens", o.Model.Vocab, v.Size())
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	T := o.Model.Context
	if len(data.Train) <= T+1 {
		return nil, fmt.Errorf("train: %d training tokens do not fill one window of %d", len(data.Train), T+1)
	}
	o.Threads = max(o.Threads, 1)
	m, err := NewModel[float32](o.Model, o.Seed, o.Threads)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Opt: o, Vocab: v, Model: m, Data: data, LRScale: 1, data: newSampler(o.Seed),
		x: make([]int32, o.Batch*T), y: make([]int32, o.Batch*T)}
	t.Unigram = UnigramLoss(targetTokens(data.Train, data.TrainTarget))
	mo := o.Monitor
	if mo.UnigramLoss == 0 {
		mo.UnigramLoss = t.Unigram
	}
	t.mon = newMonitor(mo, o.Steps, o.Warmup, o.Clip, o.Model.Vocab)
	t.Opt.Monitor = t.mon.Opt
	return t, nil
}

// targetTokens are the ids that are targets (all when target is nil).
func targetTokens(ids []int32, target []bool) []int32 {
	if target == nil {
		return ids
	}
	var out []int32
	for i, id := range ids {
		if target[i] {
			out = append(out, id)
		}
	}
	return out
}

// Close releases the model's threads.
func (t *Trainer) Close() { t.Model.Close() }

func (t *Trainer) now() time.Time {
	if t.Hooks.Clock != nil {
		return t.Hooks.Clock()
	}
	return time.Now()
}

func (t *Trainer) logf(format string, args ...any) {
	if t.Log != nil {
		fmt.Fprintf(t.Log, format, args...)
	}
	if t.logAll != nil {
		fmt.Fprintf(t.logAll, format, args...)
	}
}

// Done reports whether every step has run.
func (t *Trainer) Done() bool { return t.Step >= t.Opt.Steps }

// LR is the learning rate of the next step.
func (t *Trainer) LR() float64 {
	lr := Schedule{LR: t.Opt.LR, MinLR: t.Opt.MinLR, Warmup: t.Opt.Warmup, Steps: t.Opt.Steps}.At(t.Step) * t.LRScale
	if t.Hooks.LR != nil {
		lr = t.Hooks.LR(t.Step, lr)
	}
	return lr
}

// ErrDiverged is returned when the run cannot continue.
var ErrDiverged = errors.New("train: the run diverged")

// TrainStep runs one update: Accum micro-batches forward and backward, the
// monitor's checks, clipping and AdamW.
func (t *Trainer) TrainStep() (StepRecord, []Event, error) {
	o, m := &t.Opt, t.Model
	start := t.now()
	step, lr := t.Step, t.LR()
	if len(t.snaps) == 0 || o.SnapEvery > 0 && step%o.SnapEvery == 0 && t.healthy() {
		t.takeSnapshot()
	}
	m.ZeroGrad()
	var loss float64
	counted := 0
	for range o.Accum {
		t.data.batch(t.x, t.y, t.Data.Train, t.Data.TrainTarget, t.Data.TrainStarts, o.Batch, o.Model.Context)
		if t.Hooks.Batch != nil {
			t.Hooks.Batch(step, t.x, t.y)
		}
		l := m.Forward(t.x, t.y, o.Batch)
		if m.cnt == 0 {
			// Fine-tuning windows can hold no answer tokens: nothing to learn.
			continue
		}
		loss += l / float64(o.Accum)
		m.Backward(1 / float64(o.Accum))
		counted++
	}
	if counted == 0 {
		// Not a NaN for the monitor to act on: skip the step quietly.
		rec := StepRecord{Step: step, LR: lr, Skipped: true}
		t.Step++
		t.record(rec, nil)
		return rec, nil, nil
	}
	if counted < o.Accum {
		// The mean over the micro-batches that had targets.
		loss *= float64(o.Accum) / float64(counted)
		scaleGrads(m.Grads, float32(float64(o.Accum)/float64(counted)))
	}
	if t.Hooks.Grads != nil {
		t.Hooks.Grads(step, m.Grads)
	}
	norm := gradNorm(m.Grads)
	zl, zn, events, act := t.mon.Observe(step, loss, norm)
	rec := StepRecord{Step: step, Loss: loss, LossZ: zl, Norm: norm, NormZ: zn, LR: lr}

	switch act {
	case ActStop:
		t.record(rec, events)
		return rec, events, fmt.Errorf("%w at step %d: %s", ErrDiverged, step, events[0])
	case ActSkip:
		rec.Skipped = true
		t.Step++
	case ActRollback:
		rec.Skipped = true
		if t.Rollbacks >= t.mon.Opt.MaxRollbacks {
			for i := range events {
				events[i].Action = "stop"
			}
			t.record(rec, events)
			return rec, events, fmt.Errorf("%w: %d rollbacks did not help (step %d: %s)", ErrDiverged, t.Rollbacks, step, events[0])
		}
		t.rollback()
	default:
		if o.Clip > 0 && norm > o.Clip {
			scaleGrads(m.Grads, float32(o.Clip/norm))
		}
		t.AdamT++
		stats := o.RatioEvery > 0 && step%o.RatioEvery == 0
		st := o.AdamW.step(m, lr, t.AdamT, stats)
		if stats {
			events = append(events, t.mon.CheckRatios(step, st)...)
		}
		t.Step++
	}
	el := t.now().Sub(start)
	t.Elapsed += el
	rec.Ms = float64(el.Microseconds()) / 1000
	if el > 0 {
		rec.TokPerS = float64(o.Batch*o.Accum*o.Model.Context) / el.Seconds()
	}
	t.record(rec, events)
	if o.EvalEvery > 0 && t.Step%o.EvalEvery == 0 && act == ActUpdate && !t.Done() {
		t.Evaluate(false)
	}
	return rec, events, nil
}

func (t *Trainer) record(rec StepRecord, events []Event) {
	t.History = append(t.History, rec)
	t.Events = append(t.Events, events...)
	line := t.logLine(rec) + "\n"
	if t.logAll != nil {
		io.WriteString(t.logAll, line)
	}
	if t.Log != nil && (t.LogEvery <= 1 || (rec.Step+1)%t.LogEvery == 0 || len(events) > 0 || t.Done()) {
		io.WriteString(t.Log, line)
	}
	for _, e := range events {
		t.logf("  event: %s\n", e)
	}
	if t.Hooks.Step != nil {
		t.Hooks.Step(rec, events)
	}
}

// logLine is the step's log line (llm.c's train_gpt2.cu layout).
func (t *Trainer) logLine(r StepRecord) string {
	s := fmt.Sprintf("step %*d/%d | loss %.4f (z %+.2f) | norm %.4f (z %+.2f) | lr %.2e | %.0f ms | %.0f tok/s",
		len(fmt.Sprint(t.Opt.Steps)), r.Step+1, t.Opt.Steps, r.Loss, r.LossZ, r.Norm, r.NormZ, r.LR, r.Ms, r.TokPerS)
	if left := t.Opt.Steps - t.Step; left > 0 && t.Step > 0 {
		eta := time.Duration(float64(t.Elapsed) / float64(t.Step) * float64(left))
		s += fmt.Sprintf(" | eta %s", eta.Round(time.Second))
	}
	if r.Skipped {
		s += " | skipped"
	}
	return s
}

// healthy reports whether the recent steps were free of anomalies, so the
// state is worth rolling back to.
func (t *Trainer) healthy() bool {
	look := max(t.Opt.SnapEvery, 1)
	for i := len(t.Events) - 1; i >= 0; i-- {
		e := t.Events[i]
		if e.Step < t.Step-look {
			break
		}
		switch e.Kind {
		case EventNaN, EventLossSpike, EventNormSpike, EventDivergence:
			return false
		}
	}
	return true
}

// takeSnapshot records the current state as the newest rollback point,
// keeping the one before it.
func (t *Trainer) takeSnapshot() {
	m := t.Model
	s := &snapshot{}
	if len(t.snaps) == 2 {
		s = t.snaps[0] // reuse the oldest's buffers
		t.snaps = t.snaps[1:]
	}
	s.step, s.adamT = t.Step, t.AdamT
	s.params = append(s.params[:0], m.Params...)
	s.mom = append(s.mom[:0], m.M...)
	s.vel = append(s.vel[:0], m.V...)
	s.mon = cloneMonitorState(t.mon.State)
	t.snaps = append(t.snaps, s)
}

// rollback restores the older rollback point (PaLM restarts about 100 steps
// before a spike: the newest point may already hold the damage that the
// spike reveals). The data sampler goes on, so the batches since then are
// skipped, and the learning rate is lowered.
func (t *Trainer) rollback() {
	s, m := t.snaps[0], t.Model
	t.snaps = t.snaps[:1]
	copy(m.Params, s.params)
	copy(m.M, s.mom)
	copy(m.V, s.vel)
	t.Step, t.AdamT = s.step, s.adamT
	t.mon.State = cloneMonitorState(s.mon)
	t.LRScale *= t.mon.Opt.LRFactor
	t.Rollbacks++
	t.logf("  rollback %d to step %d, learning rate ×%.3g\n", t.Rollbacks, s.step, t.LRScale)
}

func cloneMonitorState(s MonitorState) MonitorState {
	s.Loss.Vals = slices.Clone(s.Loss.Vals)
	s.Norm.Vals = slices.Clone(s.Norm.Vals)
	s.Clipped = slices.Clone(s.Clipped)
	return s
}

// Evaluate measures the validation loss: over EvalBatches micro-batches of
// windows spread over the validation text, or over all of it when full.
func (t *Trainer) Evaluate(full bool) float64 {
	o := t.Opt
	T := o.Model.Context
	n := o.EvalBatches * o.Batch
	if full {
		n = 0
	}
	if len(t.Data.Val) <= T {
		return math.NaN()
	}
	d := t.Data
	var starts, ends []int
	if d.ValStarts != nil {
		starts, ends = chatWindows(d.ValStarts, len(d.Val))
		if !full && n < len(starts) {
			// n chats spread evenly over the set
			for i := range n {
				j := i * len(starts) / n
				starts[i], ends[i] = starts[j], ends[j]
			}
			starts, ends = starts[:n], ends[:n]
		}
	} else {
		starts = evalWindows(d.Val, T, n)
	}
	// The loss is the mean over every target of the windows, so each
	// micro-batch's mean is weighted by its number of targets.
	var sum float64
	cnt := 0
	for i := 0; i < len(starts); i += o.Batch {
		group := starts[i:min(i+o.Batch, len(starts))]
		x, y := t.x[:len(group)*T], t.y[:len(group)*T]
		for b, s := range group {
			end := len(d.Val)
			if ends != nil {
				end = ends[i+b]
			}
			fillWindow(x[b*T:(b+1)*T], y[b*T:(b+1)*T], d.Val, d.ValTarget, s, end)
		}
		if l := t.Model.Forward(x, y, len(group)); t.Model.cnt > 0 {
			sum += l * float64(t.Model.cnt)
			cnt += t.Model.cnt
		}
	}
	if cnt == 0 {
		return math.NaN()
	}
	loss := sum / float64(cnt)
	t.Evals = append(t.Evals, EvalRecord{Step: t.Step, Loss: loss, Full: full})
	kind := "val"
	if full {
		kind = "full val"
	}
	t.logf("%s loss %.4f at step %d (%d windows, %d targets)\n", kind, loss, t.Step, len(starts), cnt)
	return loss
}

// Run trains until every step is done or the monitor gives up, then
// measures the loss on the whole validation set.
func (t *Trainer) Run() error {
	for !t.Done() {
		if _, _, err := t.TrainStep(); err != nil {
			return err
		}
	}
	t.Evaluate(true)
	return nil
}

// Summary describes the run's events by kind.
func (t *Trainer) Summary() string {
	counts := map[string]int{}
	var kinds []string
	for _, e := range t.Events {
		if counts[e.Kind] == 0 {
			kinds = append(kinds, e.Kind)
		}
		counts[e.Kind]++
	}
	if len(kinds) == 0 {
		return "no anomalies"
	}
	s := ""
	for i, k := range kinds {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d× %s", counts[k], k)
	}
	if t.Rollbacks > 0 {
		s += fmt.Sprintf("; %d rollbacks, learning rate ×%.3g", t.Rollbacks, t.LRScale)
	}
	return s
}
