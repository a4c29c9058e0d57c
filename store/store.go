// Package store keeps downloaded and imported GGUF models on disk: files by
// sha256 digest, a small manifest per name, and pulls from Hugging Face and
// ModelScope. It knows file formats only as far as naming a model's
// architecture; it does not load or run models.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"zhiyan/gguf"
)

// ErrNotFound is wrapped by errors about names that are not in the store.
var ErrNotFound = errors.New("not found")

// Store is a model directory:
//
//	blobs/sha256-<hex>        model files, named by content
//	manifests/<name>/<tag>    JSON manifests (name's '/' written as '+')
//	partial/                  downloads in progress, with their resume state
//	locks/                    lock files
//	tmp/                      files being written
type Store struct {
	root string
}

// DefaultDir is $ZHIYAN_HOME, or .zhiyan in the user's home directory.
func DefaultDir() (string, error) {
	if d := os.Getenv("ZHIYAN_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no model directory: set ZHIYAN_HOME (%w)", err)
	}
	return filepath.Join(home, ".zhiyan"), nil
}

// Open opens (creating if needed) the store at dir; "" means DefaultDir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"blobs", "manifests", "partial", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("model store: %w", err)
		}
	}
	return &Store{root: abs}, nil
}

// Root is the store's absolute directory.
func (s *Store) Root() string { return s.root }

// BlobPath is where the file with digest d lives (whether or not it exists).
func (s *Store) BlobPath(d Digest) string {
	if d.IsZero() {
		panic("store: BlobPath of an unknown digest")
	}
	return filepath.Join(s.root, "blobs", d.fileName())
}

// lock takes the store-wide lock that orders manifest writes against
// removals, so a blob is never collected while a new name is taking it.
func (s *Store) lock(ctx context.Context) (*fileLock, error) {
	return lockFile(ctx, filepath.Join(s.root, "locks", "store.lock"))
}

// Model is one entry of List.
type Model struct {
	Name     string
	Digest   Digest
	Size     int64
	Modified time.Time
	Manifest *Manifest
}

// List returns the store's models sorted by name. Entries that are not
// valid names or manifests are skipped: they were not written by the store.
func (s *Store) List() ([]Model, error) {
	dirs, err := os.ReadDir(filepath.Join(s.root, "manifests"))
	if err != nil {
		return nil, err
	}
	var models []Model
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		tags, err := os.ReadDir(filepath.Join(s.root, "manifests", d.Name()))
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			if !t.Type().IsRegular() {
				continue
			}
			n, err := nameFromDir(d.Name(), t.Name())
			if err != nil || n.dirName() != d.Name() || n.Tag != t.Name() {
				continue
			}
			m, err := s.readManifest(n)
			if err != nil {
				continue
			}
			dg, _ := m.digest()
			info, _ := t.Info()
			mod := m.Created
			if info != nil {
				mod = info.ModTime()
			}
			models = append(models, Model{Name: n.String(), Digest: dg, Size: m.Size, Modified: mod, Manifest: m})
		}
	}
	slices.SortFunc(models, func(a, b Model) int { return strings.Compare(a.Name, b.Name) })
	return models, nil
}

// Show returns the manifest of a name.
func (s *Store) Show(name string) (*Manifest, error) {
	n, err := canonicalName(name)
	if err != nil {
		return nil, err
	}
	return s.readManifest(n)
}

// Resolve returns the path of the GGUF file a name points at.
func (s *Store) Resolve(name string) (string, error) {
	n, err := canonicalName(name)
	if err != nil {
		return "", err
	}
	m, err := s.readManifest(n)
	if err != nil {
		return "", err
	}
	d, _ := m.digest()
	path := s.BlobPath(d)
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("model %s: its file %s is missing; pull it again", n, d.Short())
	}
	if fi.Size() != m.Size {
		return "", fmt.Errorf("model %s: its file is %d bytes, the manifest says %d; pull it again", n, fi.Size(), m.Size)
	}
	return path, nil
}

// ResolveModel turns what a user typed for a model into a GGUF path: an
// existing file is itself, anything else is a name in the default store
// ($ZHIYAN_HOME or ~/.zhiyan). Pulling missing names is the caller's job;
// the error then wraps ErrNotFound.
func ResolveModel(arg string) (string, error) {
	if path, ok, err := localFile(arg); ok {
		return path, err
	}
	s, err := Open("")
	if err != nil {
		return "", err
	}
	return s.ResolveModel(arg)
}

// ResolveModel is the package's ResolveModel for this store.
func (s *Store) ResolveModel(arg string) (string, error) {
	if path, ok, err := localFile(arg); ok {
		return path, err
	}
	path, err := s.Resolve(arg)
	if errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("model %q is neither a file nor in %s (pull it with: zhiyan pull %s): %w", arg, s.root, arg, ErrNotFound)
	}
	return path, err
}

