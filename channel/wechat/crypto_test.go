package wechat

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"

	"zhiyan/channel"
)

func TestSignatureVectors(t *testing.T) {
	v := loadVectors(t)
	tests := []struct {
		name  string
		sig   string
		parts []string
		ok    bool
	}{
		{"B url", v.B.Message.Signature, []string{v.B.Token, v.B.Message.Timestamp, v.B.Message.Nonce}, true},
		{"B msg", v.B.Message.MsgSignature, []string{v.B.Token, v.B.Message.Timestamp, v.B.Message.Nonce, v.B.Message.Encrypt}, true},
		{"A msg", v.A.Message.MsgSignature, []string{v.A.Token, v.A.Message.Timestamp, v.A.Message.Nonce, v.A.Message.Encrypt}, true},
		{"A verify", v.A.Verify.MsgSignature, []string{v.A.Token, v.A.Verify.Timestamp, v.A.Verify.Nonce, v.A.Verify.Echostr}, true},
		{"C mp", v.CMP.Signature, []string{v.CMP.Token, v.CMP.Timestamp, v.CMP.Nonce}, true},
		{"C mp upper case", strings.ToUpper(v.CMP.Signature), []string{v.CMP.Token, v.CMP.Timestamp, v.CMP.Nonce}, true},
		{"C mp last digit off", v.CMP.BadSignature, []string{v.CMP.Token, v.CMP.Timestamp, v.CMP.Nonce}, false},
		{"C verify bad nonce", v.C.Verify.MsgSignature, []string{v.C.Token, v.C.Verify.Timestamp, v.C.Verify.BadNonce, v.C.Verify.Echostr}, false},
		{"empty", "", []string{v.CMP.Token, v.CMP.Timestamp, v.CMP.Nonce}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSignature(tt.sig, tt.parts...)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckSignature(%q, %q) = %v, want ok=%v", tt.sig, tt.parts, err, tt.ok)
			}
			if err != nil && !errors.Is(err, channel.ErrSignature) {
				t.Fatalf("error %v does not wrap ErrSignature", err)
			}
		})
	}
}

func TestDecryptVectors(t *testing.T) {
	v := loadVectors(t)
	for _, tt := range []struct {
		name string
		v    vector
		enc  string
		want string
	}{
		{"A message", v.A, v.A.Message.Encrypt, v.A.Message.Plain},
		{"A echostr", v.A, v.A.Verify.Echostr, v.A.Verify.Plain},
		{"B message", v.B, v.B.Message.Encrypt, v.B.Message.Plain},
		{"C message", v.C, v.C.Message.Encrypt, v.C.Message.Plain},
		{"C echostr", v.C, v.C.Verify.Echostr, v.C.Verify.Plain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCrypto(t, tt.v.Token, tt.v.AESKey, tt.v.ReceiveID)
			got, err := c.Decrypt(tt.enc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Decrypt = %q, want %q", got, tt.want)
			}
			// The same ciphertext under another receive ID is refused.
			other := mustCrypto(t, tt.v.Token, tt.v.AESKey, tt.v.ReceiveID+"x")
			if _, err := other.Decrypt(tt.enc); !errors.Is(err, channel.ErrReceiver) {
				t.Fatalf("Decrypt with the wrong receive ID: %v, want ErrReceiver", err)
			}
		})
	}
}

