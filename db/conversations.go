package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Conversation is a saved chat. Its id is random and unguessable, but access
// is still scoped to the owner: another user's id gives ErrNotFound.
type Conversation struct {
	ID       string // 26 characters, lower-case base32 of 16 random bytes
	OwnerID  int64
	Title    string
	Model    string
	System   string // system prompt
	Scenario string // preset the conversation started from, if any
	Settings json.RawMessage
	Source   string // "web", "wechat", "wecom", "feishu", "dingtalk", …
	Created  time.Time
	Updated  time.Time
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newConversationID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(idEncoding.EncodeToString(b))
}

const conversationColumns = "id, owner_id, title, model, system, scenario, settings, source, created, updated"

func scanConversation(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var settings string
	var created, updated int64
	err := row.Scan(&c.ID, &c.OwnerID, &c.Title, &c.Model, &c.System, &c.Scenario, &settings, &c.Source, &created, &updated)
	c.Settings = rawJSON(settings)
	c.Created, c.Updated = fromMicros(created), fromMicros(updated)
	return c, err
}

// rawJSON maps the stored "" back to nil.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// checkJSON rejects settings or tool calls that are not JSON: the web UI
// parses them back and must not meet garbage.
func checkJSON(what string, raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return fmt.Errorf("db: %s is not valid JSON", what)
	}
	return nil
}

// CreateConversation stores a new conversation for c.OwnerID. The store
// chooses ID, Created and Updated; Source defaults to "web".
func (d *DB) CreateConversation(ctx context.Context, c Conversation) (Conversation, error) {
	if err := checkJSON("settings", c.Settings); err != nil {
		return Conversation{}, err
	}
	if c.Source == "" {
		c.Source = "web"
	}
	c.ID = newConversationID()
	now := time.UnixMicro(micros(d.now()))
	c.Created, c.Updated = now, now
	_, err := d.exec(ctx, "INSERT INTO conversations ("+conversationColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.OwnerID, c.Title, c.Model, c.System, c.Scenario, string(c.Settings), c.Source, micros(now), micros(now))
	if isForeignKey(err) {
		return Conversation{}, fmt.Errorf("db: conversation for user %d: %w", c.OwnerID, ErrNotFound)
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("db: create conversation: %w", err)
	}
	return c, nil
}

// Conversation returns ownerID's conversation id; ErrNotFound if there is
// none or it belongs to someone else.
func (d *DB) Conversation(ctx context.Context, ownerID int64, id string) (Conversation, error) {
	c, err := scanConversation(d.queryRow(ctx,
		"SELECT "+conversationColumns+" FROM conversations WHERE id = ? AND owner_id = ?", id, ownerID))
	if errors.Is(err, sql.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("db: conversation %s: %w", id, err)
	}
	return c, nil
}

// AnyConversation returns conversation id whoever owns it: for
// administrators, who see every conversation (bots' included).
func (d *DB) AnyConversation(ctx context.Context, id string) (Conversation, error) {
	c, err := scanConversation(d.queryRow(ctx, "SELECT "+conversationColumns+" FROM conversations WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("db: conversation %s: %w", id, err)
	}
	return c, nil
}

// Conversations lists ownerID's conversations, most recently updated first.
// A non-empty query keeps those whose title or any message contains it
// (case-insensitively; % and _ match themselves). limit <= 0 means no limit.
func (d *DB) Conversations(ctx context.Context, ownerID int64, query string, limit, offset int) ([]Conversation, error) {
	return d.listConversations(ctx, "c.owner_id = ?", []any{ownerID}, query, limit, offset)
}

// AllConversations is Conversations over every owner, bots included (admin view).
func (d *DB) AllConversations(ctx context.Context, query string, limit, offset int) ([]Conversation, error) {
	return d.listConversations(ctx, "", nil, query, limit, offset)
}

func (d *DB) listConversations(ctx context.Context, where string, args []any, query string, limit, offset int) ([]Conversation, error) {
	var conds []string
	if where != "" {
		conds = append(conds, where)
	}
	if query != "" {
		like := "LIKE"
		if d.dialect == Postgres {
			like = "ILIKE"
		}
		pattern := "%" + escapeLike(query) + "%"
		conds = append(conds, fmt.Sprintf(`(c.title %[1]s ? ESCAPE '\' OR EXISTS (SELECT 1 FROM messages m
			WHERE m.conversation_id = c.id AND m.content %[1]s ? ESCAPE '\'))`, like))
		args = append(args, pattern, pattern)
	}
	sqlText := "SELECT " + prefixed("c.", conversationColumns) + " FROM conversations c"
	if len(conds) > 0 {
		sqlText += " WHERE " + strings.Join(conds, " AND ")
	}
	if limit <= 0 {
		limit = 1<<31 - 1
	}
	sqlText += " ORDER BY c.updated DESC, c.id LIMIT ? OFFSET ?"
	args = append(args, limit, max(offset, 0))
	rows, err := d.query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("db: conversations: %w", err)
	}
	defer rows.Close()
	var cs []Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("db: conversations: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: conversations: %w", err)
	}
	return cs, nil
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateConversation saves c's title, model, system prompt, scenario and
// settings, if ownerID owns it, and touches Updated.
func (d *DB) UpdateConversation(ctx context.Context, ownerID int64, c Conversation) error {
	if err := checkJSON("settings", c.Settings); err != nil {
		return err
	}
	err := affected(d.exec(ctx, `UPDATE conversations SET title = ?, model = ?, system = ?, scenario = ?, settings = ?, updated = ?
		WHERE id = ? AND owner_id = ?`,
		c.Title, c.Model, c.System, c.Scenario, string(c.Settings), micros(d.now()), c.ID, ownerID))
	if err != nil {
		return fmt.Errorf("db: update conversation %s: %w", c.ID, err)
	}
	return nil
}

// DeleteConversation deletes ownerID's conversation and its messages.
func (d *DB) DeleteConversation(ctx context.Context, ownerID int64, id string) error {
	if err := affected(d.exec(ctx, "DELETE FROM conversations WHERE id = ? AND owner_id = ?", id, ownerID)); err != nil {
		return fmt.Errorf("db: delete conversation %s: %w", id, err)
	}
	return nil
}