// localFile decides whether arg is a path: ok reports that it is (an
// existing file, or something only a path can look like).
func localFile(arg string) (path string, ok bool, err error) {
	if fi, err := os.Stat(arg); err == nil {
		if !fi.Mode().IsRegular() {
			return "", true, fmt.Errorf("%s: not a regular file", arg)
		}
		return arg, true, nil
	}
	lower := strings.ToLower(arg)
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") || strings.HasSuffix(lower, ".gguf") && !strings.Contains(arg, ":") {
		return "", true, fmt.Errorf("%s: no such file", arg)
	}
	return "", false, nil
}

// Remove deletes a name, and its file when no other name uses it.
func (s *Store) Remove(name string) error {
	n, err := canonicalName(name)
	if err != nil {
		return err
	}
	l, err := s.lock(context.Background())
	if err != nil {
		return err
	}
	defer l.unlock()
	m, err := s.readManifest(n)
	if err != nil {
		return err
	}
	d, _ := m.digest()
	if err := os.Remove(s.manifestPath(n)); err != nil {
		return err
	}
	os.Remove(filepath.Dir(s.manifestPath(n))) // only succeeds when empty
	used, err := s.referenced(d)
	if err != nil || used {
		return err
	}
	if err := os.Remove(s.BlobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// referenced reports whether any manifest names digest d.
func (s *Store) referenced(d Digest) (bool, error) {
	models, err := s.List()
	if err != nil {
		return true, err // when unsure, keep the blob
	}
	for _, m := range models {
		if m.Digest == d {
			return true, nil
		}
	}
	return false, nil
}

// Copy makes dst a second name for src's file.
func (s *Store) Copy(src, dst string) error {
	from, err := canonicalName(src)
	if err != nil {
		return err
	}
	to, err := canonicalName(dst)
	if err != nil {
		return err
	}
	l, err := s.lock(context.Background())
	if err != nil {
		return err
	}
	defer l.unlock()
	m, err := s.readManifest(from)
	if err != nil {
		return err
	}
	c := *m
	c.Created = time.Now().UTC()
	return s.writeManifest(to, &c)
}

// Import adds a local GGUF file under name. The file is hard-linked into the
// store when it can be (same file system) and copied otherwise; either way
// the digest is of the bytes in the store.
func (s *Store) Import(file, name string) (*Manifest, error) {
	n, err := canonicalName(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", file)
	}
	tmp, d, size, err := s.stageLocal(file)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	arch, err := ggufArch(tmp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m := &Manifest{Digest: d.String(), Size: size, Architecture: arch, Verified: VerifiedLocal, Created: time.Now().UTC()}
	if err := s.commit(context.Background(), tmp, d, n, m); err != nil {
		return nil, err
	}
	return m, nil
}

// stageLocal puts a local file into tmp/ and hashes what landed there.
func (s *Store) stageLocal(file string) (tmp string, d Digest, size int64, err error) {
	tmp = filepath.Join(s.root, "tmp", fmt.Sprintf("import-%d-%d", os.Getpid(), time.Now().UnixNano()))
	// Link the file itself: a hard link to a symlink would store the link.
	src, err := filepath.EvalSymlinks(file)
	if err != nil {
		return "", Digest{}, 0, err
	}
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			os.Remove(tmp)
			return "", Digest{}, 0, err
		}
	}
	d, size, err = hashFile(tmp, nil)
	if err != nil {
		os.Remove(tmp)
		return "", Digest{}, 0, err
	}
	return tmp, d, size, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	// The name was checked before; this checks what was actually opened.
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// hashFile returns the sha256 and size of a file, reporting bytes read.
func hashFile(path string, progress func(n int64)) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		total += int64(n)
		if progress != nil && n > 0 {
			progress(int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Digest{}, 0, fmt.Errorf("hash %s: %w", path, err)
		}
	}
	return Digest{hex: hex.EncodeToString(h.Sum(nil))}, total, nil
}

// ggufArch checks that path is a GGUF file and returns its architecture.
func ggufArch(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err != nil || string(magic[:]) != "GGUF" {
		return "", errors.New("not a GGUF file")
	}
	g, err := gguf.Open(path)
	if err != nil {
		return "", err
	}
	defer g.Close()
	arch, _ := g.String("general.architecture")
	return arch, nil
}

// commit moves a verified file into blobs/ (unless that content is already
// there; file "" means it must be) and points n at it, all under the store
// lock.
func (s *Store) commit(ctx context.Context, file string, d Digest, n Name, m *Manifest) error {
	l, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	blob := s.BlobPath(d)
	switch fi, err := os.Stat(blob); {
	case err == nil && fi.Size() == m.Size:
		if file != "" {
			os.Remove(file)
		}
	case file == "":
		return fmt.Errorf("store %s: the file is missing", d.Short())
	default:
		if err := os.Rename(file, blob); err != nil {
			return fmt.Errorf("store %s: %w", d.Short(), err)
		}
		if err := syncDir(filepath.Dir(blob)); err != nil {
			return err
		}
	}
	return s.writeManifest(n, m)
}

// hasBlob reports whether the file with digest d is stored with this size.
func (s *Store) hasBlob(d Digest, size int64) bool {
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && (size <= 0 || fi.Size() == size)
}
