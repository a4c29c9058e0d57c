// Package progress reports the progress of long work: a redrawn bar on a
// terminal, plain lines (at most one per few seconds) in logs.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar shows how much of a known total is done.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	unit     string // "B" formats counts as bytes
	total    int64
	done     int64
	tty      bool
	start    time.Time
	last     time.Time
	interval time.Duration
	now      func() time.Time
}

// New starts a bar writing to w; a terminal gets a redrawn bar, anything else
// a line every 5 seconds and at the end. unit "B" formats sizes as bytes.
func New(w io.Writer, label string, total int64, unit string) *Bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	b := &Bar{w: w, label: label, unit: unit, total: total, tty: tty, now: time.Now}
	b.start = b.now()
	b.interval = 5 * time.Second
	if tty {
		b.interval = 100 * time.Millisecond
	}
	return b
}

// Add records n more units done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if t := b.now(); t.Sub(b.last) >= b.interval {
		b.last = t
		b.draw(false)
	}
}

// Done is the amount recorded so far.
func (b *Bar) Done() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draw(true)
}

func (b *Bar) draw(final bool) {
	elapsed := b.now().Sub(b.start)
	frac := 1.0
	if b.total > 0 {
		frac = min(float64(b.done)/float64(b.total), 1)
	}
	status := fmt.Sprintf("%s %s/%s %3.0f%% %s", b.label, b.format(b.done), b.format(b.total), 100*frac, elapsed.Round(time.Second))
	if s := elapsed.Seconds(); s >= 1 && b.done > 0 {
		// Speed and time left, once there is a second of history to judge by.
		rate := float64(b.done) / s
		status += fmt.Sprintf(" %s/s", b.format(int64(rate)))
		if left := b.total - b.done; left > 0 && !final {
			status += fmt.Sprintf(" ETA %s", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
		}
	}
	if !b.tty {
		fmt.Fprintln(b.w, status)
		return
	}
	const width = 30
	fill := int(frac * width)
	bar := strings.Repeat("█", fill) + strings.Repeat("░", width-fill)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(b.w, "\r\x1b[K%s %s%s", bar, status, end)
}

func (b *Bar) format(n int64) string {
	if b.unit != "B" {
		return fmt.Sprint(n)
	}
	return Bytes(n)
}

// Bytes formats a byte count in binary units: 512 B, 1.5 KiB, 3.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
