package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
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
//   - a .jsonl file: one document per line, a JSON string or an object with
//     a "text" field;
//   - a folder: every .txt, .md and .jsonl file under it, in path order;
//   - any other file: text whose documents are separated by blank lines.
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
			switch strings.ToLower(filepath.Ext(p)) {
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
	c := &Corpus{}
	for i, d := range docs {
		if valEvery > 0 && i%valEvery == 0 {
			c.Val = append(c.Val, d)
		} else {
			c.Train = append(c.Train, d)
		}
	}
	return c, nil
}

func readDocs(path string) ([]string, error) {
	if strings.EqualFold(filepath.Ext(path), ".jsonl") {
		return readJSONL(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
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

func readJSONL(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var docs []string
	sc := bufio.NewScanner(f)
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
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &obj); err != nil || obj.Text == nil {
			return nil, fmt.Errorf("train: %s:%d: want a JSON string or an object with a \"text\" field", path, line)
		}
		docs = append(docs, *obj.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return docs, nil
}

// JoinDocuments joins documents with a blank line between them.
func JoinDocuments(docs []string) string { return strings.Join(docs, "\n\n") }

// Tokens are the ids of the training and validation text.
type Tokens struct {
	Train, Val []int32
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

// batch fills x and y (B*T each) with B windows of ids and their next tokens.
func (s *sampler) batch(x, y, ids []int32, B, T int) {
	for b := range B {
		off := s.rng.IntN(len(ids) - T)
		copy(x[b*T:(b+1)*T], ids[off:off+T])
		copy(y[b*T:(b+1)*T], ids[off+1:off+T+1])
	}
}

func (s *sampler) state() ([]byte, error) { return s.src.MarshalBinary() }

func (s *sampler) restore(b []byte) error {
	if err := s.src.UnmarshalBinary(b); err != nil {
		return errors.New("train: checkpoint: bad sampler state")
	}
	return nil
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
