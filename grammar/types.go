package grammar

import (
	"fmt"
	"slices"
)

// Generation bounds: generating fewer characters or items than a schema
// allows is always valid, and keeps the grammar small.
const (
	maxStringLen = 4096 // a larger maxLength generates at most max(this, minLength)
	maxItemsGen  = 1024 // a larger maxItems generates at most max(this, minItems)
)

// formats maps the string formats the compiler generates to patterns. Other
// formats are annotations (JSON Schema 2020-12 does not assert them by
// default) and are ignored. Each pattern generates a subset of the format:
// dates valid in every year (29 February is never generated), lower-case
// UUIDs and host names, plain dot-atom e-mail addresses.
var formats = map[string]string{
	"date":      `^` + datePattern + `$`,
	"time":      `^` + timePattern + `$`,
	"date-time": `^` + datePattern + `T` + timePattern + `$`,
	"uuid":      `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`,
	"ipv4":      `^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$`,
	"hostname":  `^` + hostPattern + `$`,
	"email":     `^[A-Za-z0-9_+-]{1,30}(\.[A-Za-z0-9_+-]{1,15}){0,2}@` + hostPattern + `\.[a-z]{2,6}$`,
}

const (
	datePattern = `[0-9]{4}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)`
	// Labels of letters and digits, a hyphen inside, well under every
	// length limit of RFC 1123 and RFC 5321.
	hostLabel   = `[a-z0-9]{1,20}(-[a-z0-9]{1,20})?`
	hostPattern = hostLabel + `(\.` + hostLabel + `){0,2}`
	timePattern = `([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`
)

