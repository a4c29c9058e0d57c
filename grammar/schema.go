package grammar

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// FromSchema compiles a JSON Schema (draft 2020-12, with the draft-7
// spellings definitions, items-as-array and additionalItems) into a
// constraint whose outputs all validate against it. Keywords that restrict
// validity but are not supported give an error naming them; see the package
// documentation for the subset.
func FromSchema(schema []byte) (*Constraint, error) {
	doc, err := decodeJSON(schema)
	if err != nil {
		return nil, fmt.Errorf("grammar: schema is not valid JSON: %w", err)
	}
	subs := maxSubCompiles
	p, err := compileSchema(doc, doc, "#", 0, &subs)
	if err != nil {
		return nil, fmt.Errorf("grammar: %w", err)
	}
	return newConstraint(p), nil
}

// FromSchemaWithin is FromSchema for output that is prefix, then a value of
// schema, then suffix: a tool call in the syntax a model was trained on,
// such as "<tool_call>\n" + {"name": …, "arguments": …} + "\n</tool_call>".
func FromSchemaWithin(schema []byte, prefix, suffix string) (*Constraint, error) {
	doc, err := decodeJSON(schema)
	if err != nil {
		return nil, fmt.Errorf("grammar: schema is not valid JSON: %w", err)
	}
	subs := maxSubCompiles
	c := &compiler{g: newGrammar(), doc: doc, refs: map[string]int32{}, subs: &subs}
	v, err := c.schema(doc, "#")
	if err != nil {
		return nil, fmt.Errorf("grammar: %w", err)
	}
	seq := append(append(c.g.lit(prefix), v), c.g.lit(suffix)...)
	p, err := c.g.finish(c.g.rule("root", seq).rule)
	if err != nil {
		return nil, fmt.Errorf("grammar: %w", err)
	}
	return newConstraint(p), nil
}

// compiler turns one schema document into a grammar.
type compiler struct {
	g    *grammar
	doc  any              // the whole document, for $ref
	refs map[string]int32 // $ref → its rule, so recursion terminates
	nest int              // depth of enum filtering (see enum)
	subs *int             // sub-schema compilations left, shared by the nest
}

// maxSubCompiles bounds the compilations enum filtering may start in total,
// so that a hostile schema cannot multiply them.
const maxSubCompiles = 64

func compileSchema(doc, node any, path string, nest int, subs *int) (*program, error) {
	c := &compiler{g: newGrammar(), doc: doc, refs: map[string]int32{}, nest: nest, subs: subs}
	s, err := c.schema(node, path)
	if err != nil {
		return nil, err
	}
	if s.rule < 0 {
		s = c.g.rule("root", one(s))
	}
	return c.g.finish(s.rule)
}

// Keywords by how the compiler treats them. Keywords in none of the lists
// (annotations such as title, description, default, examples, and unknown
// extensions) do not affect validity and are ignored.
var (
	// handled restrict validity and are compiled.
	handled = keywordSet("type", "enum", "const", "properties", "required", "additionalProperties",
		"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
		"minLength", "maxLength", "pattern", "format",
		"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
		"anyOf", "oneOf", "allOf", "$ref")
	// unsupported restrict validity and cannot be compiled: an error.
	unsupported = keywordSet("not", "if", "then", "else", "dependentSchemas", "dependentRequired",
		"dependencies", "patternProperties", "propertyNames", "minProperties", "maxProperties",
		"contains", "minContains", "maxContains", "unevaluatedProperties", "unevaluatedItems",
		"multipleOf", "$dynamicRef", "$recursiveRef")
)

func keywordSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// asserts returns the keywords of o that restrict validity, but those in
// except.
func asserts(o *object, except ...string) []string {
	var out []string
	for _, k := range o.keys {
		if !handled[k] || slices.Contains(except, k) {
			continue
		}
		if k == "uniqueItems" && o.vals[k] != true {
			continue
		}
		if k == "format" {
			if f, ok := o.vals[k].(string); !ok || formats[f] == "" {
				continue // an unknown format is an annotation
			}
		}
		out = append(out, k)
	}
	return out
}

func (c *compiler) schema(v any, path string) (sym, error) {
	switch v := v.(type) {
	case bool:
		if v {
			return c.g.value(), nil
		}
		return c.g.rule("false"), nil // no alternatives: matches nothing
	case *object:
		return c.object(v, path)
	}
	return sym{}, fmt.Errorf("%s: a schema must be an object or a boolean, not %s", path, jsonKind(v))
}

