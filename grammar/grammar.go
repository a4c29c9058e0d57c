package grammar

import (
	"fmt"
	"strings"
)

// byteSet is a set of bytes, one bit each.
type byteSet [4]uint64

func (s *byteSet) add(lo, hi byte) {
	for b := int(lo); b <= int(hi); b++ {
		s[b>>6] |= 1 << (b & 63)
	}
}

func (s byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }

func (s byteSet) empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }

func setOf(lo, hi byte) byteSet {
	var s byteSet
	s.add(lo, hi)
	return s
}

// sym is one symbol of an alternative: a terminal byte set or a rule reference.
type sym struct {
	rule int32 // >= 0: reference to that rule; -1: terminal
	set  int32 // terminal: index into grammar.sets
}

// grammar is a context-free grammar over bytes under construction: rules of
// alternatives of symbol sequences. Rules are reserved before they are defined
// so that recursive schemas ($ref) can refer to themselves.
type grammar struct {
	sets    []byteSet
	setIdx  map[byteSet]int32
	rules   [][][]sym // rule → alternatives → symbols
	names   []string  // rule names, for errors
	defined []bool
	size    int // symbols in all rules, to bound the grammar
	shared  map[string]int32
}

// maxGrammarSymbols bounds a compiled grammar (schemas with large length or
// item bounds unroll into many rules).
const maxGrammarSymbols = 1 << 21

func newGrammar() *grammar {
	return &grammar{setIdx: map[byteSet]int32{}, shared: map[string]int32{}}
}

// reserve creates an undefined rule and returns its id.
func (g *grammar) reserve(name string) int32 {
	g.rules = append(g.rules, nil)
	g.names = append(g.names, name)
	g.defined = append(g.defined, false)
	return int32(len(g.rules) - 1)
}

// define sets the alternatives of a reserved rule. An alternative may be
// empty (the empty string); a rule without alternatives matches nothing.
func (g *grammar) define(r int32, alts ...[]sym) {
	if g.defined[r] {
		panic(fmt.Sprintf("grammar: rule %s defined twice", g.names[r]))
	}
	g.rules[r] = alts
	g.defined[r] = true
	for _, a := range alts {
		g.size += len(a) + 1
	}
}

// rule reserves and defines a rule in one step and returns a reference to it.
func (g *grammar) rule(name string, alts ...[]sym) sym {
	r := g.reserve(name)
	g.define(r, alts...)
	return ref(r)
}

// once returns the rule named key, building it with build the first time.
func (g *grammar) once(key string, build func() sym) sym {
	if r, ok := g.shared[key]; ok {
		return ref(r)
	}
	s := build()
	if s.rule < 0 {
		s = g.rule(key, []sym{s})
	}
	g.shared[key] = s.rule
	return s
}

func ref(r int32) sym { return sym{rule: r} }

// term returns the terminal matching one byte of s.
func (g *grammar) term(s byteSet) sym {
	i, ok := g.setIdx[s]
	if !ok {
		i = int32(len(g.sets))
		g.sets = append(g.sets, s)
		g.setIdx[s] = i
	}
	return sym{rule: -1, set: i}
}

// rng returns the terminal matching one byte in [lo, hi].
func (g *grammar) rng(lo, hi byte) sym { return g.term(setOf(lo, hi)) }

// lit returns the symbols matching exactly the bytes of s.
func (g *grammar) lit(s string) []sym {
	out := make([]sym, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = g.rng(s[i], s[i])
	}
	return out
}

// alt returns a symbol matching any of the alternatives.
func (g *grammar) alt(name string, alts ...[]sym) sym {
	if len(alts) == 1 && len(alts[0]) == 1 {
		return alts[0][0]
	}
	return g.rule(name, alts...)
}

// opt returns a symbol matching seq or nothing.
func (g *grammar) opt(name string, seq ...sym) sym { return g.rule(name, seq, nil) }

// star returns a symbol matching seq zero or more times. seq must not match
// the empty string (the matcher would loop; finish rejects such grammars).
func (g *grammar) star(name string, seq ...sym) sym {
	r := g.reserve(name)
	g.define(r, append(append([]sym(nil), seq...), ref(r)), nil)
	return ref(r)
}

// repeat returns symbols matching seq between lo and hi times (hi < 0: no
// bound). The optional tail nests (seq (seq …)?)? so the grammar stays
// linear in hi and every recursion is a tail call.
func (g *grammar) repeat(name string, seq []sym, lo, hi int) []sym {
	var out []sym
	for range lo {
		out = append(out, seq...)
	}
	switch {
	case hi < 0:
		out = append(out, g.star(name, seq...))
	case hi > lo:
		tail := g.rule(name, seq, nil)
		for range hi - lo - 1 {
			tail = g.rule(name, append(append([]sym(nil), seq...), tail), nil)
		}
		out = append(out, tail)
	}
	return out
}

