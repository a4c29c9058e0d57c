package grammar

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func seqMatches(seq []byteRange, b []byte) bool {
	if len(seq) != len(b) {
		return false
	}
	for i, r := range seq {
		if b[i] < r.lo || b[i] > r.hi {
			return false
		}
	}
	return true
}

// Every character of a range is encoded by exactly one sequence, and the
// sequences cover nothing else.
func TestUTF8Seqs(t *testing.T) {
	ranges := []runeRange{{0, maxRune}, {0x41, 0x5A}, {0x7F, 0x80}, {0x7FF, 0x800}, {0xD000, 0xE100},
		{0xFFFF, 0x10000}, {0x1F600, 0x1F64F}, {0x10FFFE, 0x10FFFF}, {0x3A0, 0x4E2D}}
	for _, r := range ranges {
		var seqs [][]byteRange
		utf8Seqs(r.lo, r.hi, func(s []byteRange) { seqs = append(seqs, slices.Clone(s)) })
		covered := 0
		for _, s := range seqs {
			n := 1
			for _, br := range s {
				n *= int(br.hi-br.lo) + 1
			}
			covered += n
		}
		want := 0
		var buf [4]byte
		for c := r.lo; c <= r.hi; c++ {
			if c >= 0xD800 && c <= 0xDFFF {
				continue
			}
			want++
			if c%7 != 0 && r.hi-r.lo > 1<<16 {
				continue // sample the full range
			}
			enc := buf[:utf8.EncodeRune(buf[:], c)]
			hits := 0
			for _, s := range seqs {
				if seqMatches(s, enc) {
					hits++
				}
			}
			if hits != 1 {
				t.Fatalf("range %x-%x: %U matched by %d sequences", r.lo, r.hi, c, hits)
			}
		}
		if covered != want {
			t.Errorf("range %x-%x: sequences cover %d byte strings, want %d characters", r.lo, r.hi, covered, want)
		}
	}
}

// dfaAccepts runs a rune DFA over s.
func dfaAccepts(d *rdfa, s string) bool {
	st := int32(0)
	for _, c := range s {
		next := int32(-1)
		for _, e := range d.states[st].edges {
			if e.lo <= c && c <= e.hi {
				next = e.to
				break
			}
		}
		if next < 0 {
			return false
		}
		st = next
	}
	return d.states[st].accept
}

// Pattern automata agree with Go's regexp search on random strings.
func TestPatternDFA(t *testing.T) {
	patterns := []string{`ab+c`, `^ab+c$`, `^a|b$`, `x*`, `^$`, `^[a-c]{2,3}$`, `(?i)^Ab$`, `a.c`, `^\d+(\.\d+)?$`,
		`^(ab|ba)*$`, `[^a]b`, `^\w+@\w+$`, `c$`, `^a`, `a$|^b`, `^(a|ab)(c|bcd)$`, `^\p{Han}b?$`, `é+`}
	alphabet := []rune("abcdABx.1@_ é中-")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range patterns {
		d, err := patternDFA(p)
		if err != nil {
			t.Fatalf("patternDFA(%q): %v", p, err)
		}
		re := regexp.MustCompile(p)
		for range 2000 {
			var b strings.Builder
			for range rng.IntN(7) {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			if got, want := dfaAccepts(d, s), re.MatchString(s); got != want {
				t.Errorf("pattern %q on %q: DFA %v, regexp %v", p, s, got, want)
			}
		}
	}
}

func TestIntersectAndExclude(t *testing.T) {
	ex := excludeStrings([]string{"ab", "a", "b中"})
	for s, want := range map[string]bool{"": true, "a": false, "ab": false, "abc": true, "b": true, "b中": false, "b中x": true, "x": true} {
		if got := dfaAccepts(ex, s); got != want {
			t.Errorf("excludeStrings accepts %q = %v, want %v", s, got, want)
		}
	}
	p, _ := patternDFA(`^a+$`)
	d, err := intersect(p, lengthDFA(2, 3))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"a": false, "aa": true, "aaa": true, "aaaa": false, "ab": false} {
		if got := dfaAccepts(d, s); got != want {
			t.Errorf("a+ with length 2..3 accepts %q = %v, want %v", s, got, want)
		}
	}
}

// Integer ranges accept exactly the integers inside them.
func TestIntRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	edges := [][2]int64{{0, 0}, {-5, 0}, {0, 5}, {-1, -1}, {1, 1}, {-1000, -999}, {9, 10}, {99, 100}, {-10, -9}, {-16, 120}, {100, 999}, {101, 998}}
	for i := range 60 + len(edges) {
		lo := int64(rng.IntN(2400) - 1200)
		hi := lo + int64(rng.IntN(1500))
		if i < len(edges) {
			lo, hi = edges[i][0], edges[i][1]
		}
		c := constraintFor(t, fmt.Sprintf(`{"type": "integer", "minimum": %d, "maximum": %d}`, lo, hi))
		for n := int64(-1600); n <= 1600; n += 1 + int64(rng.IntN(4)) {
			m := c.Matcher()
			got := m.Feed([]byte(strconv.FormatInt(n, 10))) && m.Done()
			if want := lo <= n && n <= hi; got != want {
				t.Fatalf("range %d..%d accepts %d = %v", lo, hi, n, got)
			}
		}
	}
}

// Number ranges accept only numbers inside them, and every number inside
// them written plainly (no exponent, no negative zero).
func TestNumberRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	decimal := func() string {
		s := strconv.Itoa(rng.IntN(30))
		if rng.IntN(2) == 0 {
			s += "." + strconv.Itoa(rng.IntN(1000))
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		return s
	}
	for range 80 {
		lo, hi := decimal(), decimal()
		loExcl, hiExcl := rng.IntN(2) == 0, rng.IntN(2) == 0
		schema := `{"type": "number"`
		if rng.IntN(5) > 0 {
			schema += fmt.Sprintf(`, "%s": %s`, map[bool]string{false: "minimum", true: "exclusiveMinimum"}[loExcl], lo)
		} else {
			lo = ""
		}
		if rng.IntN(5) > 0 {
			schema += fmt.Sprintf(`, "%s": %s`, map[bool]string{false: "maximum", true: "exclusiveMaximum"}[hiExcl], hi)
		} else {
			hi = ""
		}
		schema += "}"
		c, err := FromSchema([]byte(schema))
		if err != nil {
			continue // an empty range
		}
		for range 300 {
			x := decimal()
			r, _ := new(big.Rat).SetString(x)
			in := true
			if lo != "" {
				l, _ := new(big.Rat).SetString(lo)
				in = in && (r.Cmp(l) > 0 || !loExcl && r.Cmp(l) == 0)
			}
			if hi != "" {
				h, _ := new(big.Rat).SetString(hi)
				in = in && (r.Cmp(h) < 0 || !hiExcl && r.Cmp(h) == 0)
			}
			m := c.Matcher()
			got := m.Feed([]byte(x)) && m.Done()
			if got && !in {
				t.Fatalf("%s accepts %s, outside the range", schema, x)
			}
			if !got && in && r.Sign() != 0 || !got && in && !strings.HasPrefix(x, "-") {
				t.Fatalf("%s refuses %s, inside the range", schema, x)
			}
		}
	}
}
