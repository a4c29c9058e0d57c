package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"zhiyan/builtin"
	"zhiyan/store"
)

// modelPath turns what the user named into a GGUF file: a path to one, or a
// model in the store (dir, "" for the default), the built-in model
// included. With pull, a name the store does not hold yet is downloaded
// first, as `zhiyan pull` would.
func modelPath(arg, dir string, pull bool, stderr io.Writer) (string, error) {
	if _, err := os.Stat(arg); err == nil {
		return arg, nil
	}
	s, err := store.Open(dir)
	if err != nil {
		return "", err
	}
	if arg == builtin.Name {
		return builtin.Install(s)
	}
	path, err := s.ResolveModel(arg)
	if !pull || !errors.Is(err, store.ErrNotFound) {
		return path, err
	}
	if _, perr := store.ParseName(arg); perr != nil {
		return "", fmt.Errorf("%s is neither a file nor a model name: %w", arg, perr)
	}
	fmt.Fprintf(stderr, "%s is not downloaded yet; pulling it\n", arg)
	r := &pullRenderer{w: stderr}
	p, err := store.NewPuller(s, store.Options{Progress: r.event})
	if err != nil {
		return "", err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err = p.Pull(ctx, arg)
	r.endBar()
	if err != nil {
		return "", err
	}
	return s.ResolveModel(arg)
}
