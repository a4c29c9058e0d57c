package feishu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
	"zhiyan/channel/internal/token"
)

// Base URLs of the open platform.
const (
	DefaultBaseURL = "https://open.feishu.cn"
	LarkBaseURL    = "https://open.larksuite.com"
)

// MaxTextBytes bounds one text message: the request body may not exceed
// 150 KB, and the text travels JSON-in-JSON.
const MaxTextBytes = 100 << 10

// Client calls the open platform for one app: tenant_access_token (cached,
// refreshed before expiry, one fetch at a time) and message replies. Fill
// the fields, then share it.
type Client struct {
	AppID     string
	AppSecret string
	BaseURL   string       // "" means DefaultBaseURL; LarkBaseURL for Lark
	HTTP      *http.Client // nil means a client with a 15 s timeout
	Now       func() time.Time

	tokens token.Lazy
}

type apiResult struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// Codes meaning the tenant token is missing, invalid or expired.
func tokenDead(code int) bool { return code == 99991661 || code == 99991663 || code == 99991668 }

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(c.BaseURL, "/")
}

func (c *Client) cache() *token.Cache {
	return c.tokens.Cache(c.fetchToken, c.Now)
}

// TenantAccessToken returns a valid tenant_access_token.
func (c *Client) TenantAccessToken(ctx context.Context) (string, error) {
	return c.cache().Get(ctx)
}

func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	if c.AppID == "" || c.AppSecret == "" {
		return "", 0, fmt.Errorf("feishu: %w: AppID and AppSecret are needed for the API", channel.ErrConfig)
	}
	in := map[string]string{"app_id": c.AppID, "app_secret": c.AppSecret}
	var out struct {
		apiResult
		Token  string `json:"tenant_access_token"`
		Expire int64  `json:"expire"` // seconds
	}
	const op = "auth/v3/tenant_access_token/internal"
	if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodPost, c.base()+"/open-apis/"+op, nil, in, &out); err != nil {
		return "", 0, fmt.Errorf("feishu: %s: %w", op, err)
	}
	if out.Code != 0 || out.Token == "" {
		return "", 0, &channel.APIError{Platform: "feishu", Op: op, Code: out.Code, Msg: out.Msg}
	}
	return out.Token, time.Duration(out.Expire) * time.Second, nil
}

// ReplyText answers the message messageID with text, in its chat (and
// thread). idempotencyKey, when not "", makes Feishu drop a repeated reply
// with the same key within an hour (max 50 characters). It returns the new
// message's id.
func (c *Client) ReplyText(ctx context.Context, messageID, text, idempotencyKey string) (string, error) {
	if messageID == "" {
		return "", fmt.Errorf("feishu: reply needs a message_id")
	}
	if len(text) > MaxTextBytes {
		return "", fmt.Errorf("feishu: message of %d bytes exceeds %d; split it", len(text), MaxTextBytes)
	}
	content, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	in := struct {
		Content string `json:"content"`
		MsgType string `json:"msg_type"`
		UUID    string `json:"uuid,omitempty"`
	}{string(content), "text", idempotencyKey}
	op := "im/v1/messages/" + url.PathEscape(messageID) + "/reply"
	for attempt := 0; ; attempt++ {
		tok, err := c.TenantAccessToken(ctx)
		if err != nil {
			return "", err
		}
		var out struct {
			apiResult
			Data struct {
				MessageID string `json:"message_id"`
			} `json:"data"`
		}
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodPost, c.base()+"/open-apis/"+op, h, in, &out); err != nil {
			return "", fmt.Errorf("feishu: %s: %w", op, err)
		}
		if out.Code == 0 {
			return out.Data.MessageID, nil
		}
		if tokenDead(out.Code) && attempt == 0 {
			c.cache().Invalidate(tok)
			continue
		}
		return "", &channel.APIError{Platform: "feishu", Op: op, Code: out.Code, Msg: out.Msg}
	}
}
