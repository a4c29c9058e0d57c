package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"zhiyan/internal/progress"
)

// partialState is a download's resume record, next to its partial file.
type partialState struct {
	URL    string  `json:"url"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256,omitempty"`
	ETag   string  `json:"etag,omitempty"`
	Chunk  int64   `json:"chunk"`
	Done   []int64 `json:"done"` // bytes on disk from the start of each chunk
}

// downloadKey names a download's partial file: its sha256 when known (so a
// download begun on one hub resumes from another), else a hash of where it
// comes from.
func downloadKey(rf remoteFile) string {
	if !rf.sha.IsZero() {
		return rf.sha.fileName()
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s", redact(rf.url), rf.size, rf.etag)))
	return "url-" + hex.EncodeToString(h[:16])
}

// fetch downloads rf (or finds it already stored), verifies it and
// registers it under name with manifest m, all while holding the
// download's lock, so that concurrent pulls of one file take turns and the
// second finds the first one's result.
func (p *Puller) fetch(ctx context.Context, rf remoteFile, want Digest, file string, name Name, m *Manifest) (Digest, error) {
	rf.sha = want
	key := downloadKey(rf)
	label := "pulling " + file
	if !want.IsZero() {
		label = "pulling " + want.Short()
	}
	lock, err := lockFile(ctx, filepath.Join(p.store.root, "locks", key+".lock"))
	if err != nil {
		return Digest{}, err
	}
	defer lock.unlock()
	m.Created = time.Now().UTC()
	if !want.IsZero() && p.store.hasBlob(want, rf.size) {
		p.emit(Progress{Status: label, Digest: want.String(), Total: rf.size, Completed: rf.size})
		if m.Architecture == "" {
			m.Architecture, _ = ggufArch(p.store.BlobPath(want))
		}
		m.Digest = want.String()
		p.emit(Progress{Status: "writing manifest"})
		return want, p.store.commit(ctx, "", want, name, m)
	}
	t, err := p.openTransfer(rf, key, label)
	if err != nil {
		return Digest{}, err
	}
	err = t.run(ctx)
	t.close()
	if errors.Is(err, errRemoteChanged) {
		// The partial file is of another version: start over once.
		t.discard()
		if t, err = p.openTransfer(rf, key, label); err == nil {
			err = t.run(ctx)
			t.close()
		}
	}
	if err != nil {
		return Digest{}, err
	}
	p.emit(Progress{Status: "verifying sha256 digest"})
	got, size, err := hashFile(t.path, nil)
	if err != nil {
		return Digest{}, err
	}
	if size != rf.size || !want.IsZero() && got != want {
		t.discard()
		if size != rf.size {
			return Digest{}, fmt.Errorf("%w: %s is %d bytes, the hub said %d", ErrCorrupt, file, size, rf.size)
		}
		return Digest{}, fmt.Errorf("%w: %s has sha256 %s, the hub published %s; the download was deleted", ErrCorrupt, file, got.Hex(), want.Hex())
	}
	arch, err := ggufArch(t.path)
	if err != nil {
		t.discard()
		return Digest{}, fmt.Errorf("%s: %w", file, err)
	}
	if m.Architecture == "" {
		m.Architecture = arch
	}
	m.Digest = got.String()
	p.emit(Progress{Status: "writing manifest"})
	if err := p.store.commit(ctx, t.path, got, name, m); err != nil {
		return Digest{}, err
	}
	os.Remove(t.statePath)
	return got, nil
}

// transfer is one file's download into partial/.
type transfer struct {
	p         *Puller
	rf        remoteFile
	path      string // the partial file
	statePath string
	label     string
	f         *os.File
	st        partialState // st.Done is updated with atomic operations

	ckpt     sync.Mutex // one checkpoint at a time
	reported atomic.Int64
	lastEmit atomic.Int64 // unix nanoseconds
}

func (p *Puller) openTransfer(rf remoteFile, key, label string) (*transfer, error) {
	dir := filepath.Join(p.store.root, "partial")
	t := &transfer{p: p, rf: rf, label: label, path: filepath.Join(dir, key+".partial"), statePath: filepath.Join(dir, key+".json")}
	chunk := p.opt.ChunkSize
	if !rf.ranges {
		chunk = rf.size // one stream; without ranges it cannot resume
	}
	fresh := partialState{URL: redact(rf.url), Size: rf.size, SHA256: rf.sha.Hex(), ETag: rf.etag, Chunk: chunk,
		Done: make([]int64, (rf.size+chunk-1)/chunk)}
	st, ok := t.loadState()
	if ok && st.Size == fresh.Size && st.Chunk == fresh.Chunk && st.SHA256 == fresh.SHA256 &&
		(st.SHA256 != "" || st.ETag == fresh.ETag && st.URL == fresh.URL) && rf.ranges {
		t.st = st
	} else {
		t.st = fresh
		os.Remove(t.path)
	}
	var done int64
	for _, d := range t.st.Done {
		done += d
	}
	if free, err := p.freeSpace(dir); err == nil && free < rf.size-done+(16<<20) {
		return nil, fmt.Errorf("%w in %s: the model needs %s more, %s is free", ErrNoSpace, p.store.root, progress.Bytes(rf.size-done), progress.Bytes(free))
	}
	f, err := os.OpenFile(t.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Size() != rf.size {
		if err := f.Truncate(rf.size); err != nil {
			f.Close()
			return nil, err
		}
	}
	t.f = f
	t.reported.Store(done)
	return t, nil
}

// loadState reads the resume record; anything odd means no record.
func (t *transfer) loadState() (partialState, bool) {
	data, err := os.ReadFile(t.statePath)
	if err != nil {
		return partialState{}, false
	}
	var st partialState
	if json.Unmarshal(data, &st) != nil || st.Chunk <= 0 || st.Size <= 0 || int64(len(st.Done)) != (st.Size+st.Chunk-1)/st.Chunk {
		return partialState{}, false
	}
	for i, d := range st.Done {
		if d < 0 || d > t.chunkLen(st, i) {
			return partialState{}, false
		}
	}
	if fi, err := os.Stat(t.path); err != nil || fi.Size() != st.Size {
		return partialState{}, false
	}
	return st, true
}

func (t *transfer) chunkLen(st partialState, i int) int64 {
	return min(st.Chunk, st.Size-int64(i)*st.Chunk)
}

// checkpoint makes the bytes counted in Done durable, then records them.
// Done is read before the sync, so the record never claims unsynced bytes.
func (t *transfer) checkpoint() error {
	t.ckpt.Lock()
	defer t.ckpt.Unlock()
	snap := t.st
	snap.Done = make([]int64, len(t.st.Done))
	for i := range snap.Done {
		snap.Done[i] = atomic.LoadInt64(&t.st.Done[i])
	}
	if err := t.f.Sync(); err != nil {
		return err
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	tmp := t.statePath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, t.statePath)
}

func (t *transfer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// discard deletes the partial file and its record.
func (t *transfer) discard() {
	t.close()
	os.Remove(t.path)
	os.Remove(t.statePath)
}

// run downloads the missing ranges with up to Parallel requests at a time.
func (t *transfer) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan int, len(t.st.Done))
	for i := range t.st.Done {
		if atomic.LoadInt64(&t.st.Done[i]) < t.chunkLen(t.st, i) {
			queue <- i
		}
	}
	close(queue)
	t.emit(true)
	errc := make(chan error, t.p.opt.Parallel)
	var wg sync.WaitGroup
	for range min(t.p.opt.Parallel, len(queue)) {
		wg.Go(func() {
			for i := range queue {
				err := t.chunk(ctx, i)
				if err == nil {
					err = t.checkpoint()
				}
				if err != nil {
					errc <- err
					cancel()
					return
				}
			}
		})
	}
	// Long chunks are checkpointed while they run too.
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				t.checkpoint()
			}
		}
	}()
	wg.Wait()
	close(stop)
	cerr := t.checkpoint()
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.emit(true)
	return cerr
}

