package store

import (
	"strings"
	"testing"
)

func TestCatalogEntries(t *testing.T) {
	runs := map[string]bool{}
	names := map[string]bool{}
	for _, e := range Catalog() {
		if names[e.Name] {
			t.Errorf("%s listed twice", e.Name)
		}
		names[e.Name] = true
		n, err := ParseName(e.Name)
		if err != nil || n.String() != e.Name {
			t.Errorf("%s: not a canonical store name (%v)", e.Name, err)
		}
		if len(e.Quants) == 0 || e.Quants[0].Tag != DefaultQuant {
			t.Errorf("%s: the first quantization must be %s", e.Name, DefaultQuant)
		}
		for _, q := range e.Quants {
			if !quantRE.MatchString(q.Tag) || q.Tag != strings.ToLower(q.Tag) {
				t.Errorf("%s: bad tag %q", e.Name, q.Tag)
			}
			if q.HF == "" && q.MS == "" {
				t.Errorf("%s:%s: on no hub", e.Name, q.Tag)
			}
			for _, r := range []string{q.HF, q.MS} {
				if r != "" && !repoRE.MatchString(r) {
					t.Errorf("%s:%s: bad repository %q", e.Name, q.Tag, r)
				}
			}
			if !fileRE.MatchString(q.File) || !strings.Contains(strings.ToLower(q.File), q.Tag) {
				t.Errorf("%s:%s: file %q is not a %s GGUF", e.Name, q.Tag, q.File, q.Tag)
			}
			if q.SHA256 != "" && digestFromHex(q.SHA256).Hex() != q.SHA256 {
				t.Errorf("%s:%s: sha256 %q is not 64 lower-case hex digits", e.Name, q.Tag, q.SHA256)
			}
			if _, err := ParseName(e.storeName(q)); err != nil {
				t.Errorf("%s:%s: store name: %v", e.Name, q.Tag, err)
			}
		}
		runs[e.Arch] = runs[e.Arch] || e.Runs()
		if e.Runs() != !strings.Contains(e.Arch, "moe") {
			t.Errorf("%s (%s): Runs() = %v", e.Name, e.Arch, e.Runs())
		}
	}
	// The models are all there.
	for _, want := range []string{"qwen2.5:0.5b", "qwen2.5:1.5b", "qwen2.5:3b", "qwen2.5:7b", "qwen3:0.6b", "qwen3:1.7b",
		"qwen3:4b", "qwen3:8b", "ernie4.5:0.3b", "hunyuan:0.5b", "hunyuan:1.8b", "hunyuan:4b", "hunyuan:7b", "llama3.2:1b", "llama3.2:3b"} {
		if !names[want] {
			t.Errorf("catalogue lacks %s", want)
		}
	}
	for _, arch := range []string{"llama", "qwen2", "qwen3", "ernie4_5", "hunyuan-dense"} {
		if !runs[arch] {
			t.Errorf("no runnable %s entry", arch)
		}
	}
}

func TestLookupCatalog(t *testing.T) {
	for _, tc := range []struct {
		in, entry, quant string // entry "" = not a catalogue name
		err              bool
	}{
		{"qwen3:0.6b", "qwen3:0.6b", "q4_k_m", false},
		{"Qwen3:0.6B", "qwen3:0.6b", "q4_k_m", false},
		{"qwen3:0.6b-q8_0", "qwen3:0.6b", "q8_0", false},
		{"qwen3:0.6b:q8_0", "qwen3:0.6b", "q8_0", false},
		{"qwen3:0.6b:Q8_0", "qwen3:0.6b", "q8_0", false},
		{"qwen3:0.6b-q4_k_m", "qwen3:0.6b", "q4_k_m", false},
		{"qwen3:30b-a3b", "qwen3:30b-a3b", "q4_k_m", false},
		{"qwen3:0.6b-q2_k", "qwen3:0.6b", "", true},
		{"qwen3:0.6b:nope", "qwen3:0.6b", "", true},
		{"qwen3", "", "", false},
		{"qwen3:0.6", "", "", false},
		{"hf.co/a/b", "", "", false},
	} {
		e, q, ok, err := lookupCatalog(tc.in)
		switch {
		case ok != (tc.entry != ""):
			t.Errorf("lookupCatalog(%q) ok = %v", tc.in, ok)
		case !ok:
		case e.Name != tc.entry || (err != nil) != tc.err || !tc.err && q.Tag != tc.quant:
			t.Errorf("lookupCatalog(%q) = %s %s %v, want %s %s err %v", tc.in, e.Name, q.Tag, err, tc.entry, tc.quant, tc.err)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"qwen3:0.6b":                        "qwen3:0.6b",
		"qwen3:0.6b:q4_k_m":                 "qwen3:0.6b",
		"qwen3:0.6b-Q4_K_M":                 "qwen3:0.6b",
		"qwen3:0.6b:q8_0":                   "qwen3:0.6b-q8_0",
		"huggingface.co/Qwen/Qwen3-8B-GGUF": "hf.co/qwen/qwen3-8b-gguf:latest",
		"hf.co/Qwen/Qwen3-8B-GGUF:Q8_0":     "hf.co/qwen/qwen3-8b-gguf:q8_0",
		"www.modelscope.cn/a/b:x.gguf":      "modelscope.cn/a/b:x.gguf",
		"mine":                              "mine:latest",
	} {
		n, err := canonicalName(in)
		if err != nil || n.String() != want {
			t.Errorf("canonicalName(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
}
