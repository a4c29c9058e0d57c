package chat

import (
	"fmt"
	"strings"
	"unicode"
)

// The engine (github.com/ardanlabs/jinja) differs from Jinja2 in ways that
// change prompts: its whitespace control searches past neighbouring tags,
// a "}}" inside a dict literal ends a tag, string literals know few
// escapes, and its operators are more lenient than Python's. So
// ParseTemplate lexes the template itself as Jinja2 does (this file),
// applies Hugging Face's whitespace rules (trim_blocks, lstrip_blocks), and
// hands the engine a rewritten source (rewrite.go) in which all text is in
// string literals, so the engine's own trimming has nothing to act on.

type pieceKind int

const (
	pieceText    pieceKind = iota
	pieceExpr              // {{ }}
	pieceStmt              // {% %}
	pieceComment           // {# #}
	pieceRaw               // {% raw %} or {% endraw %}: only delimits text
)

// piece is a run of text or one tag of a template.
type piece struct {
	kind pieceKind
	// text is the text, or the tag's code without delimiters and signs.
	text string
	// left and right are the whitespace-control signs just inside the
	// delimiters: '-', '+' or 0.
	left, right byte
}

// splitTemplate splits src into text and tags as Jinja2's lexer does: a tag
// ends at the first closer outside strings and brackets; the content of
// {% raw %} blocks is text.
func splitTemplate(src string) ([]piece, error) {
	var pieces []piece
	text := 0 // start of the pending text
	for i := 0; i < len(src); {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			break
		}
		i += j
		var p piece
		var closer string
		switch src[i+1] {
		case '{':
			p.kind, closer = pieceExpr, "}}"
		case '%':
			p.kind, closer = pieceStmt, "%}"
		case '#':
			p.kind, closer = pieceComment, "#}"
		default:
			i++
			continue
		}
		if i > text {
			pieces = append(pieces, piece{kind: pieceText, text: src[text:i]})
		}
		start := i + 2
		if start < len(src) && (src[start] == '-' || src[start] == '+') {
			p.left = src[start]
			start++
		}
		end, err := tagEnd(src, start, p.kind, closer)
		if err != nil {
			return nil, err
		}
		code := src[start:end]
		if n := len(code); n > 0 && (code[n-1] == '-' || code[n-1] == '+') {
			p.right = code[n-1]
			code = code[:n-1]
		}
		p.text = code
		i = end + len(closer)
		text = i
		pieces = append(pieces, p)
		if p.kind == pieceStmt && strings.TrimSpace(code) == "raw" {
			pieces[len(pieces)-1].kind = pieceRaw
			raw, endTag, next, err := rawBlock(src, i)
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, piece{kind: pieceText, text: raw}, endTag)
			i, text = next, next
		}
	}
	if text < len(src) {
		pieces = append(pieces, piece{kind: pieceText, text: src[text:]})
	}
	return pieces, nil
}

