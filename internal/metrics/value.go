package metrics

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// Counter is a value that only goes up, such as requests served.
// The Counter returned by Registry.Counter for a metric with labels is a
// handle for its series: call With, not Inc or Add, on it.
type Counter struct {
	fam   *family
	vec   bool
	whole atomic.Uint64 // Inc and whole-number Adds: an atomic add, no CAS loop
	frac  atomic.Uint64 // float64 bits of the other Adds
}

// Counter registers a counter. It panics if the name is taken or invalid.
func (r *Registry) Counter(name, help string, labelNames ...string) *Counter {
	f := &family{name: name, help: help, kind: kindCounter, labelNames: slices.Clone(labelNames),
		newMetric: func(f *family) any { return &Counter{fam: f} }}
	r.register(f)
	if len(labelNames) == 0 {
		return f.with(nil).(*Counter)
	}
	return &Counter{fam: f, vec: true}
}

// With returns the series for the label values, given in the order of the
// label names; it panics if their number differs. Series are never
// removed, so values must come from a small set (routes, loaded models),
// never straight from a request.
func (c *Counter) With(labelValues ...string) *Counter {
	return c.fam.with(labelValues).(*Counter)
}

// Inc adds one.
func (c *Counter) Inc() {
	c.check()
	c.whole.Add(1)
}

// Add adds v, which must not be negative.
func (c *Counter) Add(v float64) {
	c.check()
	if v < 0 {
		panic(fmt.Sprintf("metrics: counter %s: negative Add(%g)", c.fam.name, v))
	}
	if v == math.Trunc(v) && v < 1<<53 {
		c.whole.Add(uint64(v))
		return
	}
	addFloat(&c.frac, v)
}

// Value returns the current count.
func (c *Counter) Value() float64 {
	return float64(c.whole.Load()) + math.Float64frombits(c.frac.Load())
}

func (c *Counter) check() {
	if c.vec {
		panic(fmt.Sprintf("metrics: counter %s has labels %v: use With", c.fam.name, c.fam.labelNames))
	}
}

// Gauge is a value that goes up and down, such as busy slots.
// As with Counter, the handle of a labelled gauge only offers With.
type Gauge struct {
	fam  *family
	vec  bool
	bits atomic.Uint64 // float64 bits
}

// Gauge registers a gauge. It panics if the name is taken or invalid.
func (r *Registry) Gauge(name, help string, labelNames ...string) *Gauge {
	f := &family{name: name, help: help, kind: kindGauge, labelNames: slices.Clone(labelNames),
		newMetric: func(f *family) any { return &Gauge{fam: f} }}
	r.register(f)
	if len(labelNames) == 0 {
		return f.with(nil).(*Gauge)
	}
	return &Gauge{fam: f, vec: true}
}

// GaugeFunc registers a gauge whose value fn returns each time the metrics
// are written. fn must be safe to call concurrently and should be quick.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	if fn == nil {
		panic(fmt.Sprintf("metrics: GaugeFunc %s: nil function", name))
	}
	r.register(&family{name: name, help: help, kind: kindGauge, fn: fn})
}

// With returns the series for the label values (see Counter.With).
func (g *Gauge) With(labelValues ...string) *Gauge {
	return g.fam.with(labelValues).(*Gauge)
}

// Set sets the value.
func (g *Gauge) Set(v float64) {
	g.check()
	g.bits.Store(math.Float64bits(v))
}

// Add adds v, which may be negative.
func (g *Gauge) Add(v float64) {
	g.check()
	addFloat(&g.bits, v)
}

// Inc adds one.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.Add(-1) }

// Value returns the current value.
func (g *Gauge) Value() float64 {
	return math.Float64frombits(g.bits.Load())
}

func (g *Gauge) check() {
	if g.vec {
		panic(fmt.Sprintf("metrics: gauge %s has labels %v: use With", g.fam.name, g.fam.labelNames))
	}
}

// addFloat adds v to the float64 whose bits p holds.
func addFloat(p *atomic.Uint64, v float64) {
	for {
		old := p.Load()
		if p.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}
