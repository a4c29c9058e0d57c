package e2e

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/gguf"
	"zhiyan/server"
)

const qwen2Mini = "qwen2-mini/qwen2-mini-F32.gguf"

// goldenPath finds a golden file. zhiyan/internal/golden resolves testdata
// from the nearest go.mod, which here is this module's, so the lookup is
// repeated one level up: the committed subset in the repository, then the
// full set beside it. The test is skipped when neither has the file.
func goldenPath(tb testing.TB, rel string) string {
	tb.Helper()
	for _, dir := range []string{
		filepath.Join("..", "testdata", "golden"),
		filepath.Join("..", "..", "shared", "golden"),
	} {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			abs, err := filepath.Abs(p)
			if err != nil {
				tb.Fatal(err)
			}
			return abs
		}
	}
	tb.Skipf("golden file %s is not present", rel)
	return ""
}

var copyMu sync.Mutex

// modelCopy writes the golden qwen2-mini as NAME.gguf in a temporary
// directory, with its chat template replaced by the named file of the chat
// package's testdata when template is not "" (the golden file's own
// template is plain ChatML without tools).
func modelCopy(tb testing.TB, name, template string) string {
	tb.Helper()
	src := goldenPath(tb, qwen2Mini)
	copyMu.Lock()
	defer copyMu.Unlock()
	f, err := gguf.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KVs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			tb.Fatal(err)
		}
	}
	if template != "" {
		text, err := os.ReadFile(filepath.Join("..", "chat", "testdata", "templates", "templates", template))
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Set("tokenizer.chat_template", string(text)); err != nil {
			tb.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.TensorData(ti.Name)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			tb.Fatal(err)
		}
	}
	path := filepath.Join(tb.TempDir(), name+".gguf")
	if err := w.WriteFile(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// live is a server answering on a real loopback listener.
type live struct {
	srv    *server.Server
	models []string     // the GGUF files served
	url    string       // "http://127.0.0.1:PORT"
	hc     *http.Client // its own transport, so idle connections can be closed
	done   chan error   // Serve's result
	stop   sync.Once
}

// start serves cfg on 127.0.0.1:0; the server shuts down when the test
// ends (or earlier through shutdown).
func start(tb testing.TB, cfg server.Config) *live {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Addr = l.Addr().String()
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := server.New(cfg)
	if err != nil {
		l.Close()
		tb.Fatal(err)
	}
	lv := &live{
		srv:    s,
		models: cfg.Models,
		url:    "http://" + cfg.Addr,
		hc:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		done:   make(chan error, 1),
	}
	go func() { lv.done <- s.Serve(l) }()
	tb.Cleanup(func() { lv.shutdown(tb) })
	return lv
}

// shutdown stops the server, waits for Serve to return and closes the
// client's idle connections; it is safe to call twice.
func (lv *live) shutdown(tb testing.TB) {
	lv.stop.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := lv.srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-lv.done:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("Serve did not return after Shutdown")
		}
		lv.hc.CloseIdleConnections()
	})
}

// qwenServer serves the golden qwen2-mini as "qwen" (its own ChatML
// template) and a copy with Qwen2.5's real template, tool calls included,
// as "qwen25".
func qwenServer(tb testing.TB, cfg server.Config) *live {
	tb.Helper()
	cfg.Models = append(cfg.Models, modelCopy(tb, "qwen", ""), modelCopy(tb, "qwen25", "Qwen-Qwen2.5-7B-Instruct.jinja"))
	if cfg.MaxLoaded == 0 {
		cfg.MaxLoaded = 2
	}
	return start(tb, cfg)
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// get fetches path and returns the status and body.
func (lv *live) get(tb testing.TB, path string) (int, []byte) {
	tb.Helper()
	resp, err := lv.hc.Get(lv.url + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body
}

// metric reads one sample from /metrics: name with the exact label set
// (e.g. `model="qwen"`), or -1 when absent.
func (lv *live) metric(tb testing.TB, name, labels string) float64 {
	tb.Helper()
	status, body := lv.get(tb, "/metrics")
	if status != http.StatusOK {
		tb.Fatalf("GET /metrics = %d", status)
	}
	want := name
	if labels != "" {
		want += "{" + labels + "}"
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if !ok || key != want {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			tb.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	return -1
}
