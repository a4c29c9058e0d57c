package bot

import (
	"context"
	"net/http"
	"strings"
	"time"

	"zhiyan/channel/dingtalk"
	"zhiyan/channel/feishu"
	"zhiyan/channel/wecom"
)

// The push channels (WeCom, Feishu, DingTalk) acknowledge a callback at
// once and send every answer through the platform's API when it is ready.

// WeComConfig is a WeCom (企业微信) self-built app.
type WeComConfig struct {
	Token   string // callback Token
	AESKey  string // callback EncodingAESKey
	CorpID  string
	AgentID int64
	Secret  string // the app's Secret, for message/send

	MaxSkew time.Duration // 0 = 5 min
	APIBase string        // "" = qyapi.weixin.qq.com
	HTTP    *http.Client
}

// FeishuConfig is a Feishu/Lark app subscribed to im.message.receive_v1.
type FeishuConfig struct {
	AppID, AppSecret  string
	VerificationToken string
	EncryptKey        string // "" when events are not encrypted
	// BotOpenID is the bot's own open_id: in groups it answers only when
	// that id is @-mentioned (or a GroupPrefix starts the text). When
	// empty, any @-mention counts.
	BotOpenID string

	MaxSkew time.Duration // 0 = 5 min
	APIBase string        // "" = open.feishu.cn; feishu.LarkBaseURL for Lark
	HTTP    *http.Client
}

// DingTalkConfig is a DingTalk enterprise robot in HTTP (outgoing) mode.
type DingTalkConfig struct {
	AppSecret string
	MaxSkew   time.Duration // 0 = 1 h (DingTalk's rule)
	HTTP      *http.Client
}

// maxDingTalkBytes keeps a DingTalk text well inside its limits.
const maxDingTalkBytes = 6000

// pushHint ends every part of a pushed answer but the last.
const pushHint = "\n（接下条）"

func (b *Bot) addWeCom() error {
	cfg := b.cfg.WeCom
	if cfg == nil {
		return nil
	}
	srv := &wecom.Server{Token: cfg.Token, AESKey: cfg.AESKey, CorpID: cfg.CorpID, AgentID: cfg.AgentID, MaxSkew: cfg.MaxSkew, Now: b.cfg.Now}
	if err := srv.Check(); err != nil {
		return err
	}
	client := &wecom.Client{CorpID: cfg.CorpID, Secret: cfg.Secret, AgentID: cfg.AgentID, BaseURL: cfg.APIBase, HTTP: cfg.HTTP, Now: b.cfg.Now}
	b.chans["wecom"] = &channelInfo{
		push:     func(ctx context.Context, r route, text string) error { return client.SendText(ctx, r.To, text) },
		maxBytes: wecom.MaxTextBytes, hint: pushHint, pushAll: true,
	}
	b.mux["wecom"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			plain, err := srv.Verify(r)
			if err != nil {
				b.reject(w, "wecom", err)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte(plain))
			return
		}
		m, err := srv.Parse(r)
		if err != nil {
			b.reject(w, "wecom", err)
			return
		}
		rt := route{To: m.FromUserName}
		switch {
		case m.MsgType == wecom.TypeEvent && m.Event == wecom.EventSubscribe:
			b.pushText("wecom", rt, b.cfg.Greeting)
		case m.MsgType == wecom.TypeEvent:
		case m.Text() == "":
			b.pushText("wecom", rt, msgNotText)
		default:
			if !b.acceptPush(w, inbound{platform: "wecom", ext: m.FromUserName, name: m.FromUserName, key: m.DedupeKey(), text: m.Text(), route: rt}) {
				return
			}
		}
		wecom.ReplyEmpty(w)
	})
	return nil
}

func (b *Bot) addFeishu() error {
	cfg := b.cfg.Feishu
	if cfg == nil {
		return nil
	}
	srv := &feishu.Server{VerificationToken: cfg.VerificationToken, EncryptKey: cfg.EncryptKey, MaxSkew: cfg.MaxSkew, Now: b.cfg.Now}
	client := &feishu.Client{AppID: cfg.AppID, AppSecret: cfg.AppSecret, BaseURL: cfg.APIBase, HTTP: cfg.HTTP, Now: b.cfg.Now}
	b.chans["feishu"] = &channelInfo{
		push: func(ctx context.Context, r route, text string) error {
			_, err := client.ReplyText(ctx, r.MessageID, text, "")
			return err
		},
		maxBytes: 8000, hint: pushHint, pushAll: true,
	}
	b.mux["feishu"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := srv.Parse(r)
		if err != nil {
			b.reject(w, "feishu", err)
			return
		}
		if e.IsChallenge() {
			feishu.WriteChallenge(w, e.Challenge)
			return
		}
		if e.Header.EventType == feishu.EventMessageReceive && !b.feishuMessage(w, e, cfg) {
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte("{}"))
	})
	return nil
}

