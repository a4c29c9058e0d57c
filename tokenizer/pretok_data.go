package tokenizer

// Character classes of the DeepSeek pre-tokenizer regexes (from DeepSeek's
// tokenizer.json, as llama.cpp carries them). llama.cpp matches them with
// std::wregex after rewriting non-ASCII whitespace to '\v', so whitespace
// never belongs to a class even where a range spans it.

type runeRange struct{ lo, hi rune }

func inRanges(r rune, rs []runeRange) bool {
	for _, x := range rs {
		if r >= x.lo && r <= x.hi {
			return !isSpace(r)
		}
	}
	return false
}

// parseClass turns "a-zµ..." (ranges and single code points) into ranges.
func parseClass(s string) []runeRange {
	rs := []rune(s)
	var out []runeRange
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			out = append(out, runeRange{rs[i], rs[i+2]})
			i += 2
			continue
		}
		out = append(out, runeRange{rs[i], rs[i]})
	}
	return out
}

// deepseek-llm: "\s?[<letters>]+", "\s?[<punctuation>]+", "[一-龥ࠀ-一가-퟿]+".
var (
	dsLetters = parseClass("A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃")
	dsPunct   = parseClass("!-/:-~！-／：-～‘-‟　-。")
	dsCJK     = parseClass("一-龥ࠀ-一가-퟿")
	// deepseek-v3 / hunyuan-dense: "[一-龥぀-ゟ゠-ヿ]+".
	ds3CJK = parseClass("一-龥぀-ゟ゠-ヿ")
)

func isDSLetter(r rune) bool { return inRanges(r, dsLetters) }
func isDSPunct(r rune) bool  { return inRanges(r, dsPunct) }
func isDSCJK(r rune) bool    { return inRanges(r, dsCJK) }
func isDS3CJK(r rune) bool   { return inRanges(r, ds3CJK) }
