package tokenizer

import "unicode"

// decodeRunes decodes text the way llama.cpp's unicode_cpts_from_utf8 does:
// the lead byte alone decides the length, overlong forms and surrogates are
// accepted, and a byte that starts no complete sequence becomes U+FFFD. The
// BPE pre-tokenizer works on these code points, so invalid input bytes reach
// the merges as U+FFFD, as in llama.cpp.
func decodeRunes(s string, dst []rune) []rune {
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c < 0x80:
			dst = append(dst, rune(c))
			i++
		case c&0x40 == 0: // continuation byte in lead position
			dst = append(dst, 0xFFFD)
			i++
		case c&0x20 == 0:
			if i+1 >= n || s[i+1]&0xC0 != 0x80 {
				dst = append(dst, 0xFFFD)
				i++
				continue
			}
			dst = append(dst, rune(c&0x1F)<<6|rune(s[i+1]&0x3F))
			i += 2
		case c&0x10 == 0:
			if i+2 >= n || s[i+1]&0xC0 != 0x80 || s[i+2]&0xC0 != 0x80 {
				dst = append(dst, 0xFFFD)
				i++
				continue
			}
			dst = append(dst, rune(c&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F))
			i += 3
		case c&0x08 == 0:
			if i+3 >= n || s[i+1]&0xC0 != 0x80 || s[i+2]&0xC0 != 0x80 || s[i+3]&0xC0 != 0x80 {
				dst = append(dst, 0xFFFD)
				i++
				continue
			}
			dst = append(dst, rune(c&0x07)<<18|rune(s[i+1]&0x3F)<<12|rune(s[i+2]&0x3F)<<6|rune(s[i+3]&0x3F))
			i += 4
		default:
			dst = append(dst, 0xFFFD)
			i++
		}
	}
	return dst
}

// appendUTF8 encodes r as llama.cpp's unicode_cpt_to_utf8 does, surrogates
// included. Values above U+10FFFF (from F5..F7 lead bytes), where llama.cpp
// throws, become U+FFFD.
func appendUTF8(b []byte, r rune) []byte {
	switch {
	case r < 0:
		r = 0xFFFD
	case r <= 0x7F:
		return append(b, byte(r))
	case r <= 0x7FF:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r <= 0xFFFF:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	case r <= 0x10FFFF:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		r = 0xFFFD
	}
	return append(b, 0xEF, 0xBF, 0xBD)
}

// cls is a code point's class as llama.cpp's pre-tokenizer regexes see it.
type cls uint8

const (
	clsL cls = 1 << iota // \p{L}
	clsN                 // \p{N}
	clsP                 // \p{P}
	clsS                 // \p{S}
	clsM                 // \p{M}
	clsW                 // \s
)

// asciiCls follows llama.cpp's "collapsed" regex classes for ASCII: note that
// '~' is in neither \p{P} nor \p{S} there (llama.cpp's table omits it), while
// the hand-written GPT-2/Llama-3 splitters only look at L, N and \s.
var asciiCls = func() (t [128]cls) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = clsL, clsL
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsN
	}
	for _, c := range "\t\n\v\f\r " {
		t[c] = clsW
	}
	for _, c := range "!\"#%&'()*,-./:;?@[\\]_{}" {
		t[c] = clsP
	}
	for _, c := range "$+<=>^`|" {
		t[c] = clsS
	}
	return t
}()

// classOf returns r's class. Outside ASCII, whitespace (Unicode White_Space,
// the same set as llama.cpp's) wins over the general category.
func classOf(r rune) cls {
	if r >= 0 && r < 0x80 {
		return asciiCls[r]
	}
	switch {
	case unicode.IsSpace(r):
		return clsW
	case unicode.IsLetter(r):
		return clsL
	case unicode.IsNumber(r):
		return clsN
	case unicode.IsMark(r):
		return clsM
	case unicode.IsPunct(r):
		return clsP
	case unicode.IsSymbol(r):
		return clsS
	}
	return 0
}

// isSpace is \s as llama.cpp's regexes see it: ASCII whitespace plus the
// non-ASCII White_Space code points it rewrites to '\v'.
func isSpace(r rune) bool { return classOf(r) == clsW }

// gpt2Bytes maps each byte to the printable code point GPT-2's byte-level BPE
// uses for it: printable Latin-1 maps to itself, the rest to U+0100 upwards.
var gpt2Bytes, gpt2Unbytes = func() (enc [256]string, dec map[rune]byte) {
	dec = make(map[rune]byte, 256)
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= 0x21 && b <= 0x7E || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			r = rune(256 + n)
			n++
		}
		enc[b] = string(r)
		dec[r] = byte(b)
	}
	return enc, dec
}()
