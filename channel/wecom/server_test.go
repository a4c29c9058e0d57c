package wecom

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/wechat"
)

// vector mirrors testdata/vectors.json: Vector A (Tencent's WeCom sample)
// and Vector C (wechatpy's tests); each entry names its source.
type vector struct {
	Source    string
	Token     string
	AESKey    string `json:"aes_key"`
	ReceiveID string `json:"receive_id"`
	Verify    struct {
		Timestamp, Nonce, Echostr, Plain string
		MsgSignature                     string `json:"msg_signature"`
		BadNonce                         string `json:"bad_nonce"`
	}
	Message struct {
		Timestamp, Nonce, Encrypt, Plain string
		MsgSignature                     string `json:"msg_signature"`
	}
}

func loadVectors(t testing.TB) (a, c vector) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ A, C vector }
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.A, v.C
}

func clock(ts string) func() time.Time {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return time.Unix(sec, 0) }
}

func server(v vector) Server {
	return Server{Token: v.Token, AESKey: v.AESKey, CorpID: v.ReceiveID}
}

// rawQuery builds a query string by hand, so tests control the escaping.
func rawQuery(kv ...string) string {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + kv[i+1])
	}
	return b.String()
}

func TestVerifyVectors(t *testing.T) {
	a, c := loadVectors(t)
	for _, v := range []vector{a, c} {
		t.Run(v.Source, func(t *testing.T) {
			s := server(v)
			s.Now = clock(v.Verify.Timestamp)
			tests := []struct {
				name  string
				query string
				want  error
			}{
				{"escaped", rawQuery("msg_signature", v.Verify.MsgSignature, "timestamp", v.Verify.Timestamp,
					"nonce", v.Verify.Nonce, "echostr", url.QueryEscape(v.Verify.Echostr)), nil},
				// Unescaped '+' decodes to ' '; Verify restores it.
				{"unescaped plus", rawQuery("msg_signature", v.Verify.MsgSignature, "timestamp", v.Verify.Timestamp,
					"nonce", v.Verify.Nonce, "echostr", v.Verify.Echostr), nil},
				{"bad nonce", rawQuery("msg_signature", v.Verify.MsgSignature, "timestamp", v.Verify.Timestamp,
					"nonce", v.Verify.Nonce+"1", "echostr", url.QueryEscape(v.Verify.Echostr)), channel.ErrSignature},
				{"no echostr", rawQuery("msg_signature", v.Verify.MsgSignature, "timestamp", v.Verify.Timestamp,
					"nonce", v.Verify.Nonce), channel.ErrMalformed},
			}
			for _, tt := range tests {
				got, err := s.Verify(httptest.NewRequest("GET", "/wecom?"+tt.query, nil))
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("%s: Verify = %q, %v; want %v", tt.name, got, err, tt.want)
				}
				if err == nil && got != v.Verify.Plain {
					t.Fatalf("%s: Verify = %q, want %q", tt.name, got, v.Verify.Plain)
				}
			}
			// Another CorpID cannot open the echostr.
			s.CorpID = "wwffffffffffffffff"
			q := rawQuery("msg_signature", v.Verify.MsgSignature, "timestamp", v.Verify.Timestamp,
				"nonce", v.Verify.Nonce, "echostr", url.QueryEscape(v.Verify.Echostr))
			if _, err := s.Verify(httptest.NewRequest("GET", "/wecom?"+q, nil)); !errors.Is(err, channel.ErrReceiver) {
				t.Fatalf("Verify with another CorpID = %v, want ErrReceiver", err)
			}
		})
	}
	// Vector C's own negative: nonce 437374424 must fail.
	s := server(c)
	s.Now = clock(c.Verify.Timestamp)
	q := rawQuery("msg_signature", c.Verify.MsgSignature, "timestamp", c.Verify.Timestamp,
		"nonce", c.Verify.BadNonce, "echostr", url.QueryEscape(c.Verify.Echostr))
	if _, err := s.Verify(httptest.NewRequest("GET", "/wecom?"+q, nil)); !errors.Is(err, channel.ErrSignature) {
		t.Fatalf("Vector C bad nonce: %v, want ErrSignature", err)
	}
}

func post(v vector, sig, ts, nonce, body string) *http.Request {
	q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
	return httptest.NewRequest("POST", "/wecom?"+q.Encode(), strings.NewReader(body))
}

func sealedBody(toUser, agent, enc string) string {
	return `<xml><ToUserName><![CDATA[` + toUser + `]]></ToUserName><AgentID><![CDATA[` + agent + `]]></AgentID><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`
}

