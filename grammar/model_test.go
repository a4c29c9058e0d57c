package grammar

import (
	"math"
	"testing"

	"zhiyan/gguf"
	"zhiyan/internal/golden"
	"zhiyan/model"
	"zhiyan/sample"
	"zhiyan/tokenizer"
)

// The golden qwen2-mini model (random weights, so close to uniform over the
// allowed tokens) samples at temperature 1 under the mask; every output must
// validate. The schemas bound every string, number and array, so outputs
// end within the budget.
func TestGoldenModelSampling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	// The model and tokenizer without package engine, which imports this one.
	f, err := gguf.Open(golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.Vocab
	vocab := Vocab(tok.VocabSize(), tok.Piece, func(id int32) bool { return tok.IsControl(id) || tok.IsEOG(id) })
	eos := tok.EOS()
	if !tok.IsEOG(eos) || int(eos) >= V {
		t.Fatalf("EOS %d is not an end-of-generation token of the model", eos)
	}
	schemas := []string{
		`{"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120},
			"pet": {"enum": ["cat", "dog", null]}, "score": {"type": "number", "minimum": 0, "maximum": 1}},
			"required": ["name", "age", "pet"], "additionalProperties": false}`,
		`{"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[A-Z][0-9]{2}$"},
			"ok": {"type": "boolean"}}, "required": ["id", "ok"], "additionalProperties": false}, "minItems": 1, "maxItems": 3}`,
		`{"anyOf": [{"type": "string", "format": "date"}, {"type": "integer", "exclusiveMinimum": 0, "maximum": 9}, {"const": {"a": [1, 2]}}]}`,
		`{"$defs": {"leaf": {"type": "string", "maxLength": 4}}, "type": "object", "properties": {"t": {"type": "array",
			"prefixItems": [{"$ref": "#/$defs/leaf"}, {"type": "integer", "minimum": -5, "maximum": 5}], "items": false, "minItems": 2}},
			"required": ["t"], "additionalProperties": false}`,
	}
	prompt := tok.Encode("Answer in JSON:", true, false)
	logits := make([]float32, V)
	masked := make([]float32, V)
	mask := make([]bool, V)
	for i, schema := range schemas {
		c := constraintFor(t, schema)
		v := validator(t, schema)
		for seed := range uint64(3) {
			st := m.NewState(model.Options{Context: 1024})
			if err := st.Forward(prompt, logits); err != nil {
				t.Fatal(err)
			}
			p := sample.DefaultParams()
			p.Temperature, p.TopK, p.TopP, p.MinP, p.Seed = 1, 0, 1, 0, seed+1
			sampler := sample.New(p, V)
			s := c.Start()
			var out []byte
			for {
				if len(out) > 2000 || st.Pos() >= st.Context()-1 {
					t.Fatalf("schema %d seed %d: no end after %q", i, seed, out)
				}
				s.Allowed(vocab, mask)
				for id := range masked {
					masked[id] = float32(math.Inf(-1))
					if mask[id] {
						masked[id] = logits[id]
					}
				}
				if s.Done() {
					masked[eos] = logits[eos]
				}
				id := sampler.Sample(masked, nil)
				if id == eos {
					break
				}
				if !mask[id] {
					t.Fatalf("schema %d seed %d: sampled token %d %q outside the mask after %q", i, seed, id, vocab[id], out)
				}
				if err := s.Advance(vocab[id]); err != nil {
					t.Fatal(err)
				}
				out = append(out, vocab[id]...)
				if err := st.Forward([]int32{id}, logits); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			if !s.Done() {
				t.Errorf("schema %d seed %d: ended before a complete value: %q", i, seed, out)
				continue
			}
			checkOutput(t, schema, v, out)
			t.Logf("schema %d seed %d: %s", i, seed, out)
		}
	}
}
