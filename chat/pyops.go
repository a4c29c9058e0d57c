package chat

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/ardanlabs/jinja"
)

// The operations rewrite.go routes templates through, with Python's rules:
// they fail where Jinja2 raises TypeError or UndefinedError, and compute
// what Python computes otherwise.

func want2(name string, args []jinja.Value) error {
	if len(args) != 2 {
		return fmt.Errorf("%s: want 2 arguments, got %d", name, len(args))
	}
	return nil
}

// pyNumber returns v as Python sees a number (bool is an int).
func pyNumber(v jinja.Value) (i int64, f float64, isFloat, ok bool) {
	switch {
	case v.IsBool():
		if v.AsBool() {
			return 1, 1, false, true
		}
		return 0, 0, false, true
	case v.IsInt():
		return v.AsInt(), float64(v.AsInt()), false, true
	case v.IsFloat():
		return 0, v.AsFloat(), true, true
	}
	return 0, 0, false, false
}

// undefinedError is what Jinja2's default Undefined raises when used in an
// operation.
var undefinedError = fmt.Errorf("UndefinedError: a value is undefined")

// pyAdd is Python's a + b.
func pyAdd(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if err := want2("+", args); err != nil {
		return jinja.Undefined(), err
	}
	a, b := args[0], args[1]
	if a.IsUndefined() || b.IsUndefined() {
		return jinja.Undefined(), undefinedError
	}
	ai, af, aFloat, aNum := pyNumber(a)
	bi, bf, bFloat, bNum := pyNumber(b)
	switch {
	case a.IsString() && b.IsString():
		return jinja.NewString(a.AsString() + b.AsString()), nil
	case a.IsList() && b.IsList():
		items := append(append([]jinja.Value{}, a.AsList().Items...), b.AsList().Items...)
		return jinja.NewList(items), nil
	case aNum && bNum && (aFloat || bFloat):
		return jinja.NewFloat(af + bf), nil
	case aNum && bNum:
		return jinja.NewInt(ai + bi), nil
	case a.IsString(), a.IsList():
		return jinja.Undefined(), fmt.Errorf("TypeError: can only concatenate %s (not %q) to %s", pyType(a), pyType(b), pyType(a))
	}
	return jinja.Undefined(), fmt.Errorf("TypeError: unsupported operand type(s) for +: '%s' and '%s'", pyType(a), pyType(b))
}

// pyIn is Python's a in b.
func pyIn(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if err := want2("in", args); err != nil {
		return jinja.Undefined(), err
	}
	a, b := args[0], args[1]
	switch {
	case b.IsUndefined():
		return jinja.NewBool(false), nil // Jinja2's Undefined iterates as empty
	case b.IsString():
		if !a.IsString() {
			return jinja.Undefined(), fmt.Errorf("TypeError: 'in <string>' requires string as left operand, not %s", pyType(a))
		}
		return jinja.NewBool(strings.Contains(b.AsString(), a.AsString())), nil
	case b.IsList():
		for _, it := range b.AsList().Items {
			if pyEqual(a, it) {
				return jinja.NewBool(true), nil
			}
		}
		return jinja.NewBool(false), nil
	case b.IsDict():
		return jinja.NewBool(a.IsString() && b.AsDict().Has(a.AsString())), nil
	}
	return jinja.Undefined(), fmt.Errorf("TypeError: argument of type '%s' is not iterable", pyType(b))
}

// pyEqual is Python's a == b (numbers compare by value across int and
// float).
func pyEqual(a, b jinja.Value) bool {
	_, af, _, aNum := pyNumber(a)
	_, bf, _, bNum := pyNumber(b)
	if aNum && bNum {
		return af == bf
	}
	return a.Equals(b)
}

// pyIter checks that a for loop can iterate x, as Python does; it returns
// x for the engine to iterate.
func pyIter(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) != 1 {
		return jinja.Undefined(), fmt.Errorf("for: want 1 iterable, got %d", len(args))
	}
	x := args[0]
	if x.IsUndefined() || x.IsString() || x.IsList() || x.IsDict() {
		return x, nil
	}
	return jinja.Undefined(), fmt.Errorf("TypeError: '%s' object is not iterable", pyType(x))
}

// pyStr is Python's str(v), which Jinja2 applies to what {{ }} prints;
// Undefined prints as "".
func pyStr(v jinja.Value) string {
	switch {
	case v.IsUndefined():
		return ""
	case v.IsString():
		return v.AsString()
	}
	return pyRepr(v)
}

// pyRepr is Python's repr(v).
func pyRepr(v jinja.Value) string {
	switch {
	case v.IsUndefined():
		return ""
	case v.IsNone():
		return "None"
	case v.IsBool():
		return map[bool]string{true: "True", false: "False"}[v.AsBool()]
	case v.IsInt():
		return strconv.FormatInt(v.AsInt(), 10)
	case v.IsFloat():
		f := v.AsFloat()
		switch {
		case math.IsNaN(f):
			return "nan"
		case math.IsInf(f, 1):
			return "inf"
		case math.IsInf(f, -1):
			return "-inf"
		}
		return pyFloatRepr(f)
	case v.IsString():
		return pyStringRepr(v.AsString())
	case v.IsList():
		parts := make([]string, len(v.AsList().Items))
		for i, it := range v.AsList().Items {
			parts[i] = pyRepr(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.IsDict():
		d := v.AsDict()
		parts := make([]string, 0, d.Len())
		for _, k := range d.Keys {
			val, _ := d.Get(k)
			parts = append(parts, pyStringRepr(k)+": "+pyRepr(val))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.String() // a callable
}

// pyStringRepr is Python's repr of a str: single quotes unless the text
// has ' and no ", and escapes for what is not printable.
func pyStringRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyPrint is {{ x }}: Python's str(x).
func pyPrint(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) != 1 {
		return jinja.Undefined(), fmt.Errorf("print: want 1 value, got %d", len(args))
	}
	return jinja.NewString(pyStr(args[0])), nil
}

// pyConcat is Jinja's a ~ b: str(a) + str(b).
func pyConcat(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if err := want2("~", args); err != nil {
		return jinja.Undefined(), err
	}
	return jinja.NewString(pyStr(args[0]) + pyStr(args[1])), nil
}
