package grammar

import (
	"strings"
	"testing"
)

// constraintFor compiles a test schema; "json" and "json-object" name the
// built-in constraints.
func constraintFor(tb testing.TB, schema string) *Constraint {
	tb.Helper()
	switch schema {
	case "json":
		return JSON()
	case "json-object":
		return JSONObject()
	}
	c, err := FromSchema([]byte(schema))
	if err != nil {
		tb.Fatalf("FromSchema(%s): %v", schema, err)
	}
	return c
}

// Each case lists complete outputs, valid but unfinished prefixes, and
// inputs that are no prefix of any allowed output.
var matchTests = []struct {
	name   string
	schema string
	done   []string
	prefix []string
	bad    []string
}{
	{
		name:   "any JSON",
		schema: "json",
		done: []string{`{}`, `[]`, `""`, `0`, `-0`, `12.5e+3`, `true`, `false`, `null`,
			`{"a": [1, {"b": null}], "c": "x"}`, "[\n  1,\n  2\n]", `"\u00e9\ud83d\ude00\n\"\\\/"`,
			`"é中文😀"`, `1234567890123456`, `0.1234567890123456`, `1e99`},
		prefix: []string{``, `{`, `{"a"`, `{"a":`, `[1,`, `"abc`, `"\u00`, `"\ud83d`, `tr`, `-`, `1.`, `1e`, "\"\xe4\xb8", "[\n" + strings.Repeat(" ", 32)},
		bad: []string{` {}`, `{} `, `{,}`, `[1,]`, `01`, `1.e3`, `.5`, `+1`, `nul1`, `{"a" 1}`, `{'a': 1}`,
			"\"\x01\"", `"\x"`, `"\ud83d\u0041"`, `"\udc00"`, "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xff\"",
			`12345678901234567`, `0.12345678901234567`, `1e100`, "[\n" + strings.Repeat(" ", 33), "[  1]", "[\n\n1]", `{"a":1}}`},
	},
	{
		name:   "any object",
		schema: "json-object",
		done:   []string{`{}`, `{"a": 1}`, `{"a": {"b": []}}`},
		prefix: []string{`{`, `{"a": 1`},
		bad:    []string{`[]`, `"x"`, `1`, `null`},
	},
	{
		name: "object with required and optional properties",
		schema: `{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
			"ok": {"type": "boolean"}}, "required": ["name"], "additionalProperties": false}`,
		done:   []string{`{"name":"a"}`, `{"name": "a", "age": 3}`, `{"name":"a","ok":true}`, `{"name":"a","age":-1,"ok":false}`, "{\n  \"name\": \"a\"\n}"},
		prefix: []string{`{`, `{"name":"a"`, `{"name":"a",`, `{"name":"a","a`},
		bad:    []string{`{}`, `{"age":3}`, `{"age":3,"name":"a"}`, `{"name":"a","extra":1}`, `{"name":1}`, `{"name":"a","age":1.5}`, `{"name":"a",}`, `{"name":"a","name":"b"}`},
	},
	{
		name:   "properties without additionalProperties generate only declared ones",
		schema: `{"type": "object", "properties": {"a": {"type": "null"}}}`,
		done:   []string{`{}`, `{"a":null}`},
		bad:    []string{`{"b":1}`},
	},
	{
		name:   "additionalProperties true after declared ones",
		schema: `{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": true}`,
		done:   []string{`{"a":1}`, `{"a":1,"b":"x"}`, `{"a":1,"ab":[],"b":{}}`},
		prefix: []string{`{"a":1,"a`, `{"a":1,"\u`},
		bad:    []string{`{"a":1,"a":2}`, `{"b":1,"a":1}`},
	},
	{
		name:   "map of integers",
		schema: `{"type": "object", "additionalProperties": {"type": "integer"}}`,
		done:   []string{`{}`, `{"x":1,"y":-2}`},
		bad:    []string{`{"x":"1"}`, `{"x":1.5}`},
	},
	{
		name:   "required property not declared",
		schema: `{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["b"]}`,
		done:   []string{`{"b":"anything"}`, `{"a":1,"b":[1]}`},
		bad:    []string{`{"a":1}`, `{"b":1,"a":1}`},
	},
	{
		name:   "array bounds",
		schema: `{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}`,
		done:   []string{`[1,2]`, `[1, 2, 3]`, "[\n  1,\n  2\n]"},
		prefix: []string{`[`, `[1`, `[1,`, `[1,2,3`},
		bad:    []string{`[]`, `[1]`, `[1,2,3,4]`, `[1,"a"]`, `[1,2,]`},
	},
	{
		name:   "unbounded array",
		schema: `{"type": "array", "items": {"type": "string"}}`,
		done:   []string{`[]`, `["a"]`, `["a","b","c","d","e","f"]`},
		bad:    []string{`[1]`, `["a",]`},
	},
	{
		name:   "tuple",
		schema: `{"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}`,
		done:   []string{`[]`, `["a"]`, `["a",1]`},
		bad:    []string{`[1]`, `["a",1,2]`, `["a","b"]`},
	},
	{
		name:   "tuple with required length and rest",
		schema: `{"type": "array", "prefixItems": [{"const": 1}], "items": {"type": "boolean"}, "minItems": 2}`,
		done:   []string{`[1,true]`, `[1,false,true,true]`},
		bad:    []string{`[1]`, `[true,true]`, `[1,1]`},
	},
	{
		name:   "draft-7 items array and additionalItems",
		schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "null"}], "additionalItems": {"type": "integer"}}`,
		done:   []string{`[]`, `[null]`, `[null,1,2]`},
		bad:    []string{`[1]`, `[null,null]`},
	},
	{
		name:   "string enum",
		schema: `{"enum": ["red", "green", "blue"]}`,
		done:   []string{`"red"`, `"green"`, `"blue"`},
		prefix: []string{`"`, `"gr`},
		bad:    []string{`"yellow"`, `"re"`, `red`, `"red" `},
	},
	{
		name:   "enum of any JSON values",
		schema: `{"enum": [1, "two", null, true, {"x": [1, 2]}, [3], 1.50]}`,
		done:   []string{`1`, `"two"`, `null`, `true`, `{"x":[1,2]}`, `[3]`, `1.50`},
		prefix: []string{`1.5`, `{"x":[1,`},
		bad:    []string{`2`, `false`, `{"x": [1, 2]}`, `1.6`},
	},
	{
		name:   "const",
		schema: `{"const": "a\"b\n\u00e9<"}`,
		done:   []string{`"a\"b\né<"`},
		bad:    []string{`"a\"b\n\u00e9<"`, `"a\u0022b\né<"`},
	},
	{
		name:   "enum filtered by type and length",
		schema: `{"type": "string", "maxLength": 2, "enum": ["a", 1, "abc", "bc"]}`,
		done:   []string{`"a"`, `"bc"`},
		bad:    []string{`1`, `"abc"`},
	},
	{
		name:   "type list",
		schema: `{"type": ["string", "integer", "null"]}`,
		done:   []string{`"x"`, `12`, `null`},
		bad:    []string{`1.5`, `true`, `[]`},
	},
	{
		name:   "anyOf",
		schema: `{"anyOf": [{"type": "string", "maxLength": 1}, {"type": "string", "minLength": 3}]}`,
		done:   []string{`""`, `"a"`, `"abc"`, `"abcdef"`},
		prefix: []string{`"ab`},
		bad:    []string{`"ab"`},
	},
	{
		name: "oneOf with a discriminator",
		schema: `{"oneOf": [
			{"type": "object", "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}}, "required": ["kind", "lives"]},
			{"type": "object", "properties": {"kind": {"const": "dog"}, "good": {"type": "boolean"}}, "required": ["kind"]}]}`,
		done: []string{`{"kind":"cat","lives":9}`, `{"kind":"dog"}`, `{"kind":"dog","good":true}`},
		bad:  []string{`{"kind":"cat"}`, `{"kind":"dog","lives":1}`},
	},
	{
		name: "recursive $ref",
		schema: `{"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
			"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"], "additionalProperties": false}},
			"$ref": "#/$defs/node"}`,
		done: []string{`{"v":1}`, `{"v":1,"kids":[]}`, `{"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]}`},
		bad:  []string{`{"v":1,"kids":[{}]}`, `{"kids":[]}`},
	},
	{
		name:   "definitions and allOf wrapper",
		schema: `{"definitions": {"a~b/c": {"type": "boolean"}}, "allOf": [{"$ref": "#/definitions/a~0b~1c"}], "description": "x"}`,
		done:   []string{`true`, `false`},
		bad:    []string{`null`},
	},
	{
		name:   "anchored pattern",
		schema: `{"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"}`,
		done:   []string{`"AB-123"`},
		prefix: []string{`"AB-1`},
		bad:    []string{`"ab-123"`, `"AB-1234"`, `"AB-12"`},
	},
	{
		name:   "unanchored pattern searches",
		schema: `{"type": "string", "pattern": "ab+c", "maxLength": 12}`,
		done:   []string{`"abc"`, `"xxabbbcyy"`, `"abc\u0000"`},
		prefix: []string{`"xxab`},
		bad:    []string{`"ac"`, `"xab"`},
	},
	{
		name:   "pattern with escapes needed",
		schema: `{"type": "string", "pattern": "^a\"\\\\\\n$"}`,
		done:   []string{`"a\"\\\n"`},
		bad:    []string{`"a\u0022\\\n"`},
	},
	{
		name:   "pattern with non-ASCII class",
		schema: `{"type": "string", "pattern": "^\\p{Han}{1,2}$"}`,
		done:   []string{`"中"`, `"中文"`},
		bad:    []string{`"a"`, `"中文字"`, `"\u4e2d"`},
	},
	{
		name:   "case-insensitive pattern",
		schema: `{"type": "string", "pattern": "^(?i)ok$"}`,
		done:   []string{`"ok"`, `"OK"`, `"oK"`},
		bad:    []string{`"o"`},
	},
	{
		name:   "dot excludes line terminators",
		schema: `{"type": "string", "pattern": "^.$"}`,
		done:   []string{`"a"`, `"\t"`, `"é"`},
		bad:    []string{`"\n"`, `"\r"`, "\"\u2028\""},
	},
	{
		name:   "length counts characters",
		schema: `{"type": "string", "minLength": 2, "maxLength": 3}`,
		done:   []string{`"ab"`, `"abc"`, `"中文"`, `"\n\ud83d\ude00"`, `"\u00e9\u00e9\u00e9"`},
		bad:    []string{`"a"`, `"abcd"`, `"\ud83d\ude00"`, `"中文字符"`},
	},
	{
		name:   "formats",
		schema: `{"type": "array", "prefixItems": [{"format": "date"}, {"format": "date-time"}, {"format": "uuid"}, {"format": "ipv4"}, {"type": "string", "format": "x-unknown"}], "items": false}`,
		done: []string{`["2024-01-31","2024-12-30T23:59:59.5+08:00","123e4567-e89b-12d3-a456-426614174000","192.168.0.1","not checked"]`,
			`["2024-02-28"]`},
		bad: []string{`["2024-02-30"]`, `["2024-13-01"]`, `["2024-04-31"]`, `["x","2024-01-01 00:00:00Z"]`, `["2024-01-01","2024-01-01T24:00:00Z"]`,
			`["2024-01-01","2024-01-01T00:00:00Z","123E4567-e89b-12d3-a456-426614174000"]`, `["2024-01-01","2024-01-01T00:00:00Z","123e4567-e89b-12d3-a456-426614174000","256.1.1.1"]`},
	},
	{
		name:   "email and hostname formats",
		schema: `{"type": "array", "prefixItems": [{"format": "email"}, {"format": "hostname"}], "items": false}`,
		done:   []string{`["a.b+c@mail.example.com","x-1.example"]`, `["A_1@a.io"]`},
		bad:    []string{`["a..b@x.io"]`, `[".a@x.io"]`, `["a@-x.io"]`, `["a@x"]`, `["a@x.io","-x"]`, `["a b@x.io"]`},
	},
	{
		name:   "integer range",
		schema: `{"type": "integer", "minimum": -15, "exclusiveMaximum": 120}`,
		done:   []string{`-15`, `-9`, `-1`, `0`, `1`, `7`, `11`, `99`, `100`, `119`},
		prefix: []string{`-`},
		bad:    []string{`-16`, `-20`, `120`, `200`, `1000`, `-0`, `05`, `1.0`},
	},
	{
		name:   "integer with fractional bounds",
		schema: `{"type": "integer", "minimum": 2.5, "maximum": 1e1}`,
		done:   []string{`3`, `10`},
		bad:    []string{`2`, `11`},
	},
	{
		name:   "number range",
		schema: `{"type": "number", "minimum": -1.5, "exclusiveMaximum": 2.25}`,
		done:   []string{`-1.5`, `-1.50`, `-1.4999`, `-1`, `-0.5`, `0`, `0.0`, `1.99`, `2`, `2.2`, `2.24999`},
		prefix: []string{`-`, `-0`, `-1.`, `2.`},
		bad:    []string{`-1.51`, `-2`, `2.25`, `2.250`, `2.3`, `3`, `1e0`},
	},
	{
		name:   "positive number",
		schema: `{"type": "number", "exclusiveMinimum": 0}`,
		done:   []string{`0.001`, `1`, `12.5`},
		prefix: []string{`0`, `0.`, `0.0`},
		bad:    []string{`-1`, `0.0"`, `-0.5`},
	},
	{
		name:   "draft-4 boolean exclusiveMaximum",
		schema: `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer", "maximum": 3, "exclusiveMaximum": true, "minimum": 0}`,
		done:   []string{`0`, `2`},
		bad:    []string{`3`},
	},
	{
		name:   "inferred type from keywords",
		schema: `{"properties": {"a": {"maxLength": 1}}, "required": ["a"]}`,
		done:   []string{`{"a":"x"}`},
		bad:    []string{`"x"`, `{"a":1}`},
	},
	{
		name:   "true schema and empty schema",
		schema: `{"type": "array", "prefixItems": [true, {}], "items": false}`,
		done:   []string{`[1,{"a":[]}]`, `[null]`},
	},
	{
		name:   "false property",
		schema: `{"type": "object", "properties": {"a": false, "b": {"type": "null"}}}`,
		done:   []string{`{"b":null}`, `{}`},
		bad:    []string{`{"a":`},
	},
}

