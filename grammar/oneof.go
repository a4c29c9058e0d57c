package grammar

import (
	"encoding/json"
	"math/big"
	"slices"
)

// oneOf is compiled as anyOf, which is only right when no value matches two
// branches. disjoint proves that for the common shapes: branches of
// different types, different const/enum values, or objects told apart by a
// required discriminator property. Anything it cannot prove is refused.

// JSON types as bits.
const (
	kindNull = 1 << iota
	kindBool
	kindNumber // integers included
	kindString
	kindArray
	kindObject
	kindAll = 1<<iota - 1
)

var kindOfType = map[string]uint8{
	"null": kindNull, "boolean": kindBool, "integer": kindNumber, "number": kindNumber,
	"string": kindString, "array": kindArray, "object": kindObject,
}

// deref follows $ref and single-schema allOf to the schema that applies.
func (c *compiler) deref(v any) any {
	for range 32 {
		o, ok := v.(*object)
		if !ok {
			return v
		}
		if r, ok := o.vals["$ref"].(string); ok {
			t, err := resolve(c.doc, r)
			if err != nil {
				return v
			}
			v = t
			continue
		}
		if all, ok := o.vals["allOf"].([]any); ok && len(all) == 1 {
			v = all[0]
			continue
		}
		return v
	}
	return v
}

// kinds returns a superset of the JSON types of the values schema v
// generates (gen) or accepts (!gen). They differ for a schema without
// "type": its keywords make the compiler generate only the types they
// constrain, while it accepts every value of the other types.
func (c *compiler) kinds(v any, gen bool, depth int) uint8 {
	v = c.deref(v)
	if depth > 16 {
		return kindAll
	}
	switch v := v.(type) {
	case bool:
		if v {
			return kindAll
		}
		return 0
	case *object:
		if vals, ok := literals(v); ok {
			var k uint8
			for _, x := range vals {
				k |= kindOfType[jsonKind(x)]
			}
			return k
		}
		for _, kw := range []string{"anyOf", "oneOf"} {
			if list, ok := v.vals[kw].([]any); ok {
				var k uint8
				for _, b := range list {
					k |= c.kinds(b, gen, depth+1)
				}
				return k
			}
		}
		if !gen && !v.has("type") {
			return kindAll
		}
		types, err := schemaTypes(v, "")
		if err != nil || types == nil {
			return kindAll
		}
		var k uint8
		for _, t := range types {
			k |= kindOfType[t]
		}
		return k
	}
	return kindAll
}

// literals returns the values an enum or const schema allows.
func literals(o *object) ([]any, bool) {
	if cv, ok := o.vals["const"]; ok {
		return []any{cv}, true
	}
	if list, ok := o.vals["enum"].([]any); ok {
		return list, true
	}
	return nil, false
}

// disjoint reports whether no value generated from one schema can match the
// other.
func (c *compiler) disjoint(a, b any) bool {
	ga, gb := c.kinds(a, true, 0), c.kinds(b, true, 0)
	if ga&c.kinds(b, false, 0) == 0 && gb&c.kinds(a, false, 0) == 0 {
		return true
	}
	oa, okA := c.deref(a).(*object)
	ob, okB := c.deref(b).(*object)
	if !okA || !okB {
		return false
	}
	if disjointLiterals(oa, ob) {
		return true
	}
	if ga != kindObject || gb != kindObject {
		return false
	}
	// Both generate objects only: a required property whose values differ,
	// or that the other schema forbids, tells them apart.
	for _, k := range requiredNames(oa) {
		if forbids(ob, k) {
			return true
		}
		if slices.Contains(requiredNames(ob), k) {
			pa, _ := c.deref(propSchema(oa, k)).(*object)
			pb, _ := c.deref(propSchema(ob, k)).(*object)
			if pa != nil && pb != nil && disjointLiterals(pa, pb) {
				return true
			}
		}
	}
	for _, k := range requiredNames(ob) {
		if forbids(oa, k) {
			return true
		}
	}
	return false
}

func disjointLiterals(a, b *object) bool {
	va, okA := literals(a)
	vb, okB := literals(b)
	if !okA || !okB {
		return false
	}
	seen := map[string]bool{}
	for _, v := range va {
		seen[canonical(v)] = true
	}
	for _, v := range vb {
		if seen[canonical(v)] {
			return false
		}
	}
	return true
}

// canonical returns a key equal for JSON values JSON Schema calls equal:
// numbers by value, objects regardless of key order.
func canonical(v any) string {
	switch v := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok && len(v) <= 64 {
			return "n" + r.RatString()
		}
		return "n" + string(v)
	case []any:
		s := "["
		for _, x := range v {
			s += canonical(x) + ","
		}
		return s + "]"
	case *object:
		keys := slices.Sorted(slices.Values(v.keys))
		s := "{"
		for _, k := range keys {
			s += string(appendString(nil, k)) + ":" + canonical(v.vals[k]) + ","
		}
		return s + "}"
	}
	return string(appendJSON(nil, v))
}

func requiredNames(o *object) []string {
	list, _ := o.vals["required"].([]any)
	var out []string
	for _, r := range list {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func propSchema(o *object, k string) any {
	if props, ok := o.vals["properties"].(*object); ok {
		if s, ok := props.vals[k]; ok {
			return s
		}
	}
	return true
}

// forbids reports whether an object schema rejects every object with key k.
func forbids(o *object, k string) bool {
	if props, ok := o.vals["properties"].(*object); ok {
		if s, ok := props.vals[k]; ok {
			return s == false
		}
	}
	return o.vals["additionalProperties"] == false
}
