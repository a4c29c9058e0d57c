// Package builtin carries the model zhiyan ships inside its binary: a small
// Llama-architecture model trained by `zhiyan train` on Tang poems and a chat
// set made from them (see the README's Training section), so that `zhiyan
// serve` and `zhiyan run` work on a fresh machine with no download.
package builtin

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"zhiyan/store"
)

// Name is the built-in model's name in the store.
const Name = "zhiyan-tang"

//go:embed zhiyan-tang.gguf
var gguf []byte

// Install makes sure the store holds the built-in model under Name (the
// same bytes: a store entry under that name with other contents is
// replaced) and returns its path.
func Install(s *store.Store) (string, error) {
	if path, err := s.Resolve(Name); err == nil {
		if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, gguf) {
			return path, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	tmp, err := os.CreateTemp(s.Root(), "builtin-*.gguf")
	if err != nil {
		return "", fmt.Errorf("installing the built-in model: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(gguf)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("installing the built-in model: %w", err)
	}
	if _, err := s.Import(filepath.Clean(tmp.Name()), Name); err != nil {
		return "", fmt.Errorf("installing the built-in model: %w", err)
	}
	return s.Resolve(Name)
}
