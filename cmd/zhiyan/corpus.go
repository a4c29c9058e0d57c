package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"zhiyan/internal/progress"
	"zhiyan/train"
)

// corpusCmd prepares the Tang-poem corpus of the tang-char benchmark and
// the fine-tuning set made from its metadata.
func corpusCmd(args []string, stdout, stderr io.Writer) error {
	const usageLine = "corpus tang [--out DIR] [--tarball FILE.tgz]"
	if len(args) == 0 || args[0] != "tang" {
		fmt.Fprintf(stderr, "Usage: zhiyan %s\n", usageLine)
		return errUsage
	}
	fs := newFlags("corpus tang", usageLine, stderr)
	out := fs.String("out", "tang", "directory for tang.jsonl.gz (the poems) and tang-sft.jsonl.gz (the chats)")
	tarball := fs.String("tarball", "", "a downloaded "+train.TangPackage+" npm tarball (default: fetch "+train.TangTarball+")")
	seed := fs.Uint64("seed", 1337, "seed of the fine-tuning set")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	var tgz []byte
	if *tarball != "" {
		if tgz, err = os.ReadFile(*tarball); err != nil {
			return err
		}
	} else if tgz, err = download(train.TangTarball, stderr); err != nil {
		return err
	}
	// The registry's integrity hash pins the package's exact bytes.
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != train.TangIntegrity {
		return fmt.Errorf("%s: integrity %s, want %s", train.TangPackage, got, train.TangIntegrity)
	}
	poems, err := train.ReadTangTarball(bytes.NewReader(tgz))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	poemFile, sftFile := filepath.Join(*out, "tang.jsonl.gz"), filepath.Join(*out, "tang-sft.jsonl.gz")
	if err := writeGzip(poemFile, func(w io.Writer) error { return train.WritePoems(w, poems) }); err != nil {
		return err
	}
	chats := train.TangSFT(poems, train.DefaultSFTSizes, *seed)
	if err := writeGzip(sftFile, func(w io.Writer) error { return train.WriteChats(w, chats) }); err != nil {
		return err
	}

	// The tang-char numbers, to compare with the benchmark's description.
	docs := make([]string, len(poems))
	for i, p := range poems {
		docs[i] = p.Text
	}
	c := train.SplitCorpus(docs, 20)
	trainText, valText := train.JoinDocuments(c.Train), train.JoinDocuments(c.Val)
	fmt.Fprintf(stdout, "%s: %d regulated Tang poems from %s\n", poemFile, len(poems), train.TangPackage)
	fmt.Fprintf(stdout, "  train %d poems, %d chars, sha256 %s\n", len(c.Train), len([]rune(trainText)), sha256Hex(trainText))
	fmt.Fprintf(stdout, "  val   %d poems, %d chars, sha256 %s\n", len(c.Val), len([]rune(valText)), sha256Hex(valText))
	fmt.Fprintf(stdout, "%s: %d chats\n", sftFile, len(chats))
	return nil
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// download fetches url with a progress bar.
func download(url string, stderr io.Writer) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	bar := progress.New(stderr, "download", resp.ContentLength, "B")
	var buf bytes.Buffer
	_, err = io.Copy(&buf, io.TeeReader(resp.Body, writerFunc(func(p []byte) (int, error) {
		bar.Add(int64(len(p)))
		return len(p), nil
	})))
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return buf.Bytes(), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// writeGzip writes a gzip file (no name or time in its header, so the same
// content gives the same bytes) through a temporary file.
func writeGzip(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	err = write(zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
