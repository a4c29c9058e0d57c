package tokenizer

import (
	"fmt"
	"math"
	"strings"
)

// bpeRanks holds the merges as pairs of symbol ids. A symbol is a string the
// merge loop can hold: every token (symbol id = token id) plus the merge parts
// and results that are not tokens (ids from nTokens on). llama.cpp keys its
// merges on strings; symbol ids give the same answers without building any.
type bpeRanks struct {
	pairs   map[uint64]uint64 // left<<32 | right → rank<<32 | merged symbol
	extra   []string          // text of symbol nTokens+i
	byteSym [256]int32        // symbol of each byte's GPT-2 character, -1 if it is none
	single  [256]int32        // token whose text is the single raw byte, -1 if none
	nTokens int32
}

func newBPERanks(merges []string, ids map[string]int32, nTokens int32) (*bpeRanks, error) {
	if len(merges) == 0 {
		return nil, fmt.Errorf("tokenizer: gpt2 vocabulary without merges")
	}
	if int64(len(merges)) >= math.MaxInt32 {
		return nil, fmt.Errorf("tokenizer: %d merges are too many", len(merges))
	}
	r := &bpeRanks{pairs: make(map[uint64]uint64, len(merges)), nTokens: nTokens}
	extraIDs := map[string]int32{}
	sym := func(s string) int32 {
		if id, ok := ids[s]; ok {
			return id
		}
		if id, ok := extraIDs[s]; ok {
			return id
		}
		id := nTokens + int32(len(r.extra))
		extraIDs[s] = id
		r.extra = append(r.extra, s)
		return id
	}
	for rank, m := range merges {
		// llama.cpp splits at the first space after the first byte.
		i := -1
		if len(m) >= 3 {
			i = strings.IndexByte(m[1:], ' ') + 1
		}
		if i <= 0 || i+1 >= len(m) {
			return nil, fmt.Errorf("tokenizer: merge %d %q is not \"left right\"", rank, clip(m))
		}
		left, right := m[:i], m[i+1:]
		l, rt := sym(left), sym(right)
		if r.nTokens+int32(len(r.extra)) < 0 {
			return nil, fmt.Errorf("tokenizer: too many merge symbols")
		}
		key := uint64(uint32(l))<<32 | uint64(uint32(rt))
		if _, dup := r.pairs[key]; dup {
			continue // the first (lowest) rank wins, as in llama.cpp
		}
		r.pairs[key] = uint64(rank)<<32 | uint64(uint32(sym(left+right)))
	}
	for b := 0; b < 256; b++ {
		r.byteSym[b] = -1
		if id, ok := ids[gpt2Bytes[b]]; ok {
			r.byteSym[b] = id
		} else if id, ok := extraIDs[gpt2Bytes[b]]; ok {
			r.byteSym[b] = id
		}
		r.single[b] = -1
		if id, ok := ids[string([]byte{byte(b)})]; ok {
			r.single[b] = id
		}
	}
	return r, nil
}

// bpeSym is a symbol in a word being merged; dead symbols have sym == deadSym.
type bpeSym struct {
	sym        int32
	prev, next int32
	b          byte // the input byte, for symbols that are not in the table
}

const deadSym = math.MinInt32

// bpePair is a candidate merge of symbols left and right. It is stale when
// either side has changed since it was queued.
type bpePair struct {
	rank        int32
	left, right int32
	lsym, rsym  int32
	merged      int32
}

// before orders merge candidates: llama.cpp merges the lowest-ranked pair,
// leftmost first.
func (p bpePair) before(o bpePair) bool {
	return p.rank < o.rank || p.rank == o.rank && p.left < o.left
}

// scratch holds buffers reused across the words of one Encode call.
type scratch struct {
	cps    []rune
	bounds []int
	word   []byte
	syms   []bpeSym
	queue  mergeHeap[bpePair]
	// cache maps a word to its tokens within one long Encode call, where
	// words repeat (" the", "的"); short calls skip it.
	cache    map[string][]int32
	useCache bool
}

