package grammar

import (
	"strings"
	"testing"
)

func TestFromSchemaErrors(t *testing.T) {
	tests := []struct {
		schema string
		want   string // in the error
	}{
		{`{`, "not valid JSON"},
		{`{} {}`, "not valid JSON"},
		{`3`, "must be an object or a boolean"},
		{`false`, "accepts no value"},
		{`{"not": {"type": "null"}}`, `keyword "not"`},
		{`{"type": "object", "properties": {"a": {"type": "string", "if": {}}}}`, `#/properties/a: keyword "if"`},
		{`{"type": "object", "patternProperties": {"^a": {}}}`, `"patternProperties"`},
		{`{"type": "object", "propertyNames": {"maxLength": 2}}`, `"propertyNames"`},
		{`{"type": "object", "minProperties": 1}`, `"minProperties"`},
		{`{"type": "object", "dependentRequired": {}}`, `"dependentRequired"`},
		{`{"type": "array", "uniqueItems": true}`, `"uniqueItems"`},
		{`{"type": "array", "contains": {}}`, `"contains"`},
		{`{"type": "number", "multipleOf": 2}`, `"multipleOf"`},
		{`{"type": "object", "unevaluatedProperties": false}`, `"unevaluatedProperties"`},
		{`{"allOf": [{"type": "string"}, {"maxLength": 2}]}`, "allOf"},
		{`{"type": "string", "anyOf": [{"maxLength": 2}]}`, "anyOf beside type"},
		{`{"$ref": "#/$defs/a", "maxLength": 3, "$defs": {"a": {}}}`, "$ref beside maxLength"},
		{`{"$ref": "http://example.com/s.json"}`, "only local references"},
		{`{"$ref": "#/$defs/missing"}`, `no "$defs"`},
		{`{"$ref": "#anchor"}`, "anchors are not supported"},
		{`{"$ref": "#"}`, "refers to itself without nesting"},
		{`{"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}, "$ref": "#/$defs/a"}`, "refers to itself"},
		{`{"oneOf": [{"type": "string"}, {"maxLength": 3}]}`, "branches 0 and 1 may match the same value"},
		{`{"oneOf": [{"type": "integer"}, {"type": "number"}]}`, "may match the same value"},
		{`{"oneOf": [{"const": 1}, {"const": 1.0}]}`, "may match the same value"},
		{`{"type": "string", "pattern": "(a"}`, "pattern"},
		{`{"type": "string", "pattern": "\\bword"}`, "word boundaries"},
		{`{"type": "string", "pattern": "(?m)^a"}`, "multi-line"},
		{`{"type": "string", "minLength": 3, "maxLength": 2}`, "minLength 3 exceeds maxLength 2"},
		{`{"type": "string", "maxLength": -1}`, "not a non-negative integer"},
		{`{"type": "string", "maxLength": 1.5}`, "not a non-negative integer"},
		{`{"type": "array", "minItems": 3, "maxItems": 2}`, "needs 3 items"},
		{`{"type": "array", "prefixItems": [{}], "items": false, "minItems": 2}`, "needs 2 items"},
		{`{"type": "integer", "minimum": 5, "maximum": 4}`, "no integer"},
		{`{"type": "integer", "minimum": 1e20}`, "no integer"},
		{`{"type": "number", "minimum": 1, "exclusiveMaximum": 1}`, "no number"},
		{`{"type": "number", "minimum": "1"}`, "not a number"},
		{`{"enum": []}`, "no enum"},
		{`{"enum": 1}`, "not an array"},
		{`{"type": "string", "enum": [1, 2]}`, "no enum or const value satisfies"},
		{`{"type": "object", "required": ["a"], "additionalProperties": false}`, `required property "a"`},
		{`{"type": "objekt"}`, "unknown type"},
		{`{"type": []}`, "empty"},
		{`{"properties": []}`, "not an object"},
		{`{"type": "string", "minLength": 100000000}`, "too large"},
	}
	for _, tc := range tests {
		_, err := FromSchema([]byte(tc.schema))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromSchema(%s) = %v, want an error containing %q", tc.schema, err, tc.want)
		}
	}
}

// Keywords that do not restrict validity are accepted and ignored.
func TestFromSchemaAnnotations(t *testing.T) {
	schema := `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "title": "T",
		"description": "d", "default": 1, "examples": [1], "deprecated": true, "x-vendor": {"not": 1},
		"type": "object", "properties": {"a": {"type": "string", "format": "uri", "readOnly": true}},
		"required": ["a"], "additionalProperties": false, "uniqueItems": false}`
	c, err := FromSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Matcher()
	if !m.Feed([]byte(`{"a":"x"}`)) || !m.Done() {
		t.Error(`{"a":"x"} is not a complete output`)
	}
}

// Bounds above the generation limits keep the grammar small: the output
// stays valid, just shorter than the schema would allow.
func TestLargeBounds(t *testing.T) {
	c, err := FromSchema([]byte(`{"type": "array", "items": {"type": "string", "maxLength": 1000000}, "maxItems": 1000000000}`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Matcher()
	long := `["` + strings.Repeat("a", maxStringLen) + `"]`
	if !m.Feed([]byte(long)) || !m.Done() {
		t.Error("a string of maxStringLen characters is refused")
	}
	m = c.Matcher()
	if m.Feed([]byte(`["` + strings.Repeat("a", maxStringLen+1))) {
		t.Error("a string past maxStringLen is accepted")
	}
}

func TestFromSchemaWithin(t *testing.T) {
	c, err := FromSchemaWithin([]byte(`{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}`),
		"<tool_call>\n", "\n</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		text string
		ok   bool
	}{
		{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}\n</tool_call>", true},
		{"<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\"}}\n</tool_call>", true},
		{"{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}", false},
		{"<tool_call>\n{\"name\": \"other\", \"arguments\": {\"city\": \"x\"}}\n</tool_call>", false},
		{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>", false},
		{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"x\"}}\n</tool_call", false},
	} {
		m := c.Matcher()
		if got := m.Feed([]byte(x.text)) && m.Done(); got != x.ok {
			t.Errorf("%q: accepted %v, want %v", x.text, got, x.ok)
		}
	}
	if _, err := FromSchemaWithin([]byte(`{`), "a", "b"); err == nil {
		t.Error("bad schema accepted")
	}
}
