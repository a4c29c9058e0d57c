package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"zhiyan/db"
)

type userJSON struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Admin    bool      `json:"admin"`
	Disabled bool      `json:"disabled"`
	Platform string    `json:"platform,omitempty"`
	Created  time.Time `json:"created"`
}

func toUserJSON(u db.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, Platform: u.Platform, Created: u.Created}
}

type conversationJSON struct {
	ID       string          `json:"id"`
	Title    string          `json:"title"`
	Model    string          `json:"model"`
	System   string          `json:"system"`
	Scenario string          `json:"scenario"`
	Settings json.RawMessage `json:"settings"`
	Source   string          `json:"source"`
	Created  time.Time       `json:"created"`
	Updated  time.Time       `json:"updated"`
}

func toConversationJSON(c db.Conversation) conversationJSON {
	s := c.Settings
	if len(s) == 0 {
		s = json.RawMessage("{}")
	}
	return conversationJSON{c.ID, c.Title, c.Model, c.System, c.Scenario, s, c.Source, c.Created, c.Updated}
}

type messageJSON struct {
	ID               int64     `json:"id"`
	Role             string    `json:"role"`
	Content          string    `json:"content"`
	Reasoning        string    `json:"reasoning,omitempty"`
	Model            string    `json:"model,omitempty"`
	PromptTokens     int       `json:"prompt_tokens,omitempty"`
	CompletionTokens int       `json:"completion_tokens,omitempty"`
	DurationMs       int64     `json:"duration_ms,omitempty"`
	Status           string    `json:"status"`
	Error            string    `json:"error,omitempty"`
	Created          time.Time `json:"created"`
}

func toMessageJSON(m db.Message) messageJSON {
	return messageJSON{m.ID, m.Role, m.Content, m.Reasoning, m.Model, m.PromptTokens, m.CompletionTokens,
		m.DurationMs, m.Status, m.Error, m.Created}
}

// settings are a conversation's sampling settings, stored as JSON.
type settings struct {
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Think       *bool    `json:"think,omitempty"`
}

func (s settings) check() error {
	switch {
	case s.Temperature != nil && (*s.Temperature < 0 || *s.Temperature > 2):
		return errorf(http.StatusBadRequest, "temperature must be within [0, 2]")
	case s.TopP != nil && (*s.TopP < 0 || *s.TopP > 1):
		return errorf(http.StatusBadRequest, "top_p must be within [0, 1]")
	case s.MaxTokens < 0 || s.MaxTokens > 1<<20:
		return errorf(http.StatusBadRequest, "max_tokens must be within [0, 1048576]")
	}
	return nil
}

// conversationInput is the editable part of a conversation; nil fields are
// left as they are.
type conversationInput struct {
	Title    *string   `json:"title"`
	Model    *string   `json:"model"`
	System   *string   `json:"system"`
	Scenario *string   `json:"scenario"`
	Settings *settings `json:"settings"`
}

func (in conversationInput) apply(c *db.Conversation) error {
	if in.Title != nil {
		if utf8.RuneCountInString(*in.Title) > 200 {
			return errorf(http.StatusBadRequest, "the title is too long")
		}
		c.Title = strings.TrimSpace(*in.Title)
	}
	if in.Model != nil {
		c.Model = *in.Model
	}
	if in.System != nil {
		if len(*in.System) > 64<<10 {
			return errorf(http.StatusBadRequest, "the system prompt is too long")
		}
		c.System = *in.System
	}
	if in.Scenario != nil {
		c.Scenario = *in.Scenario
	}
	if in.Settings != nil {
		if err := in.Settings.check(); err != nil {
			return err
		}
		b, err := json.Marshal(in.Settings)
		if err != nil {
			return err
		}
		c.Settings = b
	}
	return nil
}

func (a *App) models(r *http.Request, _ *caller) (any, error) {
	m := a.gen.Models(r.Context())
	if m == nil {
		m = []string{}
	}
	return map[string][]string{"models": m}, nil
}

func (a *App) conversations(r *http.Request, c *caller) (any, error) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	offset = max(offset, 0)
	list, err := a.db.Conversations(r.Context(), c.user.ID, q.Get("q"), limit, offset)
	if err != nil {
		return nil, err
	}
	out := make([]conversationJSON, len(list))
	for i, cv := range list {
		out[i] = toConversationJSON(cv)
	}
	return map[string]any{"conversations": out}, nil
}