func (c *compiler) object(o *object, path string) (sym, error) {
	for _, k := range o.keys {
		if unsupported[k] {
			return sym{}, fmt.Errorf("%s: keyword %q is not supported", path, k)
		}
	}
	if u, ok := o.get("uniqueItems"); ok && u == true {
		return sym{}, fmt.Errorf("%s: keyword \"uniqueItems\" is not supported", path)
	}
	if r, ok := o.get("$ref"); ok {
		if others := asserts(o, "$ref"); len(others) > 0 {
			return sym{}, fmt.Errorf("%s: $ref beside %s is not supported", path, strings.Join(others, ", "))
		}
		return c.ref(r, path)
	}
	if all, ok := o.get("allOf"); ok {
		list, ok := all.([]any)
		if !ok {
			return sym{}, fmt.Errorf("%s/allOf: not an array", path)
		}
		if len(list) != 1 || len(asserts(o, "allOf")) > 0 {
			return sym{}, fmt.Errorf("%s: allOf is supported only with a single schema and no other keywords", path)
		}
		return c.schema(list[0], path+"/allOf/0")
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if v, ok := o.get(kw); ok {
			if others := asserts(o, kw); len(others) > 0 {
				return sym{}, fmt.Errorf("%s: %s beside %s is not supported", path, kw, strings.Join(others, ", "))
			}
			return c.union(v, kw, path)
		}
	}
	if o.has("enum") || o.has("const") {
		return c.enum(o, path)
	}
	types, err := schemaTypes(o, path)
	if err != nil {
		return sym{}, err
	}
	if types == nil {
		return c.g.value(), nil
	}
	var alts [][]sym
	for _, t := range types {
		var s sym
		switch t {
		case "null":
			s = c.g.once("null", func() sym { return c.g.rule("null", c.g.lit("null")) })
		case "boolean":
			s = c.g.once("boolean", func() sym { return c.g.rule("boolean", c.g.lit("true"), c.g.lit("false")) })
		case "integer":
			s, err = c.integerType(o, path)
		case "number":
			s, err = c.numberType(o, path)
		case "string":
			s, err = c.stringType(o, path)
		case "array":
			s, err = c.arrayType(o, path)
		case "object":
			s, err = c.objectType(o, path)
		}
		if err != nil {
			return sym{}, err
		}
		alts = append(alts, one(s))
	}
	return c.g.alt("types", alts...), nil
}

func (o *object) has(k string) bool {
	_, ok := o.vals[k]
	return ok
}

var typeOrder = []string{"null", "boolean", "integer", "number", "string", "array", "object"}

// typeKeywords infer the type of a schema without "type": generating only
// the types its keywords constrain is a subset of what it accepts.
var typeKeywords = map[string][]string{
	"object": {"properties", "required", "additionalProperties"},
	"array":  {"items", "prefixItems", "additionalItems", "minItems", "maxItems"},
	"string": {"minLength", "maxLength", "pattern"},
	"number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
}

// schemaTypes returns the types to generate in a fixed order, or nil for
// any value.
func schemaTypes(o *object, path string) ([]string, error) {
	want := map[string]bool{}
	if t, ok := o.get("type"); ok {
		var names []any
		switch t := t.(type) {
		case string:
			names = []any{t}
		case []any:
			names = t
		default:
			return nil, fmt.Errorf("%s/type: must be a string or an array of strings", path)
		}
		for _, n := range names {
			s, ok := n.(string)
			if !ok || !slices.Contains(typeOrder, s) {
				return nil, fmt.Errorf("%s/type: unknown type %v", path, n)
			}
			want[s] = true
		}
		if len(want) == 0 {
			return nil, fmt.Errorf("%s/type: empty", path)
		}
	} else {
		for t, kws := range typeKeywords {
			for _, k := range kws {
				if o.has(k) {
					want[t] = true
				}
			}
		}
		if f, ok := o.get("format"); ok {
			if s, _ := f.(string); formats[s] != "" {
				want["string"] = true
			}
		}
		if len(want) == 0 {
			return nil, nil
		}
	}
	if want["number"] {
		delete(want, "integer") // number includes the integers
	}
	var out []string
	for _, t := range typeOrder {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// union compiles anyOf or oneOf. oneOf needs exactly one branch to match;
// that is only guaranteed when no value can match two branches, which is
// checked conservatively.
func (c *compiler) union(v any, kw, path string) (sym, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return sym{}, fmt.Errorf("%s/%s: must be a non-empty array", path, kw)
	}
	if kw == "oneOf" {
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				if !c.disjoint(list[i], list[j]) {
					return sym{}, fmt.Errorf("%s/oneOf: branches %d and %d may match the same value; use anyOf, or make them differ in type, const/enum values or required properties", path, i, j)
				}
			}
		}
	}
	var alts [][]sym
	for i, b := range list {
		s, err := c.schema(b, fmt.Sprintf("%s/%s/%d", path, kw, i))
		if err != nil {
			return sym{}, err
		}
		alts = append(alts, one(s))
	}
	return c.g.rule(kw, alts...), nil
}

