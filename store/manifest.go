package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Manifest records what a name points at: one GGUF blob and where it came
// from. It is small JSON at manifests/<name>/<tag>.
type Manifest struct {
	SchemaVersion int       `json:"schemaVersion"`
	Name          string    `json:"name"`   // "qwen3:0.6b"
	Digest        string    `json:"digest"` // "sha256:<hex>"
	Size          int64     `json:"size"`
	Format        string    `json:"format"`                 // "gguf"
	Architecture  string    `json:"architecture,omitempty"` // general.architecture
	Quantization  string    `json:"quantization,omitempty"` // "q4_k_m"
	Source        *Source   `json:"source,omitempty"`
	Verified      string    `json:"verified"` // see the Verified* constants
	Created       time.Time `json:"created"`
}

// How a blob's digest was established.
const (
	// VerifiedPublished: the hub or the catalogue published this sha256
	// before the download and the bytes matched it.
	VerifiedPublished = "published sha256"
	// VerifiedSize: nobody published a sha256; the size matched and the
	// digest is of the bytes received.
	VerifiedSize = "size only"
	// VerifiedLocal: imported from a local file.
	VerifiedLocal = "local file"
)

// Source is where a pulled file came from.
type Source struct {
	Hub      string `json:"hub"`  // "hf", "modelscope"
	Repo     string `json:"repo"` // "Qwen/Qwen3-0.6B-GGUF"
	Revision string `json:"revision"`
	File     string `json:"file"`
	URL      string `json:"url"`
}

const manifestVersion = 1

// maxManifest bounds what is read: manifests are a few hundred bytes, and a
// huge file in the store is a sign of tampering, not a model.
const maxManifest = 1 << 20

// digest returns the manifest's validated digest.
func (m *Manifest) digest() (Digest, error) { return ParseDigest(m.Digest) }

func (s *Store) manifestPath(n Name) string {
	return filepath.Join(s.root, "manifests", n.dirName(), n.Tag)
}

// readManifest loads and checks the manifest of n. A missing one wraps
// ErrNotFound.
func (s *Store) readManifest(n Name) (*Manifest, error) {
	f, err := os.Open(s.manifestPath(n))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("model %s: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", n, err)
	}
	if len(data) > maxManifest {
		return nil, fmt.Errorf("manifest of %s: larger than %d bytes", n, maxManifest)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", n, err)
	}
	if _, err := m.digest(); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", n, err)
	}
	if m.Size < 0 {
		return nil, fmt.Errorf("manifest of %s: negative size", n)
	}
	// The file's location is the name; a name inside that disagrees is
	// ignored rather than trusted.
	m.Name = n.String()
	return &m, nil
}

// writeManifest stores m under n atomically. The caller holds the store lock.
func (s *Store) writeManifest(n Name, m *Manifest) error {
	if _, err := m.digest(); err != nil {
		return err
	}
	m.SchemaVersion = manifestVersion
	m.Name = n.String()
	if m.Format == "" {
		m.Format = "gguf"
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.manifestPath(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return s.writeAtomic(s.manifestPath(n), append(data, '\n'))
}

// writeAtomic writes data to a temporary file in the store, syncs it and
// renames it over path, so readers see the old or the new file, never half.
func (s *Store) writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "write-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		// Some file systems (and Windows) cannot sync directories; the
		// rename itself has still happened.
		return nil
	}
	return nil
}