func TestMatcher(t *testing.T) {
	for _, tc := range matchTests {
		t.Run(tc.name, func(t *testing.T) {
			c := constraintFor(t, tc.schema)
			for _, s := range tc.done {
				m := c.Matcher()
				if !m.Feed([]byte(s)) || !m.Done() {
					t.Errorf("Feed(%q) = %v, Done %v; want a complete output", s, m.Len() == len(s), m.Done())
				}
			}
			for _, s := range tc.prefix {
				m := c.Matcher()
				if !m.Accepts([]byte(s)) {
					t.Errorf("Accepts(%q) = false, want a valid prefix", s)
				}
				if m.Feed([]byte(s)); m.Done() {
					t.Errorf("Feed(%q): Done, want an unfinished prefix", s)
				}
			}
			for _, s := range tc.bad {
				m := c.Matcher()
				if m.Feed([]byte(s)) && m.Done() {
					t.Errorf("Feed(%q) completed an output, want it rejected", s)
				}
				if m2 := c.Matcher(); m2.Accepts([]byte(s)) {
					t.Errorf("Accepts(%q) = true, want false", s)
				}
			}
		})
	}
}

// Feed is all or nothing; Accepts never advances; copies fork.
func TestMatcherCursor(t *testing.T) {
	c := JSON()
	m := c.Matcher()
	if !m.Feed([]byte(`[1`)) {
		t.Fatal("Feed([1) failed")
	}
	if m.Feed([]byte(`,x`)) {
		t.Fatal("Feed(,x) succeeded")
	}
	if m.Len() != 2 {
		t.Fatalf("Len after a refused Feed = %d, want 2", m.Len())
	}
	fork := m
	if !fork.Feed([]byte(`]`)) || !fork.Done() {
		t.Fatal("fork could not finish the array")
	}
	if m.Done() || !m.Accepts([]byte(`,2]`)) || m.Len() != 2 {
		t.Fatal("advancing a copy moved the original")
	}
}

func TestStateAdvance(t *testing.T) {
	s := JSONObject().Start()
	if s.Done() {
		t.Fatal("Done at the start")
	}
	if err := s.Advance(nil); err == nil {
		t.Error("Advance(empty) succeeded")
	}
	if err := s.Advance([]byte(`[`)); err == nil {
		t.Error("Advance([) succeeded for an object")
	}
	for _, tok := range []string{`{"`, `a":`, ` 1`, `}`} {
		if err := s.Advance([]byte(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Done() {
		t.Error("not Done after a whole object")
	}
	c := s.Clone()
	if err := c.Advance([]byte(" ")); err == nil {
		t.Error("Advance after the end succeeded")
	}
}
