package tokenizer

import "sort"

// A matcher is one of llama.cpp's pre-tokenizer regexes, written by hand
// (Go's regexp has no look-ahead). At position p of the chunk cps[:e] it
// returns the end of the match starting there, or p when none does, or -q
// when none starts before q (to stay linear on long runs). Like
// std::regex_iterator, the splitter turns every match into a word and every
// unmatched stretch between matches into one more word.
type matcher func(cps []rune, p, e int) int

// preSpec is one pre-tokenizer: regexes applied in turn, each splitting the
// words left by the previous one, plus llama.cpp's flags for it.
type preSpec struct {
	name         string
	stages       []matcher
	cleanSpaces  bool // detokenizer removes spaces before punctuation
	ignoreMerges bool // a word that is itself a token skips the merges
	addBOS       bool // default of add_bos_token
	noBOS        bool // no default BOS id
}

var preSpecs = map[string]*preSpec{}

func init() {
	gpt2 := []matcher{matchGPT2}
	llama3 := []matcher{matchLlama3(3)}
	qwen2 := []matcher{matchLlama3(1)}
	def := []matcher{runOf(isDefaultPunct), matchGPT2, runOf(isN), matchDigits3}
	starcoder := []matcher{oneOf(isN), matchGPT2}
	falcon := []matcher{runOf(isFalconPunct), matchGPT2, matchDigits3}
	dsLLM := []matcher{oneOf(isCRLF), spaceThenRun(isDSLetter), spaceThenRun(isDSPunct), matchTrailingSpace, runOf(isDSCJK), runOf(isN)}
	dsCoder := []matcher{oneOf(isCRLF), spaceThenRun(isL), spaceThenRun(isP), runOf(isDSCJK), oneOf(isN)}
	ds3 := []matcher{matchNumbers(3), runOf(isDS3CJK), matchDeepSeek3}
	type flags struct{ clean, ignore, bos, noBOS bool }
	add := func(stages []matcher, f flags, names ...string) {
		for _, n := range names {
			preSpecs[n] = &preSpec{name: n, stages: stages, cleanSpaces: f.clean,
				ignoreMerges: f.ignore, addBOS: f.bos, noBOS: f.noBOS}
		}
	}
	add(def, flags{clean: true}, "default")
	add(gpt2, flags{clean: true}, "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
		"jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais")
	add(gpt2, flags{}, "trillion", "granite-docling")
	add(llama3, flags{clean: true, ignore: true, bos: true}, "llama3", "llama-v3", "llama-bpe",
		"falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2")
	add(llama3, flags{clean: true}, "dbrx", "smaug-bpe")
	add(llama3, flags{clean: true, noBOS: true}, "chatglm-bpe", "glm4")
	add(qwen2, flags{}, "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open")
	add(qwen2, flags{clean: true}, "stablelm2", "megrez")
	add(starcoder, flags{clean: true}, "starcoder", "refact", "codeshell", "exaone", "minerva-7b")
	add(starcoder, flags{}, "command-r", "smollm")
	add(falcon, flags{clean: true}, "falcon")
	add(dsLLM, flags{}, "deepseek-llm")
	add(dsCoder, flags{}, "deepseek-coder")
	add(ds3, flags{}, "deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4")
}

