package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Corpus is training text split into documents and the documents divided
// between training and validation.
type Corpus struct {
	Train, Val []string
}

// ReadCorpus reads the documents of path:
//   - a .jsonl file: one document per line, a JSON string, an object with
//     a "text" field or a chat (an object with "messages", whose turns are
//     joined as "role\ncontent" lines);
//   - a folder: every .txt, .md and .jsonl file under it, in path order;
//   - any other file: text whose documents are separated by blank lines;
//   - any of these gzipped, its name ending in .gz.
//
// Document i goes to validation when valEvery > 0 and i%valEvery == 0 (the
// tang-char benchmark's split with valEvery = 20), to training otherwise.
func ReadCorpus(path string, valEvery int) (*Corpus, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var docs []string
	if fi.IsDir() {
		var files []string
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(strings.TrimSuffix(p, ".gz"))) {
			case ".txt", ".md", ".jsonl":
				if !d.IsDir() {
					files = append(files, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		for _, f := range files {
			d, err := readDocs(f)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	} else if docs, err = readDocs(path); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("train: %s holds no text", path)
	}
	return SplitCorpus(docs, valEvery), nil
}

// SplitCorpus divides documents: document i goes to validation when
// valEvery > 0 and i%valEvery == 0, to training otherwise.
func SplitCorpus(docs []string, valEvery int) *Corpus {
	c := &Corpus{}
	for i, d := range docs {
		if valEvery > 0 && i%valEvery == 0 {
			c.Val = append(c.Val, d)
		} else {
			c.Train = append(c.Train, d)
		}
	}
	return c
}

func readDocs(path string) ([]string, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if strings.EqualFold(filepath.Ext(strings.TrimSuffix(path, ".gz")), ".jsonl") {
		return readJSONL(rc, path)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return SplitDocuments(string(b)), nil
}

// SplitDocuments cuts text at blank lines, dropping empty documents and the
// newlines around each.
func SplitDocuments(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var docs []string
	for _, d := range strings.Split(text, "\n\n") {
		if d = strings.Trim(d, "\n"); strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func readJSONL(r io.Reader, path string) ([]string, error) {
	var docs []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			docs = append(docs, s)
			continue
		}
		var obj struct {
			Text     *string   `json:"text"`
			Messages []Message `json:"messages"`
		}
		err := json.Unmarshal(b, &obj)
		switch {
		case err == nil && obj.Text != nil:
			docs = append(docs, *obj.Text)
		case err == nil && len(obj.Messages) > 0:
			docs = append(docs, chatText(obj.Messages))
		default:
			return nil, fmt.Errorf("train: %s:%d: want a JSON string or an object with a \"text\" or \"messages\" field", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return docs, nil
}

// JoinDocuments joins documents with a blank line between them.
func JoinDocuments(docs []string) string { return strings.Join(docs, "\n\n") }

// Tokens are the ids of the training and validation text. Fine-tuning
// data also says which tokens are targets (the assistant's) and where each
// chat starts; pretraining leaves these nil: every token is a target and
// windows start anywhere.
type Tokens struct {
	Train, Val             []int32
	TrainTarget, ValTarget []bool  // nil, or one per token: is it a target?
	TrainStarts, ValStarts []int32 // nil, or the offsets where the chats start
}

// Encode tokenizes both splits.
func (c *Corpus) Encode(v *Vocab) Tokens {
	return Tokens{Train: v.Encode(JoinDocuments(c.Train)), Val: v.Encode(JoinDocuments(c.Val))}
}

// UnigramLoss is the entropy (nats per token) of the token frequencies of
// ids: the loss of the best model that ignores context, a floor a language
// model must get below early on.
func UnigramLoss(ids []int32) float64 {
	counts := map[int32]int{}
	for _, id := range ids {
		counts[id]++
	}
	var h float64
	n := float64(len(ids))
	for _, c := range counts {
		p := float64(c) / n
		h -= p * math.Log(p)
	}
	return h
}

// sampler draws training windows at random offsets from a seeded
// generator whose state is saved in checkpoints.
type sampler struct {
	src *rand.PCG
	rng *rand.Rand
}

func newSampler(seed uint64) *sampler {
	src := rand.NewPCG(seed, 0x64617461)
	return &sampler{src: src, rng: rand.New(src)}
}

// batch fills x and y (B*T each) with B windows of ids and their next
// tokens. Windows of fine-tuning data start where a chat does and run on
// into the following ones (packing); their targets are −1 where the token
// is not one to learn.
func (s *sampler) batch(x, y []int32, ids []int32, target []bool, starts []int32, B, T int) {
	for b := range B {
		var off int
		if starts == nil {
			off = s.rng.IntN(len(ids) - T)
		} else {
			// Chats starting too near the end to fill a window are left out.
			off = int(starts[s.rng.IntN(usableStarts(starts, len(ids), T))])
		}
		fillWindow(x[b*T:(b+1)*T], y[b*T:(b+1)*T], ids, target, off, len(ids))
	}
}

// usableStarts is how many of starts leave room for a window of T+1 tokens.
func usableStarts(starts []int32, n, T int) int {
	k, _ := slices.BinarySearch(starts, int32(n-T))
	return max(k, 1)
}

// fillWindow copies ids[off:off+T] into x and the next tokens into y, with −1
// for tokens that are not targets or lie at or past end. A window running
// past the text is padded with token 0, untrained (attention is causal, so
// padding after a position does not change it).
func fillWindow(x, y []int32, ids []int32, target []bool, off, end int) {
	for i := range x {
		x[i], y[i] = 0, -1
		if p := off + i; p < len(ids) {
			x[i] = ids[p]
		}
		if p := off + 1 + i; p < end && p < len(ids) && (target == nil || target[p]) {
			y[i] = ids[p]
		}
	}
}

func (s *sampler) state() ([]byte, error) { return s.src.MarshalBinary() }

func (s *sampler) restore(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return errors.New("train: checkpoint: bad sampler state")
	}
	return nil
}

// chatWindows are the validation windows of fine-tuning data: one per chat
// (its first T tokens), each scored only on its own targets.
func chatWindows(starts []int32, n int) (offs, ends []int) {
	for i, s := range starts {
		end := n
		if i+1 < len(starts) {
			end = int(starts[i+1])
		}
		offs, ends = append(offs, int(s)), append(ends, end)
	}
	return offs, ends
}

// evalWindows are the non-overlapping windows of T tokens (and targets) of
// ids, every one when n ≤ 0, else n spread evenly over the text.
func evalWindows(ids []int32, T, n int) (starts []int) {
	total := (len(ids) - 1) / T
	if n <= 0 || n >= total {
		n = total
	}
	for i := range n {
		starts = append(starts, (i*total/n)*T)
	}
	return starts
}
