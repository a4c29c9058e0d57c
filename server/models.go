package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/internal/sysmem"
	"zhiyan/store"
)

// modelFile is a servable model: a GGUF file and the name it is served as.
type modelFile struct {
	name    string
	path    string
	fromCLI bool // given on the command line (not found in ModelDir)
	size    int64
	modTime time.Time
	// digest is the hex sha256 Ollama's clients show (and slice to 12
	// digits): the blob's for store models, else fileID's.
	digest   string
	manifest *store.Manifest // nil unless the model is in the store
}

// loadedModel is a model in memory with its scheduler.
type loadedModel struct {
	name, path string
	ready      chan struct{} // closed when loading has finished
	err        error         // why loading failed; set before ready is closed

	eng     *engine.Engine
	sched   *engine.Scheduler
	out     chat.OutputFormat
	digest  string // modelFile.digest
	size    int64  // of the file
	kv      uint64 // estimated KV cache bytes
	loadDur time.Duration

	// Guarded by models.mu.
	refs      int           // requests using it
	lastUsed  time.Time     // for LRU eviction
	keepAlive time.Duration // after the last request: 0 unload, < 0 forever
	expires   time.Time     // zero while in use or kept forever
	timer     *time.Timer
}

// models knows the servable models by name and keeps up to MaxLoaded of
// them in memory: loaded on first use (concurrent first requests load once),
// unloaded keep-alive after their last request, least recently used idle
// ones evicted to make room.
type models struct {
	cfg *Config
	log *slog.Logger
	cli []modelFile // from Config.Models, by name

	// memAvailable reports the memory available for a new model; ok false
	// when unknown (then nothing is checked). Tests replace it.
	memAvailable func() (bytes uint64, ok bool)

	mu     sync.Mutex
	loaded map[string]*loadedModel // including ones being loaded
	closed bool

	descMu sync.Mutex
	desc   map[descKey]modelDescription
}

func newModels(cfg *Config, log *slog.Logger) (*models, error) {
	ms := &models{cfg: cfg, log: log, loaded: map[string]*loadedModel{}, desc: map[descKey]modelDescription{}, memAvailable: sysmem.Available}
	seen := map[string]string{}
	for _, p := range cfg.Models {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("model %s: not a regular file", p)
		}
		name := modelName(p)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("model %s: %w", p, err)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("models %s and %s would both be named %q", prev, p, name)
		}
		seen[name] = p
		ms.cli = append(ms.cli, fileModel(name, p, fi, true))
	}
	if cfg.ModelDir != "" {
		if fi, err := os.Stat(cfg.ModelDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("models directory %s: not a directory", cfg.ModelDir)
		}
	}
	return ms, nil
}

// modelName is the name a GGUF file is served as: its base name without
// ".gguf".
func modelName(path string) string {
	base := filepath.Base(path)
	if strings.HasSuffix(strings.ToLower(base), ".gguf") {
		base = base[:len(base)-len(".gguf")]
	}
	return base
}

// checkName refuses names that could reach outside the model list.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty model name")
	case len(name) > 255:
		return fmt.Errorf("model name longer than 255 bytes")
	case strings.ContainsAny(name, "/\\\x00"), strings.Contains(name, ".."):
		return fmt.Errorf("model name %q may not contain path separators or \"..\"", name)
	}
	return nil
}

// list returns every servable model, sorted by name: the files, then the
// store's models that no file shadows. ModelDir and the store are read
// afresh, so models dropped there or pulled appear without a restart.
func (ms *models) list() []modelFile {
	out := ms.files()
	have := map[string]bool{}
	for _, m := range out {
		have[m.name] = true
	}
	for _, m := range ms.storeList() {
		if !have[strings.TrimSuffix(m.name, ":"+store.DefaultTag)] {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b modelFile) int { return strings.Compare(a.name, b.name) })
	return out
}

