package channel

import (
	"strings"
	"unicode/utf8"
)

// Split cuts text into parts of at most maxBytes bytes each, on character
// (rune) boundaries, appending hint to every part but the last. Where it can,
// it cuts after a line break, else after sentence punctuation, else after a
// space, as long as that keeps at least half of the room. Joining the parts
// with the hints removed gives text back unchanged.
//
// maxBytes must leave room for hint plus one character; anything less is a
// programmer error and panics.
func Split(text string, maxBytes int, hint string) []string {
	if len(text) <= maxBytes {
		return []string{text}
	}
	room := maxBytes - len(hint)
	if room < utf8.UTFMax {
		panic("channel: Split needs maxBytes > len(hint) + 4")
	}
	var parts []string
	for len(text) > maxBytes {
		n := cut(text, room)
		parts = append(parts, text[:n]+hint)
		text = text[n:]
	}
	return append(parts, text)
}

// cut returns the length of the next part of text, at most room bytes
// (room >= 4, len(text) > room), always a rune boundary and always > 0.
func cut(text string, room int) int {
	// Largest rune boundary <= room. Invalid bytes count as 1-byte runes.
	n := room
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	if n == 0 {
		n = room // no rune starts in range (invalid bytes): cut anywhere
	}
	window := text[:n]
	floor := n / 2
	for _, seps := range []string{"\n", "。！？!?；;", " "} {
		if i := lastAny(window, seps); i >= floor {
			return i
		}
	}
	return n
}

// lastAny returns the index just after the last occurrence in s of any rune
// of seps, or -1.
func lastAny(s, seps string) int {
	i := strings.LastIndexAny(s, seps)
	if i < 0 {
		return -1
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return i + size
}
