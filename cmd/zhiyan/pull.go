package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"zhiyan/internal/progress"
	"zhiyan/store"
)

const modelsFlagHelp = "model directory (default $ZHIYAN_HOME, else ~/.zhiyan)"

func pullCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pull", "pull [--source hf|modelscope|auto] [--models DIR] NAME", stderr)
	source := fs.String("source", "", "hub to download from: hf, modelscope or auto (Hugging Face, then ModelScope); default $ZHIYAN_SOURCE, else auto")
	models := fs.String("models", "", modelsFlagHelp)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	s, err := store.Open(*models)
	if err != nil {
		return err
	}
	r := &pullRenderer{w: stderr}
	p, err := store.NewPuller(s, store.Options{Source: *source, Progress: r.event})
	if err != nil {
		return err
	}
	// Ctrl-C stops the download cleanly: what arrived is kept for the next
	// pull to resume from.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := p.Pull(ctx, pos[0])
	r.endBar()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; run the same pull again to resume")
		}
		return err
	}
	d, _ := store.ParseDigest(m.Digest)
	fmt.Fprintf(stdout, "%s  %s  %s  %s\n", m.Name, d.Short(), progress.Bytes(m.Size), m.Verified)
	return nil
}

// pullRenderer draws a pull's progress: a bar per download (redrawn on a
// terminal, plain lines elsewhere) and the other steps as lines.
type pullRenderer struct {
	w      io.Writer
	bar    *progress.Bar
	status string
	done   int64
}

func (r *pullRenderer) event(ev store.Progress) {
	if strings.HasPrefix(ev.Status, "pulling ") && ev.Total > 0 {
		if r.bar == nil || r.status != ev.Status {
			r.endBar()
			r.bar, r.status, r.done = progress.New(r.w, ev.Status, ev.Total, "B"), ev.Status, 0
		}
		if d := ev.Completed - r.done; d > 0 {
			r.bar.Add(d)
			r.done = ev.Completed
		}
		return
	}
	r.endBar()
	if ev.Status != "success" { // the command's own last line says it
		fmt.Fprintln(r.w, ev.Status)
	}
}

func (r *pullRenderer) endBar() {
	if r.bar != nil {
		r.bar.Finish()
		r.bar = nil
	}
}
