package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zhiyan/channel/dingtalk"
	"zhiyan/channel/feishu"
	"zhiyan/channel/wechat"
)

// pushed is one message a platform API received from the bot.
type pushed struct {
	to   string // WeCom user, Feishu message replied to, DingTalk session
	text string
	at   []string // DingTalk: users @-ed
}

// apiSim is the platform side the bot calls: it records the messages sent
// and counts tokens handed out; fail makes sends fail.
type apiSim struct {
	srv    *httptest.Server
	mu     sync.Mutex
	sent   []pushed
	tokens int
	fail   atomic.Bool
}

func (a *apiSim) record(p pushed) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail.Load() {
		return false
	}
	a.sent = append(a.sent, p)
	return true
}

func (a *apiSim) messages() []pushed {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]pushed(nil), a.sent...)
}

func (a *apiSim) tokenCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens
}

// waitSent waits until n messages were sent and returns them.
func (a *apiSim) waitSent(t *testing.T, n int) []pushed {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d pushed messages", n), func() bool { return len(a.messages()) >= n })
	time.Sleep(20 * time.Millisecond) // catch any extra one
	return a.messages()
}

// WeCom test credentials (wechatpy's test vector).
const (
	wcToken  = "123456"
	wcAESKey = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
	wcCorpID = "wx49f0ab532d5d035a"
	wcAgent  = 1000002
)

