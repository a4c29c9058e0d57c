package grammar

import (
	"fmt"
	"sync"
)

// Constraint is a compiled grammar: JSON, a JSON object, or a JSON Schema.
// Compile it once per request; every sequence of the request gets its own
// State from Start. States of one Constraint may be used from different
// goroutines (one State from one at a time): they share lazily built
// transition tables behind one mutex, so their Allowed calls take turns.
type Constraint struct {
	mu    sync.Mutex
	m     *machine
	masks []maskEntry // most recently used first
}

// maskEntry caches the mask of one configuration over one vocabulary: long
// strings revisit the same configuration token after token.
type maskEntry struct {
	cfg  *config
	trie *vocabTrie
	mask []bool
}

const maskCacheSize = 8

func newConstraint(p *program) *Constraint { return &Constraint{m: newMachine(p)} }

// Matcher is a byte-level cursor over a Constraint: it holds the bytes read
// so far as a set of parse stacks. The zero value is not usable; copying a
// Matcher forks it (the copies advance independently).
type Matcher struct {
	c   *Constraint
	cur *config
	n   int // bytes read
}

// Matcher returns a cursor at the start of the output.
func (c *Constraint) Matcher() Matcher { return Matcher{c: c, cur: c.m.start} }

// walk returns the configuration after b, or the dead one.
func (m *Matcher) walk(b []byte) *config {
	cur := m.cur
	for _, x := range b {
		if cur = m.c.m.step(cur, x); cur == m.c.m.dead {
			break
		}
	}
	return cur
}

// Accepts reports whether the bytes read so far followed by b are still a
// prefix of some output the constraint allows. It does not advance.
func (m *Matcher) Accepts(b []byte) bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.walk(b) != m.c.m.dead
}

// Feed advances over b if Accepts(b), and reports whether it did; on false
// the Matcher is unchanged.
func (m *Matcher) Feed(b []byte) bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	next := m.walk(b)
	if next == m.c.m.dead {
		return false
	}
	m.cur = next
	m.n += len(b)
	return true
}

// Done reports whether the bytes read so far are a complete output. More
// bytes may still be allowed (a number can grow a digit).
func (m *Matcher) Done() bool { return m.cur.accept }

// Len returns the number of bytes read.
func (m *Matcher) Len() int { return m.n }

// State is one sequence's position in a Constraint, at token granularity. It
// is a small value: copy it (or Clone) to fork a sequence.
type State struct {
	m Matcher
}

// Start returns the state before the first token.
func (c *Constraint) Start() *State { return &State{m: c.Matcher()} }

// Clone returns an independent copy of s.
func (s *State) Clone() *State {
	c := *s
	return &c
}

// Done reports whether the output so far is a complete value: the caller
// should allow its end-of-generation token exactly when Done is true (Allowed
// never allows a token whose bytes are empty).
func (s *State) Done() bool { return s.m.Done() }

// Advance moves past a sampled token's bytes. It fails, leaving s unchanged,
// if the token was not allowed.
func (s *State) Advance(tokenBytes []byte) error {
	if len(tokenBytes) == 0 {
		return fmt.Errorf("grammar: an empty token (control or end of generation) cannot advance the output")
	}
	if !s.m.Feed(tokenBytes) {
		return fmt.Errorf("grammar: token %q is not allowed after %d bytes of output", tokenBytes, s.m.n)
	}
	return nil
}

// Allowed sets mask[id] to whether token id may come next: whether its bytes,
// vocab[id], keep the output a prefix of an allowed value. Tokens with empty
// bytes are never allowed (see Done for end of generation), nor ids past
// len(vocab). mask must be at least as long as vocab.
//
// vocab is typically every token's decoded bytes with control tokens given
// as nil (see Vocab). Its trie is built on first use and cached by the
// slice's identity: pass the same slice on every call and do not modify it.
func (s *State) Allowed(vocab [][]byte, mask []bool) {
	if len(mask) < len(vocab) {
		panic(fmt.Sprintf("grammar: mask of %d for a vocabulary of %d", len(mask), len(vocab)))
	}
	t := trieFor(vocab)
	c := s.m.c
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(mask[len(vocab):])
	for i, e := range c.masks {
		if e.cfg == s.m.cur && e.trie == t {
			copy(mask, e.mask)
			copy(c.masks[1:i+1], c.masks[:i])
			c.masks[0] = e
			return
		}
	}
	mask = mask[:len(vocab)]
	clear(mask)
	c.m.fill(s.m.cur, t, mask)
	e := maskEntry{cfg: s.m.cur, trie: t}
	if len(c.masks) < maskCacheSize {
		c.masks = append(c.masks, maskEntry{})
	} else {
		e.mask = c.masks[len(c.masks)-1].mask // reuse the evicted buffer
	}
	e.mask = append(e.mask[:0], mask...)
	copy(c.masks[1:], c.masks)
	c.masks[0] = e
}

// fill walks the trie from configuration start and sets mask for every token
// whose bytes the configuration accepts, skipping rejected subtrees whole.
func (m *machine) fill(start *config, t *vocabTrie, mask []bool) {
	if len(m.path) < t.depth+1 {
		m.path = make([]*config, t.depth+1)
	}
	cfgs := m.path
	cfgs[0] = start
	class := &m.p.class
	nodes, toks, dead := t.nodes, t.toks, m.dead
	for i := 0; i < len(nodes)-1; {
		nd := &nodes[i]
		p := cfgs[nd.depth-1]
		var c *config
		if p.next != nil {
			c = p.next[class[nd.b]]
		}
		if c == nil {
			c = m.step(p, nd.b)
		}
		if c == dead {
			i = int(nd.end)
			continue
		}
		cfgs[nd.depth] = c
		for _, id := range toks[nd.tok:nodes[i+1].tok] {
			mask[id] = true
		}
		i++
	}
}

// Vocab returns the vocabulary Allowed expects for a tokenizer of n tokens:
// piece(id) for every token, nil for those skip reports (control and
// end-of-generation tokens, whose text must never appear inside a value).
func Vocab(n int, piece func(id int32) []byte, skip func(id int32) bool) [][]byte {
	v := make([][]byte, n)
	for id := range int32(n) {
		if !skip(id) {
			v[id] = piece(id)
		}
	}
	return v
}
