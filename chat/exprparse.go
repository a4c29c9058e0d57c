package chat

import (
	"slices"
	"strings"
)

// exprParser finds the operands that rewriteTag rewrites. It follows
// Jinja2's expression grammar (jinja2/parser.py: parse_condexpr down to
// parse_primary) only as far as needed to know where each expression
// starts and ends; it builds no tree, recording edits as it goes. Errors
// unwind by panicking with parseError, recovered in parseTag.
type exprParser struct {
	toks  []token
	pos   int
	edits []edit
}

type parseError struct{}

// parseTag parses a tag's code and records its edits; false if it could
// not parse it.
func (p *exprParser) parseTag(stmt bool) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isParse := r.(parseError); !isParse {
				panic(r)
			}
			ok = false
		}
	}()
	if !stmt {
		start, end := p.parseExpr(false)
		if p.at(tokOp, ",") { // a tuple: printed as the engine does
			p.parseTuple(false)
		} else {
			p.wrap(start, end, hfStr+"(", ")")
		}
		return p.at(tokEOF, "")
	}
	if !p.at(tokName, "") {
		return false
	}
	switch p.next().text {
	case "if", "elif":
		p.parseTuple(false)
	case "for":
		// targets up to the first "in"
		for !p.at(tokName, "in") {
			if p.at(tokEOF, "") {
				return false
			}
			p.next()
		}
		p.next()
		start, end := p.parseTuple(true)
		p.wrap(start, end, hfIter+"(", ")")
		if p.skip(tokName, "if") {
			p.parseExpr(false)
		}
		p.skip(tokName, "recursive")
	case "set":
		for !p.at(tokOp, "=") {
			if p.at(tokEOF, "") {
				return true // block set: {% set x %}…{% endset %}
			}
			p.next()
		}
		p.next()
		p.parseTuple(false)
	default:
		// endfor, else, macro, call, …: only rename the filters
		return false
	}
	return p.at(tokEOF, "")
}

func (p *exprParser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tokEOF}
}

func (p *exprParser) next() token {
	t := p.peek()
	if t.kind == tokEOF {
		panic(parseError{})
	}
	p.pos++
	return t
}

// at reports whether the next token is of kind k and, if text is not "",
// spells text.
func (p *exprParser) at(k tokKind, text string) bool {
	t := p.peek()
	return t.kind == k && (text == "" || t.text == text)
}

func (p *exprParser) skip(k tokKind, text string) bool {
	if p.at(k, text) {
		p.pos++
		return true
	}
	return false
}

func (p *exprParser) expect(k tokKind, text string) token {
	if !p.at(k, text) {
		panic(parseError{})
	}
	return p.next()
}

// wrap surrounds code[start:end] with open and close.
func (p *exprParser) wrap(start, end int, open, close string) {
	p.edits = append(p.edits,
		edit{start: start, end: start, text: open, opener: true},
		edit{start: end, end: end, text: close})
}

// binary rewrites "left op right" into fn(left, right); op is the tokens
// toks[i:j].
func (p *exprParser) binary(start, end, i, j int, open string) {
	p.wrap(start, end, open, strings.Repeat(")", strings.Count(open, "(")))
	p.edits = append(p.edits, edit{start: p.toks[i].start, end: p.toks[j-1].end, text: ","})
}

// The parse functions return the extent [start, end) of what they parsed.

func (p *exprParser) parseTuple(noCond bool) (int, int) {
	start, end := p.parseExpr(noCond)
	for p.skip(tokOp, ",") {
		if p.atExprEnd() {
			break
		}
		_, end = p.parseExpr(noCond)
	}
	return start, end
}

// atExprEnd reports whether no expression can start at the next token.
func (p *exprParser) atExprEnd() bool {
	t := p.peek()
	return t.kind == tokEOF || t.kind == tokOp && strings.Contains(")]},:=", t.text) ||
		t.kind == tokName && (t.text == "if" || t.text == "recursive")
}

