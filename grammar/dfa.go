package grammar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String constraints (pattern, format, length, "any key but these") are
// deterministic automata over the decoded characters of the string. They are
// intersected, then emitted as grammar rules over the string's JSON bytes.

const maxRune = utf8.MaxRune

type runeRange struct{ lo, hi rune }

// rdfa is a deterministic automaton over runes; state 0 is the start.
type rdfa struct {
	states []rstate
}

type rstate struct {
	accept bool
	edges  []redge // sorted, disjoint
}

type redge struct {
	lo, hi rune
	to     int32
}

// maxDFAStates bounds a string automaton (a product of pattern and length
// bounds can grow large).
const maxDFAStates = 1 << 16

// anyString accepts every string.
func anyString() *rdfa {
	return &rdfa{states: []rstate{{accept: true, edges: []redge{{0, maxRune, 0}}}}}
}

// lengthDFA accepts strings of minLen to maxLen characters (maxLen < 0: no
// upper bound).
func lengthDFA(minLen, maxLen int) *rdfa {
	top := maxLen
	if maxLen < 0 {
		top = minLen
	}
	d := &rdfa{states: make([]rstate, top+1)}
	for k := range d.states {
		d.states[k].accept = k >= minLen
		switch {
		case k < top:
			d.states[k].edges = []redge{{0, maxRune, int32(k + 1)}}
		case maxLen < 0:
			d.states[k].edges = []redge{{0, maxRune, int32(k)}}
		}
	}
	return d
}

// excludeStrings accepts every string except those in words.
func excludeStrings(words []string) *rdfa {
	d := &rdfa{states: []rstate{{accept: true}, {accept: true}}} // 0 start, 1 "diverged"
	d.states[1].edges = []redge{{0, maxRune, 1}}
	children := []map[rune]int32{{}, nil}
	for _, w := range words {
		s := int32(0)
		for _, c := range w {
			n, ok := children[s][c]
			if !ok {
				n = int32(len(d.states))
				d.states = append(d.states, rstate{accept: true})
				children = append(children, map[rune]int32{})
				children[s][c] = n
			}
			s = n
		}
		d.states[s].accept = false
	}
	for s, ch := range children {
		if ch == nil {
			continue
		}
		keys := make([]rune, 0, len(ch))
		for c := range ch {
			keys = append(keys, c)
		}
		slices.Sort(keys)
		var edges []redge
		next := rune(0)
		for _, c := range keys {
			if c > next {
				edges = append(edges, redge{next, c - 1, 1})
			}
			edges = append(edges, redge{c, c, ch[c]})
			next = c + 1
		}
		if next <= maxRune {
			edges = append(edges, redge{next, maxRune, 1})
		}
		d.states[s].edges = edges
	}
	return d
}

// intersect accepts the strings both a and b accept (nil means any string).
func intersect(a, b *rdfa) (*rdfa, error) {
	if a == nil {
		return b, nil
	}
	if b == nil {
		return a, nil
	}
	type pair struct{ x, y int32 }
	ids := map[pair]int32{{0, 0}: 0}
	queue := []pair{{0, 0}}
	d := &rdfa{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		sa, sb := a.states[p.x], b.states[p.y]
		st := rstate{accept: sa.accept && sb.accept}
		i, j := 0, 0
		for i < len(sa.edges) && j < len(sb.edges) {
			ea, eb := sa.edges[i], sb.edges[j]
			lo, hi := max(ea.lo, eb.lo), min(ea.hi, eb.hi)
			if lo <= hi {
				q := pair{ea.to, eb.to}
				id, ok := ids[q]
				if !ok {
					id = int32(len(ids))
					if id >= maxDFAStates {
						return nil, fmt.Errorf("string constraints are too complex (over %d states)", maxDFAStates)
					}
					ids[q] = id
					queue = append(queue, q)
				}
				st.edges = append(st.edges, redge{lo, hi, id})
			}
			if ea.hi < eb.hi {
				i++
			} else {
				j++
			}
		}
		d.states = append(d.states, st)
	}
	return d, nil
}

// isAny reports whether ranges cover every character.
func isAny(rs []runeRange) bool {
	next := rune(0)
	for _, r := range rs {
		if r.lo > next && !(next >= 0xD800 && r.lo-1 <= 0xDFFF) { // only surrogates missing
			return false
		}
		next = max(next, r.hi+1)
	}
	return next > maxRune
}

// stringOf emits the grammar of a JSON string whose decoded text d accepts.
// Edges that allow every character take any JSON character, escapes
// included; narrower ones take each character in one canonical form.
func (g *grammar) stringOf(name string, d *rdfa) sym {
	rules := make([]int32, len(d.states))
	for i := range d.states {
		rules[i] = g.reserve(name + "-" + strconv.Itoa(i))
	}
	for i, st := range d.states {
		// Group edges by target: one character class per target.
		var targets []int32
		byTarget := map[int32][]runeRange{}
		for _, e := range st.edges {
			if _, ok := byTarget[e.to]; !ok {
				targets = append(targets, e.to)
			}
			byTarget[e.to] = append(byTarget[e.to], runeRange{e.lo, e.hi})
		}
		var alts [][]sym
		for _, t := range targets {
			alts = append(alts, []sym{g.charClass(byTarget[t]), ref(rules[t])})
		}
		if st.accept {
			alts = append(alts, g.lit(`"`))
		}
		g.define(rules[i], alts...)
	}
	return g.rule(name, cat(g.lit(`"`), one(ref(rules[0]))))
}

// charClass matches one JSON string character among rs.
func (g *grammar) charClass(rs []runeRange) sym {
	if isAny(rs) {
		return g.jsonChar()
	}
	var key strings.Builder
	key.WriteString("class")
	for _, r := range rs {
		fmt.Fprintf(&key, ":%x-%x", r.lo, r.hi)
	}
	return g.once(key.String(), func() sym {
		return g.rule("class", g.literalChars(rs)...)
	})
}
