package metrics

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
)

// Histogram counts observations, such as latencies, in buckets with fixed
// upper bounds, and keeps their sum.
// As with Counter, the handle of a labelled histogram only offers With.
type Histogram struct {
	fam    *family
	vec    bool
	counts []atomic.Uint64 // per bucket, not cumulative; the last one is +Inf
	sum    atomic.Uint64   // float64 bits
}

// Histogram registers a histogram with the given bucket upper bounds, which
// must be finite and strictly increasing (a final +Inf is implied and may be
// given). It panics if the name is taken or invalid, or the buckets are bad.
func (r *Registry) Histogram(name, help string, buckets []float64, labelNames ...string) *Histogram {
	b := slices.Clone(buckets)
	if n := len(b); n > 0 && math.IsInf(b[n-1], +1) {
		b = b[:n-1]
	}
	if len(b) == 0 {
		panic(fmt.Sprintf("metrics: histogram %s: no buckets", name))
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) || i > 0 && v <= b[i-1] {
			panic(fmt.Sprintf("metrics: histogram %s: buckets %v are not finite and strictly increasing", name, buckets))
		}
	}
	f := &family{name: name, help: help, kind: kindHistogram, labelNames: slices.Clone(labelNames), buckets: b,
		newMetric: func(f *family) any {
			return &Histogram{fam: f, counts: make([]atomic.Uint64, len(f.buckets)+1)}
		}}
	r.register(f)
	if len(labelNames) == 0 {
		return f.with(nil).(*Histogram)
	}
	return &Histogram{fam: f, vec: true}
}

// ExponentialBuckets returns n upper bounds: start, start*factor, start*factor², ….
func ExponentialBuckets(start, factor float64, n int) []float64 {
	if start <= 0 || factor <= 1 || n < 1 {
		panic(fmt.Sprintf("metrics: ExponentialBuckets(%g, %g, %d): need start > 0, factor > 1, n ≥ 1", start, factor, n))
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// With returns the series for the label values (see Counter.With).
func (h *Histogram) With(labelValues ...string) *Histogram {
	return h.fam.with(labelValues).(*Histogram)
}

// Observe records v in the first bucket whose upper bound is ≥ v.
func (h *Histogram) Observe(v float64) {
	if h.vec {
		panic(fmt.Sprintf("metrics: histogram %s has labels %v: use With", h.fam.name, h.fam.labelNames))
	}
	h.counts[sort.SearchFloat64s(h.fam.buckets, v)].Add(1) // NaN lands in +Inf, as in Prometheus' client
	addFloat(&h.sum, v)
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Sum returns the sum of the observations.
func (h *Histogram) Sum() float64 {
	return math.Float64frombits(h.sum.Load())
}

// write writes the cumulative buckets, the sum and the count. The count is
// taken from the buckets read, so _count always equals the +Inf bucket even
// while observations arrive; the sum may be a few observations ahead.
func (h *Histogram) write(buf *bytes.Buffer, labels string) {
	name := h.fam.name
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.fam.buckets) {
			le = formatFloat(h.fam.buckets[i])
		}
		writeSampleUint(buf, name+"_bucket", labels, `le="`+le+`"`, cum)
	}
	writeSample(buf, name+"_sum", labels, "", h.Sum())
	writeSampleUint(buf, name+"_count", labels, "", cum)
}

func writeSampleUint(buf *bytes.Buffer, name, labels, extra string, v uint64) {
	// Through float64 would round counts above 2⁵³; write them exactly.
	writeSampleText(buf, name, labels, extra, strconv.FormatUint(v, 10))
}
