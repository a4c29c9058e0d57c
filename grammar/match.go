package grammar

import (
	"encoding/binary"
	"slices"
)

// The matcher runs a program as a pushdown automaton over bytes. A
// configuration is the set of parse stacks still alive after the bytes read
// so far; every stack's top is a terminal waiting for the next byte (or the
// stack is empty: the input so far is a complete value). Stacks are
// hash-consed linked lists and configurations are interned, so a transition
// computed once is a table lookup afterwards: the matcher builds, lazily, the
// part of the (infinite) deterministic automaton the generation visits.

// stack is one parse stack: pos is the position of its top element, parent
// the return positions below it.
type stack struct {
	pos    int32
	parent *stack
	id     int32
}

type stackKey struct{ pos, parent int32 }

// config is an interned set of stacks.
type config struct {
	stacks []*stack // sorted by id
	accept bool     // an empty stack is in the set: the input is complete
	next   []*config
}

// machine holds a program's interned stacks and configurations. It is not
// safe for concurrent use; Constraint serializes access.
type machine struct {
	p       *program
	stacks  map[stackKey]*stack
	configs map[string]*config
	nstacks int32 // ids handed out; never reused
	dead    *config
	start   *config

	path []*config // scratch for fill: the configuration at each trie depth

	// scratch for step
	out     []*stack
	seen    map[*stack]struct{}
	visited map[stackKey]struct{}
	key     []byte
}

// maxInterned bounds the caches; past it they are dropped (configurations
// already handed out stay valid, they are just no longer shared).
const maxInterned = 1 << 20

func newMachine(p *program) *machine {
	m := &machine{p: p, dead: &config{}}
	m.reset()
	m.beginStep()
	for _, a := range p.alts[p.root] {
		m.expand(a, nil)
	}
	m.start = m.endStep()
	return m
}

func (m *machine) reset() {
	m.stacks = map[stackKey]*stack{}
	m.configs = map[string]*config{}
	// nstacks keeps counting: stacks of old configurations stay distinct.
}

func (m *machine) intern(pos int32, parent *stack) *stack {
	k := stackKey{pos, -1}
	if parent != nil {
		k.parent = parent.id
	}
	if s, ok := m.stacks[k]; ok {
		return s
	}
	s := &stack{pos: pos, parent: parent, id: m.nstacks}
	m.nstacks++
	m.stacks[k] = s
	return s
}

// step returns the configuration after byte b, computing and caching it.
func (m *machine) step(c *config, b byte) *config {
	cl := m.p.class[b]
	if c.next == nil {
		if len(c.stacks) == 0 {
			return m.dead
		}
		c.next = make([]*config, m.p.nclass)
	}
	if n := c.next[cl]; n != nil {
		return n
	}
	if len(m.stacks) > maxInterned || len(m.configs) > maxInterned/8 {
		m.reset()
	}
	m.beginStep()
	for _, s := range c.stacks {
		e := m.p.elems[s.pos]
		if m.p.sets[e.arg].has(b) {
			m.expand(s.pos+1, s.parent)
		}
	}
	n := m.endStep()
	c.next[cl] = n
	return n
}

var acceptMark = &stack{id: -1}

func (m *machine) beginStep() {
	m.out = m.out[:0]
	if m.seen == nil {
		m.seen = map[*stack]struct{}{}
		m.visited = map[stackKey]struct{}{}
	}
	clear(m.seen)
	clear(m.visited)
}

// expand adds to m.out every stack reached from position pos with return
// stack parent, descending into rule references and returning from finished
// alternatives until a terminal is on top.
func (m *machine) expand(pos int32, parent *stack) {
	for {
		e := m.p.elems[pos]
		switch e.kind {
		case elemTerm:
			s := m.intern(pos, parent)
			if _, ok := m.seen[s]; !ok {
				m.seen[s] = struct{}{}
				m.out = append(m.out, s)
			}
			return
		case elemEnd:
			if parent == nil {
				if _, ok := m.seen[acceptMark]; !ok {
					m.seen[acceptMark] = struct{}{}
					m.out = append(m.out, acceptMark)
				}
				return
			}
			pos, parent = parent.pos, parent.parent
		case elemRef:
			k := stackKey{pos, -1}
			if parent != nil {
				k.parent = parent.id
			}
			if _, ok := m.visited[k]; ok {
				return
			}
			m.visited[k] = struct{}{}
			ret := parent
			// A reference in tail position returns straight to parent: not
			// pushing it keeps right recursion (repetition) at constant depth.
			if m.p.elems[pos+1].kind != elemEnd {
				ret = m.intern(pos+1, parent)
			}
			for _, a := range m.p.alts[e.arg] {
				m.expand(a, ret)
			}
			return
		}
	}
}

// endStep interns the configuration of the stacks collected in m.out.
func (m *machine) endStep() *config {
	accept := false
	stacks := m.out[:0]
	for _, s := range m.out {
		if s == acceptMark {
			accept = true
			continue
		}
		stacks = append(stacks, s)
	}
	if len(stacks) == 0 && !accept {
		return m.dead
	}
	slices.SortFunc(stacks, func(a, b *stack) int { return int(a.id - b.id) })
	m.key = m.key[:0]
	if accept {
		m.key = append(m.key, 1)
	} else {
		m.key = append(m.key, 0)
	}
	for _, s := range stacks {
		m.key = binary.AppendUvarint(m.key, uint64(s.id))
	}
	if c, ok := m.configs[string(m.key)]; ok {
		return c
	}
	c := &config{stacks: slices.Clone(stacks), accept: accept}
	m.configs[string(m.key)] = c
	return c
}