// chunk fetches what is missing of chunk i, retrying failures that make no
// progress up to Retries times.
func (t *transfer) chunk(ctx context.Context, i int) error {
	start, end := int64(i)*t.st.Chunk, int64(i)*t.st.Chunk+t.chunkLen(t.st, i)
	for attempt := 0; ; {
		before := atomic.LoadInt64(&t.st.Done[i])
		if start+before >= end {
			return nil
		}
		err := t.get(ctx, i, start+before, end)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !isTransient(err) {
			return err
		}
		if atomic.LoadInt64(&t.st.Done[i]) > before {
			attempt = 0 // progress: the connection was cut, not the file refused
		}
		attempt++
		if attempt > t.p.opt.Retries {
			return fmt.Errorf("bytes %d-%d of %s: %w (gave up after %d tries)", start+before, end-1, t.rf.url, err, attempt)
		}
		if err := t.p.sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

// get fetches bytes [off, end) of the file into place. A nil error means
// the whole range arrived.
func (t *transfer) get(ctx context.Context, i int, off, end int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := newStallWatch(t.p.opt.StallTimeout, cancel)
	defer watch.stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.rf.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if t.rf.ranges {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
	}
	t.p.authorize(req)
	resp, err := t.p.client.Do(req)
	if err != nil {
		return watch.explain(&transient{fmt.Errorf("GET %s: %w", redact(t.rf.url), err)})
	}
	defer resp.Body.Close()
	if err := statusError(resp, "GET "+redact(t.rf.url)); err != nil {
		return err
	}
	skip := int64(0)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		first, _, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != off {
			return &transient{fmt.Errorf("GET %s: asked for bytes from %d, got %q", redact(t.rf.url), off, resp.Header.Get("Content-Range"))}
		}
		if total != t.rf.size {
			return fmt.Errorf("GET %s: %w (size %d, was %d)", redact(t.rf.url), errRemoteChanged, total, t.rf.size)
		}
	case http.StatusOK:
		// The range was ignored: the body starts at byte 0.
		if resp.ContentLength >= 0 && resp.ContentLength != t.rf.size {
			return fmt.Errorf("GET %s: %w (size %d, was %d)", redact(t.rf.url), errRemoteChanged, resp.ContentLength, t.rf.size)
		}
		skip = off
	default:
		return fmt.Errorf("GET %s: unexpected %s", redact(t.rf.url), resp.Status)
	}
	body := watch.reader(resp.Body)
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, body, skip); err != nil {
			return watch.explain(&transient{fmt.Errorf("GET %s: %w", redact(t.rf.url), err)})
		}
	}
	buf := make([]byte, 256<<10)
	for off < end {
		n, rerr := io.ReadFull(body, buf[:min(int64(len(buf)), end-off)])
		if n > 0 {
			if _, err := t.f.WriteAt(buf[:n], off); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					return fmt.Errorf("%w: %v", ErrNoSpace, err)
				}
				return fmt.Errorf("write %s: %w", t.path, err)
			}
			off += int64(n)
			atomic.AddInt64(&t.st.Done[i], int64(n))
			t.reported.Add(int64(n))
			t.emit(false)
		}
		if rerr != nil && off < end {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				rerr = fmt.Errorf("body ended at byte %d of %d", off, end)
			}
			return watch.explain(&transient{fmt.Errorf("GET %s: %w", redact(t.rf.url), rerr)})
		}
	}
	return nil
}

