package store

import (
	"fmt"
	"slices"
	"strings"

	"zhiyan/model"
)

// Entry is one model of the built-in catalogue at one size.
type Entry struct {
	Name   string  // short name, "qwen3:0.6b"
	Title  string  // "Qwen3 0.6B"
	Arch   string  // the GGUF's general.architecture
	Quants []Quant // the first is the default (q4_k_m)
}

// Quant is one downloadable file of an entry.
type Quant struct {
	Tag string // "q4_k_m", "q8_0"
	HF  string // Hugging Face repository; "" when none was confirmed
	MS  string // ModelScope repository; "" when none was confirmed
	// File is the same on both hubs (ModelScope mirrors the HF repository).
	File string
	// Size is the hub's listed size in bytes, for display and the disk
	// check before asking the hub; 0 when unknown. The hub's answer rules.
	Size int64
	// SHA256 is pinned only where independent public sources agree on it.
	// "" means unknown: the download is then checked against the sha256
	// the hub publishes (HF's X-Linked-Etag, ModelScope's file listing).
	SHA256 string
}

// DefaultQuant is the quantization a short name without one means.
const DefaultQuant = "q4_k_m"

// Repository and file names below were confirmed against public model cards,
// hub listings and download scripts that name them (2026); sizes are the
// hubs' listings as quoted there.
var catalog = []Entry{
	{Name: "qwen2.5:0.5b", Title: "Qwen2.5 0.5B Instruct", Arch: "qwen2", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", MS: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", File: "qwen2.5-0.5b-instruct-q4_k_m.gguf", Size: 491400032},
		{Tag: "q8_0", HF: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", MS: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", File: "qwen2.5-0.5b-instruct-q8_0.gguf", Size: 675710816},
	}},
	{Name: "qwen2.5:1.5b", Title: "Qwen2.5 1.5B Instruct", Arch: "qwen2", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", MS: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", File: "qwen2.5-1.5b-instruct-q4_k_m.gguf", Size: 1117320736},
		{Tag: "q8_0", HF: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", MS: "Qwen/Qwen2.5-1.5B-Instruct-GGUF", File: "qwen2.5-1.5b-instruct-q8_0.gguf"},
	}},
	{Name: "qwen2.5:3b", Title: "Qwen2.5 3B Instruct", Arch: "qwen2", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen2.5-3B-Instruct-GGUF", MS: "Qwen/Qwen2.5-3B-Instruct-GGUF", File: "qwen2.5-3b-instruct-q4_k_m.gguf"},
		{Tag: "q8_0", HF: "Qwen/Qwen2.5-3B-Instruct-GGUF", MS: "Qwen/Qwen2.5-3B-Instruct-GGUF", File: "qwen2.5-3b-instruct-q8_0.gguf"},
	}},
	// Qwen's own 7B GGUFs are split in two files; bartowski's are one.
	{Name: "qwen2.5:7b", Title: "Qwen2.5 7B Instruct", Arch: "qwen2", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/Qwen2.5-7B-Instruct-GGUF", MS: "bartowski/Qwen2.5-7B-Instruct-GGUF", File: "Qwen2.5-7B-Instruct-Q4_K_M.gguf", Size: 4683074240},
	}},
	// Qwen publishes only Q8_0 for the two smallest Qwen3; unsloth's
	// repositories carry the other quantizations.
	{Name: "qwen3:0.6b", Title: "Qwen3 0.6B", Arch: "qwen3", Quants: []Quant{
		{Tag: "q4_k_m", HF: "unsloth/Qwen3-0.6B-GGUF", MS: "unsloth/Qwen3-0.6B-GGUF", File: "Qwen3-0.6B-Q4_K_M.gguf"},
		{Tag: "q8_0", HF: "Qwen/Qwen3-0.6B-GGUF", MS: "Qwen/Qwen3-0.6B-GGUF", File: "Qwen3-0.6B-Q8_0.gguf", Size: 639446688,
			SHA256: "9465e63a22add5354d9bb4b99e90117043c7124007664907259bd16d043bb031"},
	}},
	{Name: "qwen3:1.7b", Title: "Qwen3 1.7B", Arch: "qwen3", Quants: []Quant{
		{Tag: "q4_k_m", HF: "unsloth/Qwen3-1.7B-GGUF", MS: "unsloth/Qwen3-1.7B-GGUF", File: "Qwen3-1.7B-Q4_K_M.gguf"},
		{Tag: "q8_0", HF: "Qwen/Qwen3-1.7B-GGUF", MS: "Qwen/Qwen3-1.7B-GGUF", File: "Qwen3-1.7B-Q8_0.gguf", Size: 1834426016},
	}},
	{Name: "qwen3:4b", Title: "Qwen3 4B", Arch: "qwen3", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen3-4B-GGUF", MS: "Qwen/Qwen3-4B-GGUF", File: "Qwen3-4B-Q4_K_M.gguf", Size: 2497280256},
		{Tag: "q8_0", HF: "Qwen/Qwen3-4B-GGUF", MS: "Qwen/Qwen3-4B-GGUF", File: "Qwen3-4B-Q8_0.gguf"},
	}},
	{Name: "qwen3:8b", Title: "Qwen3 8B", Arch: "qwen3", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen3-8B-GGUF", MS: "Qwen/Qwen3-8B-GGUF", File: "Qwen3-8B-Q4_K_M.gguf", Size: 5027783488},
		{Tag: "q8_0", HF: "Qwen/Qwen3-8B-GGUF", MS: "Qwen/Qwen3-8B-GGUF", File: "Qwen3-8B-Q8_0.gguf"},
	}},
	// ERNIE 4.5 0.3B is a base (pre-trained, "-PT") model.
	{Name: "ernie4.5:0.3b", Title: "ERNIE 4.5 0.3B", Arch: "ernie4_5", Quants: []Quant{
		{Tag: "q4_k_m", HF: "unsloth/ERNIE-4.5-0.3B-PT-GGUF", MS: "unsloth/ERNIE-4.5-0.3B-PT-GGUF", File: "ERNIE-4.5-0.3B-PT-Q4_K_M.gguf", Size: 240645600},
		{Tag: "q8_0", HF: "bartowski/baidu_ERNIE-4.5-0.3B-PT-GGUF", File: "baidu_ERNIE-4.5-0.3B-PT-Q8_0.gguf"},
	}},
	{Name: "hunyuan:0.5b", Title: "Hunyuan 0.5B Instruct", Arch: "hunyuan-dense", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/tencent_Hunyuan-0.5B-Instruct-GGUF", MS: "bartowski/tencent_Hunyuan-0.5B-Instruct-GGUF", File: "tencent_Hunyuan-0.5B-Instruct-Q4_K_M.gguf", Size: 354970464},
	}},
	{Name: "hunyuan:1.8b", Title: "Hunyuan 1.8B Instruct", Arch: "hunyuan-dense", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/tencent_Hunyuan-1.8B-Instruct-GGUF", MS: "bartowski/tencent_Hunyuan-1.8B-Instruct-GGUF", File: "tencent_Hunyuan-1.8B-Instruct-Q4_K_M.gguf", Size: 1133084864},
	}},
	{Name: "hunyuan:4b", Title: "Hunyuan 4B Instruct", Arch: "hunyuan-dense", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/tencent_Hunyuan-4B-Instruct-GGUF", MS: "bartowski/tencent_Hunyuan-4B-Instruct-GGUF", File: "tencent_Hunyuan-4B-Instruct-Q4_K_M.gguf", Size: 2607709696},
	}},
	{Name: "hunyuan:7b", Title: "Hunyuan 7B Instruct", Arch: "hunyuan-dense", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/tencent_Hunyuan-7B-Instruct-GGUF", MS: "bartowski/tencent_Hunyuan-7B-Instruct-GGUF", File: "tencent_Hunyuan-7B-Instruct-Q4_K_M.gguf", Size: 4621992960},
	}},
	{Name: "llama3.2:1b", Title: "Llama 3.2 1B Instruct", Arch: "llama", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/Llama-3.2-1B-Instruct-GGUF", MS: "bartowski/Llama-3.2-1B-Instruct-GGUF", File: "Llama-3.2-1B-Instruct-Q4_K_M.gguf", Size: 807694464},
		{Tag: "q8_0", HF: "bartowski/Llama-3.2-1B-Instruct-GGUF", File: "Llama-3.2-1B-Instruct-Q8_0.gguf"},
	}},
	{Name: "llama3.2:3b", Title: "Llama 3.2 3B Instruct", Arch: "llama", Quants: []Quant{
		{Tag: "q4_k_m", HF: "bartowski/Llama-3.2-3B-Instruct-GGUF", MS: "bartowski/Llama-3.2-3B-Instruct-GGUF", File: "Llama-3.2-3B-Instruct-Q4_K_M.gguf", Size: 2019377696},
		{Tag: "q8_0", HF: "bartowski/Llama-3.2-3B-Instruct-GGUF", File: "Llama-3.2-3B-Instruct-Q8_0.gguf"},
	}},

	// Mixtures of experts: listed so that their names are known, refused
	// until the engine runs their architectures.
	{Name: "qwen3:30b-a3b", Title: "Qwen3 30B-A3B", Arch: "qwen3moe", Quants: []Quant{
		{Tag: "q4_k_m", HF: "Qwen/Qwen3-30B-A3B-GGUF", MS: "Qwen/Qwen3-30B-A3B-GGUF", File: "Qwen3-30B-A3B-Q4_K_M.gguf", Size: 18556685824},
	}},
	{Name: "ernie4.5:21b-a3b", Title: "ERNIE 4.5 21B-A3B", Arch: "ernie4_5-moe", Quants: []Quant{
		{Tag: "q4_k_m", HF: "unsloth/ERNIE-4.5-21B-A3B-PT-GGUF", MS: "unsloth/ERNIE-4.5-21B-A3B-PT-GGUF", File: "ERNIE-4.5-21B-A3B-PT-Q4_K_M.gguf", Size: 13331015456},
	}},
}