// Vector C's encrypt half: a fixed random prefix makes Encrypt deterministic.
func TestEncryptVector(t *testing.T) {
	v := loadVectors(t).C
	c := mustCrypto(t, v.Token, v.AESKey, v.ReceiveID)
	var random [16]byte
	copy(random[:], v.Encrypt.Random)
	if got := c.encrypt(random, []byte(v.Encrypt.Plain)); got != v.Encrypt.Encrypt {
		t.Fatalf("encrypt = %s\nwant %s", got, v.Encrypt.Encrypt)
	}
	ts, _ := strconv.ParseInt(v.Encrypt.Timestamp, 10, 64)
	env, err := ParseMessage(c.envelope(v.Encrypt.Encrypt, ts, v.Encrypt.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	if env.Encrypt != v.Encrypt.Encrypt {
		t.Fatalf("envelope Encrypt = %q", env.Encrypt)
	}
	if err := CheckSignature(v.Encrypt.MsgSignature, v.Token, v.Encrypt.Timestamp, v.Encrypt.Nonce, env.Encrypt); err != nil {
		t.Fatalf("the vector's MsgSignature does not sign our envelope: %v", err)
	}
	if !bytes.Contains(env.Raw, []byte("<MsgSignature><![CDATA["+v.Encrypt.MsgSignature+"]]></MsgSignature>")) ||
		!bytes.Contains(env.Raw, []byte("<TimeStamp>"+v.Encrypt.Timestamp+"</TimeStamp>")) ||
		!bytes.Contains(env.Raw, []byte("<Nonce><![CDATA["+v.Encrypt.Nonce+"]]></Nonce>")) {
		t.Fatalf("envelope %s lacks the vector's signature, timestamp or nonce", env.Raw)
	}
}

func TestNewCryptoKey(t *testing.T) {
	v := loadVectors(t)
	for _, vv := range []vector{v.A, v.B} {
		c := mustCrypto(t, vv.Token, vv.AESKey, vv.ReceiveID)
		key, _ := base64.StdEncoding.DecodeString(vv.AESKey + "=")
		if got := strings.ToLower(hexOf(key)); got != vv.KeyHex {
			t.Errorf("key of %s = %s, want %s", vv.AESKey, got, vv.KeyHex)
		}
		if !bytes.Equal(c.iv, key[:16]) {
			t.Errorf("IV = %x, want key[:16]", c.iv)
		}
	}
	bad := []struct{ token, key string }{
		{"", v.B.AESKey},
		{"t", v.B.AESKey[:42]},
		{"t", v.B.AESKey + "A"},
		{"t", "!" + v.B.AESKey[1:]},
	}
	for _, b := range bad {
		if _, err := NewCrypto(b.token, b.key, "id"); !errors.Is(err, channel.ErrConfig) {
			t.Errorf("NewCrypto(%q, %q) = %v, want ErrConfig", b.token, b.key, err)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

// sealRaw encrypts an arbitrary plaintext (already a multiple of 16 bytes)
// the way WXBizMsgCrypt would, so tests can forge bad layouts and padding.
func sealRaw(c *Crypto, plain []byte) string {
	buf := bytes.Clone(plain)
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}

// layout builds random||len||msg||id followed by the given padding bytes.
func layout(msgLen uint32, msg, id string, pad []byte) []byte {
	b := make([]byte, 16, 64)
	b = binary.BigEndian.AppendUint32(b, msgLen)
	b = append(b, msg...)
	b = append(b, id...)
	return append(b, pad...)
}

func TestDecryptRejects(t *testing.T) {
	v := loadVectors(t).B
	c := mustCrypto(t, v.Token, v.AESKey, v.ReceiveID)
	id := v.ReceiveID
	// 20 + 2 + 18 = 40 bytes of content: 24 bytes pad to 64.
	rep := func(p byte, n int) []byte { return bytes.Repeat([]byte{p}, n) }
	tests := []struct {
		name string
		enc  string
		want error
	}{
		{"not base64", "%%%", channel.ErrMalformed},
		{"empty", "", channel.ErrMalformed},
		{"not a block multiple", base64.StdEncoding.EncodeToString(make([]byte, 40)), channel.ErrMalformed},
		{"pad byte 0", sealRaw(c, layout(2, "hi", id, append(rep(24, 23), 0))), channel.ErrPadding},
		{"pad byte 33", sealRaw(c, layout(2, "hi", id, append(rep(24, 23), 33))), channel.ErrPadding},
		{"pad bytes differ", sealRaw(c, layout(2, "hi", id, append(rep(23, 23), 24))), channel.ErrPadding},
		{"pad byte larger than the buffer", sealRaw(c, bytes.Repeat([]byte{32}, 16)), channel.ErrPadding},
		{"shorter than the header", sealRaw(c, append(make([]byte, 17), rep(15, 15)...)), channel.ErrMalformed},
		{"length beyond the data", sealRaw(c, layout(200, "hi", id, rep(24, 24))), channel.ErrMalformed},
		{"length 2^32-1", sealRaw(c, layout(0xffffffff, "hi", id, rep(24, 24))), channel.ErrMalformed},
		{"receive ID of another app", sealRaw(c, layout(2, "hi", "wx0000000000000000", rep(24, 24))), channel.ErrReceiver},
		{"receive ID cut short", sealRaw(c, layout(3, "hi", id, rep(24, 24))), channel.ErrReceiver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decrypt(tt.enc)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
	// The same layout with correct padding opens: the cases above fail for
	// the stated reason only.
	if got, err := c.Decrypt(sealRaw(c, layout(2, "hi", id, rep(24, 24)))); err != nil || string(got) != "hi" {
		t.Fatalf("well-formed control: %q, %v", got, err)
	}
	// A 16-byte-aligned (not 32) buffer with pad 8 is still valid PKCS#7.
	if got, err := c.Decrypt(sealRaw(c, layout(2, "hi", id, rep(8, 8)))); err != nil || string(got) != "hi" {
		t.Fatalf("16-aligned control: %q, %v", got, err)
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	v := loadVectors(t).A
	c := mustCrypto(t, v.Token, v.AESKey, v.ReceiveID)
	for n := 0; n <= 100; n++ {
		msg := strings.Repeat("字", n/3) + strings.Repeat("a", n%3)
		enc, err := c.Encrypt([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(enc)
		if len(raw)%blockSize != 0 {
			t.Fatalf("len %d: ciphertext of %d bytes is not 32-aligned", n, len(raw))
		}
		got, err := c.Decrypt(enc)
		if err != nil || string(got) != msg {
			t.Fatalf("round trip of %q = %q, %v", msg, got, err)
		}
	}
	// Two seals of one message differ (fresh random prefix).
	a, _ := c.Encrypt([]byte("x"))
	b, _ := c.Encrypt([]byte("x"))
	if a == b {
		t.Fatal("two encryptions are identical: random prefix not used")
	}
}

// A 32-byte pad happens when the content is already aligned.
func TestFullBlockPad(t *testing.T) {
	c := mustCrypto(t, "t", loadVectors(t).B.AESKey, "") // WeCom AI bot: empty receive ID
	msg := strings.Repeat("m", 44)                       // 20 + 44 = 64
	enc := c.encrypt([16]byte{}, []byte(msg))
	raw, _ := base64.StdEncoding.DecodeString(enc)
	if len(raw) != 96 {
		t.Fatalf("ciphertext %d bytes, want 96 (a whole block of padding)", len(raw))
	}
	if got, err := c.Decrypt(enc); err != nil || string(got) != msg {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
}