// files returns the models given as files: Config.Models, then ModelDir's.
func (ms *models) files() []modelFile {
	out := slices.Clone(ms.cli)
	if ms.cfg.ModelDir == "" {
		return out
	}
	have := map[string]bool{}
	for _, m := range out {
		have[m.name] = true
	}
	entries, err := os.ReadDir(ms.cfg.ModelDir)
	if err != nil {
		ms.log.Warn("cannot read the models directory", "dir", ms.cfg.ModelDir, "err", err)
	}
	for _, e := range entries {
		name := modelName(e.Name())
		if !strings.HasSuffix(strings.ToLower(e.Name()), ".gguf") || have[name] || checkName(name) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue // symlinks and special files are not served
		}
		have[name] = true
		out = append(out, fileModel(name, filepath.Join(ms.cfg.ModelDir, e.Name()), fi, false))
	}
	return out
}

func fileModel(name, path string, fi os.FileInfo, fromCLI bool) modelFile {
	return modelFile{name: name, path: path, fromCLI: fromCLI, size: fi.Size(), modTime: fi.ModTime(), digest: fileID(path, fi)}
}

// fileID stands in for a digest for a file outside the store: hashing a
// multi-gigabyte file per listing is too slow, so it is the sha256 of the
// file's path, size and modification time; it changes when the file does.
func fileID(path string, fi os.FileInfo) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", abs, fi.Size(), fi.ModTime().UnixNano()))
	return hex.EncodeToString(sum[:])
}

// find resolves a requested name: a file's name (":latest", which Ollama
// clients add, is ignored), else a name in the store.
func (ms *models) find(name string) (modelFile, error) {
	short := strings.TrimSuffix(name, ":"+store.DefaultTag)
	fileErr := checkName(short)
	if fileErr == nil {
		for _, m := range ms.files() {
			if m.name == short {
				return m, nil
			}
		}
	}
	if ms.cfg.Store == nil {
		if fileErr != nil {
			return modelFile{}, invalid("model", "%v", fileErr)
		}
		return modelFile{}, errModelNotFound(name)
	}
	return ms.storeFind(name)
}

// acquire returns the named model loaded, holding a reference until
// release; and how long loading took (0 when it was already loaded).
// keepAlive, when set, replaces the server default for this model.
func (ms *models) acquire(ctx context.Context, name string, keepAlive *time.Duration) (*loadedModel, time.Duration, error) {
	f, err := ms.find(name)
	if err != nil && ms.cfg.AutoPull && ms.cfg.Store != nil && isNotFound(err) {
		// A name the store can fetch (a catalogue name, hf.co/…,
		// modelscope.cn/…) is pulled on first use, as zhiyan run does.
		if f, err = ms.pullOnFirstUse(ctx, name); err != nil {
			return nil, 0, err
		}
	}
	if err != nil {
		return nil, 0, err
	}
	ka := ms.cfg.KeepAlive
	if keepAlive != nil {
		ka = *keepAlive
	}
	for {
		ms.mu.Lock()
		if ms.closed {
			ms.mu.Unlock()
			return nil, 0, errShuttingDown
		}
		if m := ms.loaded[f.name]; m != nil {
			if m.path != f.path && m.refs == 0 && ms.isReady(m) {
				// The name now points at another file (pulled again): the
				// next request gets that one.
				delete(ms.loaded, m.name)
				ms.mu.Unlock()
				ms.unload(m, "its name points at a new file")
				continue
			}
			select {
			case <-m.ready:
				if m.err == nil {
					ms.use(m, ka)
					ms.mu.Unlock()
					return m, 0, nil
				}
			default:
			}
			ms.mu.Unlock()
			select { // loading: wait for it, then look again
			case <-m.ready:
				if m.err != nil {
					return nil, 0, m.err
				}
				continue
			case <-ctx.Done():
				return nil, 0, context.Cause(ctx)
			}
		}
		if len(ms.loaded) >= max(ms.cfg.MaxLoaded, 1) {
			victim := ms.idlest()
			if victim == nil {
				ms.mu.Unlock()
				return nil, 0, errUnavailable("models_busy", fmt.Sprintf("%d models are loaded and all are in use (--max-loaded); try again later", len(ms.loaded)))
			}
			delete(ms.loaded, victim.name)
			ms.mu.Unlock()
			ms.unload(victim, "evicted to make room for "+f.name)
			continue
		}
		m := &loadedModel{name: f.name, path: f.path, size: f.size, digest: f.digest, ready: make(chan struct{})}
		ms.loaded[f.name] = m
		ms.use(m, ka)
		ms.mu.Unlock()
		return ms.load(m)
	}
}

