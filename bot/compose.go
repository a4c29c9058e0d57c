package bot

import (
	"strings"

	"zhiyan/channel"
)

// text is the item as delivered with the answer own: an answer to another
// (earlier) question, or one delivered late, says which question it answers.
func (it outItem) text(own int64) string {
	if it.Question != "" && (it.Late || it.Asst != own) {
		return "【「" + truncate(it.Question, 20) + "」的回答】\n" + it.Text
	}
	return it.Text
}

// compose joins queued answers (and a notice, when it fits) into one reply
// of at most maxBytes. What does not fit is returned as one continuation
// item, and the reply then ends with hint.
func compose(items []outItem, own int64, notice string, maxBytes int, hint string) (string, []outItem) {
	parts := make([]string, 0, len(items)+1)
	for _, it := range items {
		parts = append(parts, it.text(own))
	}
	joined := strings.Join(parts, "\n\n")
	switch {
	case notice == "":
	case joined == "":
		joined = notice
	case len(joined)+2+len(notice) <= maxBytes:
		joined += "\n\n" + notice
	}
	if len(joined) <= maxBytes {
		return joined, nil
	}
	first := channel.Split(joined, maxBytes, hint)[0]
	rest := joined[len(first)-len(hint):]
	return first, []outItem{{Text: rest}}
}

// splitText cuts a pushed answer into messages of at most maxBytes.
func splitText(text string, maxBytes int, hint string) []string {
	if maxBytes <= 0 {
		return []string{text}
	}
	return channel.Split(text, maxBytes, hint)
}
