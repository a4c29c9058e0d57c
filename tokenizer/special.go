package tokenizer

import "strings"

// textRule lists the token texts by which llama.cpp recognises a special
// token the metadata does not name. Texts llama.cpp knew at the commit the
// goldens come from (c392e509) turn a matching token into a control token, as
// there; texts added later only count for tokens that are control already,
// so that e.g. Qwen's ordinary "</s>" stays ordinary text, as in the goldens.
type textRule struct{ texts, later []string }

var (
	eotRule = textRule{
		texts: []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
			"<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"},
		later: []string{"[EOT]", "<end_of_utterance>"},
	}
	eomRule    = textRule{texts: []string{"<|eom_id|>"}}
	fimPreRule = textRule{
		texts: []string{"<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>"},
		later: []string{"<fim_prefix>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"},
	}
	fimSufRule = textRule{
		texts: []string{"<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>"},
		later: []string{"<fim_suffix>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"},
	}
	fimMidRule = textRule{
		texts: []string{"<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>"},
		later: []string{"<fim_middle>", "▁<MID>", "<|code_middle|>", "<|middle|>"},
	}
	fimPadRule = textRule{
		texts: []string{"<|fim_pad|>", "<fim-pad>", "<PAD>"},
		later: []string{"<fim_pad>", "[PAD]"},
	}
	fimRepRule = textRule{
		texts: []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"},
		later: []string{"<reponame>"},
	}
	fimSepRule = textRule{texts: []string{"<|file_sep|>"}}
	eogRule    = textRule{
		texts: []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
			"<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>"},
		later: []string{"<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "</s>", "[EOT]", "[EOS]",
			"<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["},
	}
	// gpt-oss channel markers are always rendered and parsed as user-defined.
	userDefinedTexts = []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}
)

// matches returns the ids of the tokens rule r recognises, making them control.
func (t *Tokenizer) matches(r textRule) []int32 {
	var ids []int32
	for _, s := range r.texts {
		if id, ok := t.ids[s]; ok {
			t.attrs[id] |= attrControl
			ids = append(ids, id)
		}
	}
	for _, s := range r.later {
		if id, ok := t.ids[s]; ok && t.attrs[id]&attrControl != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// first returns the lowest id rule r recognises (llama.cpp takes whichever its
// hash map yields first) and makes only that one control, -1 if none.
func (t *Tokenizer) first(r textRule) int32 {
	best := int32(-1)
	for _, s := range r.texts {
		if id, ok := t.ids[s]; ok && (best < 0 || id < best) {
			best = id
		}
	}
	for _, s := range r.later {
		if id, ok := t.ids[s]; ok && t.attrs[id]&attrControl != 0 && (best < 0 || id < best) {
			best = id
		}
	}
	if best >= 0 {
		t.attrs[best] |= attrControl
	}
	return best
}

// markEOG builds the end-of-generation set as llama.cpp's vocab loader does,
// including its side effect of making such tokens control tokens.
func (t *Tokenizer) markEOG() {
	if t.eot < 0 {
		t.eot = t.first(eotRule)
	}
	if t.eom < 0 {
		t.eom = t.first(eomRule)
	}
	for _, r := range []textRule{fimPreRule, fimSufRule, fimMidRule} {
		t.first(r)
	}
	t.eog = map[int32]bool{}
	for _, r := range []textRule{fimPadRule, fimRepRule, fimSepRule} {
		if id := t.first(r); id >= 0 {
			t.eog[id] = true
		}
	}
	for _, id := range t.matches(eogRule) {
		t.eog[id] = true
	}
	for _, s := range userDefinedTexts {
		if id, ok := t.ids[s]; ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	// o200k_harmony and solar-open end turns with <|return|>/<|call|> or
	// <|calls|>/<|flush|>; their <|end|> only ends a message.
	in := func(s string) bool { id, ok := t.ids[s]; return ok && t.eog[id] }
	if end, ok := t.ids["<|end|>"]; ok && t.eog[end] {
		call := in("<|call|>") || in("<|calls|>")
		if (in("<|return|>") && call) || (call && in("<|flush|>")) {
			delete(t.eog, end)
			t.attrs[end] = attrUserDefined
		}
	}
	// gemma4 and paddleocr: </s> is an ordinary token there.
	if s, ok := t.ids["</s>"]; ok && t.eog[s] && in("<|tool_response>") {
		delete(t.eog, s)
		t.attrs[s] = attrNormal
	}
}

// setStripAttrs applies llama.cpp's per-model attributes: tokens whose match
// also swallows the whitespace before (lstrip) or after (rstrip) them.
func (t *Tokenizer) setStripAttrs(modelName string) {
	name := strings.ToLower(modelName)
	set := func(text string, a attr, on bool) {
		if id, ok := t.ids[text]; ok {
			if on {
				t.attrs[id] |= a
			} else {
				t.attrs[id] &^= a
			}
		}
	}
	switch {
	case t.pre != nil && (t.pre.name == "jina-v2-de" || t.pre.name == "jina-v2-es" || t.pre.name == "jina-v2-code"):
		set("<mask>", attrLStrip, true)
	case strings.Contains(name, "phi-3") || strings.Contains(name, "phi3"):
		for _, id := range t.special {
			t.attrs[id] |= attrRStrip
		}
		set("</s>", attrRStrip, true)
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(s, attrRStrip, false)
		}
	case strings.Contains(name, "modern-bert"):
		set("[MASK]", attrLStrip, true)
	}
}

// fragment is a piece of the input: a special token (tok >= 0) or raw text.
type fragment struct {
	tok        int32
	start, end int // text bytes, when tok < 0
}

// partition splits text at special-token texts the way llama.cpp's
// tokenizer_st_partition does: special tokens are taken one at a time, longest
// first, and each splits every remaining text fragment at all its
// non-overlapping occurrences. Control and unknown tokens count only when
// parseSpecial is set; user-defined tokens always do.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: -1, start: 0, end: len(text)}}
	var next []fragment
	for _, id := range t.special {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		sp := t.tokens[id]
		next = next[:0]
		changed := false
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			start, end := f.start, f.end
			for start < end {
				i := strings.Index(text[start:end], sp)
				if i < 0 {
					break
				}
				changed = true
				m := start + i
				left := m
				if a&attrLStrip != 0 {
					for left > start && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > start {
					next = append(next, fragment{tok: -1, start: start, end: left})
				}
				next = append(next, fragment{tok: id})
				start = m + len(sp)
				if a&attrRStrip != 0 {
					for start < end && isCSpace(text[start]) {
						start++
					}
				}
			}
			if start < end {
				next = append(next, fragment{tok: -1, start: start, end: end})
			}
		}
		if changed {
			frags, next = next, frags
		}
	}
	return frags
}

// isCSpace is C's isspace in the "C" locale, which llama.cpp uses for stripping.
func isCSpace(c byte) bool {
	return c == ' ' || ('\t' <= c && c <= '\r')
}
