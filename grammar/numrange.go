package grammar

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Numeric bounds compile to decimal grammars: digit-range alternatives for
// the integer part and, for numbers, digit automata comparing the fraction
// with the bound's. Bounded numbers are generated without an exponent.

// bound is one side of a range; v nil means unbounded.
type bound struct {
	v    *big.Rat
	excl bool
}

// readBounds reads minimum, maximum, exclusiveMinimum and exclusiveMaximum
// (numbers, or draft-4 booleans qualifying minimum and maximum), keeping the
// tighter bound when both forms are given.
func readBounds(o *object, path string) (lo, hi bound, err error) {
	num := func(k string) (*big.Rat, error) {
		v, ok := o.get(k)
		if !ok {
			return nil, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s/%s: not a number", path, k)
		}
		r, ok := new(big.Rat).SetString(string(n))
		if !ok || len(n) > 64 {
			return nil, fmt.Errorf("%s/%s: %s is out of range", path, k, n)
		}
		return r, nil
	}
	for _, side := range []struct {
		b          *bound
		kw, exclKw string
		tighter    int // sign of Cmp(new, old) that makes a bound tighter
	}{{&lo, "minimum", "exclusiveMinimum", 1}, {&hi, "maximum", "exclusiveMaximum", -1}} {
		if side.b.v, err = num(side.kw); err != nil {
			return
		}
		switch e := o.vals[side.exclKw].(type) {
		case nil:
		case bool:
			side.b.excl = e && side.b.v != nil
		case json.Number:
			var v *big.Rat
			if v, err = num(side.exclKw); err != nil {
				return
			}
			if side.b.v == nil || v.Cmp(side.b.v)*side.tighter >= 0 {
				*side.b = bound{v, true}
			}
		default:
			err = fmt.Errorf("%s/%s: not a number", path, side.exclKw)
			return
		}
	}
	return lo, hi, nil
}

var (
	fracScale = new(big.Int).Exp(big.NewInt(10), big.NewInt(maxFracDig), nil)
	intCap    = new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(maxIntDigits), nil), big.NewInt(1))
)

func floorRat(r *big.Rat) *big.Int { return new(big.Int).Div(r.Num(), r.Denom()) }

func ceilRat(r *big.Rat) *big.Int {
	return new(big.Int).Neg(floorRat(new(big.Rat).Neg(r)))
}

func (c *compiler) integerType(o *object, path string) (sym, error) {
	lo, hi, err := readBounds(o, path)
	if err != nil {
		return sym{}, err
	}
	if lo.v == nil && hi.v == nil {
		return c.g.integer(), nil
	}
	ilo, ihi := new(big.Int).Neg(intCap), new(big.Int).Set(intCap)
	if lo.v != nil {
		n := ceilRat(lo.v)
		if lo.excl && lo.v.IsInt() {
			n.Add(n, big.NewInt(1))
		}
		if n.Cmp(ilo) > 0 {
			ilo = n
		}
	}
	if hi.v != nil {
		n := floorRat(hi.v)
		if hi.excl && hi.v.IsInt() {
			n.Sub(n, big.NewInt(1))
		}
		if n.Cmp(ihi) < 0 {
			ihi = n
		}
	}
	if ilo.Cmp(ihi) > 0 || ilo.Cmp(intCap) > 0 || ihi.Cmp(new(big.Int).Neg(intCap)) < 0 {
		return sym{}, fmt.Errorf("%s: no integer of at most %d digits lies within the bounds", path, maxIntDigits)
	}
	return c.g.intRange(ilo.Int64(), ihi.Int64()), nil
}

// intRange matches the decimal integers lo..hi.
func (g *grammar) intRange(lo, hi int64) sym {
	var alts [][]sym
	if lo <= 0 && hi >= 0 {
		alts = append(alts, g.lit("0"))
	}
	if hi >= 1 {
		alts = append(alts, g.posRange(max(lo, 1), hi)...)
	}
	if lo <= -1 {
		for _, a := range g.posRange(max(-hi, 1), -lo) {
			alts = append(alts, cat(g.lit("-"), a))
		}
	}
	return g.rule("int-range", alts...)
}

// posRange returns alternatives matching the integers a..b (1 <= a <= b),
// written without leading zeros.
func (g *grammar) posRange(a, b int64) [][]sym {
	var alts [][]sym
	for d, p := 1, int64(1); p <= b && d <= maxIntDigits; d, p = d+1, p*10 {
		lo, hi := max(a, p), min(b, p*10-1)
		if lo <= hi {
			alts = append(alts, g.sameLength(strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))...)
		}
	}
	return alts
}

