// Package feishu speaks the Feishu/Lark event-subscription protocol —
// challenge handshake, X-Lark-Signature, encrypted events,
// im.message.receive_v1 — and the message-reply API. It knows nothing of
// models or conversations.
package feishu

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"zhiyan/channel"
)

// EventMessageReceive is the event type of a message sent to the bot.
const EventMessageReceive = "im.message.receive_v1"

// ErrNotText: the message is not of type text (an image, a post, a file…).
var ErrNotText = errors.New("feishu: not a text message")

// Event is one decoded callback: the URL-verification challenge, a schema
// 2.0 event, or an old schema 1.0 event (Type "event_callback").
type Event struct {
	Schema    string          `json:"schema"` // "2.0"; "" for challenges and 1.0
	Type      string          `json:"type"`   // "url_verification", "event_callback"
	Challenge string          `json:"challenge"`
	Token     string          `json:"token"` // challenge and 1.0 events
	UUID      string          `json:"uuid"`  // 1.0 events' id
	Header    Header          `json:"header"`
	Event     json.RawMessage `json:"event"`
	// Encrypt is set when the body was sealed and nothing opened it.
	Encrypt string `json:"encrypt"`
}

// Header is the schema 2.0 event header.
type Header struct {
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	CreateTime string `json:"create_time"` // Unix ms as text
	Token      string `json:"token"`
	AppID      string `json:"app_id"`
	TenantKey  string `json:"tenant_key"`
}

// ParseEvent decodes a plaintext callback body.
func ParseEvent(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("feishu: %w: JSON: %v", channel.ErrMalformed, err)
	}
	return &e, nil
}

// IsChallenge reports the URL-verification handshake; answer it with
// WriteChallenge.
func (e *Event) IsChallenge() bool { return e.Type == "url_verification" }

// token is the verification token the event carries, wherever it sits.
func (e *Event) token() string {
	if e.Schema == "2.0" {
		return e.Header.Token
	}
	return e.Token
}

// DedupeKey identifies a delivery across Feishu's retries: header.event_id
// (uuid for 1.0 events).
func (e *Event) DedupeKey() string {
	if e.Header.EventID != "" {
		return e.Header.EventID
	}
	return e.UUID
}

// MessageReceive decodes the body of an im.message.receive_v1 event.
func (e *Event) MessageReceive() (*MessageEvent, error) {
	if e.Header.EventType != EventMessageReceive {
		return nil, fmt.Errorf("feishu: event %q is not %s", e.Header.EventType, EventMessageReceive)
	}
	var m MessageEvent
	if err := json.Unmarshal(e.Event, &m); err != nil {
		return nil, fmt.Errorf("feishu: %w: %s: %v", channel.ErrMalformed, EventMessageReceive, err)
	}
	if m.Message.MessageID == "" {
		return nil, fmt.Errorf("feishu: %w: %s without message_id", channel.ErrMalformed, EventMessageReceive)
	}
	return &m, nil
}

// MessageEvent is the event of im.message.receive_v1.
type MessageEvent struct {
	Sender  Sender  `json:"sender"`
	Message Message `json:"message"`
}

// Sender is who sent the message.
type Sender struct {
	SenderID   UserID `json:"sender_id"`
	SenderType string `json:"sender_type"` // "user"
	TenantKey  string `json:"tenant_key"`
}

// UserID is a user's identities; which are present depends on the app's
// permissions.
type UserID struct {
	OpenID  string `json:"open_id"`
	UnionID string `json:"union_id"`
	UserID  string `json:"user_id"`
}

// Message is the message of an im.message.receive_v1 event.
type Message struct {
	MessageID   string    `json:"message_id"`
	RootID      string    `json:"root_id"`
	ParentID    string    `json:"parent_id"`
	CreateTime  string    `json:"create_time"` // Unix ms as text
	ChatID      string    `json:"chat_id"`
	ChatType    string    `json:"chat_type"`    // "p2p" or "group"
	MessageType string    `json:"message_type"` // "text", "post", "image"…
	Content     string    `json:"content"`      // JSON; text: {"text":"@_user_1 hi"}
	Mentions    []Mention `json:"mentions"`
}

// Mention is one @ in a message; Key is its placeholder in the text.
type Mention struct {
	Key       string `json:"key"` // "@_user_1"
	ID        UserID `json:"id"`
	Name      string `json:"name"`
	TenantKey string `json:"tenant_key"`
}

// IsGroup reports a group chat (as opposed to p2p).
func (m *Message) IsGroup() bool { return m.ChatType == "group" }

// Text decodes a text message's content, placeholders (@_user_1) included.
func (m *Message) Text() (string, error) {
	if m.MessageType != "text" {
		return "", fmt.Errorf("%w: %q", ErrNotText, m.MessageType)
	}
	var c struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(m.Content), &c); err != nil {
		return "", fmt.Errorf("feishu: %w: text content: %v", channel.ErrMalformed, err)
	}
	return c.Text, nil
}

// Mentioned reports whether the user with this open_id (the bot's) is @-ed.
func (m *Message) Mentioned(openID string) bool {
	for _, x := range m.Mentions {
		if openID != "" && x.ID.OpenID == openID {
			return true
		}
	}
	return false
}

// CleanText is Text with the placeholders resolved: the mention of botOpenID
// removed, any other one written as @Name; surrounding space trimmed.
func (m *Message) CleanText(botOpenID string) (string, error) {
	text, err := m.Text()
	if err != nil {
		return "", err
	}
	// Longest keys first, so @_user_1 does not eat the start of @_user_10.
	ms := slices.Clone(m.Mentions)
	slices.SortStableFunc(ms, func(a, b Mention) int { return len(b.Key) - len(a.Key) })
	for _, x := range ms {
		if x.Key == "" {
			continue
		}
		with := "@" + x.Name
		if botOpenID != "" && x.ID.OpenID == botOpenID {
			with = ""
		}
		text = strings.ReplaceAll(text, x.Key, with)
	}
	return strings.TrimSpace(text), nil
}
