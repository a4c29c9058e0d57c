package train

import (
	"container/heap"
	"fmt"
	"slices"
	"unicode"

	"zhiyan/tokenizer"
)

// BPE training (as in GPT-2 and Hugging Face's trainer): split the text into
// words the way the engine pre-tokenizes ("qwen2"), start every word from its
// bytes, and repeatedly merge the most frequent adjacent pair of symbols,
// counting each word as often as it occurs. Merges are applied in rank order
// at encoding time, which reproduces the training segmentation.

// bpePre is the pre-tokenizer of the vocabularies trained here: Qwen2's
// (digits one by one, no space clean-up on decoding, CJK runs as words).
const bpePre = "qwen2"

// TrainBPE learns a byte-level BPE vocabulary of vocabSize tokens (the 256
// bytes, merges, then the specials) from text. progress, if not nil, is
// called after each merge with the number done so far.
func TrainBPE(text string, vocabSize int, specials []string, progress func(done, total int)) (*Vocab, error) {
	nMerges := vocabSize - 256 - len(specials)
	if nMerges < 1 {
		return nil, fmt.Errorf("train: vocabulary size %d leaves no room for merges after 256 bytes and %d special tokens", vocabSize, len(specials))
	}
	counts := map[string]int{}
	for _, w := range preSplit(text) {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	slices.Sort(keys) // a fixed order, so ties break the same way every run
	b := &bpeTrainer{pairs: map[[2]int32]*pairStat{}}
	for _, w := range keys {
		syms := make([]int32, len(w))
		for i := range len(w) {
			syms[i] = int32(w[i])
		}
		b.words = append(b.words, syms)
		b.freq = append(b.freq, counts[w])
	}
	for i := range 256 {
		b.texts = append(b.texts, gpt2Text([]byte{byte(i)}))
	}
	for wi, syms := range b.words {
		for i := 1; i < len(syms); i++ {
			b.add([2]int32{syms[i-1], syms[i]}, b.freq[wi], int32(wi))
		}
	}
	var merges []string
	for len(merges) < nMerges {
		best, ok := b.best()
		if !ok {
			break // every word is a single symbol
		}
		id := int32(len(b.texts))
		b.texts = append(b.texts, b.texts[best[0]]+b.texts[best[1]])
		merges = append(merges, b.texts[best[0]]+" "+b.texts[best[1]])
		b.merge(best, id)
		if progress != nil {
			progress(len(merges), nMerges)
		}
	}
	v := &Vocab{Model: "gpt2", Pre: bpePre, Merges: merges, BOS: -1, EOS: -1, UNK: -1}
	for _, t := range b.texts {
		v.Tokens = append(v.Tokens, t)
		v.Types = append(v.Types, tokenizer.TypeNormal)
	}
	for _, s := range specials {
		if slices.Contains(v.Tokens, s) {
			return nil, fmt.Errorf("train: special token %q is also a learned token", s)
		}
		id := int32(len(v.Tokens))
		switch s {
		case TokEndOfText, TokEOS:
			v.EOS = id
		case TokBOS:
			v.BOS = id
		}
		v.Tokens = append(v.Tokens, s)
		v.Types = append(v.Types, tokenizer.TypeControl)
	}
	if v.BOS < 0 {
		v.BOS = v.EOS // the engine's BPE default (id 11) would be a byte
	}
	if err := v.init(); err != nil {
		return nil, err
	}
	return v, nil
}

type pairStat struct {
	count int
	words []int32 // words that held the pair when it was counted (may repeat or be stale)
	index int     // in the heap, -1 when not queued
}

type bpeTrainer struct {
	words [][]int32 // each distinct word as symbol ids
	freq  []int     // occurrences of each word
	texts []string  // symbol id → token text (GPT-2 byte characters)
	pairs map[[2]int32]*pairStat
	queue pairHeap
}

func (b *bpeTrainer) add(p [2]int32, n int, word int32) {
	s := b.pairs[p]
	if s == nil {
		s = &pairStat{index: -1}
		b.pairs[p] = s
	}
	s.count += n
	if n > 0 {
		s.words = append(s.words, word)
	}
	if s.index >= 0 {
		heap.Fix(&b.queue, s.index)
	} else if s.count > 0 {
		heap.Push(&b.queue, pairEntry{p, s})
	}
}

// best pops the most frequent pair (lowest ids on ties).
func (b *bpeTrainer) best() ([2]int32, bool) {
	for b.queue.Len() > 0 {
		e := heap.Pop(&b.queue).(pairEntry)
		if e.s.count > 0 {
			return e.p, true
		}
	}
	return [2]int32{}, false
}

// merge replaces the pair p by symbol id in every word holding it, left to
// right: each such word's pairs are uncounted, merged and counted again.
func (b *bpeTrainer) merge(p [2]int32, id int32) {
	s := b.pairs[p]
	seen := map[int32]bool{}
	for _, wi := range s.words {
		if seen[wi] {
			continue
		}
		seen[wi] = true
		w, n := b.words[wi], b.freq[wi]
		out := make([]int32, 0, len(w))
		for i := 0; i < len(w); i++ {
			if i+1 < len(w) && w[i] == p[0] && w[i+1] == p[1] {
				out = append(out, id)
				i++
				continue
			}
			out = append(out, w[i])
		}
		if len(out) == len(w) {
			continue // the word lost the pair in an earlier merge
		}
		for i := 1; i < len(w); i++ {
			b.add([2]int32{w[i-1], w[i]}, -n, wi)
		}
		for i := 1; i < len(out); i++ {
			b.add([2]int32{out[i-1], out[i]}, n, wi)
		}
		b.words[wi] = out
	}
	delete(b.pairs, p)
}

type pairEntry struct {
	p [2]int32
	s *pairStat
}

type pairHeap []pairEntry

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.s.count != b.s.count {
		return a.s.count > b.s.count
	}
	return a.p[0] < b.p[0] || a.p[0] == b.p[0] && a.p[1] < b.p[1]
}
func (h pairHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].s.index, h[j].s.index = i, j
}
func (h *pairHeap) Push(x any) {
	e := x.(pairEntry)
	e.s.index = len(*h)
	*h = append(*h, e)
}
func (h *pairHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	e.s.index = -1
	return e
}