func TestParseVectors(t *testing.T) {
	a, c := loadVectors(t)
	for _, tt := range []struct {
		v       vector
		from    string
		content string
		msgID   string
		agent   int64
	}{
		{a, "mycreate", "hello", "4561255354251345929", 218},
		{c, "messense", "test", "4363689963896700987", 1},
	} {
		v := tt.v
		s := server(v)
		s.Now = clock(v.Message.Timestamp)
		s.AgentID = tt.agent
		m, err := s.Parse(post(v, v.Message.MsgSignature, v.Message.Timestamp, v.Message.Nonce, sealedBody(v.ReceiveID, "1", v.Message.Encrypt)))
		if err != nil {
			t.Fatalf("%s: %v", v.Source, err)
		}
		if m.FromUserName != tt.from || m.Text() != tt.content || m.MsgID != tt.msgID || m.AgentID != tt.agent ||
			m.ToUserName != v.ReceiveID || m.MsgType != TypeText || string(m.Raw) != v.Message.Plain {
			t.Fatalf("%s: Parse = %+v", v.Source, m)
		}
		if m.DedupeKey() != "msg:"+tt.msgID {
			t.Fatalf("DedupeKey = %q", m.DedupeKey())
		}
	}
}

func TestParseRejects(t *testing.T) {
	a, _ := loadVectors(t)
	v := a.Message
	good := sealedBody(a.ReceiveID, "218", v.Encrypt)
	tests := []struct {
		name string
		edit func(*Server)
		req  *http.Request
		want error
	}{
		{"control", nil, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), nil},
		{"forged signature", nil, post(a, strings.Repeat("0", 40), v.Timestamp, v.Nonce, good), channel.ErrSignature},
		{"other timestamp", func(s *Server) { s.Now = clock("1409659814") }, post(a, v.MsgSignature, "1409659814", v.Nonce, good), channel.ErrSignature},
		{"stale", func(s *Server) { s.Now = clock("1409660114") }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrStale},
		{"wrong CorpID", func(s *Server) { s.CorpID = "wx0000000000000000" }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrReceiver},
		{"other agent", func(s *Server) { s.AgentID = 7 }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrReceiver},
		{"too large", func(s *Server) { s.MaxBodyBytes = 200 }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrTooLarge},
		{"no Encrypt", nil, post(a, v.MsgSignature, v.Timestamp, v.Nonce, `<xml><ToUserName>x</ToUserName></xml>`), channel.ErrMalformed},
		{"bad XML", nil, post(a, v.MsgSignature, v.Timestamp, v.Nonce, `<xml><Encrypt>`), channel.ErrMalformed},
		{"GET", nil, httptest.NewRequest("GET", "/wecom", nil), channel.ErrMalformed},
		{"bad key", func(s *Server) { s.AESKey = "x" }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrConfig},
		{"no CorpID", func(s *Server) { s.CorpID = "" }, post(a, v.MsgSignature, v.Timestamp, v.Nonce, good), channel.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := server(a)
			s.Now = clock(v.Timestamp)
			s.AgentID = 218
			if tt.edit != nil {
				tt.edit(&s)
			}
			m, err := s.Parse(tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	a, _ := loadVectors(t)
	s := server(a)
	s.Now = clock("1700000000")
	m := &Message{ToUserName: a.ReceiveID, FromUserName: "zhangsan", MsgType: TypeText}
	rec := httptest.NewRecorder()
	if err := s.Reply(rec, m, "你好"); err != nil {
		t.Fatal(err)
	}
	var env struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	c, _ := wechat.NewCrypto(a.Token, a.AESKey, a.ReceiveID)
	if err := c.CheckMsgSignature(env.MsgSignature, env.TimeStamp, env.Nonce, env.Encrypt); err != nil || env.TimeStamp != "1700000000" || env.Nonce == "" {
		t.Fatalf("envelope %+v: %v", env, err)
	}
	inner, err := c.Decrypt(env.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wechat.ParseMessage(inner)
	if err != nil || r.ToUserName != "zhangsan" || r.FromUserName != a.ReceiveID || r.Content != "你好" {
		t.Fatalf("reply holds %s (%v)", inner, err)
	}
	if err := s.Reply(httptest.NewRecorder(), m, strings.Repeat("a", MaxTextBytes+1)); err == nil {
		t.Fatal("Reply accepted an over-long text")
	}
	rec = httptest.NewRecorder()
	ReplyEmpty(rec)
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("ReplyEmpty: %d %q", rec.Code, rec.Body)
	}
}

func TestParseMessage(t *testing.T) {
	ev := `<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><AgentID>5</AgentID><Event><![CDATA[enter_agent]]></Event><EventKey><![CDATA[]]></EventKey></xml>`
	m, err := ParseMessage([]byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	if m.Event != EventEnterAgent || m.AgentID != 5 || m.DedupeKey() != "ev:u1:1700000000:enter_agent" || m.Text() != "" {
		t.Fatalf("ParseMessage = %+v, key %q", m, m.DedupeKey())
	}
	for _, bad := range []string{"", "<xml>", "<other/>", "<xml><AgentID>x</AgentID></xml>"} {
		if _, err := ParseMessage([]byte(bad)); !errors.Is(err, channel.ErrMalformed) {
			t.Errorf("ParseMessage(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func signature(parts ...string) string { return wechat.Signature(parts...) }