// sameLength returns alternatives matching the digit strings x..y of one
// length.
func (g *grammar) sameLength(x, y string) [][]sym {
	if x == "" {
		return [][]sym{nil}
	}
	if x[0] == y[0] {
		var out [][]sym
		for _, a := range g.sameLength(x[1:], y[1:]) {
			out = append(out, cat(g.lit(x[:1]), a))
		}
		return out
	}
	n := len(x) - 1
	anyDigits := func(lo, hi byte) []sym {
		s := []sym{g.rng(lo, hi)}
		for range n {
			s = append(s, g.rng('0', '9'))
		}
		return s
	}
	lowAll, highAll := strings.Trim(x[1:], "0") == "", strings.Trim(y[1:], "9") == ""
	var out [][]sym
	mid0, mid1 := x[0]+1, y[0]-1
	if lowAll {
		mid0 = x[0]
	} else {
		for _, a := range g.sameLength(x[1:], strings.Repeat("9", n)) {
			out = append(out, cat(g.lit(x[:1]), a))
		}
	}
	if highAll {
		mid1 = y[0]
	}
	if mid0 <= mid1 {
		out = append(out, anyDigits(mid0, mid1))
	}
	if !highAll {
		for _, a := range g.sameLength(strings.Repeat("0", n), y[1:]) {
			out = append(out, cat(g.lit(y[:1]), a))
		}
	}
	return out
}

func (c *compiler) numberType(o *object, path string) (sym, error) {
	lo, hi, err := readBounds(o, path)
	if err != nil {
		return sym{}, err
	}
	if lo.v == nil && hi.v == nil {
		return c.g.number(), nil
	}
	zero := new(big.Rat)
	var alts [][]sym
	// x >= 0, written without a sign.
	if hi.v == nil || hi.v.Sign() > 0 || hi.v.Sign() == 0 && !hi.excl {
		l := bound{zero, false}
		if lo.v != nil && lo.v.Sign() >= 0 {
			l = lo
		}
		alts = append(alts, c.g.nonNegative(l, hi)...)
	}
	// x < 0, written as "-" then y = -x > 0.
	if lo.v == nil || lo.v.Sign() < 0 {
		l := bound{zero, true}
		if hi.v != nil && hi.v.Sign() < 0 {
			l = bound{new(big.Rat).Neg(hi.v), hi.excl}
		}
		h := bound{}
		if lo.v != nil {
			h = bound{new(big.Rat).Neg(lo.v), lo.excl}
		}
		for _, a := range c.g.nonNegative(l, h) {
			alts = append(alts, cat(c.g.lit("-"), a))
		}
	}
	if len(alts) == 0 {
		return sym{}, fmt.Errorf("%s: no number lies within the bounds", path)
	}
	return c.g.rule("number-range", alts...), nil
}

// units returns r in units of 10^-maxFracDig, rounded up or down, and
// whether that was exact.
func units(r *big.Rat, up bool) (*big.Int, bool) {
	s := new(big.Rat).Mul(r, new(big.Rat).SetInt(fracScale))
	q, m := new(big.Int).DivMod(s.Num(), s.Denom(), new(big.Int))
	exact := m.Sign() == 0
	if up && !exact {
		q.Add(q, big.NewInt(1))
	}
	return q, exact
}

// splitUnits returns the integer part and the fraction digits (no trailing
// zeros) of a non-negative amount of units.
func splitUnits(u *big.Int) (*big.Int, string) {
	i, f := new(big.Int).DivMod(u, fracScale, new(big.Int))
	digits := fmt.Sprintf("%0*s", maxFracDig, f.String())
	return i, strings.TrimRight(digits, "0")
}

