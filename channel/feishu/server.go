package feishu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
	DefaultMaxBodyBytes = 256 << 10
)

// Header names of the signed callback.
const (
	HeaderTimestamp = "X-Lark-Request-Timestamp"
	HeaderNonce     = "X-Lark-Request-Nonce"
	HeaderSignature = "X-Lark-Signature"
)

// Server checks and decodes the event callbacks of one Feishu/Lark app. It
// holds no state beyond its fields; use it from any number of goroutines.
//
// With an EncryptKey, bodies are {"encrypt": …} and every event must carry a
// valid X-Lark-Signature (the challenge handshake carries none, as in
// Feishu's own SDK; it is authenticated by decrypting and by the token).
// Without one, the Verification Token in the body is the only check.
type Server struct {
	VerificationToken string // checked when set; required without EncryptKey
	EncryptKey        string // "" when the app does not encrypt events

	// MaxSkew is how far X-Lark-Request-Timestamp may be from Now; 0 means
	// DefaultMaxSkew and a negative value disables the check.
	MaxSkew time.Duration
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Parse checks and decodes one callback POST. For the handshake it returns
// an Event with IsChallenge true; answer with WriteChallenge.
func (s *Server) Parse(r *http.Request) (*Event, error) {
	if s.VerificationToken == "" && s.EncryptKey == "" {
		return nil, fmt.Errorf("feishu: %w: neither VerificationToken nor EncryptKey set", channel.ErrConfig)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("feishu: %w: method %s", channel.ErrMalformed, r.Method)
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := httpx.ReadBody(r, limit)
	if err != nil {
		return nil, fmt.Errorf("feishu: %w", err)
	}
	plain, signed := body, false
	if s.EncryptKey != "" {
		var sealed struct {
			Encrypt string `json:"encrypt"`
		}
		if err := json.Unmarshal(body, &sealed); err != nil {
			return nil, fmt.Errorf("feishu: %w: JSON: %v", channel.ErrMalformed, err)
		}
		if sealed.Encrypt == "" {
			return nil, fmt.Errorf("feishu: %w: EncryptKey set but the body is not encrypted", channel.ErrMalformed)
		}
		if sig := r.Header.Get(HeaderSignature); sig != "" {
			if err := s.checkSignature(r.Header, sig, body); err != nil {
				return nil, err
			}
			signed = true
		}
		if plain, err = Decrypt(s.EncryptKey, sealed.Encrypt); err != nil {
			return nil, err
		}
	}
	e, err := ParseEvent(plain)
	if err != nil {
		return nil, err
	}
	if e.Encrypt != "" {
		return nil, fmt.Errorf("feishu: %w: encrypted event but no EncryptKey", channel.ErrConfig)
	}
	if s.EncryptKey != "" && !signed && !e.IsChallenge() {
		return nil, fmt.Errorf("feishu: %w: no %s", channel.ErrSignature, HeaderSignature)
	}
	if s.VerificationToken != "" &&
		subtle.ConstantTimeCompare([]byte(e.token()), []byte(s.VerificationToken)) != 1 {
		return nil, fmt.Errorf("feishu: %w: verification token does not match", channel.ErrSignature)
	}
	if !e.IsChallenge() && e.Schema == "2.0" && e.Header.EventID == "" {
		return nil, fmt.Errorf("feishu: %w: event without event_id", channel.ErrMalformed)
	}
	return e, nil
}

// checkSignature verifies the signature headers over the raw body, and the
// timestamp against the window.
func (s *Server) checkSignature(h http.Header, sig string, body []byte) error {
	ts := h.Get(HeaderTimestamp)
	want := Signature(ts, h.Get(HeaderNonce), s.EncryptKey, body)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return fmt.Errorf("feishu: %w: %s does not match", channel.ErrSignature, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("feishu: %w: %s %.32q", channel.ErrMalformed, HeaderTimestamp, ts)
	}
	skew := s.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if err := channel.CheckWindow(time.Unix(sec, 0), s.now(), skew); err != nil {
		return fmt.Errorf("feishu: %w", err)
	}
	return nil
}

// Signature is X-Lark-Signature: hex(sha256(timestamp + nonce + encryptKey + body)).
func Signature(timestamp, nonce, encryptKey string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(timestamp + nonce + encryptKey))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Decrypt opens an "encrypt" field: AES-256-CBC with key sha256(encryptKey),
// the IV in the first 16 bytes of the ciphertext, PKCS#7 padding (16).
func Decrypt(encryptKey, encrypted string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("feishu: %w: encrypt is not base64: %v", channel.ErrMalformed, err)
	}
	if len(raw) < 2*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("feishu: %w: ciphertext of %d bytes", channel.ErrMalformed, len(raw))
	}
	key := sha256.Sum256([]byte(encryptKey))
	block, _ := aes.NewCipher(key[:]) // 32 bytes: cannot fail
	plain := make([]byte, len(raw)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, raw[:aes.BlockSize]).CryptBlocks(plain, raw[aes.BlockSize:])
	p := int(plain[len(plain)-1])
	if p < 1 || p > aes.BlockSize {
		return nil, fmt.Errorf("feishu: %w: pad byte %d", channel.ErrPadding, p)
	}
	for _, x := range plain[len(plain)-p:] {
		if int(x) != p {
			return nil, fmt.Errorf("feishu: %w: pad bytes differ from %d", channel.ErrPadding, p)
		}
	}
	return plain[:len(plain)-p], nil
}

// Encrypt seals plain as Feishu does, with a random IV: for simulators.
func Encrypt(encryptKey string, plain []byte) string {
	var iv [16]byte
	rand.Read(iv[:])
	return encrypt(encryptKey, iv, plain)
}

func encrypt(encryptKey string, iv [16]byte, plain []byte) string {
	key := sha256.Sum256([]byte(encryptKey))
	block, _ := aes.NewCipher(key[:])
	p := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(iv[:], plain...)
	for range p {
		buf = append(buf, byte(p))
	}
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(buf[aes.BlockSize:], buf[aes.BlockSize:])
	return base64.StdEncoding.EncodeToString(buf)
}

// WriteChallenge answers the URL-verification handshake: {"challenge": …}.
func WriteChallenge(w http.ResponseWriter, challenge string) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return json.NewEncoder(w).Encode(struct {
		Challenge string `json:"challenge"`
	}{challenge})
}
