package bot

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"zhiyan/db"
)

// harness runs a Bot behind a loopback server, on a SQLite store in the
// test's directory, with a clock the test can move forward.
type harness struct {
	t      *testing.T
	cfg    Config
	bot    *Bot
	d      *db.DB
	dbPath string
	probe  *probe
	sw     *swapHandler
	srv    *httptest.Server
	offset atomic.Int64 // added to the real time, in ns
}

// newHarness starts a bot; configure fills in the channels (given the
// server's URL) and anything else.
func newHarness(t *testing.T, gen Generator, configure func(h *harness, cfg *Config)) *harness {
	t.Helper()
	h := &harness{t: t, sw: &swapHandler{}}
	h.d, h.dbPath = openDB(t)
	h.srv = httptest.NewServer(h.sw)
	t.Cleanup(h.srv.Close)
	h.probe = newProbe(gen)
	h.cfg = Config{
		DB:           h.d,
		Gen:          h.probe,
		Model:        "qwen2-mini",
		Memory:       MemoryConfig{Turns: 4, MaxChars: 300},
		CloseTimeout: 200 * time.Millisecond,
		Now:          func() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) },
	}
	configure(h, &h.cfg)
	h.open()
	t.Cleanup(func() { h.bot.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	b, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bot = b
	h.sw.set(b.Handler())
}

// restart closes the bot and its store, as a process exit does, then opens
// both again with a fresh generator probe (open unless hold).
func (h *harness) restart(hold bool) {
	h.t.Helper()
	h.bot.Close()
	h.d.Close()
	d, err := db.Open(context.Background(), h.dbPath)
	if err != nil {
		h.t.Fatal(err)
	}
	h.d, h.cfg.DB = d, d
	h.t.Cleanup(func() { h.bot.Close(); d.Close() }) // the bot before its store
	h.probe = newProbe(h.probe.g)
	if hold {
		h.probe.hold()
	}
	h.cfg.Gen = h.probe
	h.open()
}

func (h *harness) advance(d time.Duration) { h.offset.Add(int64(d)) }

// messages returns the conversations of the platform user and their messages.
func (h *harness) messages(platform, ext string) [][]db.Message {
	h.t.Helper()
	ctx := context.Background()
	u, err := h.d.PlatformUser(ctx, platform, ext, "")
	if err != nil {
		h.t.Fatal(err)
	}
	convs, err := h.d.Conversations(ctx, u.ID, "", 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out [][]db.Message
	for i := len(convs) - 1; i >= 0; i-- { // oldest first
		if convs[i].Source != platform {
			h.t.Errorf("conversation source %q, want %q", convs[i].Source, platform)
		}
		ms, err := h.d.Messages(ctx, convs[i].ID)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, ms)
	}
	return out
}

// answered reports whether every message of the user is stored complete.
func (h *harness) answered(platform, ext string, n int) bool {
	count := 0
	for _, ms := range h.messages(platform, ext) {
		for _, m := range ms {
			if m.Status != db.StatusComplete {
				return false
			}
			if m.Role == "assistant" {
				count++
			}
		}
	}
	return count == n
}

// transcript renders messages as "role: content" lines, for comparisons.
func transcript(ms []db.Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Role + "(" + m.Status + "): " + m.Content + "\n")
	}
	return b.String()
}
