package train

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Tang poems of the tang-char benchmark come from the npm package
// chinese-poetry@2.0.1 (MIT, © 2016 JackeyGao), which repackages the GitHub
// project chinese-poetry/chinese-poetry.
const (
	TangPackage   = "chinese-poetry@2.0.1"
	TangTarball   = "https://registry.npmjs.org/chinese-poetry/-/chinese-poetry-2.0.1.tgz"
	TangIntegrity = "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg=="
)

// Poem is one Tang poem as the prepared corpus stores it: a JSONL line
// whose "text" field ReadCorpus reads, with the metadata the fine-tuning
// set is made from.
type Poem struct {
	Title  string   `json:"title"`
	Author string   `json:"author"`
	Tags   []string `json:"tags,omitempty"`
	Text   string   `json:"text"` // couplet lines joined by "\n", Traditional characters
}

// Lines are the poem's couplet lines.
func (p Poem) Lines() []string { return strings.Split(p.Text, "\n") }

// ReadTangTarball reads the npm tarball of chinese-poetry@2.0.1 (gzipped
// tar) and returns the regulated-shape Tang poems of
// dist/quantangshi/poet.tang.*.json, files in numeric order and poems in
// file order: the tang-char corpus (46,856 poems).
func ReadTangTarball(r io.Reader) ([]Poem, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("train: tang tarball: %w", err)
	}
	type file struct {
		n     int
		poems []Poem
	}
	var files []file
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("train: tang tarball: %w", err)
		}
		dir, name := path.Split(h.Name)
		if !strings.HasSuffix(dir, "dist/quantangshi/") || !strings.HasPrefix(name, "poet.tang.") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "poet.tang."), ".json"))
		if err != nil {
			continue
		}
		poems, err := parseTangFile(tr)
		if err != nil {
			return nil, fmt.Errorf("train: tang tarball: %s: %w", h.Name, err)
		}
		files = append(files, file{n, poems})
	}
	if len(files) == 0 {
		return nil, errors.New("train: tang tarball: no dist/quantangshi/poet.tang.*.json files")
	}
	slices.SortFunc(files, func(a, b file) int { return a.n - b.n })
	var all []Poem
	for _, f := range files {
		all = append(all, f.poems...)
	}
	return all, nil
}

// parseTangFile decodes one poet.tang.N.json file and keeps its regulated
// poems.
func parseTangFile(r io.Reader) ([]Poem, error) {
	var raw []struct {
		Author     string   `json:"author"`
		Title      string   `json:"title"`
		Paragraphs []string `json:"paragraphs"`
		Tags       []string `json:"tags"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	var poems []Poem
	for _, p := range raw {
		if Regulated(p.Paragraphs) {
			poems = append(poems, Poem{Title: p.Title, Author: p.Author, Tags: p.Tags, Text: strings.Join(p.Paragraphs, "\n")})
		}
	}
	return poems, nil
}

// Regulated reports whether every line is a couplet of two five-character
// or (all of them) two seven-character halves of Han characters, written
// "xxxxx，xxxxx。": the tang-char selection, which drops fragments, irregular
// songs and lines with missing-glyph marks (□, ？).
func Regulated(lines []string) bool {
	if len(lines) == 0 {
		return false
	}
	n := halfLen(lines[0])
	if n != 5 && n != 7 {
		return false
	}
	for _, l := range lines {
		if halfLen(l) != n {
			return false
		}
	}
	return true
}

// halfLen returns n when line is n Han characters, "，", n Han characters,
// "。", and 0 otherwise.
func halfLen(line string) int {
	first, second, ok := strings.Cut(line, "，")
	if !ok || !strings.HasSuffix(second, "。") {
		return 0
	}
	second = strings.TrimSuffix(second, "。")
	n := utf8.RuneCountInString(first)
	if n != utf8.RuneCountInString(second) || !allHan(first) || !allHan(second) {
		return 0
	}
	return n
}

func allHan(s string) bool {
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) || r == '〇' || r == '々' {
			return false
		}
	}
	return s != ""
}

// WritePoems writes poems as JSONL, one per line.
func WritePoems(w io.Writer, poems []Poem) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, p := range poems {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadPoems reads a JSONL file of poems, gzipped when its name ends in .gz.
func ReadPoems(file string) ([]Poem, error) {
	rc, err := openMaybeGzip(file)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var poems []Poem
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var p Poem
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("train: %s:%d: %w", file, line, err)
		}
		poems = append(poems, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", file, err)
	}
	return poems, nil
}

// openMaybeGzip opens file, decompressing it when its name ends in .gz.
func openMaybeGzip(file string) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(path.Ext(file), ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("train: %s: %w", file, err)
	}
	return gzipFile{zr, f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error { return errors.Join(g.Reader.Close(), g.f.Close()) }