// isReady reports whether m has finished loading.
func (ms *models) isReady(m *loadedModel) bool {
	select {
	case <-m.ready:
		return true
	default:
		return false
	}
}

// use takes a reference on m; ms.mu is held.
func (ms *models) use(m *loadedModel, keepAlive time.Duration) {
	m.refs++
	m.keepAlive = keepAlive
	m.expires = time.Time{}
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// idlest returns the least recently used model nobody is using; ms.mu is held.
func (ms *models) idlest() *loadedModel {
	var best *loadedModel
	for _, m := range ms.loaded {
		select {
		case <-m.ready:
		default:
			continue
		}
		if m.refs == 0 && (best == nil || m.lastUsed.Before(best.lastUsed)) {
			best = m
		}
	}
	return best
}

// load opens m's file and starts its scheduler; m is in ms.loaded and
// referenced by the caller.
func (ms *models) load(m *loadedModel) (*loadedModel, time.Duration, error) {
	start := time.Now()
	err := ms.open(m)
	m.loadDur = time.Since(start)
	ms.mu.Lock()
	if err != nil {
		delete(ms.loaded, m.name)
		m.err = err
	}
	close(m.ready)
	ms.mu.Unlock()
	if err != nil {
		ms.log.Error("cannot load model", "model", m.name, "err", err)
		return nil, 0, err
	}
	ms.log.Info("loaded model", "model", m.name, "path", m.path, "context", m.sched.Context(), "took", m.loadDur.Round(time.Millisecond))
	return m, m.loadDur, nil
}

func (ms *models) open(m *loadedModel) error {
	if avail, ok := ms.memAvailable(); ok && uint64(m.size) > avail {
		return errNoMemory(m.name, uint64(m.size), avail)
	}
	e, err := engine.Open(m.path)
	if err != nil {
		return fmt.Errorf("loading model %s: %w", m.name, err)
	}
	o := engine.SchedulerOptions{Parallel: ms.cfg.Parallel, Context: ms.cfg.Context, Threads: ms.cfg.Threads}
	if n := e.Model.Config.ContextLen; o.Context > n {
		// Positions past the trained context give garbage: never more.
		ms.log.Warn("context capped at the model's trained length", "model", m.name, "asked", o.Context, "context", n)
		o.Context = n
	}
	m.kv = kvBytes(e, o)
	avail, ok := ms.memAvailable()
	if ok && m.kv > avail {
		e.Close()
		return errNoMemory(m.name+"'s KV cache", m.kv, avail)
	}
	// Weights packed for batched decoding take up to about twice the
	// file's size: only when memory has ample room for them.
	o.Prepack = ok && avail > m.kv+3*uint64(m.size)
	m.eng, m.sched = e, e.NewScheduler(o)
	m.out = chat.DetectOutput(e.Template)
	return nil
}

// kvBytes estimates the KV cache a scheduler allocates (float32 keys and
// values for every slot and position), with the engine's defaults.
func kvBytes(e *engine.Engine, o engine.SchedulerOptions) uint64 {
	c := e.Model.Config
	ctx := o.Context
	if ctx <= 0 {
		ctx = min(c.ContextLen, 4096)
	}
	slots := o.Parallel
	if slots <= 0 {
		slots = 4
	}
	return uint64(slots) * uint64(ctx) * uint64(c.Layers) * uint64(c.KVHeads*c.HeadDim) * 2 * 4
}

func errNoMemory(what string, need, avail uint64) *apiError {
	return &apiError{status: http.StatusInsufficientStorage, typ: "server_error", code: "insufficient_memory",
		msg: fmt.Sprintf("not enough memory to load %s: it needs about %d MiB, %d MiB are available", what, need>>20, avail>>20)}
}

// release drops a reference; the last one starts the keep-alive.
func (ms *models) release(m *loadedModel) {
	ms.mu.Lock()
	m.refs--
	m.lastUsed = time.Now()
	if m.refs > 0 || ms.loaded[m.name] != m {
		ms.mu.Unlock()
		return
	}
	switch {
	case m.keepAlive == 0:
		delete(ms.loaded, m.name)
		ms.mu.Unlock()
		ms.unload(m, "keep_alive 0")
		return
	case m.keepAlive > 0:
		m.expires = m.lastUsed.Add(m.keepAlive)
		m.timer = time.AfterFunc(m.keepAlive, func() { ms.expire(m) })
	}
	ms.mu.Unlock()
}

// expire unloads m if it is still idle and its keep-alive has passed.
func (ms *models) expire(m *loadedModel) {
	ms.mu.Lock()
	if ms.loaded[m.name] != m || m.refs > 0 || m.expires.IsZero() || time.Now().Before(m.expires) {
		ms.mu.Unlock()
		return
	}
	delete(ms.loaded, m.name)
	ms.mu.Unlock()
	ms.unload(m, "keep_alive expired")
}

// unloadNow unloads the model of that (found) name if nobody is using it
// (Ollama's keep_alive 0 with an empty prompt), else once the last request
// ends; it reports whether it was loaded.
func (ms *models) unloadNow(name string) bool {
	ms.mu.Lock()
	m := ms.loaded[name]
	if m == nil {
		ms.mu.Unlock()
		return false
	}
	if m.refs > 0 {
		m.keepAlive = 0 // the last request unloads it
		ms.mu.Unlock()
		return true
	}
	delete(ms.loaded, m.name)
	ms.mu.Unlock()
	ms.unload(m, "keep_alive 0")
	return true
}

func (ms *models) unload(m *loadedModel, why string) {
	<-m.ready
	if m.err != nil {
		return
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	m.sched.Close()
	m.eng.Close()
	ms.log.Info("unloaded model", "model", m.name, "reason", why)
}

// running lists the loaded models, by name.
func (ms *models) running() []*loadedModel {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []*loadedModel
	for _, m := range ms.loaded {
		select {
		case <-m.ready:
			if m.err == nil {
				out = append(out, m)
			}
		default:
		}
	}
	slices.SortFunc(out, func(a, b *loadedModel) int { return strings.Compare(a.name, b.name) })
	return out
}

// expiry is when an idle m will be unloaded: zero while in use, far in the
// future when kept forever.
func (ms *models) expiry(m *loadedModel) time.Time {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	switch {
	case m.keepAlive < 0:
		return time.Now().AddDate(100, 0, 0)
	case m.refs > 0:
		return time.Now().Add(m.keepAlive)
	}
	return m.expires
}

// closeAll unloads every model and refuses new loads.
func (ms *models) closeAll() {
	ms.mu.Lock()
	ms.closed = true
	all := make([]*loadedModel, 0, len(ms.loaded))
	for _, m := range ms.loaded {
		all = append(all, m)
	}
	clear(ms.loaded)
	ms.mu.Unlock()
	for _, m := range all {
		ms.unload(m, "server shutting down")
	}
}

// isNotFound reports the error of a model name nothing serves.
func isNotFound(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.status == http.StatusNotFound
}

// pullOnFirstUse downloads name into the store and finds it there; a name
// the store cannot fetch stays "not found".
func (ms *models) pullOnFirstUse(ctx context.Context, name string) (modelFile, error) {
	if _, err := store.ParseName(name); err != nil {
		return modelFile{}, errModelNotFound(name)
	}
	p, err := store.NewPuller(ms.cfg.Store, ms.cfg.Pull)
	if err != nil {
		return modelFile{}, err
	}
	ms.log.Info("pulling a model on first use", "model", name)
	if _, err := p.Pull(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return modelFile{}, errModelNotFound(name)
		}
		return modelFile{}, &apiError{status: http.StatusBadGateway, typ: "server_error", code: "pull_failed",
			msg: fmt.Sprintf("model %s is not here and pulling it failed: %v", name, err)}
	}
	return ms.find(name)
}