func (c *compiler) stringType(o *object, path string) (sym, error) {
	minLen, err := nonNegInt(o, "minLength", path, 0)
	if err != nil {
		return sym{}, err
	}
	maxLen, err := nonNegInt(o, "maxLength", path, -1)
	if err != nil {
		return sym{}, err
	}
	if maxLen >= 0 && minLen > maxLen {
		return sym{}, fmt.Errorf("%s: minLength %d exceeds maxLength %d", path, minLen, maxLen)
	}
	if minLen > maxDFAStates {
		return sym{}, fmt.Errorf("%s: minLength %d is too large (limit %d)", path, minLen, maxDFAStates)
	}
	var d *rdfa
	if v, ok := o.get("pattern"); ok {
		p, ok := v.(string)
		if !ok {
			return sym{}, fmt.Errorf("%s/pattern: not a string", path)
		}
		if d, err = patternDFA(p); err != nil {
			return sym{}, fmt.Errorf("%s/pattern: %w", path, err)
		}
	}
	if v, ok := o.get("format"); ok {
		if f, _ := v.(string); formats[f] != "" {
			fd, err := patternDFA(formats[f])
			if err != nil {
				panic("grammar: format " + f + ": " + err.Error())
			}
			if d, err = intersect(d, fd); err != nil {
				return sym{}, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if minLen > 0 || maxLen >= 0 {
		if maxLen > max(minLen, maxStringLen) {
			maxLen = max(minLen, maxStringLen)
		}
		if d, err = intersect(d, lengthDFA(minLen, maxLen)); err != nil {
			return sym{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	if d == nil {
		return c.g.jsonString(), nil
	}
	return c.g.stringOf("string", d), nil
}

// arrayType generates the prefix items, then items, between minItems and
// maxItems long. Without items beside prefixItems, no extra items are
// generated beyond what minItems needs.
func (c *compiler) arrayType(o *object, path string) (sym, error) {
	var prefix []any
	var rest any = true
	restGiven := false
	prefixKw, restKw := "prefixItems", "items"
	if v, ok := o.get("prefixItems"); ok {
		list, ok := v.([]any)
		if !ok {
			return sym{}, fmt.Errorf("%s/prefixItems: not an array", path)
		}
		prefix = list
		rest, restGiven = o.get("items")
	} else if v, ok := o.get("items"); ok {
		if list, ok := v.([]any); ok { // draft 7: items as an array
			prefix, prefixKw, restKw = list, "items", "additionalItems"
			rest, restGiven = o.get("additionalItems")
		} else {
			rest, restGiven = v, true
		}
	}
	if !restGiven {
		rest = true
	}
	minItems, err := nonNegInt(o, "minItems", path, 0)
	if err != nil {
		return sym{}, err
	}
	maxItems, err := nonNegInt(o, "maxItems", path, -1)
	if err != nil {
		return sym{}, err
	}
	if (!restGiven && len(prefix) > 0) || rest == false {
		limit := len(prefix)
		if rest != false {
			limit = max(limit, minItems)
		}
		if maxItems < 0 || maxItems > limit {
			maxItems = limit
		}
	}
	if minItems > maxItemsGen*64 {
		return sym{}, fmt.Errorf("%s: minItems %d is too large (limit %d)", path, minItems, maxItemsGen*64)
	}
	if maxItems >= 0 && minItems > maxItems {
		return sym{}, fmt.Errorf("%s: needs %d items but allows at most %d", path, minItems, maxItems)
	}
	if maxItems > max(minItems, maxItemsGen) {
		maxItems = max(minItems, maxItemsGen)
	}
	if maxItems >= 0 && len(prefix) > maxItems {
		prefix = prefix[:maxItems]
	}
	items := make([]sym, len(prefix))
	for i, p := range prefix {
		if items[i], err = c.schema(p, fmt.Sprintf("%s/%s/%d", path, prefixKw, i)); err != nil {
			return sym{}, err
		}
	}
	var restSym sym
	if rest != false {
		if restSym, err = c.schema(rest, path+"/"+restKw); err != nil {
			return sym{}, err
		}
	}
	g, ws := c.g, c.g.ws()
	sep := cat(g.lit(","), one(ws))
	item := func(i int) []sym {
		s := restSym
		if i < len(items) {
			s = items[i]
		}
		if i == 0 {
			return []sym{s, ws}
		}
		return cat(sep, []sym{s, ws})
	}
	// Positions up to n are spelled out; past them, a loop or a nest of
	// optional items up to maxItems.
	n := max(len(items), minItems)
	var tail []sym
	switch {
	case maxItems < 0:
		loop := g.star("items", item(1)...)
		if n == 0 {
			tail = one(g.opt("items", append(item(0), loop)...))
		} else {
			tail = one(loop)
		}
	default:
		for i := maxItems - 1; i >= n; i-- {
			tail = one(g.rule("items", cat(item(i), tail), nil))
		}
	}
	for i := n - 1; i >= 0; i-- {
		alts := [][]sym{cat(item(i), tail)}
		if i >= minItems {
			alts = append(alts, nil)
		}
		tail = one(g.alt("items", alts...))
	}
	return g.rule("array", cat(g.lit("["), one(ws), tail, g.lit("]"))), nil
}

type member struct {
	name     string
	val      sym
	required bool
}

// objectType generates the declared properties in their order, required
// ones always, optional ones at will. Other properties are generated when
// additionalProperties allows them explicitly, or when no properties are
// declared at all.
func (c *compiler) objectType(o *object, path string) (sym, error) {
	var props *object
	if v, ok := o.get("properties"); ok {
		if props, ok = v.(*object); !ok {
			return sym{}, fmt.Errorf("%s/properties: not an object", path)
		}
	}
	var required []string
	if v, ok := o.get("required"); ok {
		list, ok := v.([]any)
		if !ok {
			return sym{}, fmt.Errorf("%s/required: not an array", path)
		}
		for _, r := range list {
			s, ok := r.(string)
			if !ok {
				return sym{}, fmt.Errorf("%s/required: %v is not a string", path, r)
			}
			if !slices.Contains(required, s) {
				required = append(required, s)
			}
		}
	}
	var extra any = true
	extraGen := props == nil
	if v, ok := o.get("additionalProperties"); ok {
		extra = v
		extraGen = v != false
	}
	var members []member
	var names []string
	if props != nil {
		for _, k := range props.keys {
			s, err := c.schema(props.vals[k], path+"/properties/"+ptrEscape(k))
			if err != nil {
				return sym{}, err
			}
			members = append(members, member{k, s, slices.Contains(required, k)})
			names = append(names, k)
		}
	}
	var extraSym sym
	if extra != false {
		var err error
		if extraSym, err = c.schema(extra, path+"/additionalProperties"); err != nil {
			return sym{}, err
		}
	}
	for _, r := range required {
		if slices.Contains(names, r) {
			continue
		}
		if extra == false {
			return sym{}, fmt.Errorf("%s: required property %q is not in properties and additionalProperties is false", path, r)
		}
		members = append(members, member{r, extraSym, true})
		names = append(names, r)
	}
	g, ws := c.g, c.g.ws()
	key := g.jsonString()
	if extraGen && len(names) > 0 {
		key = g.stringOf("key", excludeStrings(names)) // no duplicate of a declared key
	}
	if len(members) == 0 && extraGen {
		return g.objectOf(key, extraSym), nil
	}
	sep := cat(g.lit(","), one(ws))
	kv := func(k []sym, v sym) []sym {
		return cat(k, one(ws), g.lit(":"), []sym{ws, v, ws})
	}
	// first: no member written yet (no comma); rest: after one.
	var first, rest []sym
	if extraGen {
		ekv := kv(one(key), extraSym)
		r := g.star("extra", cat(sep, ekv)...)
		first, rest = one(g.opt("extra", append(ekv, r)...)), one(r)
	}
	for i := len(members) - 1; i >= 0; i-- {
		m := members[i]
		k := kv(g.lit(string(appendString(nil, m.name))), m.val)
		fa := [][]sym{cat(k, rest)}
		ra := [][]sym{cat(sep, k, rest)}
		if !m.required {
			fa = append(fa, first)
			ra = append(ra, rest)
		}
		first, rest = one(g.alt("props", fa...)), one(g.alt("props", ra...))
	}
	return g.rule("object", cat(g.lit("{"), one(ws), first, g.lit("}"))), nil
}
