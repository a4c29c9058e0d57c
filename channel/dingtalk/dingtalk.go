// Package dingtalk speaks the DingTalk enterprise robot's outgoing (HTTP)
// protocol — timestamp + sign headers, the message body — and replies
// through the message's sessionWebhook. It knows nothing of models or
// conversations.
package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
)

// Defaults of Server's limits.
const (
	DefaultMaxSkew      = time.Hour
	DefaultMaxBodyBytes = 256 << 10
)

// Message is one decoded callback.
type Message struct {
	MsgType string `json:"msgtype"` // "text", "picture", "richText", "audio"…
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	MsgID             string `json:"msgId"`
	CreateAt          int64  `json:"createAt"`         // Unix ms
	ConversationType  string `json:"conversationType"` // "1" one-to-one, "2" group
	ConversationID    string `json:"conversationId"`
	ConversationTitle string `json:"conversationTitle"`
	SenderID          string `json:"senderId"`
	SenderNick        string `json:"senderNick"`
	SenderCorpID      string `json:"senderCorpId"`
	SenderStaffID     string `json:"senderStaffId"` // empty for users outside the org
	ChatbotUserID     string `json:"chatbotUserId"`
	ChatbotCorpID     string `json:"chatbotCorpId"`
	AtUsers           []struct {
		DingtalkID string `json:"dingtalkId"`
		StaffID    string `json:"staffId"`
	} `json:"atUsers"`
	IsInAtList bool   `json:"isInAtList"` // the robot was @-ed
	IsAdmin    bool   `json:"isAdmin"`
	RobotCode  string `json:"robotCode"`
	// SessionWebhook answers into this conversation until
	// SessionWebhookExpiredTime (Unix ms).
	SessionWebhook            string `json:"sessionWebhook"`
	SessionWebhookExpiredTime int64  `json:"sessionWebhookExpiredTime"`
}

// ParseMessage decodes a callback body.
func ParseMessage(data []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("dingtalk: %w: JSON: %v", channel.ErrMalformed, err)
	}
	return &m, nil
}

// IsGroup reports a group conversation.
func (m *Message) IsGroup() bool { return m.ConversationType == "2" }

// Content is a text message's content, trimmed (DingTalk keeps the space
// left where the @robot was); "" for other types.
func (m *Message) Content() string {
	if m.MsgType != "text" {
		return ""
	}
	return strings.TrimSpace(m.Text.Content)
}

// DedupeKey identifies a delivery: msgId.
func (m *Message) DedupeKey() string { return m.MsgID }

// WebhookValid reports whether SessionWebhook can still be used at now.
func (m *Message) WebhookValid(now time.Time) bool {
	return m.SessionWebhook != "" && now.UnixMilli() < m.SessionWebhookExpiredTime
}

// Sign is base64(HMAC-SHA256(key = secret, timestamp + "\n" + secret)), the
// sign header of callbacks and the sign parameter of custom-robot webhooks.
func Sign(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Server checks and decodes the robot's callbacks. It holds no state beyond
// its fields; use it from any number of goroutines.
type Server struct {
	AppSecret string // the robot's AppSecret (required)

	// MaxSkew is how far the timestamp header may be from Now; 0 means
	// DefaultMaxSkew (1 h, DingTalk's rule) and a negative value disables it.
	MaxSkew time.Duration
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Parse checks the timestamp and sign headers and decodes the body.
func (s *Server) Parse(r *http.Request) (*Message, error) {
	if s.AppSecret == "" {
		return nil, fmt.Errorf("dingtalk: %w: empty AppSecret", channel.ErrConfig)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("dingtalk: %w: method %s", channel.ErrMalformed, r.Method)
	}
	ts := r.Header.Get("timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("dingtalk: %w: timestamp header %.32q", channel.ErrMalformed, ts)
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("sign")), []byte(Sign(s.AppSecret, ts))) != 1 {
		return nil, fmt.Errorf("dingtalk: %w: sign header does not match", channel.ErrSignature)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	skew := s.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if err := channel.CheckWindow(time.UnixMilli(ms), now, skew); err != nil {
		return nil, fmt.Errorf("dingtalk: %w", err)
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := httpx.ReadBody(r, limit)
	if err != nil {
		return nil, fmt.Errorf("dingtalk: %w", err)
	}
	return ParseMessage(body)
}

// WriteText answers the callback synchronously with a text message.
func WriteText(w http.ResponseWriter, text string) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(textBody(text, nil))
}

type textPayload struct {
	Content string `json:"content"`
}

type markdownPayload struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

type atPayload struct {
	AtUserIDs []string `json:"atUserIds,omitempty"`
}

type outgoing struct {
	MsgType  string           `json:"msgtype"`
	Text     *textPayload     `json:"text,omitempty"`
	Markdown *markdownPayload `json:"markdown,omitempty"`
	At       *atPayload       `json:"at,omitempty"`
}

func textBody(text string, at []string) outgoing {
	o := outgoing{MsgType: "text", Text: &textPayload{text}}
	if len(at) > 0 {
		o.At = &atPayload{at}
	}
	return o
}
