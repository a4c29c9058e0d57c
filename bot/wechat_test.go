package bot

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/channel/wechat"
	"zhiyan/chat"
)

// WeChat's timing, shortened: each delivery times out after wxTimeout.
const wxTimeout = 400 * time.Millisecond

// newWeChat starts a bot with a WeChat channel and the simulator facing it.
func newWeChat(t *testing.T, gen Generator, mode string, timeout time.Duration, configure func(*Config)) (*harness, *wechatSim) {
	var sim *wechatSim
	h := newHarness(t, gen, func(h *harness, cfg *Config) {
		sim = newWeChatSim(t, mode, h.srv.URL+"/channel/wechat", timeout)
		sim.now = cfg.Now
		aes := wxAESKey
		if mode == "plain" {
			aes = ""
		}
		cfg.WeChat = &WeChatConfig{
			Token: wxToken, AESKey: aes, AppID: wxAppID, AppSecret: "sec", APIBase: sim.api.URL,
			Timeout: timeout, InlineWait: timeout * 3 / 4,
		}
		if configure != nil {
			configure(cfg)
		}
	})
	return h, sim
}

// TestWeChatInline: a fast answer comes in the same response, in every
// mode; a retry of the same MsgId gets the same answer without a second
// generation; the conversation is stored for the admin's view.
func TestWeChatInline(t *testing.T) {
	g := goldenModel(t)
	for _, mode := range []string{"plain", "compat", "safe"} {
		t.Run(mode, func(t *testing.T) {
			h, sim := newWeChat(t, g, mode, 5*time.Second, nil)
			q := "你好，请介绍一下你自己"
			msg := sim.textXML("oAlice", q)
			d := sim.deliver(msg)
			want := nl(expect(t, g, userMsg(q)))
			if d.attempts != 1 || nl(d.reply) != want {
				t.Fatalf("delivery = %+v, want the answer %q on the first attempt", d, want)
			}
			again := sim.deliver(msg) // WeChat's retry of a response it lost
			if nl(again.reply) != want || h.probe.count(q) != 1 {
				t.Errorf("retry = %+v after %d generations; want the same answer, 1 generation", again, h.probe.count(q))
			}
			convs := h.messages("wechat", "oAlice")
			if len(convs) != 1 || len(convs[0]) != 2 || convs[0][1].Status != "complete" || nl(strings.TrimSpace(convs[0][1].Content)) != want {
				t.Errorf("stored:\n%v", convs)
			}
			// The second question sees the first exchange.
			q2 := "再说一遍"
			d = sim.send("oAlice", q2)
			want2 := nl(expect(t, g, userMsg(q), asstMsg(convs[0][1].Content), userMsg(q2)))
			if nl(d.reply) != want2 {
				t.Errorf("second answer %q, want %q", d.reply, want2)
			}
		})
	}
}

// TestWeChatSlowPending: a slow model is generated once across WeChat's
// three deliveries; the last says the answer is coming. A second question
// sent meanwhile is stored and queued, and the user gets both answers —
// the first with the second message, the second inline or on asking again —
// each exactly once.
func TestWeChatSlowPending(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "safe", wxTimeout, nil)
	h.probe.hold()
	q1, q2 := "写一份周报", "顺便写个标题"
	d := sim.send("oBob", q1)
	if d.attempts != 3 || d.reply != msgComing {
		t.Fatalf("slow delivery = %+v, want 3 attempts ending with %q", d, msgComing)
	}
	if n := h.probe.count(q1); n != 1 {
		t.Fatalf("%d generations for one MsgId across 3 deliveries", n)
	}
	// The second question arrives while the first is still generating.
	done := make(chan delivery)
	go func() { done <- sim.send("oBob", q2) }()
	waitFor(t, "the second question stored", func() bool {
		c := h.messages("wechat", "oBob")
		return len(c) == 1 && len(c[0]) == 4
	})
	h.probe.release()
	replies := []string{(<-done).reply}
	waitFor(t, "both answers", func() bool { return h.answered("wechat", "oBob", 2) })
	ms := h.messages("wechat", "oBob")[0]
	a1, a2 := strings.TrimSpace(ms[1].Content), strings.TrimSpace(ms[3].Content)
	if !strings.Contains(replies[0], nl(a2)) {
		// Not ready within the second question's deliveries: ask for it.
		replies = append(replies, sim.send("oBob", "继续").reply)
	}
	if want := expect(t, g, userMsg(q1)); a1 != want {
		t.Errorf("first answer %q, want %q", a1, want)
	}
	if want := expect(t, g, userMsg(q1), asstMsg(ms[1].Content), userMsg(q2)); a2 != want {
		t.Errorf("second answer %q, want %q (it must see the first)", a2, want)
	}
	all := strings.Join(replies, "\n")
	for _, a := range []string{a1, a2} {
		if n := strings.Count(all, nl(a)); n != 1 {
			t.Errorf("answer %q delivered %d times in %q", a, n, replies)
		}
	}
	if h.probe.count(q1) != 1 || h.probe.count(q2) != 1 || h.probe.count("继续") != 0 {
		t.Errorf("generations: %v", h.probe.calls)
	}
}

