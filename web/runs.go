package web

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"zhiyan/train"
)

// The administrators' live view of training runs: every directory of
// Config.RunsDir that holds a metrics.jsonl — what `zhiyan train --out DIR`
// writes — listed with its progress, and one run's loss curve, validation
// losses, monitor events and settings, for the UI to draw while it trains.

// Files of a run directory, as the trainer names them.
const (
	runMetrics = train.FileMetrics
	runLog     = train.FileLog
	runModel   = train.FileModel
)

const (
	runActive     = 2 * time.Minute // a run whose files changed this recently is running
	maxRunsListed = 200             // the most recently updated
	maxRunEntries = 10000           // directory entries looked at
	chartPoints   = 1000
	logTailBytes  = 4 << 10
	logTailLines  = 20
)

// Run statuses.
const (
	runRunning  = "running"  // its files changed within runActive
	runFinished = "finished" // model.gguf is written
	runDiverged = "diverged" // the monitor stopped it
	runStopped  = "stopped"  // none of these: interrupted, or waiting to resume
)

// runs is the runs directory and what has been read of each run in it.
type runs struct {
	dir   string
	mu    sync.Mutex
	state map[string]*runState
}

func (rs *runs) get(name string) *runState {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s := rs.state[name]
	if s == nil {
		s = &runState{}
		rs.state[name] = s
	}
	return s
}

// keep forgets the runs not named in names (their directories are gone).
func (rs *runs) keep(names map[string]bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for name := range rs.state {
		if !names[name] {
			delete(rs.state, name)
		}
	}
}

type runSummaryJSON struct {
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Step     int       `json:"step"`            // steps done
	Steps    int       `json:"steps,omitempty"` // of the run, when its log says
	Loss     *float64  `json:"loss"`            // the newest train loss
	ValLoss  *float64  `json:"val_loss"`        // the newest validation loss
	Events   int       `json:"events"`
	BadLines int       `json:"bad_lines"` // of metrics.jsonl, skipped
	Updated  time.Time `json:"updated"`
	Complete bool      `json:"complete"` // false: more of the metrics remain to be read
}

type runDetailJSON struct {
	runSummaryJSON
	Train     [][2]float64       `json:"train"`      // (step, loss), at most chartPoints, the newest exact
	Val       []train.EvalRecord `json:"val"`        // validation losses
	EventList []eventJSON        `json:"event_list"` // the newest maxRunEvents
	Last      *train.StepRecord  `json:"last"`       // the newest step record
	Unigram   float64            `json:"unigram,omitempty"`
	Settings  [][2]string        `json:"settings"` // the log's header, once written
	Log       []string           `json:"log"`      // the last lines of train.log
}

var errNoRun = errorf(http.StatusNotFound, "no such run")

// openRuns opens the runs directory; nil when there is none.
func (a *App) openRuns() (*os.Root, error) {
	if a.runs.dir == "" {
		return nil, nil
	}
	root, err := os.OpenRoot(a.runs.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return root, err
}

// listRuns answers GET /app/admin/runs: the runs, the most recently
// updated first.
func (a *App) listRuns(*http.Request, *caller) (any, error) {
	out := []runSummaryJSON{}
	root, err := a.openRuns()
	if root == nil {
		return map[string]any{"dir": a.runs.dir, "runs": out}, err
	}
	defer root.Close()
	names, err := runNames(root)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n.name] = true
	}
	a.runs.keep(seen)
	slices.SortFunc(names, func(x, y runEntry) int {
		return cmp.Or(y.mod.Compare(x.mod), strings.Compare(x.name, y.name))
	})
	budget := int64(readBudget)
	for _, n := range names[:min(len(names), maxRunsListed)] {
		s := a.runs.get(n.name)
		s.mu.Lock()
		sum, err := a.summarize(root, n.name, &s.runData, &budget)
		s.mu.Unlock()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return map[string]any{"dir": a.runs.dir, "runs": out}, nil
}

