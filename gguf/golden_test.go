package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"zhiyan/internal/golden"
)

// goldenFiles lists every GGUF of the golden sets, keyed by path relative to
// its golden directory (the first directory holding a name wins).
func goldenFiles(t *testing.T) map[string]string {
	files := map[string]string{}
	for _, dir := range golden.Dirs(t) {
		for _, pat := range []string{"*/*.gguf", "newarch/*/*.gguf"} {
			paths, err := filepath.Glob(filepath.Join(dir, pat))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				rel, _ := filepath.Rel(dir, p)
				if _, ok := files[rel]; !ok {
					files[rel] = p
				}
			}
		}
	}
	if len(files) == 0 {
		t.Skip("no golden GGUF files present")
	}
	return files
}

func TestGoldenFilesLoad(t *testing.T) {
	for rel, path := range goldenFiles(t) {
		t.Run(rel, func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if arch, ok := f.String("general.architecture"); !ok || arch == "" {
				t.Errorf("general.architecture missing")
			}
			touch(f)
			for _, ti := range f.Tensors {
				if end := f.DataOffset + ti.Offset + ti.Size; end > uint64(f.Size()) {
					t.Errorf("tensor %s ends at %d, past the %d-byte file", ti.Name, end, f.Size())
				}
			}
			checkSidecar(t, f, path)
		})
	}
}

// sidecar is the part of a golden JSON that describes its GGUF: the compact
// set has gguf_metadata with types; the newarch set has plain gguf_kv.
type sidecar struct {
	ModelFile  string                     `json:"model_file"`
	Metadata   json.RawMessage            `json:"gguf_metadata"`
	KV         map[string]json.RawMessage `json:"gguf_kv"`
	Types      map[string]string          `json:"tensor_types"`
	ShapesNE   map[string][]uint64        `json:"tensor_shapes_ne"`
	NE         map[string][]uint64        `json:"tensor_ne"`
	FileSHA256 string                     `json:"model_sha256"`
}

type metaEntry struct {
	Type   string            `json:"gguf_type"`
	Value  json.RawMessage   `json:"value"`
	Count  int               `json:"count"`
	First  []json.RawMessage `json:"first"`
	Last   []json.RawMessage `json:"last"`
	SHA256 string            `json:"sha256_of_json"`
}

// findSidecar returns the JSON written by the golden generator for a GGUF.
func findSidecar(t *testing.T, path string) (*sidecar, bool) {
	cands := []string{strings.TrimSuffix(path, ".gguf") + ".json"}
	more, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.main.json"))
	for _, c := range append(cands, more...) {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		var s sidecar
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if s.ModelFile == filepath.Base(path) {
			return &s, true
		}
	}
	return nil, false
}

// checkSidecar compares the file with what llama.cpp / gguf-py reported for it.
func checkSidecar(t *testing.T, f *File, path string) {
	s, ok := findSidecar(t, path)
	if !ok {
		if !strings.Contains(path, "vocab") {
			t.Errorf("no JSON sidecar for %s", path)
		}
		return
	}
	shapes := s.ShapesNE
	if shapes == nil {
		shapes = s.NE
	}
	if len(s.Types) != len(f.Tensors) || len(shapes) != len(f.Tensors) {
		t.Errorf("file has %d tensors, JSON %d types and %d shapes", len(f.Tensors), len(s.Types), len(shapes))
	}
	for _, ti := range f.Tensors {
		if got, want := ti.Type.String(), s.Types[ti.Name]; got != want {
			t.Errorf("tensor %s type %s, want %s", ti.Name, got, want)
		}
		if got, want := fmt.Sprint(ti.Dims), fmt.Sprint(shapes[ti.Name]); got != want {
			t.Errorf("tensor %s dims %s, want %s", ti.Name, got, want)
		}
	}
	if s.Metadata != nil {
		checkMetadata(t, f, s.Metadata)
	}
	for key, raw := range s.KV {
		kv, ok := f.Lookup(key)
		if !ok {
			t.Errorf("key %s missing", key)
			continue
		}
		if bytes.HasPrefix(raw, []byte(`"<array of`)) {
			continue
		}
		if got := scalarJSON(kv.Value); !jsonEqual(got, string(raw)) {
			t.Errorf("%s = %s, want %s", key, got, raw)
		}
	}
}

