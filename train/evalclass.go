package train

import (
	"unicode"
	"unicode/utf8"
)

// ClassLoss is the validation loss on the targets of one class of tokens,
// and how often the model's most likely token was the target.
type ClassLoss struct {
	Class    string
	Targets  int
	Loss     float64 // mean nats per target
	Accuracy float64 // of the argmax prediction
}

// CharClass sorts a character token for the tang-char breakdown: "Han",
// "，。" (the two punctuation marks of regulated verse), "\n" or "other".
func CharClass(text string) string {
	switch r, _ := utf8.DecodeRuneInString(text); {
	case text == "，" || text == "。":
		return "，。"
	case text == "\n":
		return "\\n"
	case utf8.RuneCountInString(text) == 1 && unicode.Is(unicode.Han, r):
		return "Han"
	}
	return "other"
}

// EvaluateClasses measures the loss over the whole validation set (the
// windows of Evaluate(true)) split by the class of each target token, in
// order of first appearance.
func (t *Trainer) EvaluateClasses(class func(text string) string) []ClassLoss {
	o, m := t.Opt, t.Model
	T, V := o.Model.Context, o.Model.Vocab
	d := t.Data
	var starts, ends []int
	if d.ValStarts != nil {
		starts, ends = chatWindows(d.ValStarts, len(d.Val))
	} else {
		starts = evalWindows(d.Val, T, 0)
	}
	idx := map[string]int{}
	var out []ClassLoss
	for i := 0; i < len(starts); i += o.Batch {
		group := starts[i:min(i+o.Batch, len(starts))]
		x, y := t.x[:len(group)*T], t.y[:len(group)*T]
		for b, s := range group {
			end := len(d.Val)
			if ends != nil {
				end = ends[i+b]
			}
			fillWindow(x[b*T:(b+1)*T], y[b*T:(b+1)*T], d.Val, d.ValTarget, s, end)
		}
		m.Forward(x, y, len(group))
		logits := m.Logits()
		for r, tgt := range y {
			if tgt < 0 {
				continue
			}
			c := class(t.Vocab.Tokens[tgt])
			k, ok := idx[c]
			if !ok {
				k = len(out)
				idx[c] = k
				out = append(out, ClassLoss{Class: c})
			}
			row := logits[r*V : (r+1)*V]
			best := 0
			for j, l := range row {
				if l > row[best] {
					best = j
				}
			}
			out[k].Targets++
			out[k].Loss += float64(m.a.losses[r])
			if int32(best) == tgt {
				out[k].Accuracy++
			}
		}
	}
	for k := range out {
		out[k].Loss /= float64(out[k].Targets)
		out[k].Accuracy /= float64(out[k].Targets)
	}
	return out
}