// nonNegative returns alternatives matching the decimals y (no sign, no
// exponent) with lo <= y <= hi (or < where exclusive); lo.v >= 0 is set,
// hi.v nil means no upper bound beyond the digit limits.
func (g *grammar) nonNegative(lo, hi bound) [][]sym {
	// Fractions have at most maxFracDig digits, so rounding a bound to that
	// precision (inward) keeps exactly the same numbers.
	lu, exact := units(lo.v, true)
	lExcl := lo.excl && exact
	li, lf := splitUnits(lu)
	if li.Cmp(intCap) > 0 {
		return nil
	}
	hasHi := hi.v != nil
	var hu, hiInt *big.Int
	var hf string
	hExcl := false
	if hasHi {
		hu, exact = units(hi.v, false)
		hExcl = hi.excl && exact
		if c := hu.Cmp(lu); c < 0 || c == 0 && (lExcl || hExcl) {
			return nil
		}
		hiInt, hf = splitUnits(hu)
		if hiInt.Cmp(intCap) > 0 {
			hasHi = false
		}
	}
	if hasHi && li.Cmp(hiInt) == 0 {
		d, _ := intersect(fracAtLeast(lf, lExcl), fracAtMost(hf, hExcl))
		return [][]sym{cat(g.lit(li.String()), one(g.fractionOf(d)))}
	}
	alts := [][]sym{cat(g.lit(li.String()), one(g.fractionOf(fracAtLeast(lf, lExcl))))}
	top := intCap
	if hasHi {
		top = new(big.Int).Sub(hiInt, big.NewInt(1))
	}
	if from := new(big.Int).Add(li, big.NewInt(1)); from.Cmp(top) <= 0 {
		anyFrac := g.fractionOf(fracAtLeast("", false))
		for _, a := range g.posRange(from.Int64(), top.Int64()) {
			alts = append(alts, cat(a, one(anyFrac)))
		}
	}
	if hasHi {
		alts = append(alts, cat(g.lit(hiInt.String()), one(g.fractionOf(fracAtMost(hf, hExcl)))))
	}
	return alts
}

// fracAtLeast accepts the fraction digit strings f with 0.f >= 0.b (> when
// strict); b has no trailing zeros.
func fracAtLeast(b string, strict bool) *rdfa {
	n := len(b)
	free := int32(n + 1)
	d := &rdfa{states: make([]rstate, n+2)}
	for j := range n {
		c := rune(b[j])
		d.states[j].edges = []redge{{c, c, int32(j + 1)}}
		if c < '9' {
			d.states[j].edges = append(d.states[j].edges, redge{c + 1, '9', free})
		}
	}
	if strict {
		d.states[n].edges = []redge{{'0', '0', int32(n)}, {'1', '9', free}}
	} else {
		d.states[n] = rstate{accept: true, edges: []redge{{'0', '9', free}}}
	}
	d.states[free] = rstate{accept: true, edges: []redge{{'0', '9', free}}}
	return d
}

// fracAtMost accepts the fraction digit strings f with 0.f <= 0.b (< when
// strict); b has no trailing zeros.
func fracAtMost(b string, strict bool) *rdfa {
	n := len(b)
	free := int32(n + 1)
	d := &rdfa{states: make([]rstate, n+2)}
	for j := range n {
		c := rune(b[j])
		d.states[j].accept = true // f is a proper prefix of b: smaller
		if c > '0' {
			d.states[j].edges = []redge{{'0', c - 1, free}}
		}
		d.states[j].edges = append(d.states[j].edges, redge{c, c, int32(j + 1)})
	}
	d.states[n] = rstate{accept: !strict, edges: []redge{{'0', '0', int32(n)}}}
	d.states[free] = rstate{accept: true, edges: []redge{{'0', '9', free}}}
	return d
}

// fractionOf matches an optional "." and fraction digits that d accepts (the
// empty fraction meaning no "." at all), up to maxFracDig digits.
func (g *grammar) fractionOf(d *rdfa) sym {
	d, _ = intersect(d, lengthDFA(0, maxFracDig)) // small: cannot fail
	rules := make([]int32, len(d.states))
	for i := range d.states {
		rules[i] = g.reserve("frac-" + strconv.Itoa(i))
	}
	edgeAlts := func(st rstate) [][]sym {
		var alts [][]sym
		for _, e := range st.edges {
			alts = append(alts, []sym{g.rng(byte(e.lo), byte(e.hi)), ref(rules[e.to])})
		}
		return alts
	}
	for i, st := range d.states {
		alts := edgeAlts(st)
		if st.accept {
			alts = append(alts, nil)
		}
		g.define(rules[i], alts...)
	}
	first := g.rule("frac-first", edgeAlts(d.states[0])...)
	alts := [][]sym{cat(g.lit("."), one(first))}
	if d.states[0].accept {
		alts = append(alts, nil)
	}
	return g.rule("fraction", alts...)
}
