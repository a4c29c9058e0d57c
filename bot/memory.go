package bot

import (
	"unicode/utf8"

	"zhiyan/chat"
	"zhiyan/db"
)

// history is what the model sees for the question answered by message
// asst: the system prompt, then the conversation's user turns and finished
// answers before asst — at most mc.Turns user turns (the question counts)
// and, beyond the question itself, at most mc.MaxChars characters, the
// oldest dropped first. Unfinished or failed answers are left out.
func history(msgs []db.Message, asst int64, system string, mc MemoryConfig) []chat.Message {
	var turns []chat.Message
	for _, m := range msgs {
		if m.ID >= asst {
			break
		}
		switch {
		case m.Role == "user":
			turns = append(turns, chat.Message{Role: "user", Content: m.Content})
		case m.Role == "assistant" && m.Status == db.StatusComplete && m.Content != "":
			turns = append(turns, chat.Message{Role: "assistant", Content: m.Content})
		}
	}
	// Walk back from the question, keeping whole turns while they fit.
	start, users, chars := len(turns), 0, 0
	for i := len(turns) - 1; i >= 0; i-- {
		n := utf8.RuneCountInString(turns[i].Content)
		if turns[i].Role == "user" {
			users++
		}
		if start < len(turns) && (users > mc.Turns || chars+n > mc.MaxChars) {
			break
		}
		chars += n
		start = i
	}
	turns = turns[start:]
	// A history must open with the user's turn.
	for len(turns) > 1 && turns[0].Role != "user" {
		turns = turns[1:]
	}
	if system != "" {
		turns = append([]chat.Message{{Role: "system", Content: system}}, turns...)
	}
	return turns
}
