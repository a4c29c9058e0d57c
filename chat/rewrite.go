package chat

import (
	"slices"
	"strings"
)

// Where Jinja2 (Python) raises and the engine carries on, Hugging Face's
// apply_chat_template fails: "str" + None, "x" in None, a for loop over
// None. So that Render fails alike, ParseTemplate rewrites those operations
// into calls of Python-exact functions (pyops.go). Likewise for printing,
// where the engine writes None as "" and 1.0 as "1", and Python "None" and
// "1.0":
//
//	{{ x }}          → {{ hf_str(x) }}
//	a ~ b            → hf_concat(a, b)
//	x | string       → x | hf_string
//	a + b            → hf_add(a, b)    (and -, *, /, //, %, **)
//	a in b           → hf_in(a, b)
//	a not in b       → (not hf_in(a, b))
//	for x in items   → for x in hf_iter(items)
//	x | tojson       → x | hf_tojson
//
// The parser below follows Jinja2's expression grammar only as far as it
// needs to find the operands. A tag it cannot parse keeps its code (with
// only the filters renamed), so the engine's own behaviour is the fallback.

// Names of the functions the rewritten code calls; the engine does not
// define them, so Render supplies them as variables.
const (
	hfToJSON   = "hf_tojson"
	hfStr      = "hf_str"
	hfString   = "hf_string"
	hfConcat   = "hf_concat"
	hfAdd      = "hf_add"
	hfSub      = "hf_sub"
	hfMul      = "hf_mul"
	hfDiv      = "hf_div"
	hfFloorDiv = "hf_floordiv"
	hfMod      = "hf_mod"
	hfPow      = "hf_pow"
	hfIn       = "hf_in"
	hfIter     = "hf_iter"
)

// edit inserts or replaces text in a tag's code.
type edit struct {
	start, end int // code[start:end] is replaced; start == end inserts
	text       string
	opener     bool // opens a call around an expression starting at start
}

// renamedFilters are the engine's filters replaced by Python-exact ones.
var renamedFilters = map[string]string{"tojson": hfToJSON, "string": hfString}

// engineSource returns the source the engine compiles for the Jinja2
// template src (newlines already normalized): Jinja2's whitespace control
// applied, text as string literals, comments dropped, code rewritten.
func engineSource(src string) (string, []piece, error) {
	pieces, err := splitTemplate(src)
	if err != nil {
		return "", nil, err
	}
	trimWhitespace(pieces)
	var b strings.Builder
	for _, p := range pieces {
		switch p.kind {
		case pieceText:
			if p.text != "" {
				b.WriteString("{{ ")
				b.WriteString(engineString(p.text))
				b.WriteString(" }}")
			}
		case pieceExpr:
			b.WriteString("{{ ")
			b.WriteString(breakCloser(strings.TrimSpace(rewriteTag(p.text, false)), "}}"))
			b.WriteString(" }}")
		case pieceStmt:
			b.WriteString("{% ")
			b.WriteString(breakCloser(strings.TrimSpace(rewriteTag(p.text, true)), "%}"))
			b.WriteString(" %}")
		}
	}
	return b.String(), pieces, nil
}

// engineString quotes s as a string literal of the engine, which knows
// only the escapes \\, \" (and \', \n, \t).
func engineString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// breakCloser puts a space inside every closer outside string literals in
// code ("}}" of nested dict literals), which would end the engine's tag.
func breakCloser(code, closer string) string {
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		c := code[i]
		b.WriteByte(c)
		switch {
		case c == '\'' || c == '"':
			for i++; i < len(code) && code[i] != c; i++ {
				if code[i] == '\\' {
					b.WriteByte(code[i])
					i++
				}
				if i < len(code) {
					b.WriteByte(code[i])
				}
			}
			if i < len(code) {
				b.WriteByte(code[i])
			}
		case c == closer[0] && i+1 < len(code) && code[i+1] == closer[1]:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// rewriteTag rewrites one tag's code.
func rewriteTag(code string, stmt bool) string {
	toks, err := lex(code)
	if err != nil {
		return code
	}
	p := &exprParser{toks: toks}
	if !p.parseTag(stmt) {
		// fallback: rename the filters only
		p.edits = p.edits[:0]
		for i := 1; i < len(toks); i++ {
			if r, ok := renamedFilters[toks[i].text]; ok && toks[i].kind == tokName && toks[i-1].text == "|" {
				p.edits = append(p.edits, edit{start: toks[i].start, end: toks[i].end, text: r})
			}
		}
	}
	// string literals with escapes the engine would read differently
	for _, t := range toks {
		if t.kind == tokString && strings.Contains(t.text, `\`) {
			p.edits = append(p.edits, edit{start: t.start, end: t.end, text: engineString(pyUnescape(t.text[1 : len(t.text)-1]))})
		}
	}
	return applyEdits(code, p.edits)
}

func applyEdits(code string, edits []edit) string {
	if len(edits) == 0 {
		return code
	}
	// At one offset: first the closers of expressions ending there, then
	// the openers of those starting there, then the replacement of the
	// token there. Openers at one offset belong to nested expressions, and
	// an inner expression is parsed (and its edits recorded) before the
	// outer one: so they go out in reverse order.
	rank := func(e edit) int {
		switch {
		case e.end > e.start:
			return 2
		case e.opener:
			return 1
		}
		return 0
	}
	order := make([]int, len(edits))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := edits[i], edits[j]
		switch {
		case a.start != b.start:
			return a.start - b.start
		case rank(a) != rank(b):
			return rank(a) - rank(b)
		case a.opener:
			return j - i
		}
		return 0
	})
	var b strings.Builder
	prev := 0
	for _, i := range order {
		e := edits[i]
		b.WriteString(code[prev:e.start])
		b.WriteString(e.text)
		prev = e.end
	}
	b.WriteString(code[prev:])
	return b.String()
}