func preNames() []string {
	var names []string
	for n := range preSpecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// split appends to bounds the end offsets of the words of cps (one chunk)
// under all stages.
func (p *preSpec) split(cps []rune, bounds []int) []int {
	bounds = append(bounds[:0], len(cps))
	var next []int
	for _, m := range p.stages {
		next = next[:0]
		start := 0
		for _, end := range bounds {
			next = splitChunk(cps[:end], start, m, next)
			start = end
		}
		bounds, next = next, bounds
	}
	return bounds
}

// splitChunk runs m over cps[start:] like std::regex_iterator: matches and
// the gaps between them become words (appended as end offsets).
func splitChunk(cps []rune, start int, m matcher, out []int) []int {
	e := len(cps)
	last := start
	for p := start; p < e; {
		q := m(cps, p, e)
		if q < 0 {
			p = max(-q, p+1)
			continue
		}
		if q <= p {
			p++
			continue
		}
		if p > last {
			out = append(out, p)
		}
		out = append(out, q)
		p, last = q, q
	}
	if last < e {
		out = append(out, e)
	}
	return out
}

func isL(r rune) bool    { return classOf(r) == clsL }
func isN(r rune) bool    { return classOf(r) == clsN }
func isP(r rune) bool    { return classOf(r) == clsP }
func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// runOf matches a maximal run of code points satisfying in ("[...]+").
func runOf(in func(rune) bool) matcher {
	return func(cps []rune, p, e int) int {
		for p < e && in(cps[p]) {
			p++
		}
		return p
	}
}

// oneOf matches a single code point satisfying in ("[...]").
func oneOf(in func(rune) bool) matcher {
	return func(cps []rune, p, e int) int {
		if in(cps[p]) {
			return p + 1
		}
		return p
	}
}

// spaceThenRun is "\s?[...]+".
func spaceThenRun(in func(rune) bool) matcher {
	return func(cps []rune, p, e int) int {
		q := p
		if isSpace(cps[q]) && q+1 < e && in(cps[q+1]) {
			q++
		}
		for q < e && in(cps[q]) {
			q++
		}
		return q
	}
}

// matchDigits3 is "[0-9][0-9][0-9]".
func matchDigits3(cps []rune, p, e int) int {
	if p+3 <= e && isASCIIDigit(cps[p]) && isASCIIDigit(cps[p+1]) && isASCIIDigit(cps[p+2]) {
		return p + 3
	}
	return p
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }

// matchNumbers is "\p{N}{1,k}".
func matchNumbers(k int) matcher {
	return func(cps []rune, p, e int) int {
		q := p
		for q < e && q-p < k && isN(cps[q]) {
			q++
		}
		return q
	}
}

// matchTrailingSpace is "\s+$": the whitespace that ends the chunk.
func matchTrailingSpace(cps []rune, p, e int) int {
	q := p
	for q < e && isSpace(cps[q]) {
		q++
	}
	if q == e {
		return q
	}
	return -q // no later start inside this run reaches the end either
}

// isDefaultPunct is "[\p{P}\$\+<=>\^~\|]" (llama.cpp's default BPE regex).
func isDefaultPunct(r rune) bool {
	switch r {
	case '$', '+', '<', '=', '>', '^', '~', '|':
		return true
	}
	return isP(r)
}

// isFalconPunct is "[\p{P}\$\+<=>\^~\|`]".
func isFalconPunct(r rune) bool { return r == '`' || isDefaultPunct(r) }

// spaceRun counts the whitespace at cps[p:e].
func spaceRun(cps []rune, p, e int) int {
	q := p
	for q < e && isSpace(cps[q]) {
		q++
	}
	return q - p
}

// matchSpaces is the tail shared by the GPT-2-style regexes on whitespace:
// "\s+(?!\S)|\s+", where the look-ahead leaves the last space of a run for
// the word that follows.
func matchSpaces(cps []rune, p, e int) int {
	n := spaceRun(cps, p, e)
	switch {
	case n > 1 && p+n < e:
		return p + n - 1
	case n > 0:
		return p + n
	}
	return p
}

// matchGPT2 is llama.cpp's hand-written GPT-2 regex:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func matchGPT2(cps []rune, p, e int) int {
	c := cps[p]
	if n := contraction(cps, p, e, false); n > 0 {
		return p + n
	}
	q := p
	if c == ' ' {
		q++
	}
	if q < e {
		switch k := classOf(cps[q]); {
		case k == clsL, k == clsN:
			for q < e && classOf(cps[q]) == k {
				q++
			}
			return q
		case k&(clsW|clsL|clsN) == 0:
			for q < e && classOf(cps[q])&(clsW|clsL|clsN) == 0 {
				q++
			}
			return q
		}
	}
	if q := matchSpaces(cps, p, e); q > p {
		return q
	}
	return p + 1
}

