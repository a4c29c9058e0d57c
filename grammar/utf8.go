package grammar

import "unicode/utf8"

// byteRange is the bytes lo..hi at one position of a UTF-8 sequence.
type byteRange struct{ lo, hi byte }

// utf8Seqs calls emit with byte-range sequences whose products are exactly
// the UTF-8 encodings of the runes lo..hi (surrogates, which have none, are
// skipped). The range is split until, at every position, the bytes of a piece
// vary independently.
func utf8Seqs(lo, hi rune, emit func([]byteRange)) {
	if lo > hi || lo > utf8.MaxRune || hi < 0 {
		return
	}
	lo, hi = max(lo, 0), min(hi, utf8.MaxRune)
	if lo <= 0xDFFF && hi >= 0xD800 {
		utf8Seqs(lo, 0xD7FF, emit)
		utf8Seqs(0xE000, hi, emit)
		return
	}
	for _, top := range []rune{0x7F, 0x7FF, 0xFFFF} {
		if lo <= top && hi > top {
			utf8Seqs(lo, top, emit)
			utf8Seqs(top+1, hi, emit)
			return
		}
	}
	if hi <= 0x7F {
		emit([]byteRange{{byte(lo), byte(hi)}})
		return
	}
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1 // the i trailing continuation bytes
		if lo&^m != hi&^m {
			if lo&m != 0 {
				utf8Seqs(lo, lo|m, emit)
				utf8Seqs((lo|m)+1, hi, emit)
				return
			}
			if hi&m != m {
				utf8Seqs(lo, (hi&^m)-1, emit)
				utf8Seqs(hi&^m, hi, emit)
				return
			}
		}
	}
	var a, b [utf8.UTFMax]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	seq := make([]byteRange, n)
	for i := range n {
		seq[i] = byteRange{a[i], b[i]}
	}
	emit(seq)
}