func (p *exprParser) parseExpr(noCond bool) (int, int) {
	start, end := p.parseOr()
	if noCond {
		return start, end
	}
	for p.skip(tokName, "if") {
		_, end = p.parseOr()
		if p.skip(tokName, "else") {
			_, end = p.parseExpr(false)
		}
	}
	return start, end
}

func (p *exprParser) parseOr() (int, int) {
	start, end := p.parseAnd()
	for p.skip(tokName, "or") {
		_, end = p.parseAnd()
	}
	return start, end
}

func (p *exprParser) parseAnd() (int, int) {
	start, end := p.parseNot()
	for p.skip(tokName, "and") {
		_, end = p.parseNot()
	}
	return start, end
}

func (p *exprParser) parseNot() (int, int) {
	if p.at(tokName, "not") {
		start := p.next().start
		_, end := p.parseNot()
		return start, end
	}
	return p.parseCompare()
}

func (p *exprParser) parseCompare() (int, int) {
	start, end := p.parseMath1()
	type cmp struct{ i, j int } // the operator's tokens
	var ops []cmp
	for {
		i := p.pos
		switch t := p.peek(); {
		case t.kind == tokOp && slices.Contains([]string{"==", "!=", "<", ">", "<=", ">="}, t.text),
			t.kind == tokName && t.text == "in":
			p.pos++
		case t.kind == tokName && t.text == "not" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == "in":
			p.pos += 2
		default:
			// Python chains comparisons (a in b in c); only a single
			// membership test is rewritten.
			if len(ops) == 1 {
				switch op := ops[0]; {
				case p.toks[op.i].text == "in":
					p.binary(start, end, op.i, op.j, hfIn+"(")
				case p.toks[op.i].text == "not":
					p.binary(start, end, op.i, op.j, "(not "+hfIn+"(")
				}
			}
			return start, end
		}
		ops = append(ops, cmp{i, p.pos})
		_, end = p.parseMath1()
	}
}

// binaryOps are the arithmetic operators and the Python-exact functions
// they become.
var binaryOps = map[string]string{"+": hfAdd, "-": hfSub, "~": hfConcat,
	"*": hfMul, "/": hfDiv, "//": hfFloorDiv, "%": hfMod, "**": hfPow}

// parseBinary parses operand (op operand)*, left-associative as in Jinja2
// (even **), rewriting each operation into a call.
func (p *exprParser) parseBinary(ops []string, operand func() (int, int)) (int, int) {
	start, end := operand()
	for t := p.peek(); t.kind == tokOp && slices.Contains(ops, t.text); t = p.peek() {
		i := p.pos
		p.pos++
		_, end = operand()
		p.binary(start, end, i, i+1, binaryOps[t.text]+"(")
	}
	return start, end
}

func (p *exprParser) parseMath1() (int, int) {
	return p.parseBinary([]string{"+", "-"}, p.parseConcat)
}

func (p *exprParser) parseConcat() (int, int) {
	return p.parseBinary([]string{"~"}, p.parseMath2)
}

func (p *exprParser) parseMath2() (int, int) {
	return p.parseBinary([]string{"*", "/", "//", "%"}, p.parsePow)
}

func (p *exprParser) parsePow() (int, int) {
	return p.parseBinary([]string{"**"}, func() (int, int) { return p.parseUnary(true) })
}

func (p *exprParser) parseUnary(withFilter bool) (int, int) {
	var start, end int
	if p.at(tokOp, "-") || p.at(tokOp, "+") {
		start = p.next().start
		_, end = p.parseUnary(false)
		if withFilter && (p.at(tokOp, "|") || p.at(tokName, "is")) {
			// Jinja2 filters the negation (-x)|f; the engine would
			// negate the filtered value
			p.wrap(start, end, "(", ")")
		}
	} else {
		start, end = p.parsePrimary()
	}
	end = p.parsePostfix(end)
	if withFilter {
		end = p.parseFilterExpr(end)
	}
	return start, end
}