// TestWeChatCustomerService: a verified account's slow answer goes out
// through the customer-service API once ready; the last delivery answers
// "success" so the user sees no error.
func TestWeChatCustomerService(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "plain", wxTimeout, func(c *Config) { c.WeChat.CustomerService = true })
	h.probe.hold()
	q := "帮我想一个活动方案"
	d := sim.send("oCarol", q)
	if d.attempts != 3 || d.reply != "" || d.status != http.StatusOK {
		t.Fatalf("delivery = %+v, want success on the third attempt", d)
	}
	h.probe.release()
	waitFor(t, "the customer-service message", func() bool { return len(sim.customerService()) > 0 })
	cs := sim.customerService()
	if want := expect(t, g, userMsg(q)); len(cs) != 1 || cs[0].to != "oCarol" || cs[0].text != want {
		t.Errorf("customer service got %+v, want one message %q", cs, want)
	}
	if h.probe.count(q) != 1 {
		t.Errorf("%d generations", h.probe.count(q))
	}
}

// TestWeChatCustomerServiceFails: when the API refuses (48 h passed, not
// verified), the answer waits for the next message instead.
func TestWeChatCustomerServiceFails(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "plain", wxTimeout, func(c *Config) { c.WeChat.CustomerService = true })
	sim.csFailed = true
	h.probe.hold()
	q := "明天做什么"
	if d := sim.send("oDan", q); d.reply != "" {
		t.Fatalf("delivery = %+v", d)
	}
	h.probe.release()
	waitFor(t, "the answer", func() bool { return h.answered("wechat", "oDan", 1) })
	want := nl(expect(t, g, userMsg(q)))
	var reply string
	waitFor(t, "the late answer", func() bool {
		reply = sim.send("oDan", "继续").reply
		return reply != ""
	})
	if !strings.Contains(reply, want) || !strings.Contains(reply, q) {
		t.Errorf("next reply %q, want the answer %q labelled with its question", reply, want)
	}
}

// TestWeChatRestart: the process restarts while WeChat is between
// deliveries of a question; the new process generates the answer again and
// a retry gets it. Nothing is lost, and a later restart with an undelivered
// answer delivers it with the next message.
func TestWeChatRestart(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "safe", wxTimeout, nil)
	h.probe.hold()
	q := "总结一下会议"
	done := make(chan delivery)
	go func() { done <- sim.send("oEve", q) }()
	waitFor(t, "the generation to start", func() bool { return h.probe.count(q) == 1 })
	h.restart(false)
	d := <-done
	want := nl(expect(t, g, userMsg(q)))
	if nl(d.reply) != want || d.attempts < 2 {
		t.Fatalf("after a restart: %+v, want %q on a retry", d, want)
	}
	if h.probe.count(q) != 1 {
		t.Errorf("%d generations in the new process", h.probe.count(q))
	}

	// Restart after "the answer is coming" but before it is ready.
	h.probe.hold()
	q2 := "再总结一次"
	if d := sim.send("oEve", q2); d.reply != msgComing {
		t.Fatalf("slow delivery %+v", d)
	}
	h.restart(false)
	waitFor(t, "the interrupted answer", func() bool { return h.answered("wechat", "oEve", 2) })
	reply := sim.send("oEve", "继续").reply
	ms := h.messages("wechat", "oEve")[0]
	if !strings.Contains(reply, nl(strings.TrimSpace(ms[3].Content))) || len(ms) != 4 {
		t.Errorf("after restart the user got %q; stored:\n%s", reply, transcript(ms))
	}
	if w := expect(t, g, userMsg(q), asstMsg(ms[1].Content), userMsg(q2)); strings.TrimSpace(ms[3].Content) != w {
		t.Errorf("regenerated %q, want %q", ms[3].Content, w)
	}
}

