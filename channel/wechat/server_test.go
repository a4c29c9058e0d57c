package wechat

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhiyan/channel"
)

func clock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

func request(method string, q url.Values, body string) *http.Request {
	return httptest.NewRequest(method, "/wx?"+q.Encode(), strings.NewReader(body))
}

// plainQuery signs a plain-mode request.
func plainQuery(token, ts, nonce string) url.Values {
	return url.Values{"signature": {Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {"oUser"}}
}

func TestVerify(t *testing.T) {
	v := loadVectors(t).B
	ts := v.Message.Timestamp
	now, _ := strconv.ParseInt(ts, 10, 64)
	s := &Server{Token: v.Token, AESKey: v.AESKey, AppID: v.ReceiveID, Now: clock(now)}
	good := url.Values{"signature": {v.Message.Signature}, "timestamp": {ts}, "nonce": {v.Message.Nonce}, "echostr": {"8142873965452313"}}
	got, err := s.Verify(request("GET", good, ""))
	if err != nil || got != "8142873965452313" {
		t.Fatalf("Verify = %q, %v", got, err)
	}
	tests := []struct {
		name string
		edit func(url.Values)
		now  int64
		want error
	}{
		{"forged signature", func(q url.Values) { q.Set("signature", strings.Repeat("0", 40)) }, now, channel.ErrSignature},
		{"other nonce", func(q url.Values) { q.Set("nonce", "1") }, now, channel.ErrSignature},
		{"no echostr", func(q url.Values) { q.Del("echostr") }, now, channel.ErrMalformed},
		{"no timestamp", func(q url.Values) { q.Del("timestamp") }, now, channel.ErrMalformed},
		{"stale", func(url.Values) {}, now + 301, channel.ErrStale},
		{"future", func(url.Values) {}, now - 301, channel.ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, vs := range good {
				q[k] = append([]string(nil), vs...)
			}
			tt.edit(q)
			s := &Server{Token: v.Token, Now: clock(tt.now)}
			if got, err := s.Verify(request("GET", q, "")); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}

const plainText = `<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>42</MsgId></xml>`

func TestParsePlain(t *testing.T) {
	const now = 1700000000
	s := &Server{Token: "tok", Now: clock(now)}
	m, err := s.Parse(request("POST", plainQuery("tok", "1700000000", "n"), plainText))
	if err != nil {
		t.Fatal(err)
	}
	if m.Content != "hi" || m.MsgID != "42" || m.Encrypted {
		t.Fatalf("Parse = %+v", m)
	}
	// A plain reply: swapped names, our clock, the text.
	rec := httptest.NewRecorder()
	if err := s.Reply(rec, m, "你好"); err != nil {
		t.Fatal(err)
	}
	r, err := ParseMessage(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if r.ToUserName != "oUser" || r.FromUserName != "gh_abc" || r.CreateTime != now || r.Content != "你好" {
		t.Fatalf("reply %s", rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Fatalf("reply Content-Type %q", ct)
	}
	if err := s.Reply(httptest.NewRecorder(), m, strings.Repeat("字", 683)); err == nil {
		t.Fatal("Reply accepted 2049 bytes")
	}
}

func TestParseSafe(t *testing.T) {
	v := loadVectors(t).B
	now, _ := strconv.ParseInt(v.Message.Timestamp, 10, 64)
	q := url.Values{
		"signature": {v.Message.Signature}, "timestamp": {v.Message.Timestamp}, "nonce": {v.Message.Nonce},
		"openid": {"oyORnuP8q7ou2gfYjqLzSIWZf0rs"}, "encrypt_type": {"aes"}, "msg_signature": {v.Message.MsgSignature},
	}
	safe := `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[` + v.Message.Encrypt + `]]></Encrypt></xml>`
	// Compatible mode: plain fields beside Encrypt; the sealed ones rule.
	compat := `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[forged]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[forged]]></Content><MsgId>1</MsgId><Encrypt><![CDATA[` + v.Message.Encrypt + `]]></Encrypt></xml>`
	for _, body := range []string{safe, compat} {
		s := &Server{Token: v.Token, AESKey: v.AESKey, AppID: v.ReceiveID, Now: clock(now)}
		m, err := s.Parse(request("POST", q, body))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Encrypted || m.Content != "abcdteT" || m.FromUserName != "oyORnuP8q7ou2gfYjqLzSIWZf0rs" || m.MsgID != "6054768590064713728" {
			t.Fatalf("Parse = %+v", m)
		}
		if string(m.Raw) != v.Message.Plain {
			t.Fatalf("Raw = %q", m.Raw)
		}
		// The reply is sealed with the request's nonce and our clock.
		rec := httptest.NewRecorder()
		if err := s.Reply(rec, m, "回答"); err != nil {
			t.Fatal(err)
		}
		var env struct {
			Encrypt, MsgSignature, Nonce string
			TimeStamp                    string
		}
		if err := xmlUnmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if env.Nonce != v.Message.Nonce || env.TimeStamp != v.Message.Timestamp {
			t.Fatalf("envelope nonce %q timestamp %q", env.Nonce, env.TimeStamp)
		}
		c := mustCrypto(t, v.Token, v.AESKey, v.ReceiveID)
		if err := c.CheckMsgSignature(env.MsgSignature, env.TimeStamp, env.Nonce, env.Encrypt); err != nil {
			t.Fatal(err)
		}
		inner, err := c.Decrypt(env.Encrypt)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseMessage(inner)
		if err != nil || r.Content != "回答" || r.ToUserName != m.FromUserName {
			t.Fatalf("sealed reply holds %s (%v)", inner, err)
		}
	}

	tests := []struct {
		name   string
		server Server
		edit   func(url.Values)
		body   string
		want   error
	}{
		{"wrong AppID", Server{AppID: "wx0000000000000000"}, nil, safe, channel.ErrReceiver},
		{"forged msg_signature", Server{}, func(q url.Values) { q.Set("msg_signature", strings.Repeat("a", 40)) }, safe, channel.ErrSignature},
		{"no msg_signature", Server{}, func(q url.Values) { q.Del("msg_signature") }, safe, channel.ErrSignature},
		{"forged signature", Server{}, func(q url.Values) { q.Set("signature", strings.Repeat("a", 40)) }, safe, channel.ErrSignature},
		{"Encrypt swapped", Server{}, nil, strings.Replace(safe, "hyzA", "hyzB", 1), channel.ErrSignature},
		{"no Encrypt", Server{}, nil, `<xml><ToUserName>x</ToUserName></xml>`, channel.ErrMalformed},
		{"bad XML", Server{}, nil, `<xml><Encrypt>`, channel.ErrMalformed},
		{"stale", Server{Now: clock(now + 6*60)}, nil, safe, channel.ErrStale},
		{"sealed body sent as plain", Server{}, func(q url.Values) { q.Del("encrypt_type") }, safe, channel.ErrMalformed},
		{"no AESKey", Server{AESKey: "-"}, nil, safe, channel.ErrConfig},
		{"too large", Server{MaxBodyBytes: 100}, nil, safe, channel.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.server
			s.Token = v.Token
			switch s.AESKey {
			case "":
				s.AESKey = v.AESKey
			case "-":
				s.AESKey = ""
			}
			if s.AppID == "" {
				s.AppID = v.ReceiveID
			}
			if s.Now == nil {
				s.Now = clock(now)
			}
			qq := url.Values{}
			for k, vs := range q {
				qq[k] = vs
			}
			if tt.edit != nil {
				tt.edit(qq)
			}
			m, err := s.Parse(request("POST", qq, tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const now = 1700000000
	q := plainQuery("tok", "1700000000", "n")
	tests := []struct {
		name string
		s    Server
		req  *http.Request
		want error
	}{
		{"forged signature", Server{}, request("POST", plainQuery("other", "1700000000", "n"), plainText), channel.ErrSignature},
		{"no signature", Server{}, request("POST", url.Values{"timestamp": {"1700000000"}, "nonce": {"n"}}, plainText), channel.ErrSignature},
		{"stale by 5 min + 1 s", Server{}, request("POST", plainQuery("tok", "1699999699", "n"), plainText), channel.ErrStale},
		{"5 min exactly is fine", Server{}, request("POST", plainQuery("tok", "1699999700", "n"), plainText), nil},
		{"window widened", Server{MaxSkew: time.Hour}, request("POST", plainQuery("tok", "1699999000", "n"), plainText), nil},
		{"window disabled", Server{MaxSkew: -1}, request("POST", plainQuery("tok", "1000", "n"), plainText), nil},
		{"bad timestamp", Server{}, request("POST", plainQuery("tok", "1e9", "n"), plainText), channel.ErrMalformed},
		{"bad XML", Server{}, request("POST", q, "<xml><MsgType>"), channel.ErrMalformed},
		{"GET", Server{}, request("GET", q, plainText), channel.ErrMalformed},
		{"declared too large", Server{MaxBodyBytes: 64}, request("POST", q, plainText), channel.ErrTooLarge},
		{"streamed too large", Server{MaxBodyBytes: 64}, func() *http.Request {
			r := request("POST", q, "")
			r.Body = io.NopCloser(strings.NewReader(plainText))
			r.ContentLength = -1
			return r
		}(), channel.ErrTooLarge},
		{"no token", Server{Token: "-"}, request("POST", q, plainText), channel.ErrConfig},
		{"bad AESKey", Server{AESKey: "short"}, request("POST", q, plainText), channel.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			switch s.Token {
			case "":
				s.Token = "tok"
			case "-":
				s.Token = ""
			}
			s.AppID = "wx1"
			s.Now = clock(now)
			m, err := s.Parse(tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestReplySuccess(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := ReplySuccess(rec); err != nil || rec.Body.String() != "success" {
		t.Fatalf("ReplySuccess wrote %q, %v", rec.Body, err)
	}
}
