package wechat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
	"zhiyan/channel/internal/token"
)

// DefaultBaseURL is the Official Account API.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Client calls the Official Account API: access tokens (/cgi-bin/token,
// cached, refreshed before expiry, one fetch at a time) and customer-service
// messages (/cgi-bin/message/custom/send, verified accounts only, within 48 h
// of the user's last message). Fill the fields, then share it.
type Client struct {
	AppID     string
	AppSecret string
	BaseURL   string       // "" means DefaultBaseURL; tests point it at httptest
	HTTP      *http.Client // nil means a client with a 15 s timeout
	Now       func() time.Time

	tokens token.Lazy
}

// apiResult is the error part of every answer.
type apiResult struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// Codes meaning the access token is invalid or expired: drop it, retry once.
func tokenDead(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimSuffix(c.BaseURL, "/")
}

func (c *Client) cache() *token.Cache {
	return c.tokens.Cache(c.fetchToken, c.Now)
}

// AccessToken returns a valid access token, fetching one when needed.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	return c.cache().Get(ctx)
}

func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	if c.AppID == "" || c.AppSecret == "" {
		return "", 0, fmt.Errorf("wechat: %w: AppID and AppSecret are needed for the API", channel.ErrConfig)
	}
	u := c.base() + "/cgi-bin/token?" + url.Values{
		"grant_type": {"client_credential"},
		"appid":      {c.AppID},
		"secret":     {c.AppSecret},
	}.Encode()
	var out struct {
		apiResult
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodGet, u, nil, nil, &out); err != nil {
		return "", 0, fmt.Errorf("wechat: cgi-bin/token: %w", err)
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", 0, &channel.APIError{Platform: "wechat", Op: "cgi-bin/token", Code: out.ErrCode, Msg: out.ErrMsg}
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

// post calls a token-authenticated POST API, retrying once with a fresh
// token when the platform says the token is dead.
func (c *Client) post(ctx context.Context, op string, in any) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return err
		}
		var out apiResult
		u := c.base() + "/cgi-bin/" + op + "?access_token=" + url.QueryEscape(tok)
		if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodPost, u, nil, in, &out); err != nil {
			return fmt.Errorf("wechat: %s: %w", op, err)
		}
		if out.ErrCode == 0 {
			return nil
		}
		if tokenDead(out.ErrCode) && attempt == 0 {
			c.cache().Invalidate(tok)
			continue
		}
		return &channel.APIError{Platform: "wechat", Op: op, Code: out.ErrCode, Msg: out.ErrMsg}
	}
}

// SendText sends one customer-service text message to the user openID. The
// text must fit in MaxTextBytes; split longer answers and send each part.
func (c *Client) SendText(ctx context.Context, openID, text string) error {
	if len(text) > MaxTextBytes {
		return fmt.Errorf("wechat: message of %d bytes exceeds %d; split it", len(text), MaxTextBytes)
	}
	type content struct {
		Content string `json:"content"`
	}
	return c.post(ctx, "message/custom/send", struct {
		ToUser  string  `json:"touser"`
		MsgType string  `json:"msgtype"`
		Text    content `json:"text"`
	}{openID, TypeText, content{text}})
}