// maxEnumNesting bounds how deeply enum filtering compiles sub-schemas (a
// recursive schema could otherwise recompile itself forever).
const maxEnumNesting = 3

// enum compiles enum and const: the values, in their compact encoding. When
// other keywords sit beside them, only the values the rest of the schema
// generates are kept.
func (c *compiler) enum(o *object, path string) (sym, error) {
	var vals []any
	if e, ok := o.get("enum"); ok {
		list, ok := e.([]any)
		if !ok {
			return sym{}, fmt.Errorf("%s/enum: not an array", path)
		}
		vals = list
	}
	if cv, ok := o.get("const"); ok {
		if o.has("enum") {
			want := canonical(cv)
			vals = slices.DeleteFunc(slices.Clone(vals), func(v any) bool { return canonical(v) != want })
		} else {
			vals = []any{cv}
		}
	}
	var m *machine
	if others := asserts(o, "enum", "const"); len(others) > 0 {
		if c.nest >= maxEnumNesting || *c.subs <= 0 {
			return sym{}, fmt.Errorf("%s: too many enums beside other keywords, or nested too deeply", path)
		}
		*c.subs--
		rest := &object{vals: map[string]any{}}
		for _, k := range o.keys {
			if k != "enum" && k != "const" {
				rest.keys = append(rest.keys, k)
				rest.vals[k] = o.vals[k]
			}
		}
		p, err := compileSchema(c.doc, rest, path, c.nest+1, c.subs)
		if err != nil {
			return sym{}, err
		}
		m = newMachine(p)
	}
	var alts [][]sym
	seen := map[string]bool{}
	for _, v := range vals {
		enc := appendJSON(nil, v)
		if seen[string(enc)] || m != nil && !m.matches(enc) {
			continue
		}
		seen[string(enc)] = true
		alts = append(alts, c.g.lit(string(enc)))
	}
	if len(alts) == 0 {
		return sym{}, fmt.Errorf("%s: no enum or const value satisfies the schema", path)
	}
	return c.g.rule("enum", alts...), nil
}

// matches reports whether b is a complete output.
func (m *machine) matches(b []byte) bool {
	cur := m.start
	for _, x := range b {
		if cur = m.step(cur, x); cur == m.dead {
			return false
		}
	}
	return cur.accept
}

// ref compiles a local reference, once per target.
func (c *compiler) ref(v any, path string) (sym, error) {
	s, ok := v.(string)
	if !ok {
		return sym{}, fmt.Errorf("%s/$ref: not a string", path)
	}
	if r, ok := c.refs[s]; ok {
		return ref(r), nil
	}
	target, err := resolve(c.doc, s)
	if err != nil {
		return sym{}, fmt.Errorf("%s/$ref: %w", path, err)
	}
	r := c.g.reserve("$ref " + s)
	c.refs[s] = r
	body, err := c.schema(target, s)
	if err != nil {
		return sym{}, err
	}
	c.g.define(r, one(body))
	return ref(r), nil
}

// resolve follows a local JSON pointer reference such as "#/$defs/Item".
func resolve(doc any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, fmt.Errorf("%q: only local references (#/…) are supported", ref)
	}
	ptr, err := url.PathUnescape(ref[1:])
	if err != nil {
		return nil, fmt.Errorf("%q: %w", ref, err)
	}
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("%q: anchors are not supported, only JSON pointers", ref)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case *object:
			next, ok := v.get(tok)
			if !ok {
				return nil, fmt.Errorf("%q: no %q", ref, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("%q: no element %q", ref, tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("%q: %q is inside a %s", ref, tok, jsonKind(cur))
		}
	}
	return cur, nil
}

// nonNegInt reads an optional non-negative integer keyword; def when absent.
func nonNegInt(o *object, k, path string, def int) (int, error) {
	v, ok := o.get(k)
	if !ok {
		return def, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s/%s: not a number", path, k)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%s/%s: %s is not a non-negative integer", path, k, n)
	}
	return int(min(f, 1<<40)), nil // beyond any limit the compiler applies
}

// ptrEscape escapes a property name for a JSON pointer in messages.
func ptrEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
