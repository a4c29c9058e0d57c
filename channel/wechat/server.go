package wechat

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
)

// Defaults of Server's limits.
const (
	DefaultMaxSkew      = 5 * time.Minute
	DefaultMaxBodyBytes = 64 << 10 // callbacks are a few hundred bytes
)

// Server checks and decodes the callbacks of one Official Account, in plain,
// compatible or safe mode, and writes passive replies. Fill the fields, then
// use it from any number of goroutines. It holds no state beyond its fields,
// so a copy works as well as the original.
type Server struct {
	Token  string // the token set in the MP console (required)
	AESKey string // the 43-character EncodingAESKey; "" for plain mode only
	AppID  string // checked against the sealed messages' receive ID

	// MaxSkew is how far the request's timestamp may be from Now;
	// 0 means DefaultMaxSkew and a negative value disables the check.
	MaxSkew time.Duration
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Check reports a configuration that cannot work, before the first request.
func (s *Server) Check() error {
	_, err := s.init()
	return err
}

// init checks the fields and builds the Crypto (nil in plain mode). Doing it
// per request costs a base64 decode and an AES key expansion: microseconds.
func (s *Server) init() (*Crypto, error) {
	if s.Token == "" {
		return nil, fmt.Errorf("wechat: %w: empty token", channel.ErrConfig)
	}
	if s.AESKey == "" {
		return nil, nil
	}
	if s.AppID == "" {
		return nil, fmt.Errorf("wechat: %w: safe mode needs the AppID", channel.ErrConfig)
	}
	c, err := NewCrypto(s.Token, s.AESKey, s.AppID)
	if err != nil {
		return nil, fmt.Errorf("wechat: %w", err)
	}
	return c, nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// checkTime parses the query's timestamp and checks it against the window.
func (s *Server) checkTime(ts string) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("wechat: %w: timestamp %.32q", channel.ErrMalformed, ts)
	}
	skew := s.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if err := channel.CheckWindow(time.Unix(sec, 0), s.now(), skew); err != nil {
		return fmt.Errorf("wechat: %w", err)
	}
	return nil
}

// Verify handles the console's URL verification (GET with signature,
// timestamp, nonce, echostr) and returns echostr, to be written back
// verbatim as text/plain. The MP echostr is not encrypted, even in safe mode.
func (s *Server) Verify(r *http.Request) (string, error) {
	if _, err := s.init(); err != nil {
		return "", err
	}
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if err := s.checkTime(ts); err != nil {
		return "", err
	}
	if err := CheckSignature(q.Get("signature"), s.Token, ts, nonce); err != nil {
		return "", fmt.Errorf("wechat: URL verification: %w", err)
	}
	echo := q.Get("echostr")
	if echo == "" {
		return "", fmt.Errorf("wechat: %w: no echostr", channel.ErrMalformed)
	}
	return echo, nil
}

// Parse checks and decodes one message POST. In safe and compatible modes
// (encrypt_type=aes) it verifies msg_signature, decrypts Encrypt, checks the
// AppID and decodes the inner message; the plain fields of compatible mode
// are ignored in favour of the sealed ones. In plain mode it checks
// signature over (token, timestamp, nonce) — which, by WeChat's design, does
// not cover the body; the timestamp window bounds replays.
func (s *Server) Parse(r *http.Request) (*Message, error) {
	crypto, err := s.init()
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("wechat: %w: method %s", channel.ErrMalformed, r.Method)
	}
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if err := s.checkTime(ts); err != nil {
		return nil, err
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := httpx.ReadBody(r, limit)
	if err != nil {
		return nil, fmt.Errorf("wechat: %w", err)
	}
	sealed := q.Get("encrypt_type") == "aes"
	if !sealed || q.Has("signature") {
		// Safe mode sends signature too; when present it must hold.
		if err := CheckSignature(q.Get("signature"), s.Token, ts, nonce); err != nil {
			return nil, fmt.Errorf("wechat: %w", err)
		}
	}
	outer, err := ParseMessage(body)
	if err != nil {
		return nil, err
	}
	if !sealed {
		if outer.MsgType == "" && outer.Encrypt != "" {
			return nil, fmt.Errorf("wechat: %w: sealed body without encrypt_type=aes", channel.ErrMalformed)
		}
		return outer, nil
	}
	if crypto == nil {
		return nil, fmt.Errorf("wechat: %w: sealed message but no AESKey configured", channel.ErrConfig)
	}
	if outer.Encrypt == "" {
		return nil, fmt.Errorf("wechat: %w: encrypt_type=aes without <Encrypt>", channel.ErrMalformed)
	}
	if err := crypto.CheckMsgSignature(q.Get("msg_signature"), ts, nonce, outer.Encrypt); err != nil {
		return nil, fmt.Errorf("wechat: msg_signature: %w", err)
	}
	inner, err := crypto.Decrypt(outer.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("wechat: %w", err)
	}
	msg, err := ParseMessage(inner)
	if err != nil {
		return nil, err
	}
	msg.Encrypted = true
	msg.nonce = nonce
	return msg, nil
}

// Reply writes text as the passive reply to msg, sealed when msg was. The
// text must fit in MaxTextBytes (split first).
func (s *Server) Reply(w http.ResponseWriter, msg *Message, text string) error {
	if len(text) > MaxTextBytes {
		return fmt.Errorf("wechat: reply of %d bytes exceeds %d; split it", len(text), MaxTextBytes)
	}
	now := s.now().Unix()
	body := TextReply(msg.FromUserName, msg.ToUserName, now, text)
	if msg.Encrypted {
		crypto, err := s.init()
		if err != nil {
			return err
		}
		if crypto == nil {
			return fmt.Errorf("wechat: %w: sealed reply but no AESKey configured", channel.ErrConfig)
		}
		if body, err = crypto.SealReply(body, now, msg.nonce); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, err := w.Write(body)
	return err
}

// ReplySuccess writes "success": WeChat then stops retrying and shows the
// user nothing (the answer goes out later by the customer-service API or on
// the user's next message).
func ReplySuccess(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("success"))
	return err
}