func (a *App) createConversation(r *http.Request, c *caller) (any, error) {
	var in conversationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	cv := db.Conversation{OwnerID: c.user.ID, Source: "web", Settings: json.RawMessage("{}")}
	if err := in.apply(&cv); err != nil {
		return nil, err
	}
	cv, err := a.db.CreateConversation(r.Context(), cv)
	if err != nil {
		return nil, err
	}
	return toConversationJSON(cv), nil
}

func (a *App) conversation(r *http.Request, c *caller) (any, error) {
	cv, msgs, err := a.load(r, c)
	if err != nil {
		return nil, err
	}
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toMessageJSON(m)
	}
	return map[string]any{"conversation": toConversationJSON(cv), "messages": out}, nil
}

// load reads the caller's conversation named by the path and its messages;
// another user's conversation is not found.
func (a *App) load(r *http.Request, c *caller) (db.Conversation, []db.Message, error) {
	cv, err := a.db.Conversation(r.Context(), c.user.ID, r.PathValue("id"))
	if err != nil {
		return db.Conversation{}, nil, err
	}
	msgs, err := a.db.Messages(r.Context(), cv.ID)
	return cv, msgs, err
}

func (a *App) updateConversation(r *http.Request, c *caller) (any, error) {
	var in conversationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	cv, err := a.db.Conversation(r.Context(), c.user.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := in.apply(&cv); err != nil {
		return nil, err
	}
	if err := a.db.UpdateConversation(r.Context(), c.user.ID, cv); err != nil {
		return nil, err
	}
	return toConversationJSON(cv), nil
}

func (a *App) deleteConversation(r *http.Request, c *caller) (any, error) {
	if err := a.db.DeleteConversation(r.Context(), c.user.ID, r.PathValue("id")); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}

// export downloads a conversation as Markdown (?format=md, the default) or
// JSON (?format=json).
func (a *App) export(w http.ResponseWriter, r *http.Request, c *caller) (any, error) {
	cv, msgs, err := a.load(r, c)
	if err != nil {
		return nil, err
	}
	name := cv.Title
	if name == "" {
		name = "conversation-" + cv.ID
	}
	var body []byte
	switch f := r.URL.Query().Get("format"); f {
	case "", "md", "markdown":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		body = []byte(exportMarkdown(cv, msgs))
		name += ".md"
	case "json":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		out := make([]messageJSON, len(msgs))
		for i, m := range msgs {
			out[i] = toMessageJSON(m)
		}
		body, err = json.MarshalIndent(map[string]any{"conversation": toConversationJSON(cv), "messages": out}, "", "  ")
		if err != nil {
			return nil, err
		}
		name += ".json"
	default:
		return nil, errorf(http.StatusBadRequest, "unknown format %q (md or json)", f)
	}
	w.Header().Set("Content-Disposition", "attachment; filename=\"conversation.txt\"; filename*=UTF-8''"+url.PathEscape(name))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil, nil
}

func exportMarkdown(cv db.Conversation, msgs []db.Message) string {
	var b strings.Builder
	title := cv.Title
	if title == "" {
		title = "Conversation"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	if cv.Model != "" {
		fmt.Fprintf(&b, "- Model: %s\n", cv.Model)
	}
	fmt.Fprintf(&b, "- Created: %s\n\n", cv.Created.UTC().Format(time.RFC3339))
	if cv.System != "" {
		fmt.Fprintf(&b, "## System\n\n%s\n\n", cv.System)
	}
	for _, m := range msgs {
		fmt.Fprintf(&b, "## %s\n\n", roleTitle(m.Role))
		if m.Reasoning != "" {
			fmt.Fprintf(&b, "> %s\n\n", strings.ReplaceAll(strings.TrimSpace(m.Reasoning), "\n", "\n> "))
		}
		b.WriteString(m.Content)
		if m.Status != "" && m.Status != "complete" {
			fmt.Fprintf(&b, "\n\n*(%s)*", m.Status)
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

func roleTitle(role string) string {
	switch role {
	case "user":
		return "User"
	case "assistant":
		return "Assistant"
	case "system":
		return "System"
	}
	return role
}