// tagEnd returns the offset of the closer of the tag whose code starts at
// start.
func tagEnd(src string, start int, kind pieceKind, closer string) (int, error) {
	if kind == pieceComment {
		end := strings.Index(src[start:], closer)
		if end < 0 {
			return 0, fmt.Errorf("missing end of comment tag at offset %d", start)
		}
		return start + end, nil
	}
	var open []byte // brackets not yet closed
	for i := start; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '"':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '(', '[', '{':
			open = append(open, map[byte]byte{'(': ')', '[': ']', '{': '}'}[c])
		case ')', ']', '}':
			if len(open) == 0 {
				if strings.HasPrefix(src[i:], closer) {
					return i, nil
				}
				return 0, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			if open[len(open)-1] != c {
				return 0, fmt.Errorf("unexpected %q at offset %d, want %q", c, i, open[len(open)-1])
			}
			open = open[:len(open)-1]
		default:
			if len(open) == 0 && strings.HasPrefix(src[i:], closer) {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed tag at offset %d", start-2)
}

// rawBlock finds the {% endraw %} after a {% raw %} ending at i and returns
// the raw text, the endraw tag and the offset after it.
func rawBlock(src string, i int) (string, piece, int, error) {
	for j := i; ; {
		k := strings.Index(src[j:], "{%")
		if k < 0 {
			return "", piece{}, 0, fmt.Errorf("missing end of raw directive at offset %d", i)
		}
		k += j
		p := piece{kind: pieceRaw}
		start := k + 2
		if start < len(src) && (src[start] == '-' || src[start] == '+') {
			p.left = src[start]
			start++
		}
		end := strings.Index(src[start:], "%}")
		if end >= 0 {
			code := src[start : start+end]
			if n := len(code); n > 0 && (code[n-1] == '-' || code[n-1] == '+') {
				p.right, code = code[n-1], code[:n-1]
			}
			if strings.TrimSpace(code) == "endraw" {
				p.text = code
				return src[i:k], p, start + end + 2, nil
			}
		}
		j = k + 2
	}
}

// pyIsSpace is Python's str.isspace for one character (regular
// expressions' \s).
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// trimWhitespace applies Jinja2's whitespace control to the text pieces,
// with trim_blocks and lstrip_blocks on (as Hugging Face configures it):
// "-" strips all white space on its side; a block or comment tag
// (not an expression) strips the indentation before it when it starts its
// line and one newline after it; "+" turns either off.
func trimWhitespace(pieces []piece) {
	lineStarting := true // the lexer's last match ended a line
	for i := range pieces {
		p := &pieces[i]
		if p.kind == pieceText {
			continue
		}
		var prev *piece
		if i > 0 && pieces[i-1].kind == pieceText {
			prev = &pieces[i-1]
		}
		switch {
		case prev == nil:
		case p.left == '-':
			prev.text = strings.TrimRightFunc(prev.text, pyIsSpace)
		case p.left != '+' && p.kind != pieceExpr:
			lpos := strings.LastIndexByte(prev.text, '\n') + 1
			rest := prev.text[lpos:]
			if (lpos > 0 || lineStarting) && rest != "" && strings.TrimFunc(rest, pyIsSpace) == "" {
				prev.text = prev.text[:lpos]
			}
		}

		var next *piece
		if i+1 < len(pieces) && pieces[i+1].kind == pieceText {
			next = &pieces[i+1]
		}
		lineStarting = false
		opensRaw := p.kind == pieceRaw && strings.TrimSpace(p.text) == "raw"
		switch {
		case p.right == '-':
			if next != nil {
				trimmed := strings.TrimLeftFunc(next.text, pyIsSpace)
				lineStarting = strings.HasSuffix(next.text[:len(next.text)-len(trimmed)], "\n")
				next.text = trimmed
			}
		case p.right == '+' || p.kind == pieceExpr || opensRaw:
		default: // trim_blocks
			if next != nil && strings.HasPrefix(next.text, "\n") {
				next.text = next.text[1:]
				lineStarting = true
			}
		}
	}
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokName
	tokString
	tokNumber
	tokOp
)

// token is one lexeme of a tag's code; start and end are offsets into it.
type token struct {
	kind       tokKind
	text       string
	start, end int
}

// twoCharOps are the operators longer than one byte, tried first.
var twoCharOps = []string{"//", "**", "==", "!=", "<=", ">="}

// lex splits one tag's code into tokens as Jinja does.
func lex(code string) ([]token, error) {
	var toks []token
	for i := 0; i < len(code); {
		c := code[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			for i < len(code) && isIdentByte(code[i]) {
				i++
			}
			toks = append(toks, token{tokName, code[start:i], start, i})
		case c >= '0' && c <= '9':
			for i < len(code) && (isIdentByte(code[i]) || code[i] == '.' && i+1 < len(code) && code[i+1] >= '0' && code[i+1] <= '9' ||
				(code[i] == '+' || code[i] == '-') && (code[i-1] == 'e' || code[i-1] == 'E')) {
				i++
			}
			toks = append(toks, token{tokNumber, code[start:i], start, i})
		case c == '\'' || c == '"':
			for i++; i < len(code) && code[i] != c; i++ {
				if code[i] == '\\' {
					i++
				}
			}
			if i >= len(code) {
				return nil, fmt.Errorf("unterminated string at offset %d", start)
			}
			i++
			toks = append(toks, token{tokString, code[start:i], start, i})
		default:
			op := code[i : i+1]
			for _, o := range twoCharOps {
				if strings.HasPrefix(code[i:], o) {
					op = o
				}
			}
			if !strings.Contains("+-*/%~<>()[]{},.:|=!", op[:1]) || op == "!" {
				return nil, fmt.Errorf("unexpected %q at offset %d", op, start)
			}
			i += len(op)
			toks = append(toks, token{tokOp, op, start, i})
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// mentions reports whether name appears as a variable in the code of the
// template: not as an attribute (x.name), nor in text, comments or strings.
func mentions(pieces []piece, name string) bool {
	for _, p := range pieces {
		if p.kind != pieceExpr && p.kind != pieceStmt {
			continue
		}
		toks, err := lex(p.text)
		if err != nil {
			continue
		}
		for i, tk := range toks {
			if tk.kind == tokName && tk.text == name && (i == 0 || toks[i-1].text != ".") {
				return true
			}
		}
	}
	return false
}

// pyUnescape decodes the body of a string literal as Jinja2 does (Python's
// unicode-escape): \n, \t, \xhh, \uhhhh, octal, … An escape it does not
// know stays as written.
func pyUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		c := s[i]
		if r, ok := map[byte]rune{'\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}[c]; ok {
			b.WriteRune(r)
			continue
		}
		hexDigits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		switch {
		case c == '\n': // line continuation
		case c >= '0' && c <= '7':
			n, j := 0, i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				n = n*8 + int(s[j]-'0')
			}
			b.WriteRune(rune(n))
			i = j - 1
		case hexDigits > 0 && isHex(s[i+1:min(len(s), i+1+hexDigits)], hexDigits):
			var n rune
			for _, h := range s[i+1 : i+1+hexDigits] {
				n = n*16 + rune(strings.IndexRune("0123456789abcdef", unicode.ToLower(h)))
			}
			b.WriteRune(n)
			i += hexDigits
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
