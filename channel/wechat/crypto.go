package wechat

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"zhiyan/channel"
)

// blockSize is WXBizMsgCrypt's PKCS#7 block: 32 bytes, not AES's 16.
const blockSize = 32

// Crypto is Tencent's WXBizMsgCrypt scheme, shared by Official Accounts
// (receiveID = AppID) and WeCom (receiveID = CorpID; "" for the AI bot):
// AES-256-CBC with IV = key[:16] over
//
//	random(16) || uint32_be(len(msg)) || msg || receiveID
//
// padded with PKCS#7 to 32-byte blocks, then base64. It is safe for
// concurrent use.
type Crypto struct {
	token     string
	receiveID string
	block     cipher.Block
	iv        []byte
	rand      io.Reader // random prefixes; tests fix it
}

// NewCrypto checks and decodes the 43-character EncodingAESKey.
func NewCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", channel.ErrConfig)
	}
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("%w: EncodingAESKey has %d characters, want 43", channel.ErrConfig, len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, fmt.Errorf("%w: EncodingAESKey: %v", channel.ErrConfig, err)
	}
	block, err := aes.NewCipher(key) // 32 bytes: AES-256
	if err != nil {
		return nil, fmt.Errorf("%w: %v", channel.ErrConfig, err)
	}
	return &Crypto{token: token, receiveID: receiveID, block: block, iv: key[:16], rand: rand.Reader}, nil
}

// ReceiveID is the AppID or CorpID the messages must carry.
func (c *Crypto) ReceiveID() string { return c.receiveID }

// Signature is hex(sha1(the strings sorted and concatenated)): the URL
// signature over (token, timestamp, nonce) and the msg_signature over
// (token, timestamp, nonce, Encrypt).
func Signature(parts ...string) string {
	s := slices.Clone(parts)
	slices.Sort(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

// CheckSignature compares sig with Signature(parts...) in constant time,
// returning an error wrapping channel.ErrSignature on a mismatch.
func CheckSignature(sig string, parts ...string) error {
	want := Signature(parts...)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
		return fmt.Errorf("%w: sha1 signature does not match", channel.ErrSignature)
	}
	return nil
}

// CheckMsgSignature verifies msg_signature over (token, timestamp, nonce,
// encrypted).
func (c *Crypto) CheckMsgSignature(msgSignature, timestamp, nonce, encrypted string) error {
	return CheckSignature(msgSignature, c.token, timestamp, nonce, encrypted)
}

// Decrypt opens one base64 Encrypt field and returns msg, after checking the
// padding and that the trailing receive ID is this Crypto's.
func (c *Crypto) Decrypt(encrypted string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("%w: Encrypt is not base64: %v", channel.ErrMalformed, err)
	}
	if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is not a multiple of %d", channel.ErrMalformed, len(raw), aes.BlockSize)
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(plain, raw)
	plain, err = unpad(plain)
	if err != nil {
		return nil, err
	}
	if len(plain) < 20 {
		return nil, fmt.Errorf("%w: plaintext of %d bytes is shorter than its 20-byte header", channel.ErrMalformed, len(plain))
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, fmt.Errorf("%w: message length %d exceeds the %d bytes present", channel.ErrMalformed, n, len(plain)-20)
	}
	msg, id := plain[20:20+n], plain[20+n:]
	if string(id) != c.receiveID {
		return nil, fmt.Errorf("%w: receive ID %.64q, want %q", channel.ErrReceiver, id, c.receiveID)
	}
	return msg, nil
}

// Encrypt seals msg with a fresh random prefix and returns the base64 text.
func (c *Crypto) Encrypt(msg []byte) (string, error) {
	var random [16]byte
	if _, err := io.ReadFull(c.rand, random[:]); err != nil {
		return "", fmt.Errorf("wechat: random prefix: %w", err)
	}
	return c.encrypt(random, msg), nil
}

func (c *Crypto) encrypt(random [16]byte, msg []byte) string {
	n := 20 + len(msg) + len(c.receiveID)
	pad := blockSize - n%blockSize // 1..32
	buf := make([]byte, 0, n+pad)
	buf = append(buf, random[:]...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(msg)))
	buf = append(buf, msg...)
	buf = append(buf, c.receiveID...)
	for range pad {
		buf = append(buf, byte(pad))
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}

// unpad strips PKCS#7 padding of a 32-byte block: the last byte p must be
// 1..32 and the last p bytes must all equal p. The padding is only checked
// after the CBC layer, which is not authenticated, so there is no oracle to
// protect beyond the signature checked before decrypting.
func unpad(b []byte) ([]byte, error) {
	p := int(b[len(b)-1])
	if p < 1 || p > blockSize || p > len(b) {
		return nil, fmt.Errorf("%w: pad byte %d", channel.ErrPadding, p)
	}
	for _, x := range b[len(b)-p:] {
		if int(x) != p {
			return nil, fmt.Errorf("%w: pad bytes differ from %d", channel.ErrPadding, p)
		}
	}
	return b[:len(b)-p], nil
}
