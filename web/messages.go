package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"zhiyan/chat"
	"zhiyan/db"
)

// messageInput is a turn sent from the page: a new user message, a
// regeneration of the last answer, or an edit of an earlier user message
// (which drops everything from it on).
type messageInput struct {
	Content    string `json:"content"`
	Regenerate bool   `json:"regenerate,omitempty"`
	Edit       int64  `json:"edit,omitempty"` // the id of the user message replaced
	Model      string `json:"model,omitempty"`
}

const maxMessage = 256 << 10

// postMessage saves the user's turn and streams the answer as Server-Sent
// Events: "user" (the saved message), "assistant" (its placeholder),
// "delta"s, then "done" with the final message once it is saved — or
// "error". A client that goes away cancels the generation; the answer is
// then saved as interrupted.
func (a *App) postMessage(w http.ResponseWriter, r *http.Request, c *caller) (any, error) {
	var in messageInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ctx := r.Context()
	cv, msgs, err := a.load(r, c)
	if err != nil {
		return nil, err
	}
	if !a.claim(cv.ID) {
		return nil, errorf(http.StatusConflict, "an answer is already being written in this conversation")
	}
	defer a.release(cv.ID)

	user, history, err := a.prepareTurn(ctx, cv, msgs, in)
	if err != nil {
		return nil, err
	}
	if in.Model != "" && in.Model != cv.Model {
		if !slices.Contains(a.gen.Models(ctx), in.Model) {
			return nil, errorf(http.StatusBadRequest, "no model %q", in.Model)
		}
		cv.Model = in.Model
	}
	if cv.Model == "" {
		if m := a.gen.Models(ctx); len(m) > 0 {
			cv.Model = m[0]
		}
	}
	if cv.Title == "" {
		cv.Title = titleFrom(user.Content)
	}
	if err := a.db.UpdateConversation(ctx, c.user.ID, cv); err != nil {
		return nil, err
	}
	reply, err := a.db.AddMessage(ctx, db.Message{ConversationID: cv.ID, Role: "assistant", Model: cv.Model, Status: "streaming"})
	if err != nil {
		return nil, err
	}

	ev := newEvents(w)
	ev.send("conversation", toConversationJSON(cv))
	ev.send("user", toMessageJSON(user))
	ev.send("assistant", toMessageJSON(reply))
	a.answer(ctx, ev, cv, history, &reply)
	return nil, nil
}

// prepareTurn applies in to the stored messages and returns the user
// message the answer follows and the history the model sees.
func (a *App) prepareTurn(ctx context.Context, cv db.Conversation, msgs []db.Message, in messageInput) (db.Message, []db.Message, error) {
	if in.Regenerate {
		// Answer the last user message again: drop what came after it.
		last := -1
		for i, m := range msgs {
			if m.Role == "user" {
				last = i
			}
		}
		if last < 0 {
			return db.Message{}, nil, errorf(http.StatusBadRequest, "nothing to regenerate")
		}
		if last+1 < len(msgs) {
			if err := a.db.DeleteMessagesFrom(ctx, cv.ID, msgs[last+1].ID); err != nil {
				return db.Message{}, nil, err
			}
		}
		return msgs[last], msgs[:last+1], nil
	}
	if strings.TrimSpace(in.Content) == "" || len(in.Content) > maxMessage || !utf8.ValidString(in.Content) {
		return db.Message{}, nil, errorf(http.StatusBadRequest, "the message must be 1 byte to 256 KiB of UTF-8 text")
	}
	if in.Edit != 0 {
		i := 0
		for i < len(msgs) && msgs[i].ID != in.Edit {
			i++
		}
		if i == len(msgs) || msgs[i].Role != "user" {
			return db.Message{}, nil, errorf(http.StatusNotFound, "no such user message")
		}
		if err := a.db.DeleteMessagesFrom(ctx, cv.ID, in.Edit); err != nil {
			return db.Message{}, nil, err
		}
		msgs = msgs[:i]
	}
	u, err := a.db.AddMessage(ctx, db.Message{ConversationID: cv.ID, Role: "user", Content: in.Content, Status: "complete"})
	if err != nil {
		return db.Message{}, nil, err
	}
	return u, append(msgs[:len(msgs):len(msgs)], u), nil
}

// answer generates the reply to history into m, streaming it through ev,
// and saves it once, whatever happens: complete, interrupted or error.
func (a *App) answer(ctx context.Context, ev *events, cv db.Conversation, history []db.Message, m *db.Message) {
	var st settings
	_ = json.Unmarshal(cv.Settings, &st) // checked when saved; bad old data means defaults
	req := ChatRequest{Model: cv.Model, Messages: chatMessages(cv.System, history),
		Temperature: st.Temperature, TopP: st.TopP, MaxTokens: st.MaxTokens, Think: st.Think}
	var content, reasoning strings.Builder
	start := time.Now()
	usage, err := a.gen.Chat(ctx, req, func(d Delta) error {
		content.WriteString(d.Content)
		reasoning.WriteString(d.Reasoning)
		return ev.send("delta", d)
	})
	m.Content, m.Reasoning = content.String(), reasoning.String()
	m.PromptTokens, m.CompletionTokens = usage.PromptTokens, usage.CompletionTokens
	m.DurationMs = usage.Duration.Milliseconds()
	if usage.Duration == 0 {
		m.DurationMs = time.Since(start).Milliseconds()
	}
	switch {
	case ctx.Err() != nil || ev.failed() || usage.FinishReason == "cancelled":
		m.Status = "interrupted"
	case err != nil:
		m.Status, m.Error = "error", err.Error()
	default:
		m.Status = "complete"
	}
	// The client may be gone: the answer is saved all the same.
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ferr := a.db.FinishMessage(save, *m); ferr != nil {
		a.log.Error("web: saving an answer", "conversation", cv.ID, "err", ferr)
		ev.send("error", map[string]string{"error": "the answer could not be saved"})
		return
	}
	if m.Status == "error" {
		a.log.Warn("web: generation failed", "conversation", cv.ID, "model", cv.Model, "err", err)
	}
	ev.send("done", toMessageJSON(*m))
}

// chatMessages is the conversation as the model sees it: the system prompt,
// then the user turns and the answers that have text.
func chatMessages(system string, history []db.Message) []chat.Message {
	var out []chat.Message
	if strings.TrimSpace(system) != "" {
		out = append(out, chat.Message{Role: "system", Content: system})
	}
	for _, m := range history {
		switch {
		case m.Role == "user":
			out = append(out, chat.Message{Role: "user", Content: m.Content})
		case m.Role == "assistant" && m.Content != "" && m.Status != "error":
			out = append(out, chat.Message{Role: "assistant", Content: m.Content})
		}
	}
	return out
}

// titleFrom makes a conversation's title from its first message.
func titleFrom(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const n = 40
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

// events writes Server-Sent Events, flushing each; after a failed write
// every later one fails too.
type events struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func newEvents(w http.ResponseWriter) *events {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &events{w: w, rc: http.NewResponseController(w)}
}

var errEventsFailed = errors.New("web: the client stopped reading")

func (e *events) send(name string, v any) error {
	if e.err != nil {
		return errEventsFailed
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return err
	}
	_ = e.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := e.w.Write([]byte("event: " + name + "\ndata: " + string(b) + "\n\n")); err != nil {
		e.err = err
		return err
	}
	if err := e.rc.Flush(); err != nil {
		e.err = err
		return err
	}
	return nil
}

func (e *events) failed() bool { return e.err != nil }
