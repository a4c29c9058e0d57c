package wecom

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

// DefaultBaseURL is the WeCom API.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// Client calls the WeCom API for one app: access tokens (/cgi-bin/gettoken,
// cached, refreshed before expiry, one fetch at a time) and messages
// (/cgi-bin/message/send; the server's IP must be in the app's trusted IPs,
// else errcode 60020). Fill the fields, then share it.
type Client struct {
	CorpID  string
	Secret  string // the app's Secret
	AgentID int64
	BaseURL string       // "" means DefaultBaseURL
	HTTP    *http.Client // nil means a client with a 15 s timeout
	Now     func() time.Time

	tokens token.Lazy
}

type apiResult struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// Codes meaning the access token is invalid or expired: drop it, retry once.
func tokenDead(code int) bool { return code == 40014 || code == 42001 || code == 40001 }

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
	if c.CorpID == "" || c.Secret == "" {
		return "", 0, fmt.Errorf("wecom: %w: CorpID and Secret are needed for the API", channel.ErrConfig)
	}
	u := c.base() + "/cgi-bin/gettoken?" + url.Values{"corpid": {c.CorpID}, "corpsecret": {c.Secret}}.Encode()
	var out struct {
		apiResult
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodGet, u, nil, nil, &out); err != nil {
		return "", 0, fmt.Errorf("wecom: gettoken: %w", err)
	}
	if out.ErrCode != 0 || out.AccessToken == "" {
		return "", 0, &channel.APIError{Platform: "wecom", Op: "gettoken", Code: out.ErrCode, Msg: out.ErrMsg}
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

// SendText sends one text message from the app to toUser (a UserID, or
// several joined by '|'). The text must fit in MaxTextBytes. A recipient
// WeCom reports as invalid is an error too.
func (c *Client) SendText(ctx context.Context, toUser, text string) error {
	if len(text) > MaxTextBytes {
		return fmt.Errorf("wecom: message of %d bytes exceeds %d; split it", len(text), MaxTextBytes)
	}
	type content struct {
		Content string `json:"content"`
	}
	in := struct {
		ToUser  string  `json:"touser"`
		MsgType string  `json:"msgtype"`
		AgentID int64   `json:"agentid"`
		Text    content `json:"text"`
	}{toUser, TypeText, c.AgentID, content{text}}
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return err
		}
		var out struct {
			apiResult
			InvalidUser string `json:"invaliduser"`
		}
		u := c.base() + "/cgi-bin/message/send?access_token=" + url.QueryEscape(tok)
		if _, err := httpx.DoJSON(ctx, c.HTTP, http.MethodPost, u, nil, in, &out); err != nil {
			return fmt.Errorf("wecom: message/send: %w", err)
		}
		switch {
		case out.ErrCode == 0 && out.InvalidUser != "":
			return fmt.Errorf("wecom: message/send: invalid user %q", out.InvalidUser)
		case out.ErrCode == 0:
			return nil
		case tokenDead(out.ErrCode) && attempt == 0:
			c.cache().Invalidate(tok)
			continue
		}
		return &channel.APIError{Platform: "wecom", Op: "message/send", Code: out.ErrCode, Msg: out.ErrMsg}
	}
}