// feishuMessage handles im.message.receive_v1; false when it already answered.
func (b *Bot) feishuMessage(w http.ResponseWriter, e *feishu.Event, cfg *FeishuConfig) bool {
	me, err := e.MessageReceive()
	if err != nil {
		b.reject(w, "feishu", err)
		return false
	}
	msg := &me.Message
	if me.Sender.SenderType != "" && me.Sender.SenderType != "user" {
		return true // other bots and apps
	}
	rt := route{MessageID: msg.MessageID}
	text, err := msg.CleanText(cfg.BotOpenID)
	if msg.IsGroup() {
		mentioned := msg.Mentioned(cfg.BotOpenID) || (cfg.BotOpenID == "" && len(msg.Mentions) > 0)
		var prefixed bool
		text, prefixed = b.stripPrefix(text)
		if !mentioned && !prefixed {
			return true
		}
	}
	if err != nil || text == "" {
		b.pushText("feishu", rt, msgNotText)
		return true
	}
	id := me.Sender.SenderID.OpenID
	if id == "" {
		id = me.Sender.SenderID.UserID
	}
	return b.acceptPush(w, inbound{platform: "feishu", ext: id, name: id, key: e.DedupeKey(), text: text, route: rt})
}

func (b *Bot) addDingTalk() error {
	cfg := b.cfg.DingTalk
	if cfg == nil {
		return nil
	}
	srv := &dingtalk.Server{AppSecret: cfg.AppSecret, MaxSkew: cfg.MaxSkew, Now: b.cfg.Now}
	client := &dingtalk.Client{HTTP: cfg.HTTP, Now: b.cfg.Now}
	b.chans["dingtalk"] = &channelInfo{
		push: func(ctx context.Context, r route, text string) error {
			m := &dingtalk.Message{SessionWebhook: r.Webhook, SessionWebhookExpiredTime: r.Expires, SenderStaffID: r.StaffID}
			if r.Group {
				m.ConversationType = "2"
			}
			return client.ReplyText(ctx, m, text, r.Group)
		},
		maxBytes: maxDingTalkBytes, hint: pushHint, pushAll: true,
	}
	b.mux["dingtalk"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := srv.Parse(r)
		if err != nil {
			b.reject(w, "dingtalk", err)
			return
		}
		rt := route{Webhook: m.SessionWebhook, Expires: m.SessionWebhookExpiredTime, Group: m.IsGroup(), StaffID: m.SenderStaffID}
		text, prefixed := b.stripPrefix(m.Content())
		switch {
		case m.IsGroup() && !m.IsInAtList && !prefixed:
		case m.MsgType != "text" || text == "":
			b.pushText("dingtalk", rt, msgNotText)
		default:
			id := m.SenderStaffID
			if id == "" {
				id = m.SenderID
			}
			name := m.SenderNick
			if name == "" {
				name = id
			}
			if !b.acceptPush(w, inbound{platform: "dingtalk", ext: id, name: name, key: m.DedupeKey(), text: text, route: rt}) {
				return
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte("{}"))
	})
	return nil
}

// acceptPush accepts a message of a push channel and sends what is due now
// (a command's reply, queued answers) in the background; answers follow
// when generated. It reports false when it has answered the callback with
// an error, so that the platform delivers again.
func (b *Bot) acceptPush(w http.ResponseWriter, in inbound) bool {
	it, err := b.accept(context.Background(), in)
	if err != nil {
		b.log.Error("bot: accepting a message", "platform", in.platform, "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return false
	}
	if it.ignore || it.retry {
		return true
	}
	if it.flush {
		u := it.u
		b.goBackground(func() { b.flush(b.ctx, u, in.route, 0) })
	}
	if it.reply != "" {
		b.pushText(in.platform, in.route, it.reply)
	}
	return true
}

// stripPrefix removes a configured group prefix from text, reporting
// whether there was one.
func (b *Bot) stripPrefix(text string) (string, bool) {
	for _, p := range b.cfg.GroupPrefixes {
		if p != "" && len(text) >= len(p) && text[:len(p)] == p {
			return strings.TrimSpace(text[len(p):]), true
		}
	}
	return text, false
}
