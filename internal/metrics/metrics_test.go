package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func text(t *testing.T, r *Registry) string {
	t.Helper()
	var b strings.Builder
	n, err := r.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
	}
	return b.String()
}

func TestExactOutput(t *testing.T) {
	r := NewRegistry()
	req := r.Counter("zhiyan_requests_total", "Requests served.", "route", "code")
	req.With("/v1/chat/completions", "200").Inc()
	req.With("/v1/chat/completions", "200").Add(2)
	req.With("/api/chat", "400").Add(0.5)
	r.Counter("zhiyan_unused_total", "Labelled, never used: not written.", "model")
	busy := r.Gauge("zhiyan_busy_slots", "Slots generating.")
	busy.Inc()
	busy.Inc()
	busy.Dec()
	r.GaugeFunc("zhiyan_queue_depth", "Requests waiting.", func() float64 { return 3 })
	ttft := r.Histogram("zhiyan_ttft_seconds", "Time to first token.", []float64{0.1, 1, 10}, "model")
	ttft.With("qwen").Observe(0.05)
	ttft.With("qwen").Observe(1) // upper bounds are inclusive
	ttft.With("qwen").Observe(30)
	ttft.With("llama").Observe(0.25)

	want := `# HELP zhiyan_busy_slots Slots generating.
# TYPE zhiyan_busy_slots gauge
zhiyan_busy_slots 1
# HELP zhiyan_queue_depth Requests waiting.
# TYPE zhiyan_queue_depth gauge
zhiyan_queue_depth 3
# HELP zhiyan_requests_total Requests served.
# TYPE zhiyan_requests_total counter
zhiyan_requests_total{route="/api/chat",code="400"} 0.5
zhiyan_requests_total{route="/v1/chat/completions",code="200"} 3
# HELP zhiyan_ttft_seconds Time to first token.
# TYPE zhiyan_ttft_seconds histogram
zhiyan_ttft_seconds_bucket{model="llama",le="0.1"} 0
zhiyan_ttft_seconds_bucket{model="llama",le="1"} 1
zhiyan_ttft_seconds_bucket{model="llama",le="10"} 1
zhiyan_ttft_seconds_bucket{model="llama",le="+Inf"} 1
zhiyan_ttft_seconds_sum{model="llama"} 0.25
zhiyan_ttft_seconds_count{model="llama"} 1
zhiyan_ttft_seconds_bucket{model="qwen",le="0.1"} 1
zhiyan_ttft_seconds_bucket{model="qwen",le="1"} 2
zhiyan_ttft_seconds_bucket{model="qwen",le="10"} 2
zhiyan_ttft_seconds_bucket{model="qwen",le="+Inf"} 3
zhiyan_ttft_seconds_sum{model="qwen"} 31.05
zhiyan_ttft_seconds_count{model="qwen"} 3
`
	got := text(t, r)
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if _, err := parseExposition(got); err != nil {
		t.Errorf("own output does not parse: %v", err)
	}
	// Stable: writing again gives the same bytes.
	if again := text(t, r); again != got {
		t.Errorf("second write differs:\n%s", again)
	}
}

func TestEscaping(t *testing.T) {
	values := []string{
		`back\slash`,
		`"quoted"`,
		"two\nlines",
		`\n is not a line feed`,
		"模型 qwen2.5:0.5b",
		"",
		"trailing backslash\\",
		`{a="b"},c="d"`,
	}
	r := NewRegistry()
	help := "Help with a \\ backslash,\na line feed and \"quotes\"."
	c := r.Counter("escape_total", help, "v", "w")
	for i, v := range values {
		c.With(v, "x").Add(float64(i + 1))
	}
	fams, err := parseExposition(text(t, r))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text(t, r))
	}
	f := fams["escape_total"]
	if f.help != help {
		t.Errorf("help = %q, want %q", f.help, help)
	}
	got := map[string]float64{}
	for _, s := range f.samples {
		v, _ := s.label("v")
		got[v] = s.value
	}
	for i, v := range values {
		if got[v] != float64(i+1) {
			t.Errorf("label value %q: count %g, want %d (parsed %v)", v, got[v], i+1, got)
		}
	}
}

