package bot

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
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

	"zhiyan/channel/wechat"
)

// Official Account test credentials (the MP sample's key and AppID).
const (
	wxToken  = "spamtest"
	wxAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	wxAppID  = "wx2c2769f8efd9abc2"
)

// swapHandler lets a test replace the bot behind a running server, as a
// restart does.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }
func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// wechatSim plays WeChat: it sends signed (and, in safe and compatible
// modes, encrypted) callbacks, gives up on a delivery after timeout and
// delivers again, attempts times in all, and records what the bot replied.
// It also serves the token and customer-service APIs.
type wechatSim struct {
	t        *testing.T
	mode     string // "plain", "compat" or "safe"
	url      string // the bot's callback URL
	timeout  time.Duration
	attempts int
	crypto   *wechat.Crypto
	nonce    atomic.Int64
	msgID    atomic.Int64
	now      func() time.Time // the clock stamping requests

	api      *httptest.Server
	mu       sync.Mutex
	tokens   int      // access tokens handed out
	cs       []csSent // customer-service messages received
	csFailed bool     // answer the customer-service API with an error
}

type csSent struct{ to, text string }

func newWeChatSim(t *testing.T, mode, botURL string, timeout time.Duration) *wechatSim {
	c, err := wechat.NewCrypto(wxToken, wxAESKey, wxAppID)
	if err != nil {
		t.Fatal(err)
	}
	s := &wechatSim{t: t, mode: mode, url: botURL, timeout: timeout, attempts: 3, crypto: c, now: time.Now}
	s.msgID.Store(6054768590064713728)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.tokens++
		s.mu.Unlock()
		if r.URL.Query().Get("appid") != wxAppID || r.URL.Query().Get("secret") != "sec" {
			fmt.Fprint(w, `{"errcode":40125,"errmsg":"invalid appsecret"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"TOKEN","expires_in":7200}`)
	})
	mux.HandleFunc("POST /cgi-bin/message/custom/send", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ToUser string `json:"touser"`
			Text   struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Query().Get("access_token") != "TOKEN" || s.csFailed {
			fmt.Fprint(w, `{"errcode":45015,"errmsg":"response out of time limit"}`)
			return
		}
		s.cs = append(s.cs, csSent{in.ToUser, in.Text.Content})
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	s.api = httptest.NewServer(mux)
	t.Cleanup(s.api.Close)
	return s
}

func (s *wechatSim) customerService() []csSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]csSent(nil), s.cs...)
}

// textXML is a text message from openID with a fresh MsgId.
func (s *wechatSim) textXML(openID, content string) string {
	return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>`+
		`<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		openID, s.now().Unix(), content, s.msgID.Add(1))
}

// delivery is what became of one message after WeChat's attempts.
type delivery struct {
	reply    string // the text the user sees; "" for success or nothing
	attempts int    // deliveries made
	status   int    // the last HTTP status (0 after a timeout)
}

// send delivers a text message as WeChat does and returns the outcome.
func (s *wechatSim) send(openID, content string) delivery {
	return s.deliver(s.textXML(openID, content))
}

func (s *wechatSim) deliver(plain string) delivery {
	s.t.Helper()
	var d delivery
	for d.attempts < s.attempts {
		d.attempts++
		start := time.Now()
		reply, status, err := s.post(plain, nil)
		d.status = status
		switch {
		case err == nil && status == http.StatusOK:
			d.reply = reply
			return d
		case err == nil && status >= 500:
			// WeChat waits out its timeout, then delivers again.
			time.Sleep(s.timeout - time.Since(start))
		case err == nil:
			return d
		case !errors.Is(err, context.DeadlineExceeded):
			s.t.Fatalf("wechat delivery: %v", err)
		}
	}
	return d
}

// post makes one delivery of plain; edit, when set, may tamper with the
// signed query before it is sent.
func (s *wechatSim) post(plain string, edit func(url.Values)) (string, int, error) {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	nonce := strconv.FormatInt(s.nonce.Add(1)+1320562132, 10)
	q := url.Values{"signature": {wechat.Signature(wxToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "openid": {"o"}}
	body := plain
	if s.mode != "plain" {
		enc, err := s.crypto.Encrypt([]byte(plain))
		if err != nil {
			s.t.Fatal(err)
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wechat.Signature(wxToken, ts, nonce, enc))
		env := "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
		if s.mode == "compat" {
			env = strings.Replace(plain, "</xml>", "<Encrypt><![CDATA["+enc+"]]></Encrypt></xml>", 1)
		}
		body = env
	}
	if edit != nil {
		edit(q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"?"+q.Encode(), strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode, nil
	}
	return s.readReply(data), resp.StatusCode, nil
}

// readReply opens a passive reply: "success" or empty means none.
func (s *wechatSim) readReply(data []byte) string {
	s.t.Helper()
	if len(data) == 0 || string(data) == "success" {
		return ""
	}
	var r struct {
		Content      string `xml:"Content"`
		Encrypt      string `xml:"Encrypt"`
		MsgSignature string `xml:"MsgSignature"`
		TimeStamp    string `xml:"TimeStamp"`
		Nonce        string `xml:"Nonce"`
	}
	if err := xml.Unmarshal(data, &r); err != nil {
		s.t.Fatalf("reply %q: %v", data, err)
	}
	if s.mode == "plain" {
		if r.Encrypt != "" {
			s.t.Fatalf("plain mode got a sealed reply")
		}
		return r.Content
	}
	if r.Encrypt == "" {
		s.t.Fatalf("%s mode got an unsealed reply %q", s.mode, data)
	}
	if err := s.crypto.CheckMsgSignature(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt); err != nil {
		s.t.Fatalf("reply signature: %v", err)
	}
	inner, err := s.crypto.Decrypt(r.Encrypt)
	if err != nil {
		s.t.Fatalf("reply: %v", err)
	}
	if err := xml.Unmarshal(inner, &r); err != nil {
		s.t.Fatal(err)
	}
	return r.Content
}

// nl normalises line ends as XML does: "\r\n" and "\r" become "\n".
func nl(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n") }
