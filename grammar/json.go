package grammar

// The JSON primitives every constraint is built from. Whitespace and digit
// runs are bounded so that a model cannot stall the output on them forever.

const (
	maxIndent    = 32 // spaces or tabs after a newline between tokens
	maxIntDigits = 16 // digits of an integer part (exact in float64 up to 2^53)
	maxFracDig   = 16 // digits after the decimal point
	maxExpDigits = 2  // exponent digits: 1e99 still fits a float64
)

// ws matches the whitespace allowed between tokens: nothing, one space, or
// one newline followed by up to maxIndent spaces or tabs.
func (g *grammar) ws() sym {
	return g.once("ws", func() sym {
		indent := g.repeat("indent", one(g.term(spaceTab())), 0, maxIndent)
		return g.rule("ws", nil, g.lit(" "), cat(g.lit("\n"), indent))
	})
}

func spaceTab() byteSet {
	var s byteSet
	s.add(' ', ' ')
	s.add('\t', '\t')
	return s
}

// jsonChar matches one character of a JSON string, literal or escaped.
// Surrogate escapes come in valid pairs only, so every string decodes to
// valid Unicode and counts as the characters a validator sees.
func (g *grammar) jsonChar() sym {
	return g.once("char", func() sym {
		hex := g.term(hexDigits())
		alts := g.literalChars([]runeRange{{0x20, '"' - 1}, {'"' + 1, '\\' - 1}, {'\\' + 1, maxRune}})
		esc := setOf('"', '"')
		for _, c := range `\/bfnrt` {
			esc.add(byte(c), byte(c))
		}
		alts = append(alts, cat(g.lit(`\`), one(g.term(esc))))
		// \uXXXX outside the surrogates, or a high surrogate then a low one.
		d := g.term(setOf('d', 'd').union(setOf('D', 'D')))
		notD := g.term(hexDigits().minus(setOf('d', 'd')).minus(setOf('D', 'D')))
		low07 := g.term(setOf('0', '7'))
		high := g.term(setOf('8', '9').union(setOf('a', 'b')).union(setOf('A', 'B')))
		lowS := g.term(setOf('c', 'f').union(setOf('C', 'F')))
		alts = append(alts,
			cat(g.lit(`\u`), []sym{notD, hex, hex, hex}),
			cat(g.lit(`\u`), []sym{d, low07, hex, hex}),
			cat(g.lit(`\u`), []sym{d, high, hex, hex}, g.lit(`\u`), []sym{d, lowS, hex, hex}),
		)
		return g.rule("char", alts...)
	})
}

func hexDigits() byteSet {
	return setOf('0', '9').union(setOf('a', 'f')).union(setOf('A', 'F'))
}

func (s byteSet) union(o byteSet) byteSet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

func (s byteSet) minus(o byteSet) byteSet {
	for i := range s {
		s[i] &^= o[i]
	}
	return s
}

// literalChars returns alternatives matching one character of rs as it
// appears in a JSON string: control characters, quote and backslash by their
// one canonical escape, everything else as its UTF-8 bytes. Single-byte
// characters share one alternative.
func (g *grammar) literalChars(rs []runeRange) [][]sym {
	var ascii byteSet
	var alts [][]sym
	for _, r := range rs {
		for c := r.lo; c <= min(r.hi, 0x7F); c++ {
			switch {
			case c < 0x20 || c == '"' || c == '\\':
				alts = append(alts, g.lit(escapeRune(c)))
			default:
				ascii.add(byte(c), byte(c))
			}
		}
		utf8Seqs(max(r.lo, 0x80), r.hi, func(seq []byteRange) {
			a := make([]sym, len(seq))
			for i, br := range seq {
				a[i] = g.rng(br.lo, br.hi)
			}
			alts = append(alts, a)
		})
	}
	if !ascii.empty() {
		alts = append([][]sym{one(g.term(ascii))}, alts...)
	}
	return alts
}

// escapeRune is the escape encoding/json's decoder reads back as c, for the
// characters that must be escaped.
func escapeRune(c rune) string {
	switch c {
	case '"':
		return `\"`
	case '\\':
		return `\\`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	const hex = "0123456789abcdef"
	return `\u00` + string(hex[c>>4]) + string(hex[c&15])
}

// jsonString matches any JSON string.
func (g *grammar) jsonString() sym {
	return g.once("string", func() sym {
		return g.rule("string", cat(g.lit(`"`), one(g.star("chars", g.jsonChar())), g.lit(`"`)))
	})
}

// integer matches a JSON integer of up to maxIntDigits digits.
func (g *grammar) integer() sym {
	return g.once("integer", func() sym {
		return g.rule("integer", cat(one(g.opt("sign", g.lit("-")...)), one(g.intPart())))
	})
}

func (g *grammar) intPart() sym {
	return g.once("int-part", func() sym {
		digits := g.repeat("digits", one(g.rng('0', '9')), 0, maxIntDigits-1)
		return g.rule("int-part", g.lit("0"), cat(one(g.rng('1', '9')), digits))
	})
}

// number matches a JSON number: bounded integer part, fraction and exponent.
func (g *grammar) number() sym {
	return g.once("number", func() sym {
		return g.rule("number", []sym{g.integer(), g.fraction(), g.exponent()})
	})
}

// fraction matches an optional fractional part.
func (g *grammar) fraction() sym {
	return g.once("fraction", func() sym {
		return g.opt("fraction", cat(g.lit("."), g.repeat("frac-digits", one(g.rng('0', '9')), 1, maxFracDig))...)
	})
}

func (g *grammar) exponent() sym {
	return g.once("exponent", func() sym {
		e := g.term(setOf('e', 'e').union(setOf('E', 'E')))
		var pm byteSet
		pm.add('+', '+')
		pm.add('-', '-')
		sign := g.opt("exp-sign", g.term(pm))
		return g.opt("exponent", cat([]sym{e, sign}, g.repeat("exp-digits", one(g.rng('0', '9')), 1, maxExpDigits))...)
	})
}

// value matches any JSON value.
func (g *grammar) value() sym {
	if r, ok := g.shared["value"]; ok {
		return ref(r)
	}
	r := g.reserve("value")
	g.shared["value"] = r
	obj := g.objectOf(g.jsonString(), ref(r))
	arr := g.arrayOf(ref(r))
	g.define(r, one(obj), one(arr), one(g.jsonString()), one(g.number()),
		g.lit("true"), g.lit("false"), g.lit("null"))
	return ref(r)
}

// objectOf matches objects of any size whose keys match key and values val.
func (g *grammar) objectOf(key, val sym) sym {
	ws := g.ws()
	member := []sym{key, ws}
	member = append(append(member, g.lit(":")...), ws, val, ws)
	more := g.star("members", cat(g.lit(","), one(ws), member)...)
	body := g.opt("object-body", append(member, more)...)
	return g.rule("object", cat(g.lit("{"), []sym{ws, body}, g.lit("}")))
}

// arrayOf matches arrays of any length of items matching item.
func (g *grammar) arrayOf(item sym) sym {
	ws := g.ws()
	more := g.star("items", cat(g.lit(","), []sym{ws, item, ws})...)
	body := g.opt("array-body", item, ws, more)
	return g.rule("array", cat(g.lit("["), []sym{ws, body}, g.lit("]")))
}

// JSON returns a constraint for any JSON value.
func JSON() *Constraint {
	g := newGrammar()
	return mustFinish(g, g.value())
}

// JSONObject returns a constraint for any JSON object, as OpenAI's
// response_format {"type": "json_object"} asks.
func JSONObject() *Constraint {
	g := newGrammar()
	return mustFinish(g, g.objectOf(g.jsonString(), g.value()))
}

func mustFinish(g *grammar, root sym) *Constraint {
	p, err := g.finish(root.rule)
	if err != nil {
		panic("grammar: built-in grammar: " + err.Error())
	}
	return newConstraint(p)
}
