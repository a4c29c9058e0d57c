package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/channel"
)

// vectors mirrors testdata/vectors.json (a self-computed sign; DingTalk
// publishes no official vector).
type vectors struct {
	Sign struct {
		Source, Secret, Timestamp, Sign string
		SignURLEncoded                  string `json:"sign_urlencoded"`
	}
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignVector(t *testing.T) {
	v := loadVectors(t).Sign
	if got := Sign(v.Secret, v.Timestamp); got != v.Sign {
		t.Fatalf("Sign = %s, want %s", got, v.Sign)
	}
	if got := url.QueryEscape(Sign(v.Secret, v.Timestamp)); got != v.SignURLEncoded {
		t.Fatalf("escaped sign = %s, want %s", got, v.SignURLEncoded)
	}
}

const groupMsg = `{"conversationId":"cid7","atUsers":[{"dingtalkId":"$:LWCP_v1:$bot"}],"chatbotCorpId":"dingcorp","chatbotUserId":"$:LWCP_v1:$bot",
"msgId":"msgABC","senderNick":"张三","isAdmin":true,"senderStaffId":"manager123","sessionWebhookExpiredTime":1700000600000,"createAt":1700000000000,
"senderCorpId":"dingcorp","conversationType":"2","senderId":"$:LWCP_v1:$zs","conversationTitle":"研发群","isInAtList":true,
"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=s1","text":{"content":" 帮我总结一下 "},"robotCode":"dingrobot","msgtype":"text"}`

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage([]byte(groupMsg))
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsGroup() || !m.IsInAtList || m.Content() != "帮我总结一下" || m.DedupeKey() != "msgABC" ||
		m.SenderStaffID != "manager123" || m.SenderNick != "张三" || m.ConversationTitle != "研发群" ||
		m.RobotCode != "dingrobot" || len(m.AtUsers) != 1 || m.CreateAt != 1700000000000 {
		t.Fatalf("ParseMessage = %+v", m)
	}
	if !m.WebhookValid(time.UnixMilli(1700000599999)) || m.WebhookValid(time.UnixMilli(1700000600000)) {
		t.Fatal("WebhookValid does not honour sessionWebhookExpiredTime")
	}
	one := *m
	one.ConversationType = "1"
	one.MsgType = "picture"
	if one.IsGroup() || one.Content() != "" {
		t.Fatal("one-to-one picture misread")
	}
	for _, bad := range []string{"", "{", `{"createAt":"soon"}`, `{"isInAtList":"yes"}`} {
		if _, err := ParseMessage([]byte(bad)); !errors.Is(err, channel.ErrMalformed) {
			t.Errorf("ParseMessage(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func callback(secret, ts, body string) *http.Request {
	r := httptest.NewRequest("POST", "/dingtalk", strings.NewReader(body))
	if ts != "" {
		r.Header.Set("timestamp", ts)
		r.Header.Set("sign", Sign(secret, ts))
	}
	return r
}

func TestParse(t *testing.T) {
	const secret = "SECtestsecret0123456789"
	now := time.UnixMilli(1700000000000)
	tests := []struct {
		name string
		s    Server
		req  *http.Request
		want error
	}{
		{"ok", Server{}, callback(secret, "1700000000000", groupMsg), nil},
		{"59 min old", Server{}, callback(secret, "1699996460000", groupMsg), nil},
		{"1 h + 1 ms old", Server{}, callback(secret, "1699996399999", groupMsg), channel.ErrStale},
		{"1 h + 1 ms ahead", Server{}, callback(secret, "1700003600001", groupMsg), channel.ErrStale},
		{"window narrowed", Server{MaxSkew: time.Minute}, callback(secret, "1699999000000", groupMsg), channel.ErrStale},
		{"window disabled", Server{MaxSkew: -1}, callback(secret, "1000", groupMsg), nil},
		{"signed with another secret", Server{}, callback("other", "1700000000000", groupMsg), channel.ErrSignature},
		{"no headers", Server{}, callback(secret, "", groupMsg), channel.ErrMalformed},
		{"sign for another timestamp", Server{}, func() *http.Request {
			r := callback(secret, "1700000000000", groupMsg)
			r.Header.Set("timestamp", "1700000000001")
			return r
		}(), channel.ErrSignature},
		{"bad JSON", Server{}, callback(secret, "1700000000000", "{"), channel.ErrMalformed},
		{"too large", Server{MaxBodyBytes: 64}, callback(secret, "1700000000000", groupMsg), channel.ErrTooLarge},
		{"no secret", Server{AppSecret: "-"}, callback(secret, "1700000000000", groupMsg), channel.ErrConfig},
		{"GET", Server{}, httptest.NewRequest("GET", "/dingtalk", nil), channel.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			switch s.AppSecret {
			case "":
				s.AppSecret = secret
			case "-":
				s.AppSecret = ""
			}
			s.Now = func() time.Time { return now }
			m, err := s.Parse(tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tt.want)
			}
			if err == nil && m.Content() != "帮我总结一下" {
				t.Fatalf("Content = %q", m.Content())
			}
		})
	}
}

// fakeSession plays a sessionWebhook and records what it receives.
type fakeSession struct {
	mu   sync.Mutex
	got  []string
	code int
}

func (f *fakeSession) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, string(b))
	f.mu.Unlock()
	if r.URL.Query().Get("session") != "s1" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		fmt.Fprint(w, `{"errcode":300001,"errmsg":"session invalid"}`)
		return
	}
	fmt.Fprintf(w, `{"errcode":%d,"errmsg":"x"}`, f.code)
}

