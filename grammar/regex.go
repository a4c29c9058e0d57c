package grammar

import (
	"encoding/binary"
	"fmt"
	"regexp/syntax"
	"slices"
	"unicode"
)

// Patterns are parsed with Go's regexp/syntax (RE2: ECMA-262 without
// lookaround or backreferences) and turned into a DFA over runes by subset
// construction on the compiled program. JSON Schema patterns search: they
// match anywhere in the string unless anchored with ^ and $.

// maxPatternStates bounds a pattern's DFA.
const maxPatternStates = 4096

// patternDFA returns a DFA accepting the strings in which pattern matches.
func patternDFA(pattern string) (*rdfa, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	ranges := make([][]runeRange, len(prog.Inst))
	for pc, in := range prog.Inst {
		switch in.Op {
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
				return nil, fmt.Errorf("pattern %q: word boundaries and multi-line anchors are not supported", pattern)
			}
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			rs, err := instRanges(in)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", pattern, err)
			}
			ranges[pc] = rs
		}
	}
	b := &dfaBuilder{prog: prog, ranges: ranges, ids: map[string]int32{}}
	b.state(b.closure(nil, true))
	for i := 0; i < len(b.sets); i++ {
		if len(b.d.states) > maxPatternStates {
			return nil, fmt.Errorf("pattern %q is too complex (over %d automaton states)", pattern, maxPatternStates)
		}
		b.expand(int32(i))
	}
	return &b.d, nil
}

// instRanges returns the characters a rune instruction matches. Like
// ECMA-262, "." excludes every line terminator, not just \n.
func instRanges(in syntax.Inst) ([]runeRange, error) {
	switch in.Op {
	case syntax.InstRuneAny:
		return []runeRange{{0, maxRune}}, nil
	case syntax.InstRuneAnyNotNL:
		return []runeRange{{0, '\n' - 1}, {'\n' + 1, '\r' - 1}, {'\r' + 1, 0x2027}, {0x202A, maxRune}}, nil
	case syntax.InstRune1:
		return []runeRange{{in.Rune[0], in.Rune[0]}}, nil
	}
	if len(in.Rune) == 1 {
		var rs []runeRange
		r0 := in.Rune[0]
		rs = append(rs, runeRange{r0, r0})
		if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
			for r := unicode.SimpleFold(r0); r != r0; r = unicode.SimpleFold(r) {
				rs = append(rs, runeRange{r, r})
			}
		}
		return normalizeRanges(rs), nil
	}
	if len(in.Rune)%2 != 0 {
		return nil, fmt.Errorf("malformed character class")
	}
	var rs []runeRange
	for i := 0; i < len(in.Rune); i += 2 {
		rs = append(rs, runeRange{in.Rune[i], in.Rune[i+1]})
	}
	return normalizeRanges(rs), nil
}

// normalizeRanges sorts and merges ranges.
func normalizeRanges(rs []runeRange) []runeRange {
	slices.SortFunc(rs, func(a, b runeRange) int { return int(a.lo - b.lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

type dfaBuilder struct {
	prog   *syntax.Prog
	ranges [][]runeRange
	d      rdfa
	sets   []nfaSet
	ids    map[string]int32
}

// nfaSet is a DFA state: the rune instructions threads wait on, whether the
// input may end here (a match reached through $), and whether a match has
// been found (then anything may follow).
type nfaSet struct {
	pcs     []uint32
	atEnd   bool
	matched bool
}

// closure follows empty transitions from seeds. A fresh thread starts at
// every position (search semantics); ^ holds only at the start.
func (b *dfaBuilder) closure(seeds []uint32, atStart bool) nfaSet {
	var s nfaSet
	type item struct {
		pc      uint32
		endOnly bool // after $: only a match with no more input counts
	}
	seen := map[item]bool{}
	work := []item{{uint32(b.prog.Start), false}}
	for _, pc := range seeds {
		work = append(work, item{pc, false})
	}
	for len(work) > 0 {
		it := work[len(work)-1]
		work = work[:len(work)-1]
		if seen[it] {
			continue
		}
		seen[it] = true
		in := &b.prog.Inst[it.pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			work = append(work, item{in.Out, it.endOnly}, item{in.Arg, it.endOnly})
		case syntax.InstCapture, syntax.InstNop:
			work = append(work, item{in.Out, it.endOnly})
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(in.Arg)
			if op&syntax.EmptyBeginText != 0 && !atStart {
				continue
			}
			work = append(work, item{in.Out, it.endOnly || op&syntax.EmptyEndText != 0})
		case syntax.InstMatch:
			if it.endOnly {
				s.atEnd = true
			} else {
				s.matched = true
			}
		case syntax.InstFail:
		default: // rune instructions
			if !it.endOnly {
				s.pcs = append(s.pcs, it.pc)
			}
		}
	}
	if s.matched {
		return nfaSet{matched: true} // the rest of the string is free
	}
	slices.Sort(s.pcs)
	s.pcs = slices.Compact(s.pcs)
	return s
}

// state interns a DFA state.
func (b *dfaBuilder) state(s nfaSet) int32 {
	key := []byte{0}
	if s.atEnd {
		key[0] |= 1
	}
	if s.matched {
		key[0] |= 2
	}
	for _, pc := range s.pcs {
		key = binary.AppendUvarint(key, uint64(pc))
	}
	if id, ok := b.ids[string(key)]; ok {
		return id
	}
	id := int32(len(b.sets))
	b.ids[string(key)] = id
	b.sets = append(b.sets, s)
	b.d.states = append(b.d.states, rstate{accept: s.atEnd || s.matched})
	return id
}

// expand computes the edges of state i: the characters are cut at every
// range boundary of the waiting instructions, and each piece leads to the
// closure of the instructions it matches.
func (b *dfaBuilder) expand(i int32) {
	s := b.sets[i]
	if s.matched {
		b.d.states[i].edges = []redge{{0, maxRune, i}}
		return
	}
	var cuts []rune
	for _, pc := range s.pcs {
		for _, r := range b.ranges[pc] {
			cuts = append(cuts, r.lo, r.hi+1)
		}
	}
	cuts = append(cuts, 0, maxRune+1)
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var edges []redge
	for k := 0; k+1 < len(cuts); k++ {
		lo, hi := cuts[k], cuts[k+1]-1
		var seeds []uint32
		for _, pc := range s.pcs {
			if inRanges(b.ranges[pc], lo) {
				seeds = append(seeds, b.prog.Inst[pc].Out)
			}
		}
		to := b.state(b.closure(seeds, false))
		if n := len(edges); n > 0 && edges[n-1].to == to && edges[n-1].hi+1 == lo {
			edges[n-1].hi = hi
			continue
		}
		edges = append(edges, redge{lo, hi, to})
	}
	b.d.states[i].edges = edges
}

func inRanges(rs []runeRange, r rune) bool {
	_, found := slices.BinarySearchFunc(rs, r, func(x runeRange, r rune) int {
		switch {
		case x.hi < r:
			return -1
		case x.lo > r:
			return 1
		}
		return 0
	})
	return found
}
