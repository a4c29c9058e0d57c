package store

import (
	"strings"
	"testing"
)

func TestParseHubRef(t *testing.T) {
	for _, tc := range []struct {
		in        string
		ok        bool // recognised as a hub reference
		hub       Hub
		repo, sel string // repo "" = rejected
	}{
		{"hf.co/Qwen/Qwen3-0.6B-GGUF", true, HuggingFace, "Qwen/Qwen3-0.6B-GGUF", ""},
		{"hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", true, HuggingFace, "Qwen/Qwen3-0.6B-GGUF", "Q8_0"},
		{"huggingface.co/a/b:x-Q4_K_M.gguf", true, HuggingFace, "a/b", "x-Q4_K_M.gguf"},
		{"https://hf.co/a/b:iq4_xs", true, HuggingFace, "a/b", "iq4_xs"},
		{"modelscope.cn/unsloth/Qwen3-0.6B-GGUF:Q4_K_M", true, ModelScope, "unsloth/Qwen3-0.6B-GGUF", "Q4_K_M"},
		{"www.modelscope.cn/a/b:bf16", true, ModelScope, "a/b", "bf16"},

		{"qwen3:0.6b", false, "", "", ""},
		{"example.com/a/b", false, "", "", ""},
		{"hf.co/a", true, "", "", ""},
		{"hf.co/a/b/c", true, "", "", ""},
		{"hf.co/../b", true, "", "", ""},
		{"hf.co/a/..", true, "", "", ""},
		{"hf.co/a/b..c", true, "", "", ""},
		{"hf.co/a/b:../../x.gguf", true, "", "", ""},
		{"hf.co/a/b:sub/x.gguf", true, "", "", ""},
		{"hf.co/a/b:x.bin", true, "", "", ""},
		{"hf.co/a/b:latest", true, "", "", ""},
		{"hf.co/a/b:x\x00.gguf", true, "", "", ""},
		{"hf.co/a%2f../b", true, "", "", ""},
		{"hf.co//etc/passwd", true, "", "", ""},
		{"hf.co/a/b.", true, "", "", ""},
	} {
		ref, ok, err := parseHubRef(tc.in)
		switch {
		case ok != tc.ok:
			t.Errorf("parseHubRef(%q) ok = %v", tc.in, ok)
		case !ok:
		case tc.repo == "" && err == nil:
			t.Errorf("parseHubRef(%q) = %+v, want an error", tc.in, ref)
		case tc.repo != "" && (err != nil || ref.hub != tc.hub || ref.repo != tc.repo || ref.sel != tc.sel):
			t.Errorf("parseHubRef(%q) = %+v, %v; want %s %s %s", tc.in, ref, err, tc.hub, tc.repo, tc.sel)
		}
	}
}

func TestSelectFile(t *testing.T) {
	files := []hubFile{
		{path: "README.md"},
		{path: "Model-Q4_K_M.gguf"},
		{path: "Model-UD-Q4_K_M.gguf"},
		{path: "model.Q8_0.gguf"},
		{path: "model-q6_k-00001-of-00002.gguf"},
		{path: "mmproj-Q8_0.gguf"},
		{path: "../../evil-Q5_K_M.gguf"},
		{path: "sub/inner-Q5_K_M.gguf"},
	}
	for _, tc := range []struct{ sel, want string }{
		{"", "Model-Q4_K_M.gguf"},
		{"Q4_K_M", "Model-Q4_K_M.gguf"},
		{"q4_k_m", "Model-Q4_K_M.gguf"},
		{"Q8_0", "model.Q8_0.gguf"},
		{"model.q8_0.gguf", "model.Q8_0.gguf"},
		{"Model-UD-Q4_K_M.gguf", "Model-UD-Q4_K_M.gguf"},
		{"Q6_K", ""},   // split files are not single-file GGUFs
		{"Q5_K_M", ""}, // nor are paths outside the top level
		{"F16", ""},
		{"nothere.gguf", ""},
	} {
		f, err := selectFile(files, tc.sel)
		if tc.want == "" {
			if err == nil {
				t.Errorf("selectFile(%q) = %q, want an error", tc.sel, f.path)
			}
			continue
		}
		if err != nil || f.path != tc.want {
			t.Errorf("selectFile(%q) = %q, %v; want %q", tc.sel, f.path, err, tc.want)
		}
	}
	only := []hubFile{{path: "weights.gguf"}}
	if f, err := selectFile(only, ""); err != nil || f.path != "weights.gguf" {
		t.Errorf("the only GGUF is not the default: %q, %v", f.path, err)
	}
}

func TestListingParsers(t *testing.T) {
	sha := strings.Repeat("cd", 32)
	hf, err := parseHFListing([]byte(`[{"type":"directory","path":"Q8_0"},{"type":"file","path":"a.gguf","size":134,"lfs":{"oid":"` + sha + `","size":99}},{"type":"file","path":"README.md","size":12}]`))
	if err != nil || len(hf) != 2 || hf[0].sha.Hex() != sha || hf[0].size != 99 || !hf[1].sha.IsZero() {
		t.Errorf("HF listing = %+v, %v", hf, err)
	}
	ms, err := parseMSListing([]byte(`{"Code":200,"Data":{"Files":[{"Name":"a.gguf","Path":"a.gguf","Size":99,"Sha256":"` + sha + `","Type":"blob"},{"Path":"d","Type":"tree"}]}}`))
	if err != nil || len(ms) != 1 || ms[0].sha.Hex() != sha || ms[0].size != 99 {
		t.Errorf("ModelScope listing = %+v, %v", ms, err)
	}
	if _, err := parseMSListing([]byte(`{"Code":404,"Message":"not found"}`)); err == nil {
		t.Error("ModelScope error code accepted")
	}
}

func TestHubURLs(t *testing.T) {
	e := endpoints{hf: "https://mirror.example", ms: "https://modelscope.cn"}
	for _, tc := range []struct{ got, want string }{
		{e.fileURL(HuggingFace, "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"), "https://mirror.example/Qwen/Qwen3-0.6B-GGUF/resolve/main/Qwen3-0.6B-Q8_0.gguf"},
		{e.fileURL(ModelScope, "Qwen/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q8_0.gguf"), "https://modelscope.cn/models/Qwen/Qwen3-0.6B-GGUF/resolve/master/Qwen3-0.6B-Q8_0.gguf"},
		{e.listURL(HuggingFace, "a/b"), "https://mirror.example/api/models/a/b/tree/main"},
		{e.listURL(ModelScope, "a/b"), "https://modelscope.cn/api/v1/models/a/b/repo/files?Revision=master&Recursive=false"},
	} {
		if tc.got != tc.want {
			t.Errorf("URL = %s\nwant  %s", tc.got, tc.want)
		}
	}
}