const (
	cacheMinText  = 4 << 10 // fragment bytes from which the word cache pays off
	cacheMaxWord  = 64      // longer words are rarely repeated
	cacheMaxWords = 1 << 16
)

// bpeWord appends the tokens of one pre-tokenized word (raw UTF-8 bytes).
func (t *Tokenizer) bpeWord(word []byte, out []int32, sc *scratch) []int32 {
	r := t.bpe
	if len(word) == 1 && r.byteSym[word[0]] >= 0 && r.byteSym[word[0]] < r.nTokens {
		return append(out, r.byteSym[word[0]])
	}
	if t.pre.ignoreMerges {
		enc := sc.word[:0]
		for _, b := range word {
			enc = append(enc, gpt2Bytes[b]...)
		}
		sc.word = enc
		if id, ok := t.ids[string(enc)]; ok {
			return append(out, id)
		}
	}
	syms := sc.syms[:0]
	for i, b := range word {
		syms = append(syms, bpeSym{sym: r.byteSym[b], prev: int32(i - 1), next: int32(i + 1), b: b})
	}
	syms[len(syms)-1].next = -1
	q := sc.queue[:0]
	tryPair := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		ls, rs := syms[left].sym, syms[right].sym
		if ls < 0 || rs < 0 {
			return
		}
		v, ok := r.pairs[uint64(ls)<<32|uint64(rs)]
		if !ok {
			return
		}
		q.push(bpePair{rank: int32(v >> 32), left: left, right: right, lsym: ls, rsym: rs, merged: int32(uint32(v))})
	}
	for i := 1; i < len(syms); i++ {
		tryPair(int32(i-1), int32(i))
	}
	for len(q) > 0 {
		p := q.pop()
		l, rt := &syms[p.left], &syms[p.right]
		if l.sym != p.lsym || rt.sym != p.rsym {
			continue // one side was merged since
		}
		l.sym = p.merged
		rt.sym = deadSym
		l.next = rt.next
		if rt.next >= 0 {
			syms[rt.next].prev = p.left
		}
		tryPair(l.prev, p.left)
		tryPair(p.left, l.next)
	}
	sc.syms, sc.queue = syms, q
	for i := int32(0); i >= 0; i = syms[i].next {
		s := syms[i]
		if s.sym >= 0 && s.sym < r.nTokens {
			out = append(out, s.sym)
			continue
		}
		// Not a token: llama.cpp looks up each byte of the symbol's text as
		// a one-byte token and drops the bytes it cannot find.
		var text string
		switch {
		case s.sym >= r.nTokens:
			text = r.extra[s.sym-r.nTokens]
		default:
			text = gpt2Bytes[s.b]
		}
		for j := 0; j < len(text); j++ {
			if id := r.single[text[j]]; id >= 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

// encodeBPE appends the tokens of one raw text fragment.
func (t *Tokenizer) encodeBPE(text string, out []int32, sc *scratch) []int32 {
	if len(text) >= cacheMinText && sc.cache == nil {
		sc.cache = map[string][]int32{}
		sc.useCache = true
	}
	sc.cps = decodeRunes(text, sc.cps[:0])
	sc.bounds = t.pre.split(sc.cps, sc.bounds)
	start := 0
	var word []byte
	for _, end := range sc.bounds {
		word = word[:0]
		for _, c := range sc.cps[start:end] {
			word = appendUTF8(word, c)
		}
		start = end
		switch {
		case len(word) == 0:
		case sc.useCache && len(word) <= cacheMaxWord:
			if ids, ok := sc.cache[string(word)]; ok {
				out = append(out, ids...)
				continue
			}
			n := len(out)
			out = t.bpeWord(word, out, sc)
			if len(sc.cache) < cacheMaxWords {
				sc.cache[string(word)] = out[n:len(out):len(out)]
			}
		default:
			out = t.bpeWord(word, out, sc)
		}
	}
	return out
}