func cat(parts ...[]sym) []sym {
	var out []sym
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(s sym) []sym { return []sym{s} }

// Flattened form the matcher runs on.

const (
	elemTerm = iota
	elemRef
	elemEnd
)

// elem is one position in the flattened grammar: every alternative is laid
// out as its symbols followed by an end marker.
type elem struct {
	kind uint8
	arg  int32 // terminal: set index; ref: rule id
}

// program is a finished grammar: flattened, checked, with byte classes.
type program struct {
	elems []elem
	alts  [][]int32 // rule → start position of each alternative
	sets  []byteSet
	root  int32

	class  [256]uint8 // byte → class: bytes no terminal tells apart share one
	nclass int
}

// finish checks the grammar rooted at root and flattens it. It removes
// alternatives that can never complete, and rejects grammars the matcher
// cannot run: left recursion (a rule reaching itself without consuming a
// byte) would expand forever.
func (g *grammar) finish(root int32) (*program, error) {
	for r, ok := range g.defined {
		if !ok {
			return nil, fmt.Errorf("internal error: rule %s is never defined", g.names[r])
		}
	}
	if g.size > maxGrammarSymbols {
		return nil, fmt.Errorf("schema is too large: its grammar has %d symbols (limit %d); lower length or item bounds", g.size, maxGrammarSymbols)
	}
	if err := g.checkLeftRecursion(); err != nil {
		return nil, err
	}
	g.prune()
	if len(g.rules[root]) == 0 {
		return nil, fmt.Errorf("schema accepts no value")
	}
	p := &program{sets: g.sets, root: root, alts: make([][]int32, len(g.rules))}
	for r, alts := range g.rules {
		for _, a := range alts {
			p.alts[r] = append(p.alts[r], int32(len(p.elems)))
			for _, s := range a {
				if s.rule >= 0 {
					p.elems = append(p.elems, elem{kind: elemRef, arg: s.rule})
				} else {
					p.elems = append(p.elems, elem{kind: elemTerm, arg: s.set})
				}
			}
			p.elems = append(p.elems, elem{kind: elemEnd})
		}
	}
	p.classify()
	return p, nil
}

// prune drops alternatives that use a rule deriving no finite string, so
// every prefix the matcher accepts can still be completed.
func (g *grammar) prune() {
	productive := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for r, alts := range g.rules {
			if productive[r] {
				continue
			}
			for _, a := range alts {
				if allProductive(a, productive) {
					productive[r], changed = true, true
					break
				}
			}
		}
	}
	for r, alts := range g.rules {
		kept := alts[:0]
		for _, a := range alts {
			if allProductive(a, productive) {
				kept = append(kept, a)
			}
		}
		g.rules[r] = kept
	}
}

func allProductive(a []sym, productive []bool) bool {
	for _, s := range a {
		if s.rule >= 0 && !productive[s.rule] {
			return false
		}
	}
	return true
}

// checkLeftRecursion finds a rule that can reach itself at its leftmost
// position, through nullable prefixes.
func (g *grammar) checkLeftRecursion() error {
	nullable := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for r, alts := range g.rules {
			if nullable[r] {
				continue
			}
			for _, a := range alts {
				if allNullable(a, nullable) {
					nullable[r], changed = true, true
					break
				}
			}
		}
	}
	// left[r]: rules that can start r's expansion.
	left := make([][]int32, len(g.rules))
	for r, alts := range g.rules {
		for _, a := range alts {
			for _, s := range a {
				if s.rule < 0 {
					break
				}
				left[r] = append(left[r], s.rule)
				if !nullable[s.rule] {
					break
				}
			}
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.rules))
	var path []int32
	var visit func(r int32) error
	visit = func(r int32) error {
		color[r] = grey
		path = append(path, r)
		for _, n := range left[r] {
			switch color[n] {
			case grey:
				var names []string
				for i := len(path) - 1; i >= 0; i-- {
					names = append(names, g.names[path[i]])
					if path[i] == n {
						break
					}
				}
				return fmt.Errorf("schema refers to itself without nesting (%s)", strings.Join(names, " ← "))
			case white:
				if err := visit(n); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		color[r] = black
		return nil
	}
	for r := range g.rules {
		if color[r] == white {
			if err := visit(int32(r)); err != nil {
				return err
			}
		}
	}
	return nil
}

func allNullable(a []sym, nullable []bool) bool {
	for _, s := range a {
		if s.rule < 0 || !nullable[s.rule] {
			return false
		}
	}
	return true
}

// classify partitions the 256 byte values into classes that every terminal
// treats alike, so the matcher's transition tables are indexed by class.
func (p *program) classify() {
	sig := map[string]uint8{}
	key := make([]byte, (len(p.sets)+7)/8)
	for b := range 256 {
		clear(key)
		for i, s := range p.sets {
			if s.has(byte(b)) {
				key[i>>3] |= 1 << (i & 7)
			}
		}
		c, ok := sig[string(key)]
		if !ok {
			c = uint8(len(sig))
			sig[string(key)] = c
		}
		p.class[b] = c
	}
	p.nclass = len(sig)
}
