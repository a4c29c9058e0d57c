package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"zhiyan/train"
)

// The metrics of a training run as `zhiyan train` appends them to
// metrics.jsonl: one JSON object a line, {"type":"step"|"eval"|"event", …}.
// A run's file is read incrementally — each request parses only the lines
// added since the last one — so a long run costs little per refresh and the
// memory kept per run is bounded.

const (
	maxRunPoints = 1 << 14 // train-loss points kept per run; beyond, pairs merge
	maxRunEvents = 1000    // the newest events kept per run (all are counted)
	maxRunEvals  = 4096    // the newest validation losses kept per run
	maxLineBytes = 64 << 10
	readBudget   = 16 << 20 // bytes of metrics parsed per request, over every run it reads
	headerBytes  = 8 << 10  // of train.log, where the settings table is
)

// metricLine is any record of metrics.jsonl: the fields of the trainer's
// StepRecord, EvalRecord and Event side by side.
type metricLine struct {
	Type string   `json:"type"`
	Step *int     `json:"step"`
	Loss *float64 `json:"loss"`
	// step
	LossZ   float64 `json:"loss_z"`
	Norm    float64 `json:"norm"`
	NormZ   float64 `json:"norm_z"`
	LR      float64 `json:"lr"`
	Ms      float64 `json:"ms"`
	TokPerS float64 `json:"tok_s"`
	Skipped bool    `json:"skipped"`
	// eval
	Full bool `json:"full"`
	// event
	Kind      string  `json:"kind"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Detail    string  `json:"detail"`
	Action    string  `json:"action"`
}

// eventJSON is a monitor event with the line train.log shows for it.
type eventJSON struct {
	train.Event
	Message string `json:"message"`
}

// lossSeries keeps the train loss at a bounded number of points: each point
// is the mean of per consecutive steps, and when the points fill up,
// neighbours merge and per doubles, so the density stays even along the run.
type lossSeries struct {
	pts  [][2]float64 // (step, loss)
	per  int
	acc  [2]float64 // the sums of the bucket being filled
	accN int
	last [2]float64 // the newest step, exact
	n    int        // steps added
}

func (s *lossSeries) add(step int, loss float64) {
	if s.per == 0 {
		s.per = 1
	}
	s.n++
	s.last = [2]float64{float64(step), loss}
	s.acc[0] += float64(step)
	s.acc[1] += loss
	if s.accN++; s.accN < s.per {
		return
	}
	s.pts = append(s.pts, [2]float64{s.acc[0] / float64(s.per), s.acc[1] / float64(s.per)})
	s.acc, s.accN = [2]float64{}, 0
	if len(s.pts) < maxRunPoints {
		return
	}
	half := s.pts[:0]
	for i := 0; i+1 < len(s.pts); i += 2 {
		a, b := s.pts[i], s.pts[i+1]
		half = append(half, [2]float64{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2})
	}
	s.pts, s.per = half, s.per*2
}

// chart is the series in at most n points, the newest step exact.
func (s *lossSeries) chart(n int) [][2]float64 {
	if s.n == 0 {
		return [][2]float64{}
	}
	pts := s.pts
	if s.per == 1 && len(pts) > 0 {
		pts = pts[:len(pts)-1] // the newest step itself: appended exact below
	}
	out := downsample(pts, n-1)
	return append(out, s.last)
}

// downsample picks at most n of pts by largest-triangle-three-buckets
// (Steinarsson 2013): the first and the last stay, and each bucket between
// gives the point that spans the largest triangle with its neighbours, so
// spikes survive where averaging would flatten them.
func downsample(pts [][2]float64, n int) [][2]float64 {
	switch {
	case n >= len(pts):
		return append([][2]float64(nil), pts...)
	case n <= 0:
		return nil
	case n == 1:
		return [][2]float64{pts[len(pts)-1]}
	case n == 2:
		return [][2]float64{pts[0], pts[len(pts)-1]}
	}
	out := make([][2]float64, 0, n)
	out = append(out, pts[0])
	every := float64(len(pts)-2) / float64(n-2)
	a := 0
	for i := range n - 2 {
		// the mean of the next bucket (the last point after the last bucket)
		ns, ne := int(float64(i+1)*every)+1, min(int(float64(i+2)*every)+1, len(pts))
		var mx, my float64
		for _, p := range pts[ns:ne] {
			mx += p[0]
			my += p[1]
		}
		mx, my = mx/float64(ne-ns), my/float64(ne-ns)
		best, pick := -1.0, 0
		for j := int(float64(i)*every) + 1; j < ns; j++ {
			area := math.Abs((pts[a][0]-mx)*(pts[j][1]-pts[a][1]) - (pts[a][0]-pts[j][0])*(my-pts[a][1]))
			if area > best {
				best, pick = area, j
			}
		}
		out = append(out, pts[pick])
		a = pick
	}
	return append(out, pts[len(pts)-1])
}

// runState is what has been read of one run, behind its lock.
type runState struct {
	mu sync.Mutex
	runData
}

// runData is what has been read of one run.
type runData struct {
	fi       os.FileInfo // of metrics.jsonl when last read
	offset   int64       // bytes parsed: the start of the first unread line
	skipping bool        // inside a line too long to be a record
	more     bool        // the last read stopped at the budget, not the end

	loss    lossSeries
	evals   []train.EvalRecord
	events  []eventJSON
	nEvents int
	last    *train.StepRecord
	bad     int // lines that are not records

	logSize  int64 // of train.log when the header was looked for
	settings [][2]string
	steps    int     // of the run, from the header
	unigram  float64 // entropy of the training tokens, from the header
}

// read parses the lines appended to dir/metrics.jsonl since the last call,
// until *budget bytes are spent (a line may overdraw it). A last line
// without its newline is being written: it is left for the next call.
func (s *runData) read(root *os.Root, dir string, budget *int64) error {
	f, err := root.Open(filepath.Join(dir, runMetrics))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if s.fi != nil && (!os.SameFile(s.fi, fi) || fi.Size() < s.offset) {
		// A new run in the same directory: start over.
		*s = runData{}
	}
	s.fi = fi
	if s.offset == fi.Size() {
		s.more = false
		return nil
	}
	if _, err := f.Seek(s.offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, maxLineBytes)
	for *budget > 0 {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any record: skipped, maybe over several reads.
			s.offset += int64(len(line))
			*budget -= int64(len(line))
			s.skipping = true
			continue
		}
		if err != nil {
			break // io.EOF: the end, or a line still being written
		}
		s.offset += int64(len(line))
		*budget -= int64(len(line))
		if s.skipping {
			s.skipping = false
			s.bad++
			continue
		}
		s.parse(line)
	}
	s.more = *budget <= 0 && s.offset < fi.Size()
	return nil
}

func (s *runData) parse(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var m metricLine
	if err := json.Unmarshal(line, &m); err != nil || m.Step == nil {
		s.bad++
		return
	}
	switch m.Type {
	case "step":
		if m.Loss == nil {
			s.bad++
			return
		}
		s.last = &train.StepRecord{Step: *m.Step, Loss: *m.Loss, LossZ: m.LossZ, Norm: m.Norm, NormZ: m.NormZ,
			LR: m.LR, Ms: m.Ms, TokPerS: m.TokPerS, Skipped: m.Skipped}
		if !(m.Skipped && *m.Loss == 0) { // a step with no targets has no loss
			s.loss.add(*m.Step, *m.Loss)
		}
	case "eval":
		if m.Loss == nil {
			s.bad++
			return
		}
		if len(s.evals) == maxRunEvals {
			s.evals = append(s.evals[:0], s.evals[maxRunEvals/2:]...)
		}
		s.evals = append(s.evals, train.EvalRecord{Step: *m.Step, Loss: *m.Loss, Full: m.Full})
	case "event":
		s.nEvents++
		if len(s.events) == maxRunEvents {
			s.events = append(s.events[:0], s.events[maxRunEvents/2:]...)
		}
		e := train.Event{Step: *m.Step, Kind: m.Kind, Value: m.Value, Threshold: m.Threshold, Detail: m.Detail, Action: m.Action}
		s.events = append(s.events, eventJSON{e, e.String()})
	default:
		s.bad++
	}
}

// readHeader looks for the settings table train.log starts with, once the
// log has grown since the last look and until it is found.
func (s *runData) readHeader(root *os.Root, dir string) {
	if s.settings != nil {
		return
	}
	f, err := root.Open(filepath.Join(dir, runLog))
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == s.logSize {
		return
	}
	s.logSize = fi.Size()
	b, _ := io.ReadAll(io.LimitReader(f, headerBytes))
	s.settings, s.steps, s.unigram = parseHeader(string(b))
}

// parseHeader reads the rows "%-14s %s" that open a fresh run's log (the
// trainer's logHeader), up to the first line of another shape: the
// settings, and from them the run's steps and unigram entropy.
func parseHeader(log string) (rows [][2]string, steps int, unigram float64) {
	ended := false
	for line := range strings.Lines(log) {
		if !strings.HasSuffix(line, "\n") {
			break // still being written
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 16 || line[14] != ' ' || line[15] == ' ' || line[15] == '\t' {
			ended = true
			break
		}
		key := strings.TrimRight(line[:14], " ")
		if key == "" || strings.Contains(key, "  ") || strings.ContainsAny(key, "|:") {
			ended = true
			break
		}
		rows = append(rows, [2]string{key, line[15:]})
		switch key {
		case "steps":
			steps, _ = strconv.Atoi(strings.Fields(line[15:])[0])
		case "data":
			if _, v, ok := strings.Cut(line[15:], "unigram entropy "); ok {
				unigram, _ = strconv.ParseFloat(strings.Fields(v)[0], 64)
			}
		}
	}
	if !ended || len(rows) < 2 { // the table is still being written, or one line is not a table
		return nil, 0, 0
	}
	return rows, steps, unigram
}
