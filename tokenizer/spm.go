package tokenizer

import "strings"

// spmPair is a candidate merge of two adjacent symbols into a token with the
// given score. It is stale when either side has grown since it was queued.
type spmPair struct {
	score       float32
	left, right int32
	size        int32
}

// before orders merge candidates: highest score first, then leftmost.
func (p spmPair) before(o spmPair) bool {
	return p.score > o.score || p.score == o.score && p.left < o.left
}

// spmSym is a byte range of the text; n == 0 once merged into its left neighbour.
type spmSym struct {
	start, n   int32
	prev, next int32
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length its lead byte
// announces, 1 for continuation bytes.
func utf8Len(c byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[c>>4]
}

const spaceMark = "\u2581" // SentencePiece's visible space

// encodeSPM appends the tokens of one raw text fragment, which llama.cpp has
// already given its leading space (if any); spaces become U+2581 here.
func (t *Tokenizer) encodeSPM(text string, out []int32) []int32 {
	text = strings.ReplaceAll(text, " ", spaceMark)
	if text == "" {
		return out
	}
	// Merging runs over the whole fragment. When no token holds a space mark
	// after other text (checked in New), no merge crosses the start of a
	// word, so words are merged one at a time: the same result, with small
	// queues.
	var sc spmScratch
	start := 0
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		if t.spmWordSplit && off > start && strings.HasPrefix(text[off:], spaceMark) &&
			(off < 3 || text[off-3:off] != spaceMark) {
			out = t.spmMerge(text[start:off], out, &sc)
			start = off
		}
		off += n
	}
	return t.spmMerge(text[start:], out, &sc)
}

// spmScratch holds buffers reused across the words of a fragment.
type spmScratch struct {
	syms []spmSym
	q    mergeHeap[spmPair]
}

// spmWordSplitSafe reports whether no token holds a space mark preceded by
// anything but another space mark.
func spmWordSplitSafe(tokens []string) bool {
	for _, tok := range tokens {
		for k := 1; k < len(tok); k++ {
			if strings.HasPrefix(tok[k:], spaceMark) && (k < 3 || tok[k-3:k] != spaceMark) {
				return false
			}
		}
	}
	return true
}

// spmMerge is llama.cpp's llm_tokenizer_spm: start from UTF-8 characters
// (by lead byte), repeatedly merge the adjacent pair that forms the token
// with the highest score (leftmost on ties), then fall back to byte tokens
// for what is not a token.
func (t *Tokenizer) spmMerge(text string, out []int32, sc *spmScratch) []int32 {
	syms := sc.syms[:0]
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		i := int32(len(syms))
		syms = append(syms, spmSym{start: int32(off), n: int32(n), prev: i - 1, next: i + 1})
		off += n
	}
	syms[len(syms)-1].next = -1
	q := sc.q[:0]
	tryPair := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		s := syms[left].start
		size := syms[left].n + syms[right].n
		id, ok := t.ids[text[s:s+size]]
		if !ok {
			return
		}
		q.push(spmPair{score: t.scores[id], left: left, right: right, size: size})
	}
	for i := 1; i < len(syms); i++ {
		tryPair(int32(i-1), int32(i))
	}
	for len(q) > 0 {
		p := q.pop()
		l, r := &syms[p.left], &syms[p.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != p.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = p.left
		}
		tryPair(l.prev, p.left)
		tryPair(p.left, l.next)
	}
	sc.syms, sc.q = syms, q
	for i := int32(0); i >= 0; i = syms[i].next {
		s := syms[i]
		piece := text[s.start : s.start+s.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		// No token: fall back to byte tokens. llama.cpp aborts when a byte
		// has none; we use UNK, or drop the byte without one.
		for j := 0; j < len(piece); j++ {
			switch id := t.byteTok[piece[j]]; {
			case id >= 0:
				out = append(out, id)
			case t.unk >= 0:
				out = append(out, t.unk)
			}
		}
	}
	return out
}
