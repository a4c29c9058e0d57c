package feishu

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"zhiyan/channel"
)

// vectors mirrors testdata/vectors.json: Feishu's documented decryption
// example and a self-computed signature; each names its source.
type vectors struct {
	Decrypt struct {
		Source, Encrypt, Plain string
		EncryptKey             string `json:"encrypt_key"`
		KeyHex                 string `json:"key_hex"`
		IVHex                  string `json:"iv_hex"`
	}
	Signature struct {
		Source, Timestamp, Nonce, Body, Signature string
		EncryptKey                                string `json:"encrypt_key"`
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

func TestVectors(t *testing.T) {
	v := loadVectors(t)
	got, err := Decrypt(v.Decrypt.EncryptKey, v.Decrypt.Encrypt)
	if err != nil || string(got) != v.Decrypt.Plain {
		t.Fatalf("Decrypt = %q, %v; want %q", got, err, v.Decrypt.Plain)
	}
	key := sha256.Sum256([]byte(v.Decrypt.EncryptKey))
	if hex.EncodeToString(key[:]) != v.Decrypt.KeyHex {
		t.Fatalf("key %x, want %s", key, v.Decrypt.KeyHex)
	}
	var iv [16]byte
	hex.Decode(iv[:], []byte(v.Decrypt.IVHex))
	// With the vector's IV our sealer reproduces the vector byte for byte.
	if enc := encrypt(v.Decrypt.EncryptKey, iv, []byte(v.Decrypt.Plain)); enc != v.Decrypt.Encrypt {
		t.Fatalf("encrypt = %s, want %s", enc, v.Decrypt.Encrypt)
	}
	s := v.Signature
	if got := Signature(s.Timestamp, s.Nonce, s.EncryptKey, []byte(s.Body)); got != s.Signature {
		t.Fatalf("Signature = %s, want %s", got, s.Signature)
	}
}

func TestDecryptRejects(t *testing.T) {
	v := loadVectors(t).Decrypt
	var iv [16]byte
	sealRaw := func(plain string) string { // plain already block-aligned
		enc := encrypt(v.EncryptKey, iv, []byte(plain))
		raw := must64(enc)
		return b64(raw[:len(raw)-16]) // drop the padding block encrypt added
	}
	tests := []struct {
		name, key, enc string
		want           error
	}{
		{"not base64", v.EncryptKey, "@@", channel.ErrMalformed},
		{"IV only", v.EncryptKey, b64(make([]byte, 16)), channel.ErrMalformed},
		{"not a block multiple", v.EncryptKey, b64(make([]byte, 40)), channel.ErrMalformed},
		{"pad byte 0", v.EncryptKey, sealRaw("0123456789abcde\x00"), channel.ErrPadding},
		{"pad byte 17", v.EncryptKey, sealRaw("0123456789abcde\x11"), channel.ErrPadding},
		{"pad bytes differ", v.EncryptKey, sealRaw("0123456789abc\x02\x03\x03"), channel.ErrPadding},
		{"wrong key", "other key", v.Encrypt, channel.ErrPadding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Decrypt(tt.key, tt.enc); !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
	if got, err := Decrypt(v.EncryptKey, sealRaw("0123456789abc\x03\x03\x03")); err != nil || string(got) != "0123456789abc" {
		t.Fatalf("well-padded control: %q, %v", got, err)
	}
}

const msgEvent = `{"schema":"2.0","header":{"event_id":"5e3702a84e847582be8db7fb73283c02","event_type":"im.message.receive_v1","create_time":"1608725989000","token":"vtok","app_id":"cli_9f5343c580712544","tenant_key":"2ca1d211f64f6438"},
"event":{"sender":{"sender_id":{"union_id":"on_8ed6aa67826108097d9ee143816345","user_id":"e33ggbyz","open_id":"ou_84aad35d084aa403a838cf73ee18467"},"sender_type":"user","tenant_key":"736588c9260f175e"},
"message":{"message_id":"om_5ce6d572455d361153b7cb51da133945","root_id":"","parent_id":"","create_time":"1609073151345","chat_id":"oc_5ce6d572455d361153b7xx51da133945","chat_type":"group","message_type":"text",
"content":"{\"text\":\"@_user_1 帮我写一首诗\\n关于 @_user_10 的\"}",
"mentions":[{"key":"@_user_1","id":{"open_id":"ou_bot"},"name":"智言","tenant_key":"t"},{"key":"@_user_10","id":{"open_id":"ou_li"},"name":"李雷","tenant_key":"t"}]}}}`

func TestMessageReceive(t *testing.T) {
	e, err := ParseEvent([]byte(msgEvent))
	if err != nil {
		t.Fatal(err)
	}
	if e.DedupeKey() != "5e3702a84e847582be8db7fb73283c02" || e.IsChallenge() {
		t.Fatalf("event %+v", e)
	}
	m, err := e.MessageReceive()
	if err != nil {
		t.Fatal(err)
	}
	if m.Sender.SenderID.OpenID != "ou_84aad35d084aa403a838cf73ee18467" || m.Message.MessageID != "om_5ce6d572455d361153b7cb51da133945" ||
		!m.Message.IsGroup() || len(m.Message.Mentions) != 2 {
		t.Fatalf("MessageReceive = %+v", m)
	}
	if text, err := m.Message.Text(); err != nil || text != "@_user_1 帮我写一首诗\n关于 @_user_10 的" {
		t.Fatalf("Text = %q, %v", text, err)
	}
	if text, err := m.Message.CleanText("ou_bot"); err != nil || text != "帮我写一首诗\n关于 @李雷 的" {
		t.Fatalf("CleanText = %q, %v", text, err)
	}
	if !m.Message.Mentioned("ou_bot") || m.Message.Mentioned("ou_other") || m.Message.Mentioned("") {
		t.Fatal("Mentioned wrong")
	}
	img := m.Message
	img.MessageType = "image"
	if _, err := img.Text(); !errors.Is(err, ErrNotText) {
		t.Fatalf("Text of an image = %v, want ErrNotText", err)
	}
	bad := m.Message
	bad.Content = "{"
	if _, err := bad.Text(); !errors.Is(err, channel.ErrMalformed) {
		t.Fatalf("Text of bad content = %v", err)
	}
	other := *e
	other.Header.EventType = "im.chat.member.bot.added_v1"
	if _, err := other.MessageReceive(); err == nil {
		t.Fatal("MessageReceive accepted another event type")
	}
}

const now = 1700000000

func signedRequest(key, body string, ts string, sign bool) *http.Request {
	r := httptest.NewRequest("POST", "/feishu", strings.NewReader(body))
	if sign {
		r.Header.Set(HeaderTimestamp, ts)
		r.Header.Set(HeaderNonce, "n0nce")
		r.Header.Set(HeaderSignature, Signature(ts, "n0nce", key, []byte(body)))
	}
	return r
}

func sealed(key, plain string) string {
	return `{"encrypt":"` + Encrypt(key, []byte(plain)) + `"}`
}

func TestParse(t *testing.T) {
	const key = "ek"
	challenge := `{"challenge":"ajls384kdjx98XX","token":"vtok","type":"url_verification"}`
	tests := []struct {
		name string
		s    Server
		req  *http.Request
		want error
		chal bool
	}{
		{"plain challenge", Server{VerificationToken: "vtok"}, signedRequest("", challenge, "", false), nil, true},
		{"plain challenge, wrong token", Server{VerificationToken: "other"}, signedRequest("", challenge, "", false), channel.ErrSignature, false},
		{"plain event", Server{VerificationToken: "vtok"}, signedRequest("", msgEvent, "", false), nil, false},
		{"plain event, wrong token", Server{VerificationToken: "x"}, signedRequest("", msgEvent, "", false), channel.ErrSignature, false},
		{"sealed challenge, unsigned", Server{VerificationToken: "vtok", EncryptKey: key}, signedRequest(key, sealed(key, challenge), "", false), nil, true},
		{"sealed event, signed", Server{VerificationToken: "vtok", EncryptKey: key}, signedRequest(key, sealed(key, msgEvent), "1700000000", true), nil, false},
		{"sealed event, no token configured", Server{EncryptKey: key}, signedRequest(key, sealed(key, msgEvent), "1700000000", true), nil, false},
		{"sealed event, unsigned", Server{EncryptKey: key}, signedRequest(key, sealed(key, msgEvent), "", false), channel.ErrSignature, false},
		{"sealed event, signed with another key", Server{EncryptKey: key}, signedRequest("other", sealed(key, msgEvent), "1700000000", true), channel.ErrSignature, false},
		{"sealed event, stale", Server{EncryptKey: key}, signedRequest(key, sealed(key, msgEvent), "1699999699", true), channel.ErrStale, false},
		{"sealed event, window widened", Server{EncryptKey: key, MaxSkew: time.Hour}, signedRequest(key, sealed(key, msgEvent), "1699999699", true), nil, false},
		{"sealed event, bad timestamp", Server{EncryptKey: key}, signedRequest(key, sealed(key, msgEvent), "soon", true), channel.ErrMalformed, false},
		{"sealed with another key", Server{EncryptKey: key}, signedRequest(key, sealed("other", msgEvent), "1700000000", true), channel.ErrPadding, false},
		{"plain body, key set", Server{EncryptKey: key}, signedRequest(key, msgEvent, "1700000000", true), channel.ErrMalformed, false},
		{"sealed body, no key", Server{VerificationToken: "vtok"}, signedRequest(key, sealed(key, msgEvent), "", false), channel.ErrConfig, false},
		{"no config", Server{}, signedRequest("", msgEvent, "", false), channel.ErrConfig, false},
		{"bad JSON", Server{VerificationToken: "vtok"}, signedRequest("", `{"schema":`, "", false), channel.ErrMalformed, false},
		{"no event_id", Server{VerificationToken: "vtok"}, signedRequest("", `{"schema":"2.0","header":{"token":"vtok"}}`, "", false), channel.ErrMalformed, false},
		{"too large", Server{VerificationToken: "vtok", MaxBodyBytes: 100}, signedRequest("", msgEvent, "", false), channel.ErrTooLarge, false},
		{"GET", Server{VerificationToken: "vtok"}, httptest.NewRequest("GET", "/feishu", nil), channel.ErrMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.Now = func() time.Time { return time.Unix(now, 0) }
			e, err := s.Parse(tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Parse = %+v, %v; want %v", e, err, tt.want)
			}
			if err != nil {
				return
			}
			if e.IsChallenge() != tt.chal {
				t.Fatalf("IsChallenge = %v", e.IsChallenge())
			}
			if tt.chal && e.Challenge != "ajls384kdjx98XX" {
				t.Fatalf("challenge %q", e.Challenge)
			}
			if !tt.chal {
				if _, err := e.MessageReceive(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// A signed body altered after signing is refused.
	body := sealed(key, msgEvent)
	r := signedRequest(key, body, "1700000000", true)
	r.Body = httptest.NewRequest("POST", "/", strings.NewReader(body+" ")).Body
	r.ContentLength = -1
	s := Server{EncryptKey: key, Now: func() time.Time { return time.Unix(now, 0) }}
	if _, err := s.Parse(r); !errors.Is(err, channel.ErrSignature) {
		t.Fatalf("altered body: %v, want ErrSignature", err)
	}
}

func TestWriteChallenge(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := WriteChallenge(rec, `a"b<`); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 || got["challenge"] != `a"b<` {
		t.Fatalf("WriteChallenge wrote %s", rec.Body)
	}
}