// contraction matches 's 't 're 've 'm 'll 'd at p (case-insensitive when
// fold is set) and returns its length, or 0.
func contraction(cps []rune, p, e int, fold bool) int {
	if cps[p] != '\'' || p+1 >= e {
		return 0
	}
	low := func(r rune) rune {
		if fold && 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	switch low(cps[p+1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if p+2 < e {
		a, b := low(cps[p+1]), low(cps[p+2])
		if (a == 'r' || a == 'v') && b == 'e' || a == 'l' && b == 'l' {
			return 3
		}
	}
	return 0
}

// matchLlama3 is the Llama-3 regex with digit groups of k (3 for Llama 3, 1
// for Qwen2, where llama.cpp runs the same regex through std::regex):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func matchLlama3(k int) matcher {
	return func(cps []rune, p, e int) int {
		c := cps[p]
		f := classOf(c)
		if n := contraction(cps, p, e, true); n > 0 {
			return p + n
		}
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if !isCRLF(c) && f != clsN && (f == clsL || p+1 < e && isL(cps[p+1])) {
			q := p + 1
			for q < e && isL(cps[q]) {
				q++
			}
			return q
		}
		// \p{N}{1,k}
		if f == clsN {
			q := p
			for q < e && q-p < k && isN(cps[q]) {
				q++
			}
			return q
		}
		// ' '?[^\s\p{L}\p{N}]+[\r\n]*
		q := p
		if c == ' ' && p+1 < e {
			q++
		}
		if classOf(cps[q])&(clsW|clsL|clsN) == 0 {
			for q < e && classOf(cps[q])&(clsW|clsL|clsN) == 0 {
				q++
			}
			for q < e && isCRLF(cps[q]) {
				q++
			}
			return q
		}
		// \s*[\r\n]+
		n := spaceRun(cps, p, e)
		for i := p + n - 1; i >= p; i-- {
			if isCRLF(cps[i]) {
				return i + 1
			}
		}
		if q := matchSpaces(cps, p, e); q > p {
			return q
		}
		return p + 1
	}
}

// isDS3Punct is the ASCII class [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~].
func isDS3Punct(r rune) bool {
	return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// matchDeepSeek3 is the third regex of DeepSeek-V3 and Hunyuan-dense:
// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
// ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// It can fail to match (e.g. a lone '~'): those code points become gap words.
func matchDeepSeek3(cps []rune, p, e int) int {
	c := cps[p]
	f := classOf(c)
	if isDS3Punct(c) && p+1 < e && isASCIILetter(cps[p+1]) {
		q := p + 1
		for q < e && isASCIILetter(cps[q]) {
			q++
		}
		return q
	}
	lm := func(r rune) bool { return classOf(r)&(clsL|clsM) != 0 }
	if lm(c) || !isCRLF(c) && f&(clsL|clsP|clsS) == 0 && p+1 < e && lm(cps[p+1]) {
		q := p + 1
		for q < e && lm(cps[q]) {
			q++
		}
		return q
	}
	ps := func(r rune) bool { return classOf(r)&(clsP|clsS) != 0 }
	q := p
	if c == ' ' && p+1 < e && ps(cps[p+1]) {
		q++
	}
	if ps(cps[q]) {
		for q < e && ps(cps[q]) {
			q++
		}
		for q < e && isCRLF(cps[q]) {
			q++
		}
		return q
	}
	n := spaceRun(cps, p, e)
	for i := p + n - 1; i >= p; i-- {
		if isCRLF(cps[i]) {
			return i + 1
		}
	}
	return matchSpaces(cps, p, e)
}
