package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
)

// TestNewArchTokenizerCheck: the vocabularies of the qwen3, ernie4_5 (SPM)
// and hunyuan-dense (deepseek-v3 pre-tokenizer) golden models tokenize the
// check texts as llama-tokenize did (BOS per the vocabulary, specials parsed),
// reading the tokenizer through FromGGUF.
func TestNewArchTokenizerCheck(t *testing.T) {
	var check struct {
		Results map[string][]struct {
			Text string  `json:"text"`
			IDs  []int32 `json:"ids"`
		} `json:"results"`
	}
	data, err := os.ReadFile(golden.Path(t, "newarch/tokenizer_check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &check); err != nil {
		t.Fatal(err)
	}
	if len(check.Results) != 3 {
		t.Fatalf("%d vocabularies in the check file, want 3", len(check.Results))
	}
	for kind, cases := range check.Results {
		t.Run(kind, func(t *testing.T) {
			f, err := gguf.Open(golden.Path(t, "newarch/"+kind+"/"+kind+"-q8_0.gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tok, err := FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				if got := tok.Encode(c.Text, true, true); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
				}
			}
		})
	}
}