func newWeComAPI(t *testing.T) *apiSim {
	a := &apiSim{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.tokens++
		a.mu.Unlock()
		fmt.Fprint(w, `{"errcode":0,"access_token":"WCTOKEN","expires_in":7200}`)
	})
	mux.HandleFunc("POST /cgi-bin/message/send", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ToUser  string `json:"touser"`
			AgentID int64  `json:"agentid"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		if r.URL.Query().Get("access_token") != "WCTOKEN" || in.AgentID != wcAgent || !a.record(pushed{to: in.ToUser, text: in.Text.Content}) {
			fmt.Fprint(w, `{"errcode":60020,"errmsg":"not allow to access from your ip"}`)
			return
		}
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// wecomPost sends a sealed WeCom callback with crypto c (receive ID = the
// CorpID it was made with); tamper may edit the query.
func wecomPost(t *testing.T, botURL string, c *wechat.Crypto, plain string, ts time.Time, tamper func(url.Values)) int {
	t.Helper()
	enc, err := c.Encrypt([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	tss := strconv.FormatInt(ts.Unix(), 10)
	q := url.Values{"msg_signature": {wechat.Signature(wcToken, tss, "77", enc)}, "timestamp": {tss}, "nonce": {"77"}}
	if tamper != nil {
		tamper(q)
	}
	body := fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><AgentID><![CDATA[%d]]></AgentID><Encrypt><![CDATA[%s]]></Encrypt></xml>", wcCorpID, wcAgent, enc)
	return post(t, botURL+"?"+q.Encode(), nil, body)
}

func wecomText(from, content string, msgID int64) string {
	return fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime>"+
		"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId><AgentID>%d</AgentID></xml>",
		wcCorpID, from, time.Now().Unix(), content, msgID, wcAgent)
}

// Feishu test credentials.
const (
	fsEncryptKey = "test key"
	fsToken      = "vtoken"
	fsBotOpenID  = "ou_bot"
)

func newFeishuAPI(t *testing.T) *apiSim {
	a := &apiSim{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /open-apis/auth/v3/tenant_access_token/internal", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.tokens++
		a.mu.Unlock()
		fmt.Fprint(w, `{"code":0,"msg":"ok","tenant_access_token":"FSTOKEN","expire":7200}`)
	})
	mux.HandleFunc("POST /open-apis/im/v1/messages/{id}/reply", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Content string `json:"content"`
			MsgType string `json:"msg_type"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		var c struct {
			Text string `json:"text"`
		}
		json.Unmarshal([]byte(in.Content), &c)
		if r.Header.Get("Authorization") != "Bearer FSTOKEN" || in.MsgType != "text" || !a.record(pushed{to: r.PathValue("id"), text: c.Text}) {
			fmt.Fprint(w, `{"code":230002,"msg":"bot not in chat"}`)
			return
		}
		fmt.Fprint(w, `{"code":0,"msg":"ok","data":{"message_id":"om_reply"}}`)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// feishuEvent is an im.message.receive_v1 event body.
func feishuEvent(eventID, sender, messageID, chatType, text string, mentions ...string) string {
	content, _ := json.Marshal(map[string]string{"text": text})
	var ms []map[string]any
	for i, id := range mentions {
		ms = append(ms, map[string]any{"key": "@_user_" + strconv.Itoa(i+1), "id": map[string]string{"open_id": id}, "name": "智言"})
	}
	ev := map[string]any{
		"schema": "2.0",
		"header": map[string]string{"event_id": eventID, "event_type": feishu.EventMessageReceive, "token": fsToken, "app_id": "cli_1", "create_time": "1"},
		"event": map[string]any{
			"sender":  map[string]any{"sender_id": map[string]string{"open_id": sender}, "sender_type": "user"},
			"message": map[string]any{"message_id": messageID, "chat_id": "oc_1", "chat_type": chatType, "message_type": "text", "content": string(content), "mentions": ms},
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

// feishuPost seals plain as Feishu does, signs it and posts it; it returns
// the status and body.
func feishuPost(t *testing.T, botURL, plain string, ts time.Time, sigKey string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"encrypt": feishu.Encrypt(fsEncryptKey, []byte(plain))})
	tss := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{
		feishu.HeaderTimestamp: {tss},
		feishu.HeaderNonce:     {"n1"},
		feishu.HeaderSignature: {feishu.Signature(tss, "n1", sigKey, body)},
	}
	return postBody(t, botURL, h, string(body))
}

// dingtalkSim serves sessionWebhooks.
func newDingTalkAPI(t *testing.T) *apiSim {
	a := &apiSim{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /robot/sendBySession", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MsgType string `json:"msgtype"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
			At struct {
				AtUserIDs []string `json:"atUserIds"`
			} `json:"at"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		if !a.record(pushed{to: r.URL.Query().Get("session"), text: in.Text.Content, at: in.At.AtUserIDs}) {
			fmt.Fprint(w, `{"errcode":300001,"errmsg":"session expired"}`)
			return
		}
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

const dtSecret = "SECtestsecret0123456789"

// dingtalkMessage is a callback body; group chats @ the robot when at.
func dingtalkMessage(api *apiSim, msgID, staff, text string, group, at bool) string {
	ct := "1"
	if group {
		ct = "2"
	}
	m := map[string]any{
		"msgtype": "text", "text": map[string]string{"content": text}, "msgId": msgID,
		"createAt": time.Now().UnixMilli(), "conversationType": ct, "conversationId": "cid1",
		"senderId": "$:LWCP:" + staff, "senderNick": "小" + staff, "senderStaffId": staff,
		"isInAtList": at, "chatbotUserId": "bot1",
		"sessionWebhook":            api.srv.URL + "/robot/sendBySession?session=s-" + staff,
		"sessionWebhookExpiredTime": time.Now().Add(time.Hour).UnixMilli(),
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func dingtalkPost(t *testing.T, botURL, body string, ts time.Time, secret string) int {
	t.Helper()
	tss := strconv.FormatInt(ts.UnixMilli(), 10)
	return post(t, botURL, http.Header{"timestamp": {tss}, "sign": {dingtalk.Sign(secret, tss)}}, body)
}

func post(t *testing.T, u string, h http.Header, body string) int {
	t.Helper()
	status, _ := postBody(t, u, h, body)
	return status
}

func postBody(t *testing.T, u string, h http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}
