package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// buildPieces caches every token's text as llama.cpp's token_to_piece renders
// it with special = true.
func (t *Tokenizer) buildPieces() {
	t.pieces = make([]string, len(t.tokens))
	for id := range t.tokens {
		t.pieces[id] = t.piece(int32(id))
	}
}

func (t *Tokenizer) piece(id int32) string {
	text, a := t.tokens[id], t.attrs[id]
	switch {
	case a&(attrUnknown|attrControl|attrUserDefined) != 0:
		return text
	case a&attrNormal != 0:
		if t.kind == modelSPM {
			return strings.ReplaceAll(text, "\u2581", " ")
		}
		return decodeGPT2(text)
	case a&attrByte != 0:
		b, _ := parseByteToken(text) // checked in New
		return string([]byte{b})
	}
	return "" // unused and undefined tokens render as nothing
}

// decodeGPT2 maps a byte-level BPE token text back to raw bytes. A character
// outside the byte alphabet is rendered the way llama.cpp does, so output
// stays identical: "[UNK_BYTE_0x<hex>" followed by the whole text and "]".
func decodeGPT2(text string) string {
	var b []byte
	for _, c := range decodeRunes(text, nil) {
		if v, ok := gpt2Unbytes[c]; ok {
			b = append(b, v)
			continue
		}
		b = append(b, "[UNK_BYTE_0x"...)
		for _, x := range appendUTF8(nil, c) {
			b = fmt.Appendf(b, "%02x", x)
		}
		b = append(b, text...)
		b = append(b, ']')
	}
	return string(b)
}

// Piece returns the bytes token id stands for: raw bytes for byte-level BPE,
// spaces for U+2581 and the byte of <0xXX> tokens for SentencePiece, the text
// itself for control, user-defined and unknown tokens. A piece can be part of
// a UTF-8 character. Out-of-range ids give nil.
func (t *Tokenizer) Piece(id int32) []byte {
	if id < 0 || int(id) >= len(t.pieces) {
		return nil
	}
	return []byte(t.pieces[id])
}

// Decode returns the text of ids as llama.cpp's llama_detokenize does with
// special tokens rendered (remove_special = false, unparse_special = true):
// pieces concatenated, the space SentencePiece prefixed removed from the first
// token, and, for the BPE pre-tokenizers that ask for it (GPT-2, Llama 3, not
// Qwen2), spaces before punctuation cleaned up. The result can hold invalid
// UTF-8 when ids do (e.g. a lone byte token). Out-of-range ids are skipped.
func (t *Tokenizer) Decode(ids []int32) string {
	var b []byte
	removeSpace := t.addSpacePrefix
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.pieces) {
			continue
		}
		p := t.pieces[id]
		if removeSpace && strings.HasPrefix(p, " ") {
			p = p[1:]
		}
		removeSpace = false
		b = append(b, p...)
	}
	if t.pre != nil && t.pre.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces is llama.cpp's clean_up_tokenization_spaces, three passes:
// " ?", " !", " .", " ," lose their space; a lone apostrophe between spaces
// loses both; " 's", " 'm", " 're", " 've" lose the space.
func cleanSpaces(t []byte) []byte {
	if len(t) == 0 {
		return t
	}
	n := 1
	for i := 1; i < len(t); i++ {
		x := t[i]
		if t[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			n--
		}
		t[n] = x
		n++
	}
	t = t[:n]
	n = 1
	for i := 1; i < len(t); i++ {
		x := t[i]
		if x == '\'' && i+1 < len(t) && t[i-1] == ' ' && t[i+1] == ' ' {
			n-- // drop the space before
			i++ // and skip the one after, which llama.cpp overwrites with NUL
			t[i] = 0
		}
		t[n] = x
		n++
	}
	t = t[:n]
	n = 1
	for i := 1; i < len(t); i++ {
		x := t[i]
		if t[i-1] == ' ' && x == '\'' && i+1 < len(t) {
			x1 := t[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				n--
			case i+2 < len(t) && (x1 == 'r' || x1 == 'v') && t[i+2] == 'e':
				n--
			}
		}
		t[n] = x
		n++
	}
	return t[:n]
}

// Decoder turns a stream of ids into text without ever splitting a UTF-8
// character: bytes of an incomplete character are held back until the token
// that completes it arrives. Pieces are concatenated as they are (no prefix
// space removal, no clean-up), like llama.cpp's server output. Returned text
// is always valid UTF-8: a byte that cannot start or continue a character is
// replaced by U+FFFD.
type Decoder struct {
	t   *Tokenizer
	buf []byte
}

// NewDecoder starts a stream.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t} }

// Add feeds one token and returns the text it completes (possibly "").
func (d *Decoder) Add(id int32) string {
	if id >= 0 && int(id) < len(d.t.pieces) {
		d.buf = append(d.buf, d.t.pieces[id]...)
	}
	keep := incompleteTail(d.buf)
	out := validText(d.buf[:len(d.buf)-keep])
	d.buf = append(d.buf[:0], d.buf[len(d.buf)-keep:]...)
	return out
}

// Flush returns what is held back (an unfinished character, as U+FFFD) and
// resets the stream.
func (d *Decoder) Flush() string {
	out := validText(d.buf)
	d.buf = d.buf[:0]
	return out
}

// incompleteTail is the length of a trailing prefix of a UTF-8 character
// that more bytes could complete.
func incompleteTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// validText converts b to a string, replacing each invalid byte with U+FFFD.
func validText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}