func TestReply(t *testing.T) {
	f := &fakeSession{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	m, _ := ParseMessage([]byte(groupMsg))
	m.SessionWebhook = srv.URL + "/robot/sendBySession?session=s1"
	now := time.UnixMilli(1700000000000)
	c := &Client{HTTP: srv.Client(), Now: func() time.Time { return now }}
	ctx := context.Background()
	if err := c.ReplyText(ctx, m, "总结 <如下>", true); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplyText(ctx, m, "plain", false); err != nil {
		t.Fatal(err)
	}
	if err := c.ReplyMarkdown(ctx, m, "标题", "# 总结\n- a"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"msgtype":"text","text":{"content":"总结 <如下>"},"at":{"atUserIds":["manager123"]}}` + "\n",
		`{"msgtype":"text","text":{"content":"plain"}}` + "\n",
		`{"msgtype":"markdown","markdown":{"title":"标题","text":"# 总结\n- a"}}` + "\n",
	}
	for i := range want {
		if f.got[i] != want[i] {
			t.Errorf("reply %d = %s\nwant %s", i, f.got[i], want[i])
		}
	}

	// Expired: nothing sent.
	late := &Client{HTTP: srv.Client(), Now: func() time.Time { return time.UnixMilli(m.SessionWebhookExpiredTime) }}
	if err := late.ReplyText(ctx, m, "x", false); !errors.Is(err, ErrWebhookExpired) || len(f.got) != 3 {
		t.Fatalf("expired webhook: %v, %d posts", err, len(f.got))
	}
	f.code = 400102
	var api *channel.APIError
	if err := c.ReplyText(ctx, m, "x", false); !errors.As(err, &api) || api.Code != 400102 {
		t.Fatalf("platform refusal: %v", err)
	}
	bad := *m
	bad.SessionWebhook = "file:///etc/passwd"
	if err := c.ReplyText(ctx, &bad, "x", false); !errors.Is(err, channel.ErrMalformed) {
		t.Fatalf("file webhook: %v", err)
	}
}

func TestWriteText(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := WriteText(rec, "好 & <ok>"); err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != `{"msgtype":"text","text":{"content":"好 & <ok>"}}`+"\n" {
		t.Fatalf("WriteText wrote %s", got)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(groupMsg))
	f.Add([]byte(`{"msgtype":"text","text":{"content":1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		_ = m.Content()
		_ = m.WebhookValid(time.Now())
	})
}
