package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"zhiyan/store"
)

// storeList returns the store's models whose files are complete.
func (ms *models) storeList() []modelFile {
	s := ms.cfg.Store
	if s == nil {
		return nil
	}
	list, err := s.List()
	if err != nil {
		ms.log.Warn("cannot list the model store", "dir", s.Root(), "err", err)
		return nil
	}
	out := make([]modelFile, 0, len(list))
	for _, m := range list {
		if f, ok := ms.storeFile(m.Manifest); ok {
			out = append(out, f)
		}
	}
	return out
}

// storeFile is the servable model a manifest names; ok is false when its
// file is missing or of another size (a pull to repeat, not a model).
func (ms *models) storeFile(man *store.Manifest) (f modelFile, ok bool) {
	if _, err := store.ParseName(man.Name); err != nil {
		return modelFile{}, false // the store writes only valid names; be sure
	}
	d, err := store.ParseDigest(man.Digest)
	if err != nil {
		return modelFile{}, false
	}
	path := ms.cfg.Store.BlobPath(d)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != man.Size {
		return modelFile{}, false
	}
	// Created, not the blob's time: a copy is a new model, and list and
	// find must agree.
	return modelFile{name: man.Name, path: path, size: man.Size, modTime: man.Created, digest: d.Hex(), manifest: man}, true
}

// storeFind resolves a name in the store: "qwen3:0.6b", "mymodel" (which
// is "mymodel:latest"), catalogue aliases and hub spellings as the store
// folds them. The model is served under the store's own name.
func (ms *models) storeFind(name string) (modelFile, error) {
	man, err := ms.cfg.Store.Show(name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return modelFile{}, errModelNotFound(name)
	case err != nil:
		if _, perr := store.ParseName(name); perr != nil {
			return modelFile{}, invalid("model", "%v", perr)
		}
		return modelFile{}, fmt.Errorf("model %s: %w", name, err)
	}
	f, ok := ms.storeFile(man)
	if !ok {
		return modelFile{}, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			msg: fmt.Sprintf("The model `%s` is in the store but its file is missing or incomplete: pull it again", man.Name)}
	}
	return f, nil
}

// shadowedBy returns the file model a store name would be hidden by, if
// any: files are found first, with or without ":latest".
func (ms *models) shadowedBy(n store.Name) (modelFile, bool) {
	short := strings.TrimSuffix(n.String(), ":"+store.DefaultTag)
	for _, f := range ms.files() {
		if f.name == short || f.name == n.String() {
			return f, true
		}
	}
	return modelFile{}, false
}

// storeDetails fills what the GGUF header left unsaid from the manifest.
func storeDetails(d ollamaDetails, man *store.Manifest) ollamaDetails {
	if man == nil {
		return d
	}
	if d.Family == "" && man.Architecture != "" {
		d.Family, d.Families = man.Architecture, []string{man.Architecture}
	}
	if d.QuantizationLevel == "" && man.Quantization != "" {
		d.QuantizationLevel = strings.ToUpper(man.Quantization)
	}
	return d
}

// modelfile is /api/show's modelfile: where the model came from, as
// comments, then the file it is.
func modelfile(f modelFile) string {
	man := f.manifest
	if man == nil {
		return "# zhiyan serves this GGUF file as it is\nFROM " + f.path + "\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s in zhiyan's model store (verified: %s)\n", man.Name, man.Verified)
	if src := man.Source; src != nil {
		fmt.Fprintf(&b, "# from %s %s, file %s, revision %s\n", src.Hub, src.Repo, src.File, src.Revision)
	}
	fmt.Fprintf(&b, "FROM %s\n", f.path)
	return b.String()
}