// emit reports bytes done, at most every 100 ms unless forced.
func (t *transfer) emit(force bool) {
	now := time.Now().UnixNano()
	if force {
		t.lastEmit.Store(now)
	} else if last := t.lastEmit.Load(); now-last < int64(100*time.Millisecond) || !t.lastEmit.CompareAndSwap(last, now) {
		return
	}
	t.p.emit(Progress{Status: t.label, Digest: t.rf.sha.String(), Total: t.rf.size, Completed: t.reported.Load()})
}

// stallWatch cancels a request that receives nothing for a while.
type stallWatch struct {
	d       time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func newStallWatch(d time.Duration, cancel func()) *stallWatch {
	w := &stallWatch{d: d}
	w.timer = time.AfterFunc(d, func() {
		w.stalled.Store(true)
		cancel()
	})
	return w
}

func (w *stallWatch) stop() { w.timer.Stop() }

// explain names a stall as the cause of the error it provoked.
func (w *stallWatch) explain(err error) error {
	if w.stalled.Load() {
		return &transient{fmt.Errorf("%w: nothing received for %v", errStalled, w.d)}
	}
	return err
}

func (w *stallWatch) reader(r io.Reader) io.Reader { return stallReader{r, w} }

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.w.timer.Reset(s.w.d)
	}
	return n, err
}
