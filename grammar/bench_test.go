package grammar

import (
	"strings"
	"testing"
)

// BenchmarkAllowed measures one mask over the full Qwen2 vocabulary (151,936
// tokens). "walk" clears the mask cache first, so every call walks the trie
// (warm transition tables); "cached" repeats a configuration, as token after
// token of a long string does; "cold" compiles a fresh constraint each time,
// so the transition tables are built during the walk.
func BenchmarkAllowed(b *testing.B) {
	vocab, _ := qwenVocab(b)
	person := `{"type": "object", "properties": {"name": {"type": "string", "maxLength": 200}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
		"email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}, "required": ["name", "age"], "additionalProperties": false}`
	cases := []struct {
		name, schema, prefix string
	}{
		{"json/start", "json", ``},
		{"json/string", "json", `{"text": "The quick brown fox`},
		{"json/number", "json", `{"a": [12`},
		{"json/key", "json", `{"a": 1, "`},
		{"schema/bounded-string", person, `{"name": "` + strings.Repeat("x", 50)},
		{"schema/email", person, `{"name": "x", "age": 3, "email": "ab`},
		{"schema/enum", person, `{"name": "x", "age": 3, "tags": [`},
	}
	mask := make([]bool, len(vocab))
	trieFor(vocab) // built once per vocabulary, not per call
	for _, tc := range cases {
		start := func(c *Constraint) *State {
			s := c.Start()
			if tc.prefix != "" {
				if err := s.Advance([]byte(tc.prefix)); err != nil {
					b.Fatal(err)
				}
			}
			return s
		}
		b.Run(tc.name+"/walk", func(b *testing.B) {
			c := constraintFor(b, tc.schema)
			s := start(c)
			s.Allowed(vocab, mask)
			b.ReportAllocs()
			for b.Loop() {
				c.masks = c.masks[:0]
				s.Allowed(vocab, mask)
			}
		})
		b.Run(tc.name+"/cached", func(b *testing.B) {
			c := constraintFor(b, tc.schema)
			s := start(c)
			s.Allowed(vocab, mask)
			b.ReportAllocs()
			for b.Loop() {
				s.Allowed(vocab, mask)
			}
		})
		b.Run(tc.name+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				start(constraintFor(b, tc.schema)).Allowed(vocab, mask)
			}
		})
	}
}

func BenchmarkVocabTrie(b *testing.B) {
	vocab, _ := qwenVocab(b)
	b.ReportAllocs()
	for b.Loop() {
		newVocabTrie(vocab)
	}
}

func BenchmarkFromSchema(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromSchema([]byte(walkSchemas[0])); err != nil {
			b.Fatal(err)
		}
	}
}
