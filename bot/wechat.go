package bot

import (
	"context"
	"io"
	"net/http"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/wechat"
)

// WeChatConfig is an Official Account (公众号).
type WeChatConfig struct {
	Token  string // the console's Token
	AESKey string // EncodingAESKey; "" for plain mode only
	AppID  string
	// AppSecret and CustomerService: a verified account (服务号) delivers an
	// answer that missed all three deliveries through the customer-service
	// API; otherwise it goes out with the user's next message.
	AppSecret       string
	CustomerService bool

	// Timeout is how long WeChat waits for each delivery (5 s) and Attempts
	// how many it makes (3); InlineWait is how long the last delivery waits
	// for the answer before saying it will come later (Timeout - 0.5 s).
	// Tests shorten them.
	Timeout    time.Duration
	Attempts   int
	InlineWait time.Duration

	MaxSkew time.Duration // the timestamp window; 0 = 5 min
	APIBase string        // "" = api.weixin.qq.com; tests point it at a simulator
	HTTP    *http.Client
}

type wechatChannel struct {
	b      *Bot
	cfg    WeChatConfig
	srv    *wechat.Server
	client *wechat.Client // nil without the customer-service API
}

func (b *Bot) addWeChat() error {
	cfg := b.cfg.WeChat
	if cfg == nil {
		return nil
	}
	c := &wechatChannel{b: b, cfg: *cfg}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = 5 * time.Second
	}
	if c.cfg.Attempts <= 0 {
		c.cfg.Attempts = 3
	}
	if c.cfg.InlineWait <= 0 {
		c.cfg.InlineWait = c.cfg.Timeout * 9 / 10
	}
	c.srv = &wechat.Server{Token: cfg.Token, AESKey: cfg.AESKey, AppID: cfg.AppID, MaxSkew: cfg.MaxSkew, Now: b.cfg.Now}
	if err := c.srv.Check(); err != nil {
		return err
	}
	ci := &channelInfo{maxBytes: wechat.MaxTextBytes, hint: wechat.ContinueHint}
	if cfg.CustomerService {
		c.client = &wechat.Client{AppID: cfg.AppID, AppSecret: cfg.AppSecret, BaseURL: cfg.APIBase, HTTP: cfg.HTTP, Now: b.cfg.Now}
		ci.push = func(ctx context.Context, r route, text string) error { return c.client.SendText(ctx, r.To, text) }
	}
	b.chans["wechat"] = ci
	b.mux["wechat"] = c
	return nil
}

func (c *wechatChannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method == http.MethodGet {
		echo, err := c.srv.Verify(r)
		if err != nil {
			c.b.reject(w, "wechat", err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, echo)
		return
	}
	m, err := c.srv.Parse(r)
	if err != nil {
		c.b.reject(w, "wechat", err)
		return
	}
	text := m.Text()
	switch {
	case m.IsEvent(wechat.EventSubscribe):
		c.reply(w, m, c.b.cfg.Greeting)
		return
	case m.MsgType == wechat.TypeEvent:
		wechat.ReplySuccess(w)
		return
	case m.MsgType == wechat.TypeVoice && text == "":
		c.reply(w, m, msgNoVoiceText)
		return
	case text == "":
		c.reply(w, m, msgNotText)
		return
	}
	it, err := c.b.accept(r.Context(), inbound{
		platform: "wechat", ext: m.FromUserName, name: m.FromUserName,
		key: m.DedupeKey(), text: text, route: route{To: m.FromUserName},
	})
	switch {
	case err != nil:
		// No answer: WeChat delivers again and the retry is accepted anew.
		c.b.log.Error("bot: wechat message", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	case it.ignore:
		wechat.ReplySuccess(w)
		return
	case it.reply != "":
		c.reply(w, m, it.reply)
		return
	}
	c.answer(w, r, m, it, start)
}

// answer applies the five-second rule. Every delivery waits for the one
// generation of its MsgId. A delivery that is not the last waits until
// WeChat drops it (then the next retries), answering if the model finishes
// first. The last one waits InlineWait, then says the answer will come —
// through the customer-service API or with the user's next message.
func (c *wechatChannel) answer(w http.ResponseWriter, r *http.Request, m *wechat.Message, it *intake, start time.Time) {
	sinceFirst := c.b.now().Sub(it.first)
	last := it.attempts >= c.cfg.Attempts ||
		sinceFirst >= time.Duration(c.cfg.Attempts-1)*c.cfg.Timeout-c.cfg.Timeout/2
	wait := c.cfg.InlineWait
	if !last {
		wait = 2 * c.cfg.Timeout // longer than WeChat waits: it hangs up first
	}
	if it.job != nil {
		timer := time.NewTimer(wait - time.Since(start))
		defer timer.Stop()
		select {
		case <-it.job.done:
		case <-r.Context().Done():
			return // WeChat gave up on this delivery; a retry follows
		case <-timer.C:
		}
	}
	if c.b.isClosed() {
		// Shutting down: the answer is left for the next process, and a
		// failed delivery makes WeChat deliver again.
		http.Error(w, "restarting", http.StatusServiceUnavailable)
		return
	}
	c.reply(w, m, c.b.respond(r.Context(), it, c.b.chans["wechat"], c.client != nil))
}

// reply writes text as the passive reply, or "success" (nothing shown)
// when there is nothing to say.
func (c *wechatChannel) reply(w http.ResponseWriter, m *wechat.Message, text string) {
	if text == "" {
		wechat.ReplySuccess(w)
		return
	}
	if err := c.srv.Reply(w, m, text); err != nil {
		c.b.log.Warn("bot: wechat reply", "err", err)
	}
}

// respond composes a callback's own reply: the queued answers, this
// message's own included when ready, cut to the platform's size. When the
// answer is not ready, canPush promises it by push (the reply then carries
// only earlier answers, or nothing); otherwise the reply says it is coming.
// A delivery that was answered before gets the same reply again.
func (b *Bot) respond(ctx context.Context, it *intake, ci *channelInfo, canPush bool) string {
	u := it.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if it.s.Reply != "" {
		return it.s.Reply
	}
	notice := ""
	if j := it.job; j != nil && !j.finished {
		if canPush {
			j.async, it.s.Async = true, true
		} else {
			notice = msgComing
		}
	}
	text, rest := compose(takeOutbox(u), it.asst, notice, ci.maxBytes, ci.hint)
	u.st.Outbox = append(rest, u.st.Outbox...)
	it.s.Reply = text
	b.saveLogged(ctx, u)
	return text
}

// reject answers a request that failed its checks, without saying which.
func (b *Bot) reject(w http.ResponseWriter, platform string, err error) {
	b.log.Info("bot: rejected callback", "platform", platform, "err", err)
	code := channel.HTTPStatus(err)
	http.Error(w, http.StatusText(code), code)
}