// TestWeChatLongAnswer: an answer over 2048 bytes is cut on character
// boundaries with a continuation hint, the rest fetched by any text.
func TestWeChatLongAnswer(t *testing.T) {
	long := strings.Repeat("这是一个很长的回答，用来检查分段。", 150) // 7200 bytes
	h, sim := newWeChat(t, stubGen(func(string) (string, error) { return long, nil }), "safe", 5*time.Second, nil)
	var parts []string
	r := sim.send("oFay", "讲个长故事").reply
	for i := 0; r != "" && i < 10; i++ {
		if len(r) > wechat.MaxTextBytes {
			t.Fatalf("part of %d bytes", len(r))
		}
		parts = append(parts, r)
		if !strings.HasSuffix(r, wechat.ContinueHint) {
			break
		}
		r = sim.send("oFay", "继续").reply
	}
	got := strings.ReplaceAll(strings.Join(parts, ""), wechat.ContinueHint, "")
	if len(parts) < 4 || got != long {
		t.Errorf("%d parts joining to %d bytes, want %d", len(parts), len(got), len(long))
	}
	if h.probe.total() != 1 {
		t.Errorf("%d generations", h.probe.total())
	}
}

// TestWeChatMessageTypes: voice through WeChat's recognition, a clear reply
// without it, images declined politely, a greeting for new followers.
func TestWeChatMessageTypes(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "plain", 5*time.Second, nil)
	msg := func(body string) string {
		return "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oGus]]></FromUserName><CreateTime>" +
			itoa(time.Now().Unix()) + "</CreateTime>" + body + "</xml>"
	}
	tests := []struct {
		name, body, want string
	}{
		{"voice", "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition>今天天气怎么样</Recognition><MsgId>101</MsgId>",
			nl(expect(t, g, userMsg("今天天气怎么样")))},
		{"voice without recognition", "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><MsgId>102</MsgId>", msgNoVoiceText},
		{"image", "<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId><MsgId>103</MsgId>", msgNotText},
		{"subscribe", "<MsgType>event</MsgType><Event>subscribe</Event>", h.bot.cfg.Greeting},
		{"unsubscribe", "<MsgType>event</MsgType><Event>unsubscribe</Event>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := sim.deliver(msg(tt.body)); nl(d.reply) != tt.want || d.attempts != 1 {
				t.Errorf("reply %+v, want %q", d, tt.want)
			}
		})
	}
	if h.probe.total() != 1 {
		t.Errorf("%d generations, want 1 (the recognised voice)", h.probe.total())
	}
}

