package grammar

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validator compiles schema with an independent JSON Schema implementation
// (formats asserted); nil for the built-in constraints.
func validator(tb testing.TB, schema string) *jsonschema.Schema {
	tb.Helper()
	if schema == "json" || schema == "json-object" {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem:///schema.json", doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("mem:///schema.json")
	if err != nil {
		tb.Fatalf("reference validator cannot compile %s: %v", schema, err)
	}
	return s
}

// checkOutput fails unless out parses with encoding/json and validates.
func checkOutput(tb testing.TB, schema string, v *jsonschema.Schema, out []byte) {
	tb.Helper()
	var x any
	if err := json.Unmarshal(out, &x); err != nil {
		tb.Errorf("output %q does not parse: %v", out, err)
		return
	}
	if schema == "json-object" {
		if _, ok := x.(map[string]any); !ok {
			tb.Errorf("output %q is not an object", out)
		}
	}
	if v == nil {
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		tb.Fatal(err)
	}
	if err := v.Validate(inst); err != nil {
		tb.Errorf("output %q does not validate against %s: %v", out, schema, err)
	}
}

// walkSchemas adds schemas that are realistic requests to the matcher
// table's.
var walkSchemas = []string{
	`{"type": "object", "properties": {"name": {"type": "string", "maxLength": 30}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
		"email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
		"address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
		"required": ["city", "zip"], "additionalProperties": false}}, "required": ["name", "age"], "additionalProperties": false}`,
	`{"type": "object", "properties": {"location": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]},
		"days": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 14}, {"type": "null"}]}}, "required": ["location", "unit", "days"],
		"additionalProperties": false}`,
	`{"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
		"label": {"type": "string", "enum": ["spam", "ham"]}}, "required": ["id", "score", "label"], "additionalProperties": false}, "minItems": 1, "maxItems": 4}`,
	`{"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}, "day": {"type": "string", "format": "date"},
		"at": {"type": "string", "format": "time"}, "id": {"type": "string", "format": "uuid"}, "ip": {"type": "string", "format": "ipv4"}},
		"required": ["when", "day", "at", "id", "ip"], "additionalProperties": false}`,
}

func TestRandomWalks(t *testing.T) {
	if testing.Short() {
		t.Skip("walks the full Qwen vocabulary")
	}
	vocab, _ := qwenVocab(t)
	schemas := walkSchemas
	for _, tc := range matchTests {
		schemas = append(schemas, tc.schema)
	}
	mask := make([]bool, len(vocab))
	var ids []int32
	walks, bytesOut := 0, 0
	for i, schema := range schemas {
		c := constraintFor(t, schema)
		v := validator(t, schema)
		for seed := range uint64(3) {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			out, ok := walk(t, c, vocab, mask, &ids, rng, 3000)
			if !ok {
				t.Errorf("schema %d seed %d: no complete output within the budget: %q…", i, seed, out[:min(len(out), 200)])
				continue
			}
			checkOutput(t, schema, v, out)
			walks++
			bytesOut += len(out)
		}
	}
	t.Logf("%d schemas, %d walks, %d output bytes: all parse and validate", len(schemas), walks, bytesOut)
}

// The constraint knows only bytes: a SentencePiece vocabulary (spaces from
// U+2581, byte-fallback tokens) works the same.
func TestRandomWalksSentencePiece(t *testing.T) {
	if testing.Short() {
		t.Skip("walks the full Llama vocabulary")
	}
	vocab, _ := spmVocab(t)
	mask := make([]bool, len(vocab))
	var ids []int32
	for i, schema := range append([]string{"json"}, walkSchemas...) {
		c := constraintFor(t, schema)
		v := validator(t, schema)
		for seed := range uint64(2) {
			out, ok := walk(t, c, vocab, mask, &ids, rand.New(rand.NewPCG(seed, uint64(100+i))), 3000)
			if !ok {
				t.Errorf("schema %d seed %d: no complete output within the budget: %q…", i, seed, out[:min(len(out), 200)])
				continue
			}
			checkOutput(t, schema, v, out)
		}
	}
}

// walk samples among the allowed tokens (and end of generation when Done)
// until the end or budget tokens. Uniform choice rarely closes a string
// (few tokens hold a quote followed by valid JSON), so one step in five
// chooses only among allowed tokens holding a closing character. It fails
// the test on a dead end: neither Done nor any token allowed.
func walk(tb testing.TB, c *Constraint, vocab [][]byte, mask []bool, ids *[]int32, rng *rand.Rand, budget int) ([]byte, bool) {
	tb.Helper()
	s := c.Start()
	var out []byte
	for range budget {
		s.Allowed(vocab, mask)
		closing := rng.IntN(5) == 0
		*ids = (*ids)[:0]
		for id, ok := range mask {
			if ok && (!closing || bytes.ContainsAny(vocab[id], `"]},`)) {
				*ids = append(*ids, int32(id))
			}
		}
		n := len(*ids)
		if s.Done() {
			n++
		}
		if n == 0 && closing {
			continue
		}
		if n == 0 {
			tb.Fatalf("dead end after %q", out)
		}
		k := rng.IntN(n)
		if k == len(*ids) {
			return out, true
		}
		tok := vocab[(*ids)[k]]
		if err := s.Advance(tok); err != nil {
			tb.Fatalf("after %q: %v", out, err)
		}
		out = append(out, tok...)
	}
	return out, false
}