// Catalog returns the built-in catalogue.
func Catalog() []Entry { return slices.Clone(catalog) }

// Runs reports whether the engine runs this entry's architecture.
func (e *Entry) Runs() bool { return slices.Contains(model.Supported(), e.Arch) }

// Quant returns the file for a quantization tag ("" = the default).
func (e *Entry) Quant(tag string) (Quant, bool) {
	if tag == "" {
		tag = DefaultQuant
	}
	for _, q := range e.Quants {
		if q.Tag == tag {
			return q, true
		}
	}
	return Quant{}, false
}

func (e *Entry) tags() []string {
	var tags []string
	for _, q := range e.Quants {
		tags = append(tags, q.Tag)
	}
	return tags
}

// lookupCatalog finds a catalogue entry and quantization for a short name:
// "qwen3:0.6b", "qwen3:0.6b-q8_0" or "qwen3:0.6b:q8_0" (any case). ok is
// false when the family and size are not in the catalogue; err reports a
// known model with an unknown quantization.
func lookupCatalog(s string) (e *Entry, q Quant, ok bool, err error) {
	s = strings.ToLower(s)
	name, quant := s, ""
	if i := strings.Index(s, ":"); i >= 0 {
		if j := strings.Index(s[i+1:], ":"); j >= 0 {
			name, quant = s[:i+1+j], s[i+2+j:]
		}
	}
	c := findEntry(name)
	if c == nil && quant == "" {
		// "qwen3:0.6b-q8_0": the longest entry name that prefixes it.
		for i := range catalog {
			n := catalog[i].Name
			if strings.HasPrefix(name, n+"-") && (c == nil || len(n) > len(c.Name)) {
				c = &catalog[i]
			}
		}
		if c != nil {
			quant = name[len(c.Name)+1:]
		}
	}
	if c != nil {
		q, found := c.Quant(quant)
		if !found {
			return c, Quant{}, true, fmt.Errorf("%s has no quantization %q (it has %s)", c.Name, quant, strings.Join(c.tags(), ", "))
		}
		return c, q, true, nil
	}
	return nil, Quant{}, false, nil
}

