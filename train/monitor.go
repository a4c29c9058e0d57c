package train

import (
	"fmt"
	"math"
)

// The monitor watches a run for the failures that make training large
// models costly: NaN/Inf, sudden spikes, slow divergence, a loss that never
// falls, a learning rate that keeps the gradient clipped, updates out of
// proportion to the weights. Thresholds follow llm.c (z-scores over a
// rolling window of 128, 7σ), OLMo 2 (7σ spike score), PaLM and OPT
// (rollback, skipped batches, a lower learning rate).

// Policy is what the trainer does about an anomaly.
type Policy string

const (
	PolicyWarn     Policy = "warn"     // log it (a NaN still stops the run)
	PolicySkip     Policy = "skip"     // also skip the update of a NaN or spiking step
	PolicyRollback Policy = "rollback" // also restore the last good state, skip its batches, lower the LR
)

// Event kinds.
const (
	EventBadInit        = "bad_init"        // first loss far above ln(V)
	EventNaN            = "nan"             // loss or gradient norm NaN/Inf
	EventLossSpike      = "loss_spike"      // loss z-score above SpikeZ
	EventNormSpike      = "norm_spike"      // gradient-norm z-score above SpikeZ
	EventDivergence     = "divergence"      // loss EMA above its minimum by a margin for a while
	EventNonConvergence = "non_convergence" // not below the unigram entropy early on
	EventClipSaturation = "clip_saturation" // most recent steps clipped
	EventUpdateRatio    = "update_ratio"    // a matrix's update out of proportion to it
)

// MonitorOptions set the monitor's thresholds; zero values take the
// defaults of DefaultMonitor.
type MonitorOptions struct {
	Policy        Policy  `json:"policy"`
	Window        int     `json:"window"`         // values the z-scores are taken over (128)
	MinWindow     int     `json:"min_window"`     // values needed before z-scores count (32)
	SpikeZ        float64 `json:"spike_z"`        // z-score of a spike (7)
	NormSpikeX    float64 `json:"norm_spike_x"`   // and a gradient-norm spike is also this many times the window's mean (2)
	EMABeta       float64 `json:"ema_beta"`       // smoothing of the loss EMA (0.95)
	DivergeMargin float64 `json:"diverge_margin"` // nats above the lowest EMA (0.5)
	DivergeSteps  int     `json:"diverge_steps"`  // for this many steps (100)
	UnigramLoss   float64 `json:"unigram_loss"`   // the floor to pass by NonConvergeAt (0: no check)
	NonConvergeAt float64 `json:"nonconverge_at"` // fraction of the run (0.1)
	ClipWindow    int     `json:"clip_window"`    // steps of the clipping fraction (100)
	ClipFrac      float64 `json:"clip_frac"`      // fraction clipped that saturates (0.5)
	RatioHigh     float64 `json:"ratio_high"`     // highest healthy log10 update ratio (−0.5)
	RatioLow      float64 `json:"ratio_low"`      // lowest (−6)
	LRFactor      float64 `json:"lr_factor"`      // learning-rate multiplier of each rollback (0.5)
	MaxRollbacks  int     `json:"max_rollbacks"`  // rollbacks before the run gives up (5)
}

// DefaultMonitor are the thresholds used when none are given.
var DefaultMonitor = MonitorOptions{
	Policy: PolicyRollback, Window: 128, MinWindow: 32, SpikeZ: 7, NormSpikeX: 2, EMABeta: 0.95,
	DivergeMargin: 0.5, DivergeSteps: 100, NonConvergeAt: 0.1, ClipWindow: 100, ClipFrac: 0.5,
	RatioHigh: -0.5, RatioLow: -6, LRFactor: 0.5, MaxRollbacks: 5,
}

func (o MonitorOptions) withDefaults() MonitorOptions {
	d := DefaultMonitor
	if o.Policy == "" {
		o.Policy = d.Policy
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&o.Window, d.Window)
	setInt(&o.MinWindow, min(d.MinWindow, o.Window))
	setF(&o.SpikeZ, d.SpikeZ)
	setF(&o.NormSpikeX, d.NormSpikeX)
	setF(&o.EMABeta, d.EMABeta)
	setF(&o.DivergeMargin, d.DivergeMargin)
	setInt(&o.DivergeSteps, d.DivergeSteps)
	setF(&o.NonConvergeAt, d.NonConvergeAt)
	setInt(&o.ClipWindow, d.ClipWindow)
	setF(&o.ClipFrac, d.ClipFrac)
	setF(&o.RatioHigh, d.RatioHigh)
	setF(&o.RatioLow, d.RatioLow)
	setF(&o.LRFactor, d.LRFactor)
	setInt(&o.MaxRollbacks, d.MaxRollbacks)
	return o
}

