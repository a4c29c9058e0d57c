package wecom

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"zhiyan/channel"
	"zhiyan/channel/internal/httpx"
	"zhiyan/channel/wechat"
)

// Defaults of Server's limits.
const (
	DefaultMaxSkew      = 5 * time.Minute
	DefaultMaxBodyBytes = 64 << 10
)

// Server checks and decodes the callbacks of one WeCom self-built app. It
// holds no state beyond its fields; use it from any number of goroutines.
type Server struct {
	Token   string // the callback Token (required)
	AESKey  string // the 43-character EncodingAESKey (required)
	CorpID  string // the receive ID every message must carry (required)
	AgentID int64  // when non-zero, messages for other agents are refused

	// MaxSkew is how far the timestamp may be from Now; 0 means
	// DefaultMaxSkew and a negative value disables the check.
	MaxSkew time.Duration
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Check reports a configuration that cannot work.
func (s *Server) Check() error {
	_, err := s.init()
	return err
}

// init builds the Crypto; per request, since that costs microseconds.
func (s *Server) init() (*wechat.Crypto, error) {
	if s.CorpID == "" {
		return nil, fmt.Errorf("wecom: %w: empty CorpID", channel.ErrConfig)
	}
	c, err := wechat.NewCrypto(s.Token, s.AESKey, s.CorpID)
	if err != nil {
		return nil, fmt.Errorf("wecom: %w", err)
	}
	return c, nil
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// query holds the signed parameters of a callback.
type query struct{ sig, ts, nonce string }

// signed reads the query and checks its timestamp.
func (s *Server) signed(r *http.Request) (query, error) {
	v := r.URL.Query()
	q := query{v.Get("msg_signature"), v.Get("timestamp"), v.Get("nonce")}
	sec, err := strconv.ParseInt(q.ts, 10, 64)
	if err != nil {
		return q, fmt.Errorf("wecom: %w: timestamp %.32q", channel.ErrMalformed, q.ts)
	}
	skew := s.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if err := channel.CheckWindow(time.Unix(sec, 0), s.now(), skew); err != nil {
		return q, fmt.Errorf("wecom: %w", err)
	}
	return q, nil
}

// Verify handles the console's URL verification (GET msg_signature,
// timestamp, nonce, echostr): it checks the signature, decrypts echostr and
// returns the plaintext, to be written back as is (no quotes, BOM or
// newline) within one second.
func (s *Server) Verify(r *http.Request) (string, error) {
	c, err := s.init()
	if err != nil {
		return "", err
	}
	q, err := s.signed(r)
	if err != nil {
		return "", err
	}
	// Query decoding turns an unescaped '+' of the base64 into a space;
	// base64 has no spaces, so put the pluses back.
	echo := strings.ReplaceAll(r.URL.Query().Get("echostr"), " ", "+")
	if echo == "" {
		return "", fmt.Errorf("wecom: %w: no echostr", channel.ErrMalformed)
	}
	if err := c.CheckMsgSignature(q.sig, q.ts, q.nonce, echo); err != nil {
		return "", fmt.Errorf("wecom: URL verification: %w", err)
	}
	plain, err := c.Decrypt(echo)
	if err != nil {
		return "", fmt.Errorf("wecom: echostr: %w", err)
	}
	return string(plain), nil
}

// Parse checks and decodes one callback POST: signature over the sealed
// body, timestamp window, decryption, CorpID (and AgentID when set).
func (s *Server) Parse(r *http.Request) (*Message, error) {
	c, err := s.init()
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("wecom: %w: method %s", channel.ErrMalformed, r.Method)
	}
	q, err := s.signed(r)
	if err != nil {
		return nil, err
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := httpx.ReadBody(r, limit)
	if err != nil {
		return nil, fmt.Errorf("wecom: %w", err)
	}
	var env envelope
	if err := xmlUnmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("wecom: %w: XML: %v", channel.ErrMalformed, err)
	}
	if env.Encrypt == "" {
		return nil, fmt.Errorf("wecom: %w: no <Encrypt>", channel.ErrMalformed)
	}
	if err := c.CheckMsgSignature(q.sig, q.ts, q.nonce, env.Encrypt); err != nil {
		return nil, fmt.Errorf("wecom: %w", err)
	}
	inner, err := c.Decrypt(env.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("wecom: %w", err)
	}
	m, err := ParseMessage(inner)
	if err != nil {
		return nil, err
	}
	// Contact-change events carry no AgentID; everything else must be ours.
	if s.AgentID != 0 && m.AgentID != s.AgentID && (m.AgentID != 0 || m.MsgType != TypeEvent) {
		return nil, fmt.Errorf("wecom: %w: agent %d, want %d", channel.ErrReceiver, m.AgentID, s.AgentID)
	}
	return m, nil
}

// Reply writes text as a sealed passive reply to m. Usually the app
// answers empty (see ReplyEmpty) and sends through Client.SendText.
func (s *Server) Reply(w http.ResponseWriter, m *Message, text string) error {
	c, err := s.init()
	if err != nil {
		return err
	}
	if len(text) > MaxTextBytes {
		return fmt.Errorf("wecom: reply of %d bytes exceeds %d; split it", len(text), MaxTextBytes)
	}
	now := s.now().Unix()
	body, err := c.SealReply(wechat.TextReply(m.FromUserName, m.ToUserName, now, text), now, nonce())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, err = w.Write(body)
	return err
}

// ReplyEmpty answers 200 with an empty body: WeCom stops retrying and the
// answer goes out through the message-send API.
func ReplyEmpty(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
}

// nonce is a random decimal string, as WeCom's own nonces are.
func nonce() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
}
