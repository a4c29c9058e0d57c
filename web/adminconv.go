package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"zhiyan/db"
)

// The administrators' read-only view of every conversation, those the
// chat-platform bots keep for their users included.

// ownerJSON names a conversation's owner: a web user, or a bot user with
// the platform and the platform's id for them.
type ownerJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Platform   string `json:"platform,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// adminConversationJSON is a conversation in the administrators' list.
type adminConversationJSON struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Model   string    `json:"model"`
	Source  string    `json:"source"`
	Owner   ownerJSON `json:"owner"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// owners looks users up once per request: a page of conversations often
// has few distinct owners.
type owners struct {
	db   *db.DB
	seen map[int64]ownerJSON
}

func (o *owners) get(ctx context.Context, id int64) (ownerJSON, error) {
	if j, ok := o.seen[id]; ok {
		return j, nil
	}
	u, err := o.db.User(ctx, id)
	switch {
	case errors.Is(err, db.ErrNotFound): // deleted meanwhile: still list the conversation
		u = db.User{ID: id, Name: "#" + strconv.FormatInt(id, 10)}
	case err != nil:
		return ownerJSON{}, err
	}
	j := ownerJSON{u.ID, u.Name, u.Platform, u.ExternalID}
	o.seen[id] = j
	return j, nil
}

// allConversations lists every user's conversations, most recently updated
// first, filtered by ?q= (title or message text); "more" tells whether
// another page follows ?offset= + ?limit=.
func (a *App) allConversations(r *http.Request, _ *caller) (any, error) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	offset = max(offset, 0)
	ctx := r.Context()
	list, err := a.db.AllConversations(ctx, q.Get("q"), limit+1, offset)
	if err != nil {
		return nil, err
	}
	more := len(list) > limit
	list = list[:min(len(list), limit)]
	own := &owners{db: a.db, seen: map[int64]ownerJSON{}}
	out := make([]adminConversationJSON, len(list))
	for i, cv := range list {
		o, err := own.get(ctx, cv.OwnerID)
		if err != nil {
			return nil, err
		}
		out[i] = adminConversationJSON{cv.ID, cv.Title, cv.Model, cv.Source, o, cv.Created, cv.Updated}
	}
	return map[string]any{"conversations": out, "more": more}, nil
}

// anyConversation shows one conversation of any user with its owner and
// messages; it changes nothing.
func (a *App) anyConversation(r *http.Request, _ *caller) (any, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	cv, err := a.db.AnyConversation(ctx, id)
	if err != nil {
		return nil, err
	}
	o, err := (&owners{db: a.db, seen: map[int64]ownerJSON{}}).get(ctx, cv.OwnerID)
	if err != nil {
		return nil, err
	}
	msgs, err := a.db.Messages(ctx, cv.ID)
	if err != nil {
		return nil, err
	}
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toMessageJSON(m)
	}
	return map[string]any{"conversation": toConversationJSON(cv), "owner": o, "messages": out}, nil
}