// Event is one anomaly the monitor saw and what was done about it.
type Event struct {
	Step      int     `json:"step"`
	Kind      string  `json:"kind"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Detail    string  `json:"detail,omitempty"`
	Action    string  `json:"action"` // "warn", "skip", "rollback", "lower_lr", "stop"
}

func (e Event) String() string {
	s := fmt.Sprintf("step %d: %s (%.4g, threshold %.4g) → %s", e.Step, e.Kind, e.Value, e.Threshold, e.Action)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Action is the monitor's verdict on a step.
type Action int

const (
	ActUpdate   Action = iota // apply the update
	ActSkip                   // drop this step's gradient
	ActRollback               // restore the last good state
	ActStop                   // give up: the run diverged
)

// window is a ring of recent values with their mean and deviation.
type window struct {
	Vals []float64 `json:"vals"`
	Next int       `json:"next"`
}

func (w *window) add(x float64, size int) {
	if len(w.Vals) < size {
		w.Vals = append(w.Vals, x)
		return
	}
	w.Vals[w.Next] = x
	w.Next = (w.Next + 1) % size
}

// mean is the mean of the window's values, 0 when it is empty.
func (w *window) mean() float64 {
	var m float64
	for _, v := range w.Vals {
		m += v
	}
	return m / float64(max(len(w.Vals), 1))
}

// z is x's z-score against the window, 0 before minN values.
func (w *window) z(x float64, minN int) float64 {
	n := len(w.Vals)
	if n < minN || n < 2 {
		return 0
	}
	var mean, sq float64
	for _, v := range w.Vals {
		mean += v
	}
	mean /= float64(n)
	for _, v := range w.Vals {
		sq += (v - mean) * (v - mean)
	}
	std := math.Sqrt(sq / float64(n))
	if std == 0 {
		return 0
	}
	return (x - mean) / std
}

// MonitorState is the monitor's memory, saved in checkpoints.
type MonitorState struct {
	Loss, Norm   window
	EMA, MinEMA  float64
	Seen         int // steps observed
	AboveFor     int // steps the EMA has been above MinEMA + margin
	Clipped      []bool
	ClipNext     int
	NonConvDone  bool
	LastClipWarn int
}

// Monitor applies the checks to each step of a run.
type Monitor struct {
	Opt   MonitorOptions
	State MonitorState
	steps int // steps of the run
	warm  int // warmup steps
	clip  float64
	vocab int
}

func newMonitor(o MonitorOptions, steps, warmup int, clip float64, vocab int) *Monitor {
	return &Monitor{Opt: o.withDefaults(), steps: steps, warm: warmup, clip: clip, vocab: vocab,
		State: MonitorState{LastClipWarn: -1 << 30}}
}

// Observe checks one step's loss and gradient norm (before clipping) and
// returns their z-scores, the events found and what to do.
func (m *Monitor) Observe(step int, loss, norm float64) (zLoss, zNorm float64, events []Event, act Action) {
	o, s := m.Opt, &m.State
	ev := func(kind string, v, th float64, detail string) {
		events = append(events, Event{Step: step, Kind: kind, Value: v, Threshold: th, Detail: detail})
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		ev(EventNaN, loss, 0, fmt.Sprintf("loss %v, gradient norm %v", loss, norm))
		act = m.decide(events, map[Policy]Action{PolicyWarn: ActStop, PolicySkip: ActSkip, PolicyRollback: ActRollback})
		return 0, 0, events, act
	}
	if s.Seen == 0 && m.vocab > 1 && loss > math.Log(float64(m.vocab))+1 {
		ev(EventBadInit, loss, math.Log(float64(m.vocab))+1, "first loss far above ln(vocabulary): check the initialisation")
	}
	zLoss, zNorm = s.Loss.z(loss, o.MinWindow), s.Norm.z(norm, o.MinWindow)
	lossSpike, normSpike := zLoss > o.SpikeZ, false
	if lossSpike {
		ev(EventLossSpike, zLoss, o.SpikeZ, fmt.Sprintf("loss %.4g", loss))
	}
	// When the norm is steady its deviation is tiny and z = 7 can be a
	// rise of 40% that clipping absorbs anyway (seen on the built-in
	// model's run: 0.85 → 1.25); a spike must also be a jump.
	if zNorm > o.SpikeZ && norm > o.NormSpikeX*s.Norm.mean() {
		ev(EventNormSpike, zNorm, o.SpikeZ, fmt.Sprintf("gradient norm %.4g", norm))
		normSpike = true
	}
	if lossSpike || normSpike {
		// An outlier gradient with a normal loss has not hurt the model
		// yet: not taking the step is enough. Rolling back (and halving
		// the learning rate) is for a loss that shows damage — on
		// tang-char at lr 3e-3 one lone norm spike rolled back cost 0.12
		// nats of final loss.
		onSpike := map[Policy]Action{PolicyWarn: ActUpdate, PolicySkip: ActSkip, PolicyRollback: ActRollback}
		if !lossSpike {
			onSpike[PolicyRollback] = ActSkip
		}
		act = m.decide(events, onSpike)
		if act != ActUpdate {
			// A spike that is not trained on stays out of the statistics.
			return zLoss, zNorm, events, act
		}
	}
	s.Loss.add(loss, o.Window)
	s.Norm.add(norm, o.Window)
	s.Seen++
	if s.Seen == 1 {
		s.EMA, s.MinEMA = loss, loss
	} else {
		s.EMA = o.EMABeta*s.EMA + (1-o.EMABeta)*loss
		s.MinEMA = min(s.MinEMA, s.EMA)
	}

	// slow divergence, after warmup
	if step >= m.warm && s.EMA > s.MinEMA+o.DivergeMargin {
		s.AboveFor++
		if s.AboveFor >= o.DivergeSteps {
			ev(EventDivergence, s.EMA-s.MinEMA, o.DivergeMargin, fmt.Sprintf("loss EMA %.4g above its minimum %.4g for %d steps", s.EMA, s.MinEMA, s.AboveFor))
			s.AboveFor = 0
			act = m.decide(events[len(events)-1:], map[Policy]Action{PolicyWarn: ActUpdate, PolicySkip: ActUpdate, PolicyRollback: ActRollback})
		}
	} else {
		s.AboveFor = 0
	}

	// non-convergence: not below the unigram entropy by a fraction of the
	// run, and not before twice the warmup (the loss EMA lags)
	if at := max(int(o.NonConvergeAt*float64(m.steps)), 2*m.warm); o.UnigramLoss > 0 && !s.NonConvDone && step >= at && at < m.steps && step > 0 {
		s.NonConvDone = true
		if s.EMA > o.UnigramLoss {
			ev(EventNonConvergence, s.EMA, o.UnigramLoss, fmt.Sprintf("loss EMA not below the unigram entropy after %.0f%% of the run", 100*o.NonConvergeAt))
			events[len(events)-1].Action = string(PolicyWarn)
		}
	}

	// clipping saturation, after warmup
	if m.clip > 0 {
		clipped := norm > m.clip
		if len(s.Clipped) < o.ClipWindow {
			s.Clipped = append(s.Clipped, clipped)
		} else {
			s.Clipped[s.ClipNext] = clipped
			s.ClipNext = (s.ClipNext + 1) % o.ClipWindow
		}
		n := 0
		for _, c := range s.Clipped {
			if c {
				n++
			}
		}
		frac := float64(n) / float64(len(s.Clipped))
		if step >= m.warm && len(s.Clipped) == o.ClipWindow && frac > o.ClipFrac && step-s.LastClipWarn >= o.ClipWindow {
			s.LastClipWarn = step
			// A warning only: small models run near the clip when healthy,
			// so the learning rate is not lowered on this alone.
			ev(EventClipSaturation, frac, o.ClipFrac, fmt.Sprintf("%.0f%% of the last %d steps clipped: the learning rate is likely too high", 100*frac, o.ClipWindow))
		}
	}
	for i := range events {
		if events[i].Action == "" {
			events[i].Action = string(PolicyWarn)
		}
	}
	return zLoss, zNorm, events, act
}

// decide sets the action of events that have none under the policy.
func (m *Monitor) decide(events []Event, by map[Policy]Action) Action {
	act := by[m.Opt.Policy]
	name := map[Action]string{ActUpdate: "warn", ActSkip: "skip", ActRollback: "rollback", ActStop: "stop"}[act]
	for i := range events {
		if events[i].Action == "" {
			events[i].Action = name
		}
	}
	return act
}

// CheckRatios flags, in one event, the matrices whose update ratio is out
// of range; the value is the one furthest out.
func (m *Monitor) CheckRatios(step int, stats []UpdateStat) []Event {
	if step < m.warm {
		return nil
	}
	var bad []string
	var worst UpdateStat
	dist := 0.0
	for _, s := range stats {
		d := max(s.LogRatio-m.Opt.RatioHigh, m.Opt.RatioLow-s.LogRatio)
		if d <= 0 {
			continue
		}
		bad = append(bad, s.Name)
		if d > dist {
			dist, worst = d, s
		}
	}
	if len(bad) == 0 {
		return nil
	}
	th := m.Opt.RatioHigh
	if worst.LogRatio < m.Opt.RatioLow {
		th = m.Opt.RatioLow
	}
	return []Event{{Step: step, Kind: EventUpdateRatio, Value: worst.LogRatio, Threshold: th, Action: "warn",
		Detail: fmt.Sprintf("log10(update/weight) out of range for %d matrices, most for %s", len(bad), worst.Name)}}
}
