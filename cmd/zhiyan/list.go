package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"zhiyan/internal/progress"
	"zhiyan/store"
)

func listCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", "list [--models DIR] [--catalog]", stderr)
	models := fs.String("models", "", modelsFlagHelp)
	catalog := fs.Bool("catalog", false, "list the short names zhiyan pull knows instead")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	if *catalog {
		printCatalog(stdout)
		return nil
	}
	s, err := store.Open(*models)
	if err != nil {
		return err
	}
	list, err := s.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSIZE\tARCH\tMODIFIED")
	now := time.Now()
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.Digest.Short(), progress.Bytes(m.Size), m.Manifest.Architecture, agoString(now.Sub(m.Modified)))
	}
	return tw.Flush()
}

func printCatalog(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODEL\tARCH\tQUANTIZATIONS\tHUBS")
	for _, e := range store.Catalog() {
		var tags []string
		hubs := map[string]bool{}
		for _, q := range e.Quants {
			tags = append(tags, q.Tag)
			hubs["hf"] = hubs["hf"] || q.HF != ""
			hubs["modelscope"] = hubs["modelscope"] || q.MS != ""
		}
		var on []string
		for _, h := range []string{"hf", "modelscope"} {
			if hubs[h] {
				on = append(on, h)
			}
		}
		arch := e.Arch
		if !e.Runs() {
			arch += " (not runnable yet)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Title, arch, strings.Join(tags, " "), strings.Join(on, " "))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nAlso: hf.co/USER/REPO[:QUANT|:FILE.gguf] and modelscope.cn/USER/REPO[:QUANT|:FILE.gguf].")
}

// agoString says how long ago, roughly.
func agoString(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// storeCommand parses the flags of a command on the store that takes want
// arguments (0: one or more) and opens the store.
func storeCommand(name, usage string, want int, args []string, stderr io.Writer) (*store.Store, []string, error) {
	fs := newFlags(name, usage, stderr)
	models := fs.String("models", "", modelsFlagHelp)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, errUsage
	}
	if want == 0 && len(pos) == 0 || want > 0 && len(pos) != want {
		fs.Usage()
		return nil, nil, errUsage
	}
	s, err := store.Open(*models)
	return s, pos, err
}

func rmCmd(args []string, stdout, stderr io.Writer) error {
	s, pos, err := storeCommand("rm", "rm [--models DIR] NAME...", 0, args, stderr)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range pos {
		if err := s.Remove(name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "deleted %s\n", name)
	}
	return errors.Join(errs...)
}

func cpCmd(args []string, stdout, stderr io.Writer) error {
	s, pos, err := storeCommand("cp", "cp [--models DIR] SOURCE DESTINATION", 2, args, stderr)
	if err != nil {
		return err
	}
	if err := s.Copy(pos[0], pos[1]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s\n", pos[0], pos[1])
	return nil
}

func importCmd(args []string, stdout, stderr io.Writer) error {
	s, pos, err := storeCommand("import", "import [--models DIR] FILE.gguf NAME", 2, args, stderr)
	if err != nil {
		return err
	}
	m, err := s.Import(pos[0], pos[1])
	if err != nil {
		return err
	}
	d, _ := store.ParseDigest(m.Digest)
	fmt.Fprintf(stdout, "%s  %s  %s\n", m.Name, d.Short(), progress.Bytes(m.Size))
	return nil
}
