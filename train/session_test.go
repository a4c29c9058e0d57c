package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zhiyan/engine"
	"zhiyan/tensor"
)

func TestRunIn(t *testing.T) {
	dir := t.TempDir()
	tr := tinyRun(t, 30, func(o *Options) { o.EvalEvery = 10 })
	var progress []int
	err := tr.RunIn(RunOptions{Dir: dir, CheckpointEvery: 10, Export: ExportOptions{Type: tensor.F32},
		Progress: func(done, total int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 30 || progress[29] != 30 {
		t.Errorf("progress calls %v", progress)
	}
	for _, f := range []string{FileCheckpoint, FileLog, FileMetrics, FileModel, "report.svg", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "whole set") {
		t.Error("report.html lacks the plot or the final validation loss")
	}
	log, _ := os.ReadFile(filepath.Join(dir, FileLog))
	if !strings.Contains(string(log), "step 30/30 | loss") || !strings.Contains(string(log), "full val loss") {
		t.Errorf("log lacks the step lines or the final evaluation:\n%s", log)
	}

	// metrics.jsonl: 30 steps and 3 evaluations (steps 10, 20, and the full one at 30)
	f, _ := os.Open(filepath.Join(dir, FileMetrics))
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Type string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		counts[rec.Type]++
	}
	if counts["step"] != 30 || counts["eval"] != 3 {
		t.Errorf("metrics hold %v, want 30 steps and 3 evaluations", counts)
	}

	e, err := engine.Open(filepath.Join(dir, FileModel))
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

func TestRunInDiverged(t *testing.T) {
	dir := t.TempDir()
	tr := tinyRun(t, 30, func(o *Options) { o.Monitor.Policy = PolicyWarn })
	tr.Hooks.Grads = func(step int, g []float32) {
		if step == 15 {
			g[0] = float32(math.Inf(1))
		}
	}
	err := tr.RunIn(RunOptions{Dir: dir, CheckpointEvery: 10})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("RunIn = %v, want ErrDiverged", err)
	}
	// The checkpoint of step 10 stays; the report shows the failure.
	back, err := LoadCheckpoint(filepath.Join(dir, FileCheckpoint), tr.Data, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Step != 10 {
		t.Errorf("checkpoint at step %d, want 10", back.Step)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(page), EventNaN) {
		t.Error("the report does not list the NaN")
	}
	if _, err := os.Stat(filepath.Join(dir, FileModel)); err == nil {
		t.Error("a diverged run exported a model")
	}
	// The step that met infinity and its event are in the metrics, the
	// non-finite numbers as null.
	lines, err := os.ReadFile(filepath.Join(dir, FileMetrics))
	if err != nil {
		t.Fatal(err)
	}
	var step15, nanEvent map[string]any
	for line := range strings.Lines(string(lines)) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		switch {
		case rec["type"] == "step" && rec["step"] == 15.0:
			step15 = rec
		case rec["type"] == "event" && rec["kind"] == EventNaN:
			nanEvent = rec
		}
	}
	if step15 == nil || step15["norm"] != nil || step15["lr"] == nil {
		t.Errorf("step 15 in the metrics: %v, want norm null and an lr", step15)
	}
	if nanEvent == nil || nanEvent["step"] != 15.0 || nanEvent["action"] != "stop" {
		t.Errorf("NaN event in the metrics: %v", nanEvent)
	}
}
