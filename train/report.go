package train

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The report of a run: train and validation loss against steps with the
// monitor's events marked, as an SVG picture and a small HTML page around
// it (settings, results, events). Both are plain files with no scripts, so
// they open anywhere.

// eventColor gives each kind of event its mark.
var eventColor = map[string]string{
	EventNaN: "#000000", EventLossSpike: "#d62728", EventNormSpike: "#ff7f0e", EventDivergence: "#9467bd",
	EventNonConvergence: "#8c564b", EventClipSaturation: "#e377c2", EventUpdateRatio: "#bcbd22", EventBadInit: "#7f7f7f",
}

// WriteSVG draws the loss curves of the run.
func (t *Trainer) WriteSVG(w io.Writer) error {
	const W, H, left, right, top, bottom = 800, 420, 60, 20, 20, 40
	steps := max(t.Opt.Steps, 1)
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	for _, r := range t.History {
		see(r.Loss)
	}
	for _, e := range t.Evals {
		see(e.Loss)
	}
	see(t.Unigram)
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	lo, hi = math.Floor(lo), math.Ceil(hi)
	if hi == lo {
		hi++
	}
	x := func(step float64) float64 { return left + (W-left-right)*step/float64(steps) }
	y := func(v float64) float64 {
		v = min(max(v, lo), hi)
		return top + (H-top-bottom)*(hi-v)/(hi-lo)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	// axes and grid
	for v := lo; v <= hi; v += math.Max(1, math.Round((hi-lo)/8)) {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n",
			left, W-right, y(v), y(v), left-6, y(v)+4, v)
	}
	for i := 0; i <= 5; i++ {
		s := float64(steps) * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>`+"\n", x(s), H-bottom+16, s)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">step</text>`+"\n", (W+left)/2, H-6)
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">loss (nats/token)</text>`+"\n", H/2, H/2)
	if t.Unigram > 0 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4 4"><title>unigram entropy %.3f</title></line>`+"\n",
			left, W-right, y(t.Unigram), y(t.Unigram), t.Unigram)
	}
	// events: a vertical line each, coloured by kind
	for _, e := range t.Events {
		c := eventColor[e.Kind]
		if c == "" {
			c = "#444"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-opacity="0.6"><title>%s</title></line>`+"\n",
			x(float64(e.Step)), x(float64(e.Step)), top, H-bottom, c, html.EscapeString(e.String()))
	}
	// train loss (a rolled-back stretch shows as the line going back)
	var pts []string
	for _, r := range t.History {
		if !math.IsNaN(r.Loss) && !math.IsInf(r.Loss, 0) {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(r.Step)), y(r.Loss)))
		}
	}
	if len(pts) > 0 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="1" points="%s"/>`+"\n", strings.Join(pts, " "))
	}
	// validation loss
	pts = pts[:0]
	for _, e := range t.Evals {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(e.Step)), y(e.Loss)))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#2ca02c"><title>val %.4f at step %d</title></circle>`+"\n", x(float64(e.Step)), y(e.Loss), e.Loss, e.Step)
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="%s"/>`+"\n", strings.Join(pts, " "))
	}
	// legend
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1f77b4">— train</text><text x="%d" y="%d" fill="#2ca02c">● validation</text><text x="%d" y="%d" fill="#888">- - unigram</text>`+"\n",
		W-right-260, top+14, W-right-180, top+14, W-right-80, top+14)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHTML writes the report page with the picture inline.
func (t *Trainer) WriteHTML(w io.Writer, title string) error {
	var svg strings.Builder
	if err := t.WriteSVG(&svg); err != nil {
		return err
	}
	o := t.Opt
	c := o.Model
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", esc(title))
	b.WriteString("<style>body{font-family:sans-serif;max-width:860px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n%s\n", esc(title), svg.String())
	b.WriteString("<h2>Result</h2><table>\n")
	row := func(k, v string) { fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", esc(k), esc(v)) }
	row("steps", fmt.Sprintf("%d of %d", t.Step, o.Steps))
	if n := len(t.History); n > 0 {
		row("last train loss", fmt.Sprintf("%.4f", t.History[n-1].Loss))
	}
	if n := len(t.Evals); n > 0 {
		e := t.Evals[n-1]
		what := "validation loss (estimate)"
		if e.Full {
			what = "validation loss (whole set)"
		}
		row(what, fmt.Sprintf("%.4f at step %d", e.Loss, e.Step))
	}
	row("unigram entropy", fmt.Sprintf("%.4f", t.Unigram))
	row("ln(vocabulary)", fmt.Sprintf("%.4f", math.Log(float64(c.Vocab))))
	row("time", t.Elapsed.Round(time.Second).String())
	if t.Elapsed > 0 {
		toks := float64(len(t.History) * o.Batch * o.Accum * c.Context)
		row("throughput", fmt.Sprintf("%.0f tokens/s", toks/t.Elapsed.Seconds()))
	}
	row("monitor", t.Summary())
	b.WriteString("</table>\n<h2>Settings</h2><table>\n")
	row("model", fmt.Sprintf("dim %d, %d layers, %d heads (%d KV), FFN %d, context %d, vocabulary %d: %d weights",
		c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.Context, c.Vocab, c.NumParams()))
	row("batch", fmt.Sprintf("%d × %d tokens, accumulation %d", o.Batch, c.Context, o.Accum))
	row("optimizer", fmt.Sprintf("AdamW lr %g → %g (warmup %d, cosine), β %g/%g, ε %g, decay %g, clip %g",
		o.LR, o.MinLR, o.Warmup, o.AdamW.Beta1, o.AdamW.Beta2, o.AdamW.Eps, o.AdamW.WeightDecay, o.Clip))
	row("seed, threads", fmt.Sprintf("%d, %d", o.Seed, o.Threads))
	row("monitor policy", string(o.Monitor.Policy))
	b.WriteString("</table>\n<h2>Events</h2>\n")
	if len(t.Events) == 0 {
		b.WriteString("<p>None.</p>\n")
	} else {
		b.WriteString("<table><tr><th>step</th><th>kind</th><th>value</th><th>threshold</th><th>action</th><th>detail</th></tr>\n")
		for _, e := range t.Events {
			fmt.Fprintf(&b, "<tr><td>%d</td><td style=\"color:%s\">%s</td><td>%.4g</td><td>%.4g</td><td>%s</td><td>%s</td></tr>\n",
				e.Step, eventColor[e.Kind], esc(e.Kind), e.Value, e.Threshold, esc(e.Action), esc(e.Detail))
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteReport writes report.svg and report.html into dir, each atomically.
func (t *Trainer) WriteReport(dir, title string) error {
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"report.svg", t.WriteSVG},
		{"report.html", func(w io.Writer) error { return t.WriteHTML(w, title) }},
	} {
		if err := writeAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes a file through a temporary one renamed over it.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("train: %w", err)
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
