package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Message statuses.
const (
	StatusComplete    = "complete"
	StatusStreaming   = "streaming"   // being generated; FinishMessage ends it
	StatusInterrupted = "interrupted" // the client left or the process died mid-answer
	StatusError       = "error"
)

// Message is one turn of a conversation.
type Message struct {
	ID               int64
	ConversationID   string
	Role             string // "system", "user", "assistant", "tool"
	Content          string
	Reasoning        string
	ToolCalls        json.RawMessage
	Model            string
	PromptTokens     int
	CompletionTokens int
	DurationMs       int64
	Status           string // one of the Status constants; "" means complete
	Error            string
	Created          time.Time
}

const messageColumns = "id, conversation_id, role, content, reasoning, tool_calls, model, prompt_tokens, completion_tokens, duration_ms, status, error, created"

func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var toolCalls string
	var created int64
	err := row.Scan(&m.ID, &m.ConversationID, &m.Role, &m.Content, &m.Reasoning, &toolCalls, &m.Model,
		&m.PromptTokens, &m.CompletionTokens, &m.DurationMs, &m.Status, &m.Error, &created)
	m.ToolCalls = rawJSON(toolCalls)
	m.Created = fromMicros(created)
	return m, err
}

func checkStatus(s string) (string, error) {
	switch s {
	case "":
		return StatusComplete, nil
	case StatusComplete, StatusStreaming, StatusInterrupted, StatusError:
		return s, nil
	}
	return "", fmt.Errorf("db: unknown message status %q", s)
}

// AddMessage appends m to its conversation and touches the conversation's
// Updated, in one transaction. The store sets ID and Created.
func (d *DB) AddMessage(ctx context.Context, m Message) (Message, error) {
	var err error
	if m.Status, err = checkStatus(m.Status); err != nil {
		return Message{}, err
	}
	if err := checkJSON("tool calls", m.ToolCalls); err != nil {
		return Message{}, err
	}
	m.Created = time.UnixMicro(micros(d.now()))
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		// Touch first: it proves the conversation exists and, on SQLite,
		// takes the write lock before anything is read.
		res, err := tx.ExecContext(ctx, d.q("UPDATE conversations SET updated = ? WHERE id = ?"), micros(m.Created), m.ConversationID)
		if err := affected(res, err); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, d.q(`INSERT INTO messages
			(conversation_id, role, content, reasoning, tool_calls, model, prompt_tokens, completion_tokens, duration_ms, status, error, instance, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			m.ConversationID, m.Role, m.Content, m.Reasoning, string(m.ToolCalls), m.Model,
			m.PromptTokens, m.CompletionTokens, m.DurationMs, m.Status, m.Error, d.instance, micros(m.Created)).Scan(&m.ID)
	})
	if err != nil {
		return Message{}, fmt.Errorf("db: add message to %s: %w", m.ConversationID, err)
	}
	return m, nil
}

// FinishMessage writes the final content, reasoning, tool calls, model,
// counts, duration, status and error of message m.ID in one statement, so a
// crash leaves either the streaming placeholder or the whole answer.
func (d *DB) FinishMessage(ctx context.Context, m Message) error {
	var err error
	if m.Status, err = checkStatus(m.Status); err != nil {
		return err
	}
	if err := checkJSON("tool calls", m.ToolCalls); err != nil {
		return err
	}
	err = affected(d.exec(ctx, `UPDATE messages SET content = ?, reasoning = ?, tool_calls = ?, model = ?,
		prompt_tokens = ?, completion_tokens = ?, duration_ms = ?, status = ?, error = ? WHERE id = ?`,
		m.Content, m.Reasoning, string(m.ToolCalls), m.Model,
		m.PromptTokens, m.CompletionTokens, m.DurationMs, m.Status, m.Error, m.ID))
	if err != nil {
		return fmt.Errorf("db: finish message %d: %w", m.ID, err)
	}
	return nil
}

// Messages returns a conversation's messages, oldest first. The caller has
// checked the conversation belongs to the user asking.
func (d *DB) Messages(ctx context.Context, conversationID string) ([]Message, error) {
	rows, err := d.query(ctx, "SELECT "+messageColumns+" FROM messages WHERE conversation_id = ? ORDER BY id", conversationID)
	if err != nil {
		return nil, fmt.Errorf("db: messages of %s: %w", conversationID, err)
	}
	defer rows.Close()
	var ms []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("db: messages of %s: %w", conversationID, err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: messages of %s: %w", conversationID, err)
	}
	return ms, nil
}

// DeleteMessagesFrom deletes message fromID and every later one of the
// conversation (edit-and-resend, regenerate).
func (d *DB) DeleteMessagesFrom(ctx context.Context, conversationID string, fromID int64) error {
	if _, err := d.exec(ctx, "DELETE FROM messages WHERE conversation_id = ? AND id >= ?", conversationID, fromID); err != nil {
		return fmt.Errorf("db: delete messages of %s from %d: %w", conversationID, fromID, err)
	}
	return nil
}

// MarkInterrupted marks streaming messages interrupted and reports how many.
// Open calls it for answers a crash left streaming; a server calls it on
// shutdown for the answers it is abandoning. On SQLite (one server) that is
// every streaming message. On PostgreSQL it is this handle's and those of
// handles that are gone, so a replica starting or stopping leaves the live
// answers of the others alone.
func (d *DB) MarkInterrupted(ctx context.Context) (int, error) {
	query, args := "UPDATE messages SET status = ? WHERE status = ?", []any{StatusInterrupted, StatusStreaming}
	if d.dialect == Postgres {
		query += ` AND (instance = ? OR instance NOT IN (SELECT objid::bigint FROM pg_locks
			WHERE locktype = 'advisory' AND classid = ? AND objsubid = 2 AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())))`
		args = append(args, d.instance, instanceLockClass)
	}
	res, err := d.exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("db: mark interrupted: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
