package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"zhiyan/internal/metrics"
)

// serverMetrics are the numbers /metrics exposes. Label values come only
// from small sets: route patterns, status codes and served model names.
type serverMetrics struct {
	reg       *metrics.Registry
	requests  *metrics.Counter   // route, code
	prompt    *metrics.Counter   // model
	generated *metrics.Counter   // model
	ttft      *metrics.Histogram // model
	itl       *metrics.Histogram // model
	queued    *metrics.Gauge     // model
	busy      *metrics.Gauge     // model
	slots     *metrics.Gauge     // model

	mu   sync.Mutex
	seen map[string]bool // models with gauges, to zero them once unloaded
}

func newServerMetrics(s *Server) *serverMetrics {
	r := metrics.NewRegistry()
	m := &serverMetrics{
		reg:       r,
		requests:  r.Counter("zhiyan_requests_total", "HTTP requests answered, by route and status code.", "route", "code"),
		prompt:    r.Counter("zhiyan_prompt_tokens_total", "Prompt tokens of generation requests.", "model"),
		generated: r.Counter("zhiyan_generated_tokens_total", "Tokens generated.", "model"),
		ttft: r.Histogram("zhiyan_time_to_first_token_seconds", "Time from a request's arrival to its first generated token (loading and queueing included).",
			metrics.ExponentialBuckets(0.01, 2, 14), "model"),
		itl: r.Histogram("zhiyan_inter_token_latency_seconds", "Time between consecutive generated tokens of one sequence.",
			metrics.ExponentialBuckets(0.001, 2, 14), "model"),
		queued: r.Gauge("zhiyan_requests_queued", "Requests waiting for a free slot.", "model"),
		busy:   r.Gauge("zhiyan_slots_busy", "Slots running a sequence.", "model"),
		slots:  r.Gauge("zhiyan_slots", "Slots (sequences decoded together) of a loaded model.", "model"),
		seen:   map[string]bool{},
	}
	r.GaugeFunc("zhiyan_models_loaded", "Models in memory.", func() float64 { return float64(len(s.models.running())) })
	return m
}

// handler refreshes the per-model gauges from the schedulers, then serves
// the registry.
func (m *serverMetrics) handler(ms func() []*loadedModel) http.Handler {
	h := m.reg.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.refresh(ms())
		h.ServeHTTP(w, r)
	})
}

func (m *serverMetrics) refresh(running []*loadedModel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[string]bool{}
	for _, lm := range running {
		st := lm.sched.Stats()
		m.queued.With(lm.name).Set(float64(st.Queued))
		m.busy.With(lm.name).Set(float64(st.Busy))
		m.slots.With(lm.name).Set(float64(st.Parallel))
		now[lm.name], m.seen[lm.name] = true, true
	}
	for name := range m.seen {
		if !now[name] {
			m.queued.With(name).Set(0)
			m.busy.With(name).Set(0)
			m.slots.With(name).Set(0)
		}
	}
}

func (m *serverMetrics) request(route string, code int) {
	m.requests.With(route, strconv.Itoa(code)).Inc()
}

func (m *serverMetrics) promptTokens(model string, n int) { m.prompt.With(model).Add(float64(n)) }

func (m *serverMetrics) generatedTokens(model string, n int) { m.generated.With(model).Add(float64(n)) }

// tokenTimer times one sequence's tokens.
type tokenTimer struct {
	ttft, itl   *metrics.Histogram
	start, last time.Time
}

func (m *serverMetrics) tokenTimer(model string, start time.Time) *tokenTimer {
	return &tokenTimer{ttft: m.ttft.With(model), itl: m.itl.With(model), start: start}
}

// token records a token generated now.
func (t *tokenTimer) token() {
	now := time.Now()
	if t.last.IsZero() {
		t.ttft.Observe(now.Sub(t.start).Seconds())
	} else {
		t.itl.Observe(now.Sub(t.last).Seconds())
	}
	t.last = now
}