// TestWeChatRejects: forged or stale callbacks, sealed messages for another
// AppID and oversized bodies are refused without calling the model.
func TestWeChatRejects(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "safe", 5*time.Second, nil)
	msg := sim.textXML("oHal", "你好")
	other, err := wechat.NewCrypto(wxToken, wxAESKey, "wxOTHERAPPID00000")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(q url.Values)
		body string
		want int
	}{
		{"forged msg_signature", func(q url.Values) { q["msg_signature"] = []string{strings.Repeat("0", 40)} }, msg, 403},
		{"forged signature", func(q url.Values) { q["signature"] = []string{strings.Repeat("1", 40)} }, msg, 403},
		{"stale timestamp", func(q url.Values) {
			ts := itoa(time.Now().Add(-6 * time.Minute).Unix())
			q["timestamp"] = []string{ts}
			q["signature"] = []string{wechat.Signature(wxToken, ts, q["nonce"][0])}
		}, msg, 403},
		{"oversized", nil, strings.Replace(msg, "你好", strings.Repeat("长", 30000), 1), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, status, err := sim.post(tt.body, tt.edit)
			if err != nil || status != tt.want {
				t.Errorf("status %d, %v; want %d", status, err, tt.want)
			}
		})
	}
	t.Run("other AppID", func(t *testing.T) {
		s2 := newWeChatSim(t, "safe", sim.url, sim.timeout)
		s2.crypto = other
		if _, status, _ := s2.post(msg, nil); status != 403 {
			t.Errorf("status %d, want 403", status)
		}
	})
	t.Run("URL verification", func(t *testing.T) {
		ts := itoa(time.Now().Unix())
		good := sim.url + "?signature=" + wechat.Signature(wxToken, ts, "n1") + "&timestamp=" + ts + "&nonce=n1&echostr=e123"
		if body, status := get(t, good); status != 200 || body != "e123" {
			t.Errorf("verification: %d %q", status, body)
		}
		if _, status := get(t, strings.Replace(good, "nonce=n1", "nonce=n2", 1)); status != 403 {
			t.Errorf("forged verification: %d", status)
		}
	})
	if h.probe.total() != 0 {
		t.Errorf("the model was called %d times", h.probe.total())
	}
	if convs := h.messages("wechat", "oHal"); len(convs) != 0 {
		t.Errorf("rejected messages were stored: %v", convs)
	}
}

// TestWeChatCommands: help, model, memory clearing, scenarios, rate limits
// and the allow/deny lists, none of which call the model.
func TestWeChatCommands(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "plain", 5*time.Second, func(c *Config) {
		c.RateLimit = 8
		c.Deny = []string{"wechat:oMallory"}
		c.Scenarios = []Scenario{{Name: "翻译", Prompt: "你是一名翻译。"}}
	})
	steps := []struct {
		text, want string // want: a part of the reply; "" = the model's answer
	}{
		{"帮助", "#清除记忆"},
		{"/help", "#模型"},
		{"#模型", "qwen2-mini"},
		{"你好", ""},
		{"#清除记忆", "忘掉"},
		{"你好", ""},
		{"#场景", "翻译"},
		{"#场景 翻译", "已切换到场景「翻译」"},
		{"你好", msgRateLimited}, // the ninth message within a minute
	}
	for _, st := range steps {
		reply := sim.send("oIvy", st.text).reply
		if st.want == "" {
			if w := nl(expect(t, g, userMsg(st.text))); nl(reply) != w {
				t.Errorf("%q: %q, want the answer %q", st.text, reply, w)
			}
			continue
		}
		if !strings.Contains(reply, st.want) {
			t.Errorf("%q: %q, want it to contain %q", st.text, reply, st.want)
		}
	}
	h.advance(time.Minute)
	want := nl(expect(t, g, chat.Message{Role: "system", Content: "你是一名翻译。"}, userMsg("你好")))
	if r := sim.send("oIvy", "你好").reply; nl(r) != want {
		t.Errorf("in the scenario: %q, want %q", r, want)
	}
	convs := h.messages("wechat", "oIvy")
	if len(convs) != 3 || len(convs[0]) != 2 || len(convs[1]) != 2 {
		t.Errorf("want 3 conversations (cleared, then a scenario); got %d", len(convs))
	}
	if d := sim.send("oMallory", "你好"); d.reply != "" || d.status != 200 {
		t.Errorf("denied user: %+v", d)
	}
	if h.probe.total() != 3 {
		t.Errorf("%d generations, want 3", h.probe.total())
	}
}

// TestWeChatIdle: after Memory.Idle without messages a new conversation
// starts, without the old turns.
func TestWeChatIdle(t *testing.T) {
	g := goldenModel(t)
	h, sim := newWeChat(t, g, "plain", 5*time.Second, func(c *Config) { c.Memory.Idle = time.Hour })
	sim.send("oJon", "第一个问题")
	h.advance(2 * time.Hour)
	q := "第二个问题"
	if r := sim.send("oJon", q).reply; nl(r) != nl(expect(t, g, userMsg(q))) {
		t.Errorf("after idle: %q, want an answer without the old turns", r)
	}
	if convs := h.messages("wechat", "oJon"); len(convs) != 2 {
		t.Errorf("%d conversations, want 2", len(convs))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func get(t *testing.T, u string) (string, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body), resp.StatusCode
}
