package train

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// A checkpoint holds everything a run needs to continue exactly as if it had
// not stopped: the options, vocabulary, step counters, the sampler's
// generator, the monitor's memory, the history, and the weights with both
// AdamW moments (gradients are rebuilt by the next step), and the same for
// each rollback point. Layout: the magic "ZYCKPT01", the byte length of a
// JSON header (uint64 little-endian), the header, then weights, m and v and
// each rollback point's weights, m and v as little-endian float32.

const checkpointMagic = "ZYCKPT01"

type checkpointHeader struct {
	Options   Options      `json:"options"`
	Vocab     *Vocab       `json:"vocab"`
	Step      int          `json:"step"`
	AdamT     int          `json:"adam_t"`
	LRScale   float64      `json:"lr_scale"`
	Rollbacks int          `json:"rollbacks"`
	Sampler   []byte       `json:"sampler"`
	Monitor   MonitorState `json:"monitor"`
	Elapsed   float64      `json:"elapsed_s"`
	History   []StepRecord `json:"history"`
	Evals     []EvalRecord `json:"evals"`
	Events    []Event      `json:"events"`
	Unigram   float64      `json:"unigram"`
	Params    int          `json:"params"`
	DataHash  string       `json:"data_sha256"` // of the training and validation tokens
	// The rollback points; their weights and moments follow the run's.
	Snaps []snapshotHeader `json:"snapshots"`
}

type snapshotHeader struct {
	Step    int          `json:"step"`
	AdamT   int          `json:"adam_t"`
	Monitor MonitorState `json:"monitor"`
}

// SaveCheckpoint writes the run's state to path atomically (a temporary
// file, synced, renamed over path).
func (t *Trainer) SaveCheckpoint(path string) (err error) {
	st, err := t.data.state()
	if err != nil {
		return err
	}
	h := checkpointHeader{
		Options: t.Opt, Vocab: t.Vocab, Step: t.Step, AdamT: t.AdamT, LRScale: t.LRScale, Rollbacks: t.Rollbacks,
		Sampler: st, Monitor: t.mon.State, Elapsed: t.Elapsed.Seconds(), History: t.History, Evals: t.Evals,
		Events: t.Events, Unigram: t.Unigram, Params: len(t.Model.Params), DataHash: t.Data.hash(),
	}
	parts := [][]float32{t.Model.Params, t.Model.M, t.Model.V}
	for _, s := range t.snaps {
		h.Snaps = append(h.Snaps, snapshotHeader{s.step, s.adamT, s.mon})
		parts = append(parts, s.params, s.mom, s.vel)
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("train: checkpoint header: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(checkpointMagic)
	binary.Write(w, binary.LittleEndian, uint64(len(hb)))
	w.Write(hb)
	for _, part := range parts {
		if err = writeFloats(w, part); err != nil {
			return fmt.Errorf("train: checkpoint %s: %w", path, err)
		}
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

func writeFloats(w io.Writer, x []float32) error {
	buf := make([]byte, 0, 4<<10)
	for i, v := range x {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) || i == len(x)-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

func readFloats(r io.Reader, x []float32) error {
	buf := make([]byte, 4<<10)
	for i := 0; i < len(x); {
		n := min(len(buf)/4, len(x)-i)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return err
		}
		for j := range n {
			x[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
		}
		i += n
	}
	return nil
}

// LoadCheckpoint rebuilds a trainer from a checkpoint, on the token data of
// the same corpus and vocabulary (which the caller encodes again: a
// checkpoint does not hold the data). threads > 0 overrides the saved
// thread count, which does not change results.
func LoadCheckpoint(path string, data Tokens, threads int) (*Trainer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	h, err := readCheckpointHeader(r, path)
	if err != nil {
		return nil, err
	}
	if threads > 0 {
		h.Options.Threads = threads
	}
	t, err := NewTrainer(h.Options, h.Vocab, data)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	if h.DataHash != data.hash() {
		t.Close()
		return nil, fmt.Errorf("train: %s: the data differ from the run's (corpus, split or vocabulary changed)", path)
	}
	m := t.Model
	n := len(m.Params)
	parts := [][]float32{m.Params, m.M, m.V}
	for _, sh := range h.Snaps {
		s := &snapshot{step: sh.Step, adamT: sh.AdamT, mon: sh.Monitor,
			params: make([]float32, n), mom: make([]float32, n), vel: make([]float32, n)}
		t.snaps = append(t.snaps, s)
		parts = append(parts, s.params, s.mom, s.vel)
	}
	if h.Params != len(m.Params) {
		t.Close()
		return nil, fmt.Errorf("train: %s: %d weights, the model has %d", path, h.Params, len(m.Params))
	}
	for _, part := range parts {
		if err := readFloats(r, part); err != nil {
			t.Close()
			return nil, fmt.Errorf("train: %s: weights: %w", path, err)
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Close()
		return nil, fmt.Errorf("train: %s: data after the weights", path)
	}
	if err := t.data.restore(h.Sampler); err != nil {
		t.Close()
		return nil, err
	}
	t.Step, t.AdamT, t.LRScale, t.Rollbacks = h.Step, h.AdamT, h.LRScale, h.Rollbacks
	t.mon.State = h.Monitor
	t.Elapsed = time.Duration(h.Elapsed * float64(time.Second))
	t.History, t.Evals, t.Events, t.Unigram = h.History, h.Evals, h.Events, h.Unigram
	return t, nil
}

// hash identifies the token data, so a run resumes only on its own data.
func (d Tokens) hash() string {
	h := sha256.New()
	for _, ids := range [][]int32{d.Train, d.Val} {
		binary.Write(h, binary.LittleEndian, uint64(len(ids)))
		binary.Write(h, binary.LittleEndian, ids)
	}
	// Fine-tuning's targets and chat starts (nothing for pretraining, so
	// its hashes stay as they were).
	for _, ids := range [][]int32{d.TrainStarts, d.ValStarts} {
		if ids != nil {
			binary.Write(h, binary.LittleEndian, uint64(len(ids)))
			binary.Write(h, binary.LittleEndian, ids)
		}
	}
	for _, tg := range [][]bool{d.TrainTarget, d.ValTarget} {
		if tg != nil {
			binary.Write(h, binary.LittleEndian, uint64(len(tg)))
			binary.Write(h, binary.LittleEndian, tg)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readCheckpointHeader reads the magic and header and checks the vocabulary.
func readCheckpointHeader(r io.Reader, path string) (*checkpointHeader, error) {
	magic := make([]byte, len(checkpointMagic))
	var hlen uint64
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return nil, fmt.Errorf("train: %s is not a zhiyan checkpoint", path)
	}
	if err := binary.Read(r, binary.LittleEndian, &hlen); err != nil || hlen > 1<<30 {
		return nil, fmt.Errorf("train: %s: bad header length", path)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("train: %s: header: %w", path, err)
	}
	var h checkpointHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("train: %s: header: %w", path, err)
	}
	if h.Vocab == nil {
		return nil, fmt.Errorf("train: %s: no vocabulary", path)
	}
	if err := h.Vocab.init(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &h, nil
}

// CheckpointVocab reads the vocabulary of a checkpoint, to encode the data
// a run resumes on.
func CheckpointVocab(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := readCheckpointHeader(bufio.NewReader(f), path)
	if err != nil {
		return nil, err
	}
	return h.Vocab, nil
}
