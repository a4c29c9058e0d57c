package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
)

// ErrWebhookExpired: the message's sessionWebhook is past its expiry (or
// missing); the answer cannot go back through it.
var ErrWebhookExpired = errors.New("dingtalk: session webhook expired")

// Client posts replies to a message's sessionWebhook. The zero value works.
type Client struct {
	HTTP *http.Client // nil means a client with a 15 s timeout
	Now  func() time.Time
}

// ReplyText sends text into m's conversation. In a group, atSender @s the
// sender (when DingTalk gave their staff id).
func (c *Client) ReplyText(ctx context.Context, m *Message, text string, atSender bool) error {
	var at []string
	if atSender && m.IsGroup() && m.SenderStaffID != "" {
		at = []string{m.SenderStaffID}
	}
	return c.post(ctx, m, textBody(text, at))
}

// ReplyMarkdown sends a markdown message (title shows in notifications).
func (c *Client) ReplyMarkdown(ctx context.Context, m *Message, title, text string) error {
	return c.post(ctx, m, outgoing{MsgType: "markdown", Markdown: &markdownPayload{title, text}})
}

func (c *Client) post(ctx context.Context, m *Message, body outgoing) error {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if !m.WebhookValid(now) {
		return ErrWebhookExpired
	}
	u, err := url.Parse(m.SessionWebhook)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("dingtalk: %w: sessionWebhook %.80q", channel.ErrMalformed, m.SessionWebhook)
	}
	var out struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodPost, u.String(), nil, body, &out); err != nil {
		return fmt.Errorf("dingtalk: sessionWebhook: %w", err)
	}
	if out.ErrCode != 0 {
		return &channel.APIError{Platform: "dingtalk", Op: "sessionWebhook", Code: out.ErrCode, Msg: out.ErrMsg}
	}
	return nil
}
