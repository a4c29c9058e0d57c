package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/db"
	"zhiyan/tensor"
	"zhiyan/train"
)

// runList is the answer of GET /app/admin/runs.
type runList struct {
	Dir  string
	Runs []runSummaryJSON
}

// newRunsEnv is newEnv with a runs directory.
func newRunsEnv(t *testing.T, runsDir string) *env {
	t.Helper()
	gen := newEngineGen(t)
	d, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	app, err := New(Config{DB: d, Gen: gen, RunsDir: runsDir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return &env{app: app, db: d, gen: gen, srv: srv}
}

// newTinyTrainer is a real trainer of a model small enough to take a few
// milliseconds a step, on verse the test writes.
func newTinyTrainer(t *testing.T, steps int, edit func(*train.Options)) *train.Trainer {
	t.Helper()
	lines := []string{"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。", "春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"}
	var docs []string
	for i := range 200 {
		docs = append(docs, lines[i%4]+"\n"+lines[(i+1)%4])
	}
	c := train.SplitCorpus(docs, 10)
	v, err := train.CharVocab(train.JoinDocuments(c.Train), 0, []string{train.TokUNK, train.TokBOS, train.TokEOS})
	if err != nil {
		t.Fatal(err)
	}
	o := train.DefaultOptions(v.Size())
	o.Model = train.Config{Vocab: v.Size(), Dim: 16, Layers: 1, Heads: 2, KVHeads: 1, FFN: train.FFNWidth(16),
		Context: 16, NormEps: 1e-5, RopeBase: 10000}
	o.Batch, o.Steps, o.Warmup, o.EvalEvery, o.EvalBatches, o.Threads = 4, steps, 2, 10, 2, 1
	o.Monitor.Window, o.Monitor.MinWindow = 16, 8
	if edit != nil {
		edit(&o)
	}
	tr, err := train.NewTrainer(o, v, c.Encode(v))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr
}

func findRun(t *testing.T, c *client, name string) runSummaryJSON {
	t.Helper()
	var l runList
	c.call("GET", "/app/admin/runs", nil, http.StatusOK, &l)
	for _, r := range l.Runs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("run %q not listed in %+v", name, l.Runs)
	return runSummaryJSON{}
}

// TestRunsLiveView watches runs of the real trainer: one paused midway
// (running), the same finished, one the monitor stopped, and one whose
// metrics are hand-appended a partial line at a time.
func TestRunsLiveView(t *testing.T) {
	runsDir := filepath.Join(t.TempDir(), "runs")
	e := newRunsEnv(t, runsDir)
	root := e.user(t, "root", true)
	alice := e.user(t, "alice", false)

	var empty runList
	root.call("GET", "/app/admin/runs", nil, http.StatusOK, &empty)
	if len(empty.Runs) != 0 || empty.Dir != runsDir {
		t.Fatalf("before any run: %+v", empty)
	}

	// alpha: 30 steps, a gradient blown up ×100 at step 20 (a norm spike
	// the monitor skips), paused after its 15th step.
	const steps = 30
	tr := newTinyTrainer(t, steps, func(o *train.Options) { o.Monitor.Policy = train.PolicySkip })
	tr.Hooks.Grads = func(step int, g []float32) {
		if step == 20 {
			for i := range g {
				g[i] *= 100
			}
		}
	}
	reached, release := make(chan struct{}), make(chan struct{})
	tr.Hooks.Step = func(r train.StepRecord, _ []train.Event) {
		if r.Step == 14 {
			close(reached)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- tr.RunIn(train.RunOptions{Dir: filepath.Join(runsDir, "alpha"), CheckpointEvery: 10,
			Export: train.ExportOptions{Type: tensor.F32}})
	}()
	<-reached
	var mid runDetailJSON
	root.call("GET", "/app/admin/runs/alpha", nil, http.StatusOK, &mid)
	if mid.Status != runRunning || mid.Step != 15 || mid.Steps != steps || !mid.Complete || mid.BadLines != 0 {
		t.Errorf("paused run = status %s, step %d/%d, complete %v, bad %d; want running, 15/%d, true, 0",
			mid.Status, mid.Step, mid.Steps, mid.Complete, mid.BadLines, steps)
	}
	if len(mid.Train) != 15 || mid.Train[14] != [2]float64{14, tr.History[14].Loss} || mid.Train[0][1] != tr.History[0].Loss {
		t.Errorf("paused run's train series = %v, want the 15 losses of the trainer's history", mid.Train)
	}
	if len(mid.Val) != 1 || mid.Val[0].Step != 10 || mid.Val[0].Loss != tr.Evals[0].Loss {
		t.Errorf("paused run's validation = %+v, want step 10's %v", mid.Val, tr.Evals[0].Loss)
	}
	if mid.Last == nil || mid.Last.Step != 14 || mid.Last.LR != tr.History[14].LR || mid.Last.Norm != tr.History[14].Norm || mid.Last.TokPerS <= 0 {
		t.Errorf("paused run's last step = %+v, want the trainer's %+v", mid.Last, tr.History[14])
	}
	if mid.Unigram != math.Round(tr.Unigram*1e4)/1e4 || !hasSetting(mid.Settings, "steps", "30 (") {
		t.Errorf("paused run's header: unigram %v (trainer %v), settings %v", mid.Unigram, tr.Unigram, mid.Settings)
	}
	if l := findRun(t, root, "alpha"); l.Status != runRunning || l.Step != 15 || l.Loss == nil || *l.Loss != tr.History[14].Loss {
		t.Errorf("listed paused run = %+v", l)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var fin runDetailJSON
	root.call("GET", "/app/admin/runs/alpha", nil, http.StatusOK, &fin)
	last := tr.History[len(tr.History)-1]
	if fin.Status != runFinished || fin.Step != steps || fin.Last.Step != last.Step || fin.Train[len(fin.Train)-1] != [2]float64{float64(last.Step), last.Loss} {
		t.Errorf("finished run = status %s, step %d, last %+v; want finished at %d", fin.Status, fin.Step, fin.Last, steps)
	}
	if len(fin.Val) != len(tr.Evals) || !fin.Val[len(fin.Val)-1].Full || fin.ValLoss == nil || *fin.ValLoss != tr.Evals[len(tr.Evals)-1].Loss {
		t.Errorf("finished run's validation = %+v, want the trainer's %+v", fin.Val, tr.Evals)
	}
	if len(tr.Events) == 0 || fin.Events != len(tr.Events) || len(fin.EventList) != len(tr.Events) {
		t.Fatalf("events: trainer %+v, view %d %+v", tr.Events, fin.Events, fin.EventList)
	}
	for i, ev := range tr.Events {
		got := fin.EventList[i]
		if got.Step != ev.Step || got.Kind != ev.Kind || got.Action != ev.Action || got.Message != ev.String() {
			t.Errorf("event %d = %+v, want %+v", i, got, ev)
		}
	}
	if !hasEvent(fin.EventList, train.EventNormSpike, 20) {
		t.Errorf("the norm spike at step 20 is not among the events %+v", fin.EventList)
	}
	if len(fin.Log) == 0 || !strings.HasPrefix(fin.Log[len(fin.Log)-1], "speed: ") {
		t.Errorf("log tail %q, want the trainer's last line", fin.Log)
	}

	// beta: the monitor stops it (warn policy, an infinite gradient).
	tb := newTinyTrainer(t, steps, func(o *train.Options) { o.Monitor.Policy = train.PolicyWarn })
	tb.Hooks.Grads = func(step int, g []float32) {
		if step == 5 {
			g[0] = float32(math.Inf(1))
		}
	}
	if err := tb.RunIn(train.RunOptions{Dir: filepath.Join(runsDir, "beta")}); !errors.Is(err, train.ErrDiverged) {
		t.Fatalf("beta: %v, want ErrDiverged", err)
	}
	if b := findRun(t, root, "beta"); b.Status != runDiverged || b.Events == 0 {
		t.Errorf("stopped run = %+v, want diverged with its event", b)
	}

	// gamma: alpha's metrics copied a piece at a time, as a reader sees a
	// file being appended to: a partial line is left for later, a bad line
	// is skipped and counted.
	metrics, err := os.ReadFile(filepath.Join(runsDir, "alpha", runMetrics))
	if err != nil {
		t.Fatal(err)
	}
	gamma := filepath.Join(runsDir, "gamma")
	if err := os.Mkdir(gamma, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(metrics), "\n")
	cut := len(lines[0]) + len(lines[1]) + len(lines[2])/2 // two lines and half of the third
	appendTo(t, filepath.Join(gamma, runMetrics), string(metrics[:cut]))
	var g runDetailJSON
	root.call("GET", "/app/admin/runs/gamma", nil, http.StatusOK, &g)
	if g.Step != 2 || len(g.Train) != 2 || g.BadLines != 0 || g.Status != runRunning {
		t.Errorf("with a partial third line: step %d, %d points, %d bad, %s; want 2, 2, 0, running", g.Step, len(g.Train), g.BadLines, g.Status)
	}
	appendTo(t, filepath.Join(gamma, runMetrics), string(metrics[cut:len(lines[0])+len(lines[1])+len(lines[2])])+"{not json\n"+strings.Join(lines[3:], ""))
	root.call("GET", "/app/admin/runs/gamma", nil, http.StatusOK, &g)
	if g.Step != steps || len(g.Train) != len(fin.Train) || g.BadLines != 1 || g.Events != fin.Events || len(g.Val) != len(fin.Val) {
		t.Errorf("completed: step %d, %d points, %d bad, %d events, %d vals; want %d, %d, 1, %d, %d",
			g.Step, len(g.Train), g.BadLines, g.Events, len(g.Val), steps, len(fin.Train), fin.Events, len(fin.Val))
	}
	if len(g.Settings) != 0 || g.Steps != 0 {
		t.Errorf("gamma has no log, yet settings %v, steps %d", g.Settings, g.Steps)
	}
	// Untouched for ten minutes: stopped.
	old := time.Now().Add(-10 * time.Minute)
	if err := os.Chtimes(filepath.Join(gamma, runMetrics), old, old); err != nil {
		t.Fatal(err)
	}
	if s := findRun(t, root, "gamma"); s.Status != runStopped {
		t.Errorf("an idle run is %s, want stopped", s.Status)
	}

	// The list: the most recently updated first.
	var l runList
	root.call("GET", "/app/admin/runs", nil, http.StatusOK, &l)
	var names []string
	for _, r := range l.Runs {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "beta,alpha,gamma" {
		t.Errorf("runs listed %v, want beta, alpha, gamma", names)
	}

	// Administrators only.
	for _, path := range []string{"/app/admin/runs", "/app/admin/runs/alpha"} {
		alice.call("GET", path, nil, http.StatusForbidden, nil)
		e.client(t).call("GET", path, nil, http.StatusUnauthorized, nil)
	}
}

// TestRunNamesConfined: a run is one directory of the runs directory,
// never a path out of it.
func TestRunNamesConfined(t *testing.T) {
	base := t.TempDir()
	runsDir := filepath.Join(base, "runs")
	secret := filepath.Join(base, "secret")
	for _, d := range []string{filepath.Join(runsDir, "ok"), filepath.Join(runsDir, ".hidden"), secret} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		appendTo(t, filepath.Join(d, runMetrics), `{"type":"step","step":0,"loss":5}`+"\n")
	}
	appendTo(t, filepath.Join(runsDir, "notadir"), "x")
	if err := os.Symlink(secret, filepath.Join(runsDir, "link")); err != nil {
		t.Fatal(err)
	}
	e := newRunsEnv(t, runsDir)
	root := e.user(t, "root", true)

	root.call("GET", "/app/admin/runs/ok", nil, http.StatusOK, nil)
	var l runList
	root.call("GET", "/app/admin/runs", nil, http.StatusOK, &l)
	if len(l.Runs) != 1 || l.Runs[0].Name != "ok" {
		t.Errorf("listed %+v, want only ok", l.Runs)
	}
	// Dot segments written plainly are cleaned by the router, which
	// redirects to the cleaned path: never to a run outside.
	root.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tt := range []struct {
		name   string
		status int
		where  string // Location of a redirect
	}{
		{".", http.StatusTemporaryRedirect, "/app/admin/runs"},
		{"../secret", http.StatusTemporaryRedirect, "/app/admin/secret"},
		{"ok/../../secret", http.StatusTemporaryRedirect, "/app/admin/secret"},
		{"..", http.StatusTemporaryRedirect, "/app/admin"},
	} {
		resp := root.do("GET", "/app/admin/runs/"+tt.name, nil, nil)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.where {
			t.Errorf("GET /app/admin/runs/%s = %d to %q, want %d to %q", tt.name, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.where)
		}
	}
	// Encoded, they reach the handler, which refuses them.
	for _, name := range []string{
		"%2e%2e", "%2E", "..%2Fsecret", "%2E%2E%2Fsecret", "ok%2F..%2F..%2Fsecret", "%2Fetc", "%2F" + url.PathEscape(secret),
		"ok%2F", "..%5Csecret", "ok%00", "%00", ".hidden", "link", "notadir", "missing", "ok%2Fmetrics.jsonl",
		strings.Repeat("a", 300),
	} {
		resp := root.do("GET", "/app/admin/runs/"+name, nil, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /app/admin/runs/%s = %d, want 404", name, resp.StatusCode)
		}
	}
}

func TestNoRunsDir(t *testing.T) {
	for name, dir := range map[string]string{"unset": "", "missing": filepath.Join(t.TempDir(), "nothing")} {
		t.Run(name, func(t *testing.T) {
			e := newRunsEnv(t, dir)
			root := e.user(t, "root", true)
			var l runList
			root.call("GET", "/app/admin/runs", nil, http.StatusOK, &l)
			if len(l.Runs) != 0 || l.Dir != dir {
				t.Errorf("list = %+v", l)
			}
			root.call("GET", "/app/admin/runs/x", nil, http.StatusNotFound, nil)
		})
	}
}

// TestReadBudget: a request parses at most its budget, a line longer than
// any record is skipped whole, and the rest is read by the next requests.
func TestReadBudget(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 100 {
		if i == 50 {
			b.WriteString(`{"type":"event","step":50,"detail":"` + strings.Repeat("x", 2*maxLineBytes) + "\"}\n")
		}
		b.WriteString(`{"type":"step","step":` + strconv.Itoa(i) + `,"loss":` + strconv.Itoa(100-i) + "}\n")
	}
	appendTo(t, filepath.Join(dir, "r", runMetrics), b.String())
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var s runData
	for i := 0; ; i++ {
		budget := int64(1000)
		if err := s.read(root, "r", &budget); err != nil {
			t.Fatal(err)
		}
		if budget < -maxLineBytes*3 {
			t.Fatalf("read %d bytes past a budget of 1000", -budget)
		}
		if !s.more {
			break
		}
		if i > 1000 {
			t.Fatal("no progress")
		}
	}
	if s.loss.n != 100 || s.last.Step != 99 || s.last.Loss != 1 || s.bad != 1 {
		t.Errorf("read %d steps (last %+v), %d bad; want 100, step 99 loss 1, 1 bad", s.loss.n, s.last, s.bad)
	}
}

func TestDownsample(t *testing.T) {
	line := func(n int) [][2]float64 {
		p := make([][2]float64, n)
		for i := range p {
			p[i] = [2]float64{float64(i), 10 - float64(i)/float64(n)}
		}
		return p
	}
	spiky := line(5000)
	spiky[2345][1] = 50
	tests := []struct {
		name string
		in   [][2]float64
		n    int
	}{
		{"short", line(10), 1000},
		{"exact", line(1000), 1000},
		{"long", line(100000), 1000},
		{"spike", spiky, 999},
		{"two", line(50), 2},
		{"one", line(50), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := downsample(tt.in, tt.n)
			if want := min(tt.n, len(tt.in)); len(got) != want {
				t.Fatalf("downsample(%d points, %d) = %d points, want %d", len(tt.in), tt.n, len(got), want)
			}
			if got[len(got)-1] != tt.in[len(tt.in)-1] || (tt.n > 1 && got[0] != tt.in[0]) {
				t.Errorf("ends %v … %v, want %v … %v", got[0], got[len(got)-1], tt.in[0], tt.in[len(tt.in)-1])
			}
			for i := 1; i < len(got); i++ {
				if got[i][0] <= got[i-1][0] {
					t.Fatalf("steps out of order at %d: %v", i, got[i-1:i+1])
				}
			}
			if tt.name == "spike" && !containsPoint(got, spiky[2345]) {
				t.Error("the spike was dropped")
			}
		})
	}
}

// TestLossSeriesBounded: a very long run keeps a bounded number of points,
// evenly spread, with the newest step exact.
func TestLossSeriesBounded(t *testing.T) {
	var s lossSeries
	const n = 5*maxRunPoints + 123
	for i := range n {
		s.add(i, 1+1/float64(i+1))
	}
	if len(s.pts) >= maxRunPoints || s.per != 8 {
		t.Errorf("%d points of %d steps each, want fewer than %d of 8", len(s.pts), s.per, maxRunPoints)
	}
	c := s.chart(chartPoints)
	if len(c) != chartPoints || c[len(c)-1] != [2]float64{n - 1, 1 + 1/float64(n)} {
		t.Errorf("chart of %d points ending %v", len(c), c[len(c)-1])
	}
	if c[0][0] > 8 || c[len(c)/2][0] < n/3 || c[len(c)/2][0] > 2*n/3 {
		t.Errorf("chart not spread over the run: first %v, middle %v", c[0], c[len(c)/2])
	}
}

func TestParseHeader(t *testing.T) {
	const header = "model          llama: dim 16, 1 layers, 2 heads / 1 KV, FFN 44, context 16\n" +
		"data           1000 training, 100 validation tokens; unigram entropy 3.1416\n" +
		"steps          30 (1920 tokens)\n" +
		"seed, threads  1337, 1\n"
	tests := []struct {
		log     string
		rows    int
		steps   int
		unigram float64
	}{
		{header + "step  1/30 | loss 3.9 (z +0.00)\n", 4, 30, 3.1416},
		{header + "resuming at step 10 of 30\n", 4, 30, 3.1416},
		{header, 0, 0, 0},       // the first step has not ended the table yet
		{header[:100], 0, 0, 0}, // being written
		{"step  1/30 | loss 3.9\n", 0, 0, 0},
		{"", 0, 0, 0},
	}
	for _, tt := range tests {
		rows, steps, unigram := parseHeader(tt.log)
		if len(rows) != tt.rows || steps != tt.steps || unigram != tt.unigram {
			t.Errorf("parseHeader(%.40q…) = %d rows, %d steps, %v; want %d, %d, %v", tt.log, len(rows), steps, unigram, tt.rows, tt.steps, tt.unigram)
		}
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func hasSetting(rows [][2]string, key, prefix string) bool {
	for _, r := range rows {
		if r[0] == key && strings.HasPrefix(r[1], prefix) {
			return true
		}
	}
	return false
}

func hasEvent(list []eventJSON, kind string, step int) bool {
	for _, e := range list {
		if e.Kind == kind && e.Step == step {
			return true
		}
	}
	return false
}

func containsPoint(pts [][2]float64, p [2]float64) bool {
	for _, q := range pts {
		if q == p {
			return true
		}
	}
	return false
}