func TestInvalidUTF8LabelValue(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("utf8_total", "x", "v")
	c.With("a\xffb").Inc()
	c.With("a\xfeb").Inc() // sanitises to the same value: one series, not two
	c.With("a\uFFFDb").Inc()
	fams, err := parseExposition(text(t, r))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	s := fams["utf8_total"].samples
	if len(s) != 1 || s[0].value != 3 {
		t.Fatalf("samples = %+v, want one with value 3", s)
	}
	if v, _ := s[0].label("v"); v != "a\uFFFDb" {
		t.Errorf("label = %q", v)
	}
}

func TestSeriesKeysDoNotCollide(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("key_total", "x", "a", "b")
	c.With("1:x", "").Inc()
	c.With("1", ":x").Add(2)
	c.With("", "1:x").Add(4)
	for _, tc := range []struct {
		a, b string
		want float64
	}{{"1:x", "", 1}, {"1", ":x", 2}, {"", "1:x", 4}} {
		if got := c.With(tc.a, tc.b).Value(); got != tc.want {
			t.Errorf("With(%q, %q).Value() = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestFloatFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-2.5, "-2.5"}, {1e6, "1e+06"}, {0.001, "0.001"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := formatFloat(tc.v); got != tc.want {
			t.Errorf("formatFloat(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	r := NewRegistry()
	h := r.Histogram("h", "x", []float64{1, 2, 5, math.Inf(1)})
	for _, v := range []float64{-3, 0.5, 1, 1.5, 2, 2.0000001, 5, 7, math.Inf(1)} {
		h.Observe(v)
	}
	fams, err := parseExposition(text(t, r))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range fams["h"].samples {
		le, _ := s.label("le")
		got = append(got, fmt.Sprintf("%s%s=%g", s.name, le, s.value))
	}
	want := []string{"h_bucket1=3", "h_bucket2=5", "h_bucket5=7", "h_bucket+Inf=9", "h_sum=+Inf", "h_count=9"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("samples = %v, want %v", got, want)
	}
	if h.Count() != 9 {
		t.Errorf("Count() = %d, want 9", h.Count())
	}
}

func TestExponentialBuckets(t *testing.T) {
	got := ExponentialBuckets(0.01, 2, 4)
	want := []float64{0.01, 0.02, 0.04, 0.08}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ExponentialBuckets(0.01, 2, 4) = %v, want %v", got, want)
	}
}

func TestCounterAndGauge(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "x")
	c.Inc()
	c.Add(0.25)
	c.Add(0.25)
	c.Add(3)
	if got := c.Value(); got != 4.5 {
		t.Errorf("counter = %g, want 4.5", got)
	}
	if c.With() != c {
		t.Errorf("With() on an unlabelled counter is not the counter")
	}
	g := r.Gauge("g", "x", "model")
	q := g.With("qwen")
	q.Set(10)
	q.Add(-2.5)
	q.Dec()
	if got := g.With("qwen").Value(); got != 6.5 {
		t.Errorf("gauge = %g, want 6.5", got)
	}
}

func TestProgrammerErrorsPanic(t *testing.T) {
	tests := []struct {
		name string
		f    func(r *Registry)
	}{
		{"duplicate name", func(r *Registry) { r.Counter("a", ""); r.Gauge("a", "") }},
		{"duplicate gauge func", func(r *Registry) { r.Gauge("a", ""); r.GaugeFunc("a", "", func() float64 { return 0 }) }},
		{"histogram suffix taken", func(r *Registry) { r.Counter("h_count", ""); r.Histogram("h", "", []float64{1}) }},
		{"name is a histogram's sample", func(r *Registry) { r.Histogram("h", "", []float64{1}); r.Gauge("h_sum", "") }},
		{"name starts with a digit", func(r *Registry) { r.Counter("1a", "") }},
		{"name with a dash", func(r *Registry) { r.Counter("a-b", "") }},
		{"empty name", func(r *Registry) { r.Gauge("", "") }},
		{"label with a colon", func(r *Registry) { r.Counter("a", "", "b:c") }},
		{"reserved label", func(r *Registry) { r.Counter("a", "", "__name") }},
		{"duplicate label", func(r *Registry) { r.Counter("a", "", "x", "x") }},
		{"le on a histogram", func(r *Registry) { r.Histogram("a", "", []float64{1}, "le") }},
		{"no buckets", func(r *Registry) { r.Histogram("a", "", nil) }},
		{"only +Inf bucket", func(r *Registry) { r.Histogram("a", "", []float64{math.Inf(1)}) }},
		{"unsorted buckets", func(r *Registry) { r.Histogram("a", "", []float64{1, 1}) }},
		{"NaN bucket", func(r *Registry) { r.Histogram("a", "", []float64{math.NaN()}) }},
		{"nil gauge func", func(r *Registry) { r.GaugeFunc("a", "", nil) }},
		{"too few label values", func(r *Registry) { r.Counter("a", "", "x", "y").With("1") }},
		{"label values on unlabelled", func(r *Registry) { r.Gauge("a", "").With("1") }},
		{"Inc on labelled counter", func(r *Registry) { r.Counter("a", "", "x").Inc() }},
		{"Set on labelled gauge", func(r *Registry) { r.Gauge("a", "", "x").Set(1) }},
		{"Observe on labelled histogram", func(r *Registry) { r.Histogram("a", "", []float64{1}, "x").Observe(1) }},
		{"negative counter Add", func(r *Registry) { r.Counter("a", "").Add(-1) }},
		{"bad exponential buckets", func(r *Registry) { ExponentialBuckets(1, 1, 3) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tc.f(NewRegistry())
		})
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.Counter("hits_total", "Hits.").Inc()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("GET: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if string(body) != text(t, r) {
		t.Errorf("GET body %q, want %q", body, text(t, r))
	}

	resp, err = http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(text(t, r))) {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}

	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestConcurrent runs updates, new series and scrapes at once (run with
// -race); every scrape must parse and the final counts must be exact.
func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "x", "worker")
	g := r.Gauge("g", "x")
	h := r.Histogram("h_seconds", "x", []float64{0.5, 1}, "worker")
	r.GaugeFunc("f", "x", func() float64 { return g.Value() })
	const workers, iters = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprint("w", w%2) // two workers share each series
			for i := range iters {
				c.With(name).Inc()
				h.With(name).Observe(float64(i%3) * 0.5)
				g.Inc()
				g.Dec()
			}
		})
	}
	done := make(chan struct{})
	var scrapeErr error
	go func() {
		defer close(done)
		for range 50 {
			var b strings.Builder
			r.WriteTo(&b)
			if _, err := parseExposition(b.String()); err != nil {
				scrapeErr = err
				return
			}
		}
	}()
	wg.Wait()
	<-done
	if scrapeErr != nil {
		t.Fatalf("scrape during updates: %v", scrapeErr)
	}
	for _, name := range []string{"w0", "w1"} {
		if got := c.With(name).Value(); got != 2*iters {
			t.Errorf("counter %s = %g, want %d", name, got, 2*iters)
		}
		if got := h.With(name).Count(); got != 2*iters {
			t.Errorf("histogram %s count = %d, want %d", name, got, 2*iters)
		}
	}
	if g.Value() != 0 {
		t.Errorf("gauge = %g, want 0", g.Value())
	}
}

func TestWithDoesNotAllocate(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "x", "route")
	h := r.Histogram("h", "x", []float64{1}, "route")
	c.With("/v1/chat/completions").Inc()
	h.With("/v1/chat/completions").Observe(1)
	route := strings.Repeat("/v1/chat/completions", 1) // not a constant
	allocs := testing.AllocsPerRun(100, func() {
		c.With(route).Inc()
		h.With(route).Observe(0.5)
	})
	if allocs != 0 {
		t.Errorf("With on an existing series allocates %g times", allocs)
	}
}

func BenchmarkCounterWithInc(b *testing.B) {
	c := NewRegistry().Counter("c_total", "x", "route", "code")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.With("/v1/chat/completions", "200").Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().Histogram("h", "x", ExponentialBuckets(0.001, 2, 16))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(float64(i%1000) * 0.001)
	}
}