// checkMetadata compares every KV, in order, with gguf_metadata.
func checkMetadata(t *testing.T, f *File, raw json.RawMessage) {
	keys, err := orderedKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]metaEntry
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	var fileKeys []string
	for _, kv := range f.KVs {
		fileKeys = append(fileKeys, kv.Key)
	}
	if strings.Join(fileKeys, " ") != strings.Join(keys, " ") {
		t.Errorf("keys in file order:\n%v\nwant\n%v", fileKeys, keys)
	}
	for key, m := range meta {
		kv, _ := f.Lookup(key)
		typ := kv.Type.String()
		if kv.Type == TypeArray {
			et, _ := elemType(kv.Value)
			typ = "ARRAY[" + et.String() + "]"
		}
		if typ != m.Type {
			t.Errorf("%s has type %s, want %s", key, typ, m.Type)
			continue
		}
		if kv.Type != TypeArray {
			if got := scalarJSON(kv.Value); !jsonEqual(got, string(m.Value)) {
				t.Errorf("%s = %s, want %s", key, got, m.Value)
			}
			continue
		}
		elems := arrayJSON(kv.Value)
		if m.Count == 0 { // short arrays are given whole
			if got := "[" + strings.Join(elems, ",") + "]"; !jsonEqual(got, string(m.Value)) {
				t.Errorf("%s = %s, want %s", key, got, m.Value)
			}
			continue
		}
		if len(elems) != m.Count {
			t.Errorf("%s has %d elements, want %d", key, len(elems), m.Count)
			continue
		}
		for i, w := range m.First {
			if !jsonEqual(elems[i], string(w)) {
				t.Errorf("%s[%d] = %s, want %s", key, i, elems[i], w)
			}
		}
		for i, w := range m.Last {
			j := len(elems) - len(m.Last) + i
			if !jsonEqual(elems[j], string(w)) {
				t.Errorf("%s[%d] = %s, want %s", key, j, elems[j], w)
			}
		}
		// The generator hashed Python's json.dumps of the whole array; its
		// text is reproducible here for strings and integers.
		if et, _ := elemType(kv.Value); et == TypeString || et == TypeInt32 {
			sum := sha256.Sum256([]byte(pyJSONList(kv.Value)))
			if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
				t.Errorf("%s: sha256 of the array's JSON = %s, want %s", key, got, m.SHA256)
			}
		}
	}
}

func orderedKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func scalarJSON(v any) string {
	if f, ok := v.(float32); ok {
		v = float64(f) // the JSON holds the float32 widened to float64
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func arrayJSON(v any) []string {
	var out []string
	switch s := v.(type) {
	case []string:
		for _, x := range s {
			out = append(out, scalarJSON(x))
		}
	case []int32:
		for _, x := range s {
			out = append(out, scalarJSON(x))
		}
	case []float32:
		for _, x := range s {
			out = append(out, scalarJSON(x))
		}
	default:
		panic(fmt.Sprintf("arrayJSON of %T", v))
	}
	return out
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprintf("%#v", x) == fmt.Sprintf("%#v", y)
}

// pyJSONList renders a []string or []int32 as Python's json.dumps does by
// with ensure_ascii=False (", " separators, only control characters escaped).
func pyJSONList(v any) string {
	var b strings.Builder
	b.WriteByte('[')
	switch s := v.(type) {
	case []int32:
		for i, x := range s {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(int(x)))
		}
	case []string:
		for i, x := range s {
			if i > 0 {
				b.WriteString(", ")
			}
			pyJSONString(&b, x)
		}
	}
	b.WriteByte(']')
	return b.String()
}

func pyJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// TestOpenDoesNotCopyWeights opens the 14 MB F32 model and checks that the
// heap grows by the metadata only.
func TestOpenDoesNotCopyWeights(t *testing.T) {
	path := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum := touch(f) // read every tensor's first and last byte through the map
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > f.Size()/10 {
		t.Errorf("heap grew by %d bytes opening a %d-byte file (touch sum %d)", grew, f.Size(), sum)
	}
	t.Logf("heap grew by %d bytes for a %d-byte file", grew, f.Size())
}