func (p *exprParser) parsePrimary() (int, int) {
	t := p.next()
	switch {
	case t.kind == tokName, t.kind == tokNumber:
		return t.start, t.end
	case t.kind == tokString:
		end := t.end
		for p.at(tokString, "") { // adjacent literals concatenate
			end = p.next().end
		}
		return t.start, end
	case t.text == "(":
		if !p.at(tokOp, ")") {
			p.parseTuple(false)
		}
		return t.start, p.expect(tokOp, ")").end
	case t.text == "[":
		for !p.at(tokOp, "]") {
			p.parseExpr(false)
			if !p.skip(tokOp, ",") {
				break
			}
		}
		return t.start, p.expect(tokOp, "]").end
	case t.text == "{":
		for !p.at(tokOp, "}") {
			p.parseExpr(false)
			p.expect(tokOp, ":")
			p.parseExpr(false)
			if !p.skip(tokOp, ",") {
				break
			}
		}
		return t.start, p.expect(tokOp, "}").end
	}
	panic(parseError{})
}

func (p *exprParser) parsePostfix(end int) int {
	for {
		switch {
		case p.skip(tokOp, "."):
			if !p.at(tokName, "") && !p.at(tokNumber, "") {
				panic(parseError{})
			}
			end = p.next().end
		case p.at(tokOp, "["):
			end = p.parseSubscript()
		case p.at(tokOp, "("):
			end = p.parseArgs()
		default:
			return end
		}
	}
}

// parseSubscript parses [i], [a:b:c] and [i, j].
func (p *exprParser) parseSubscript() int {
	p.expect(tokOp, "[")
	for !p.at(tokOp, "]") {
		if !p.at(tokOp, ":") && !p.at(tokOp, ",") {
			p.parseExpr(false)
		}
		if !p.skip(tokOp, ":") && !p.skip(tokOp, ",") {
			break
		}
	}
	return p.expect(tokOp, "]").end
}

// parseArgs parses a call's (a, b, k=v, *xs, **kw).
func (p *exprParser) parseArgs() int {
	p.expect(tokOp, "(")
	for !p.at(tokOp, ")") {
		if !p.skip(tokOp, "*") && !p.skip(tokOp, "**") &&
			p.at(tokName, "") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == "=" {
			p.pos += 2
		}
		p.parseExpr(false)
		if !p.skip(tokOp, ",") {
			break
		}
	}
	return p.expect(tokOp, ")").end
}

// parseFilterExpr parses the filters (| f(args)), tests (is [not] t arg)
// and calls that follow a value.
func (p *exprParser) parseFilterExpr(end int) int {
	for {
		switch {
		case p.skip(tokOp, "|"):
			name := p.expect(tokName, "")
			if r, ok := renamedFilters[name.text]; ok {
				p.edits = append(p.edits, edit{start: name.start, end: name.end, text: r})
			}
			end = name.end
			for p.skip(tokOp, ".") {
				end = p.expect(tokName, "").end
			}
			if p.at(tokOp, "(") {
				end = p.parseArgs()
			}
		case p.skip(tokName, "is"):
			p.skip(tokName, "not")
			end = p.expect(tokName, "").end
			for p.skip(tokOp, ".") {
				end = p.expect(tokName, "").end
			}
			t := p.peek()
			switch {
			case p.at(tokOp, "("):
				end = p.parseArgs()
			case (t.kind == tokName || t.kind == tokString || t.kind == tokNumber || t.kind == tokOp && (t.text == "[" || t.text == "{")) &&
				!slices.Contains([]string{"else", "or", "and", "if"}, t.text):
				_, end = p.parsePrimary()
				end = p.parsePostfix(end)
			}
		case p.at(tokOp, "("):
			end = p.parseArgs()
		default:
			return end
		}
	}
}