// getRun answers GET /app/admin/runs/{name}: one run's series for a chart.
func (a *App) getRun(r *http.Request, _ *caller) (any, error) {
	name := r.PathValue("name")
	if !validRunName(name) {
		return nil, errNoRun
	}
	root, err := a.openRuns()
	if root == nil {
		if err == nil {
			err = errNoRun
		}
		return nil, err
	}
	defer root.Close()
	// The name is one entry of the directory: a directory itself, not a
	// link to one elsewhere.
	if fi, err := root.Lstat(name); err != nil || !fi.IsDir() {
		return nil, errNoRun
	}
	s := a.runs.get(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	budget := int64(readBudget)
	sum, err := a.summarize(root, name, &s.runData, &budget)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoRun
	}
	if err != nil {
		return nil, err
	}
	d := runDetailJSON{
		runSummaryJSON: sum,
		Train:          s.loss.chart(chartPoints),
		Val:            append([]train.EvalRecord{}, s.evals...),
		EventList:      append([]eventJSON{}, s.events...),
		Last:           s.last, // replaced, never changed, by later reads
		Unigram:        s.unigram,
		Settings:       s.settings,
		Log:            logTail(root, name),
	}
	if d.Settings == nil {
		d.Settings = [][2]string{}
	}
	return d, nil
}

// summarize reads what was appended to the run's metrics and describes it.
func (a *App) summarize(root *os.Root, name string, s *runData, budget *int64) (runSummaryJSON, error) {
	if err := s.read(root, name, budget); err != nil {
		return runSummaryJSON{}, err
	}
	s.readHeader(root, name)
	sum := runSummaryJSON{Name: name, Steps: s.steps, Events: s.nEvents, BadLines: s.bad,
		Updated: s.fi.ModTime(), Complete: !s.more}
	// Copies: the answer is written after the run's lock is released.
	if s.last != nil {
		sum.Step = s.last.Step + 1
	}
	if s.loss.n > 0 {
		loss := s.loss.last[1]
		sum.Loss = &loss
	}
	if n := len(s.evals); n > 0 {
		val := s.evals[n-1].Loss
		sum.ValLoss = &val
	}
	if fi, err := root.Stat(filepath.Join(name, runLog)); err == nil && fi.ModTime().After(sum.Updated) {
		sum.Updated = fi.ModTime()
	}
	_, err := root.Stat(filepath.Join(name, runModel))
	switch {
	case err == nil:
		sum.Status = runFinished
	case len(s.events) > 0 && s.events[len(s.events)-1].Action == "stop":
		sum.Status = runDiverged
	case a.now().Sub(sum.Updated) < runActive:
		sum.Status = runRunning
	default:
		sum.Status = runStopped
	}
	return sum, nil
}

// validRunName accepts what can only be one entry of the runs directory:
// no separators, no "." or "..", nothing hidden.
func validRunName(name string) bool {
	return name != "" && len(name) <= 255 && !strings.HasPrefix(name, ".") &&
		!strings.ContainsAny(name, `/\`+"\x00") && filepath.Base(name) == name && filepath.IsLocal(name)
}

type runEntry struct {
	name string
	mod  time.Time // of its metrics
}

// runNames lists the directories of root that hold a metrics file.
func runNames(root *os.Root) ([]runEntry, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(maxRunEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var out []runEntry
	for _, e := range entries {
		if !e.IsDir() || !validRunName(e.Name()) {
			continue
		}
		fi, err := root.Stat(filepath.Join(e.Name(), runMetrics))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, runEntry{e.Name(), fi.ModTime()})
	}
	return out, nil
}

// logTail is the last lines of the run's log.
func logTail(root *os.Root, name string) []string {
	lines := []string{}
	f, err := root.Open(filepath.Join(name, runLog))
	if err != nil {
		return lines
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return lines
	}
	from := max(fi.Size()-logTailBytes, 0)
	b := make([]byte, fi.Size()-from)
	n, _ := f.ReadAt(b, from)
	b = b[:n]
	if from > 0 {
		// The first line is cut: drop it.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			lines = append(lines, line)
		}
	}
	return lines[max(len(lines)-logTailLines, 0):]
}
