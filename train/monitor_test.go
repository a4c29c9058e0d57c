package train

import (
	"math"
	"slices"
	"testing"
)

func TestWindowZ(t *testing.T) {
	var w window
	for _, x := range []float64{1, 2, 3, 4} {
		w.add(x, 4)
	}
	if z := w.z(5, 2); math.Abs(z-2.5/math.Sqrt(1.25)) > 1e-12 {
		t.Errorf("z(5) over 1..4 = %g, want %g", z, 2.5/math.Sqrt(1.25))
	}
	if z := w.z(5, 5); z != 0 {
		t.Errorf("z before the window fills = %g, want 0", z)
	}
	w.add(9, 4) // replaces the oldest value
	if !slices.Equal(w.Vals, []float64{9, 2, 3, 4}) {
		t.Errorf("ring = %v", w.Vals)
	}
}

// feed gives the monitor n steps of a steady loss and norm with a little
// deterministic jitter.
func feed(m *Monitor, from, n int, loss float64) {
	for i := range n {
		j := 0.01 * float64((i*7)%5-2)
		m.Observe(from+i, loss+j, 1+j)
	}
}

func TestMonitorObserve(t *testing.T) {
	opts := MonitorOptions{Window: 32, MinWindow: 16, DivergeSteps: 10, ClipWindow: 10}
	for _, tc := range []struct {
		name       string
		policy     Policy
		loss, norm float64
		wantKinds  []string
		wantAct    Action
	}{
		{"steady", PolicyRollback, 3, 1, nil, ActUpdate},
		{"loss spike warned", PolicyWarn, 4, 1, []string{EventLossSpike}, ActUpdate},
		{"loss spike skipped", PolicySkip, 4, 1, []string{EventLossSpike}, ActSkip},
		{"loss spike rolled back", PolicyRollback, 4, 1, []string{EventLossSpike}, ActRollback},
		// the loss is normal: the outlier gradient is not taken, no rollback
		{"lone norm spike skipped under rollback", PolicyRollback, 3, 5, []string{EventNormSpike}, ActSkip},
		{"loss and norm spike rolled back", PolicyRollback, 4, 5, []string{EventLossSpike, EventNormSpike}, ActRollback},
		// z ≈ 35 but only 1.5× the mean norm: a wobble, not a spike
		{"norm rise is not a spike", PolicyRollback, 3, 1.5, nil, ActUpdate},
		{"NaN stops under warn", PolicyWarn, math.NaN(), 1, []string{EventNaN}, ActStop},
		{"Inf norm skipped", PolicySkip, 3, math.Inf(1), []string{EventNaN}, ActSkip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			o.Policy = tc.policy
			m := newMonitor(o, 1000, 0, 0, 100)
			feed(m, 0, 40, 3)
			_, _, events, act := m.Observe(40, tc.loss, tc.norm)
			if got := kinds(events); !slices.Equal(got, tc.wantKinds) || act != tc.wantAct {
				t.Errorf("Observe(%g, %g) = %v, action %d; want %v, action %d", tc.loss, tc.norm, events, act, tc.wantKinds, tc.wantAct)
			}
		})
	}
}

func TestMonitorSlowChecks(t *testing.T) {
	t.Run("divergence", func(t *testing.T) {
		m := newMonitor(MonitorOptions{Policy: PolicyRollback, DivergeSteps: 10, EMABeta: 0.5}, 1000, 0, 0, 100)
		feed(m, 0, 20, 3)
		var all []Event
		var last Action
		for i := range 30 {
			// a slow climb: no single step is a spike
			_, _, ev, act := m.Observe(20+i, 3+0.05*float64(i), 1)
			all = append(all, ev...)
			if len(ev) > 0 {
				last = act
			}
		}
		if !slices.Contains(kinds(all), EventDivergence) || last != ActRollback {
			t.Errorf("events %v (action %d), want a divergence rolled back", all, last)
		}
	})
	t.Run("non-convergence", func(t *testing.T) {
		m := newMonitor(MonitorOptions{UnigramLoss: 2.5, NonConvergeAt: 0.1}, 100, 0, 0, 100)
		var all []Event
		for i := range 20 {
			_, _, ev, _ := m.Observe(i, 3, 1)
			all = append(all, ev...)
		}
		if got := kinds(all); !slices.Equal(got, []string{EventNonConvergence}) || all[0].Step != 10 {
			t.Errorf("events %v, want one non-convergence at step 10", all)
		}
	})
	t.Run("clip saturation", func(t *testing.T) {
		m := newMonitor(MonitorOptions{ClipWindow: 10, ClipFrac: 0.5}, 100, 0, 1, 100)
		var all []Event
		for i := range 20 {
			_, _, ev, act := m.Observe(i, 3, 1.5) // every step clipped
			if act != ActUpdate {
				t.Fatalf("clip saturation changed the action to %d", act)
			}
			all = append(all, ev...)
		}
		if got := kinds(all); !slices.Equal(got, []string{EventClipSaturation}) {
			t.Errorf("events %v, want clip saturation", all)
		}
	})
	t.Run("update ratio", func(t *testing.T) {
		m := newMonitor(MonitorOptions{}, 100, 5, 0, 100)
		stats := []UpdateStat{{"a", -3}, {"b", -0.1}, {"c", -7}}
		if ev := m.CheckRatios(2, stats); ev != nil {
			t.Errorf("during warmup: %v", ev)
		}
		ev := m.CheckRatios(10, stats)
		if len(ev) != 1 || ev[0].Value != -7 {
			t.Errorf("CheckRatios = %v, want one event naming c (-7, furthest out)", ev)
		}
	})
}
