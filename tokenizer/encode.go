package tokenizer

// Encode returns the token ids of text. addSpecial adds BOS/EOS as the
// vocabulary asks (AddBOS, AddEOS). parseSpecial makes control-token texts in
// text (e.g. "<|im_start|>") become those tokens; user-defined tokens are
// always matched, as in llama.cpp. Invalid UTF-8 is accepted: byte-level BPE
// sees each invalid byte as U+FFFD, SentencePiece falls back to byte tokens.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var out []int32
	if addSpecial && t.addBOS {
		out = append(out, t.bos)
	}
	frags := t.partition(text, parseSpecial)
	switch t.kind {
	case modelBPE:
		var sc scratch
		for _, f := range frags {
			if f.tok >= 0 {
				out = append(out, f.tok)
				continue
			}
			out = t.encodeBPE(t.normalize(text[f.start:f.end]), out, &sc)
		}
	case modelSPM:
		prevSpecial := true // the first fragment gets the space prefix too
		for _, f := range frags {
			if f.tok >= 0 {
				out = append(out, f.tok)
				prevSpecial = true
				continue
			}
			s := t.normalize(text[f.start:f.end])
			if t.addSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(s, out)
			prevSpecial = false
		}
	}
	if addSpecial && t.addEOS {
		out = append(out, t.eos)
	}
	return out
}

func (t *Tokenizer) normalize(s string) string {
	if t.normfunc == nil {
		return s
	}
	return t.normfunc(s)
}