// gpt2Text maps raw bytes to GPT-2's byte characters: printable Latin-1
// bytes stand for themselves, the others for U+0100 onwards in byte order.
func gpt2Text(bs []byte) string {
	var out []rune
	for _, c := range bs {
		out = append(out, gpt2Rune[c])
	}
	return string(out)
}

var gpt2Rune = func() [256]rune {
	var t [256]rune
	n := 0
	for b := range 256 {
		if '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

// preSplit cuts text into words like Qwen2's pre-tokenizer regex:
// contractions | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N} | ' '?[^\s\p{L}\p{N}]+[\r\n]* |
// \s*[\r\n]+ | \s+(?!\S) | \s+. Training only needs it to be close: the
// engine splits with its own code when encoding, and merges across a
// boundary it draws simply never apply.
func preSplit(text string) []string {
	rs := []rune(text)
	var words []string
	isL := unicode.IsLetter
	isN := unicode.IsNumber
	isS := unicode.IsSpace
	crlf := func(r rune) bool { return r == '\r' || r == '\n' }
	for p := 0; p < len(rs); {
		e := p
		switch r := rs[p]; {
		case r == '\'' && contraction(rs[p+1:]) > 0:
			e = p + 1 + contraction(rs[p+1:])
		case isL(r) || !crlf(r) && !isN(r) && p+1 < len(rs) && isL(rs[p+1]):
			e = p + 1
			for e < len(rs) && isL(rs[e]) {
				e++
			}
		case isN(r):
			e = p + 1
		case !isS(r) || r == ' ' && p+1 < len(rs) && !isS(rs[p+1]):
			e = p
			if r == ' ' {
				e++
			}
			for e < len(rs) && !isS(rs[e]) && !isL(rs[e]) && !isN(rs[e]) {
				e++
			}
			for e < len(rs) && crlf(rs[e]) {
				e++
			}
		default: // whitespace
			e = p
			for e < len(rs) && isS(rs[e]) {
				e++
			}
			lastNL := -1
			for i := p; i < e; i++ {
				if crlf(rs[i]) {
					lastNL = i
				}
			}
			switch {
			case lastNL >= 0:
				e = lastNL + 1 // \s*[\r\n]+
			case e < len(rs) && e-p > 1:
				e-- // \s+(?!\S): leave one space to start the next word
			}
		}
		words = append(words, string(rs[p:e]))
		p = e
	}
	return words
}

// contraction is the length of 's 't 're 've 'm 'll 'd (any case) at the
// start of rs, 0 if none.
func contraction(rs []rune) int {
	low := func(i int) rune {
		if i < len(rs) {
			return unicode.ToLower(rs[i])
		}
		return 0
	}
	switch low(0) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if low(1) == 'e' {
			return 2
		}
	case 'l':
		if low(1) == 'l' {
			return 2
		}
	}
	return 0
}