func findEntry(name string) *Entry {
	for i := range catalog {
		if catalog[i].Name == name {
			return &catalog[i]
		}
	}
	return nil
}

// storeName is the name a catalogue file is kept under: the short name for
// the default quantization, "<short>-<quant>" for the others.
func (e *Entry) storeName(q Quant) string {
	if q.Tag == DefaultQuant {
		return e.Name
	}
	return e.Name + "-" + q.Tag
}

// canonicalName parses a name as the store keeps it: catalogue aliases
// ("qwen3:0.6b:q8_0", "qwen3:0.6b-q4_k_m") and hub host spellings
// ("huggingface.co/…") are folded to one form.
func canonicalName(s string) (Name, error) {
	if e, q, ok, err := lookupCatalog(s); ok {
		if err != nil {
			return Name{}, err
		}
		return ParseName(e.storeName(q))
	}
	if ref, ok, err := parseHubRef(s); ok {
		if err != nil {
			return Name{}, err
		}
		return ref.storeName(), nil
	}
	return ParseName(s)
}

// familyHint lists the catalogue's sizes of a family, for "qwen3" alone.
func familyHint(s string) string {
	family, _, _ := strings.Cut(strings.ToLower(s), ":")
	var names []string
	for _, c := range catalog {
		if f, _, _ := strings.Cut(c.Name, ":"); f == family {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s comes in sizes: %s", family, strings.Join(names, ", "))
}
