// Package metrics keeps counters, gauges and histograms and writes them in
// the Prometheus text exposition format (version 0.0.4).
// It knows nothing about HTTP routes or the engine: callers name the metrics.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry holds metric families and writes them sorted by name.
// It is safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	samples  map[string]string // sample name → family that writes it, to catch clashes like h_count
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{families: map[string]*family{}, samples: map[string]string{}}
}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	return [...]string{"counter", "gauge", "histogram"}[k]
}

// family is one metric name with its series, one per distinct label values.
type family struct {
	name       string
	help       string
	kind       kind
	labelNames []string
	buckets    []float64      // histogram upper bounds, ascending, without +Inf
	fn         func() float64 // GaugeFunc: read at write time
	mu         sync.RWMutex
	series     map[string]*series // appendKey(values) → series; invalid UTF-8 values map to their cleaned series
	list       []*series          // each series once
	newMetric  func(f *family) any
}

// series is one labelled time series of a family.
type series struct {
	values []string
	labels string // `a="x",b="y"`, escaped once at creation
	metric any    // *Counter, *Gauge or *Histogram
}

// register adds a family or panics: names are fixed in code, so a clash
// or a bad name is a programmer error.
func (r *Registry) register(f *family) {
	if !validMetricName(f.name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", f.name))
	}
	seen := map[string]bool{}
	for _, l := range f.labelNames {
		switch {
		case !validLabelName(l):
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", f.name, l))
		case seen[l]:
			panic(fmt.Sprintf("metrics: %s: duplicate label name %q", f.name, l))
		case f.kind == kindHistogram && l == "le":
			panic(fmt.Sprintf("metrics: %s: label name \"le\" is reserved for histogram buckets", f.name))
		}
		seen[l] = true
	}
	names := []string{f.name}
	if f.kind == kindHistogram {
		names = []string{f.name + "_bucket", f.name + "_sum", f.name + "_count"}
	}
	f.series = map[string]*series{}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[f.name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", f.name))
	}
	for _, n := range append(names, f.name) {
		if other, clash := r.samples[n]; clash {
			panic(fmt.Sprintf("metrics: %s clashes with the samples of %s", f.name, other))
		}
	}
	for _, n := range names {
		r.samples[n] = f.name
	}
	r.families[f.name] = f
}

// with returns the metric for the label values, creating it on first use.
// Finding an existing series takes a read lock and does not allocate.
func (f *family) with(values []string) any {
	if len(values) != len(f.labelNames) {
		panic(fmt.Sprintf("metrics: %s: got %d label values for labels %v", f.name, len(values), f.labelNames))
	}
	var arr [256]byte
	key := appendKey(arr[:0], values)
	f.mu.RLock()
	s, ok := f.series[string(key)] // no allocation for the conversion in a map index
	f.mu.RUnlock()
	if ok {
		return s.metric
	}
	return f.add(values, string(key))
}

func (f *family) add(values []string, key string) any {
	s := &series{values: make([]string, len(values))}
	var b strings.Builder
	for i, v := range values {
		// Prometheus requires UTF-8; label values may come from outside data.
		s.values[i] = strings.ToValidUTF8(v, "\uFFFD")
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.labelNames[i])
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(s.values[i]))
		b.WriteByte('"')
	}
	s.labels = b.String()
	clean := string(appendKey(nil, s.values))
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.series[clean]; ok { // another goroutine was first, or the raw values were invalid UTF-8
		s = old
	} else {
		s.metric = f.newMetric(f)
		f.series[clean] = s
		f.list = append(f.list, s)
	}
	f.series[key] = s
	return s.metric
}

// appendKey appends a key for the label values; lengths are prefixed so
// that no two different value lists share a key.
func appendKey(b []byte, values []string) []byte {
	if len(values) == 1 {
		return append(b, values[0]...)
	}
	for _, v := range values {
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return b
}

// WriteTo writes every family with at least one series in the text format.
// Families are sorted by name and series by their label values, so the
// output is stable.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	r.write(&buf)
	n, err := w.Write(buf.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("metrics: write: %w", err)
	}
	return int64(n), nil
}

func (r *Registry) write(buf *bytes.Buffer) {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	for _, f := range fams {
		f.write(buf) // without the registry lock: a GaugeFunc may use the registry
	}
}

func (f *family) write(buf *bytes.Buffer) {
	f.mu.RLock()
	list := slices.Clone(f.list)
	f.mu.RUnlock()
	if len(list) == 0 && f.fn == nil {
		return
	}
	slices.SortFunc(list, func(a, b *series) int { return slices.Compare(a.values, b.values) })
	fmt.Fprintf(buf, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
	if f.fn != nil {
		writeSample(buf, f.name, "", "", f.fn())
		return
	}
	for _, s := range list {
		switch m := s.metric.(type) {
		case *Counter:
			writeSample(buf, f.name, s.labels, "", m.Value())
		case *Gauge:
			writeSample(buf, f.name, s.labels, "", m.Value())
		case *Histogram:
			m.write(buf, s.labels)
		}
	}
}

// writeSample writes `name{labels,extra} value`.
func writeSample(buf *bytes.Buffer, name, labels, extra string, v float64) {
	writeSampleText(buf, name, labels, extra, formatFloat(v))
}

func writeSampleText(buf *bytes.Buffer, name, labels, extra, value string) {
	buf.WriteString(name)
	if labels != "" || extra != "" {
		buf.WriteByte('{')
		buf.WriteString(labels)
		if labels != "" && extra != "" {
			buf.WriteByte(',')
		}
		buf.WriteString(extra)
		buf.WriteByte('}')
	}
	buf.WriteByte(' ')
	buf.WriteString(value)
	buf.WriteByte('\n')
}

// Handler serves the registry's metrics to GET and HEAD requests.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var buf bytes.Buffer
		r.write(&buf)
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method == http.MethodGet {
			w.Write(buf.Bytes()) // the scraper went away: nothing to do
		}
	})
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeHelp escapes a backslash and a line feed, as the format asks for HELP text.
func escapeHelp(s string) string {
	return helpEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// escapeLabelValue escapes a backslash, a double quote and a line feed.
func escapeLabelValue(s string) string {
	return labelEscaper.Replace(s)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
)

// validMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	return validName(s, true)
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]* and does
// not start with "__", which Prometheus reserves.
func validLabelName(s string) bool {
	return validName(s, false) && !strings.HasPrefix(s, "__")
}

func validName(s string, colon bool) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && c >= '0' && c <= '9' || colon && c == ':'
		if !ok {
			return false
		}
	}
	return true
}
