package wechat

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"testing"
)

// vectors mirrors testdata/vectors.json: official WXBizMsgCrypt samples
// (Vectors A, B) and wechatpy's tests (Vector C); each entry names its source.
type vectors struct {
	A, B, C vector
	CMP     struct {
		Source, Token, Timestamp, Nonce, Signature, BadSignature string
	} `json:"C_mp"`
}

type vector struct {
	Source    string
	Token     string
	AESKey    string `json:"aes_key"`
	ReceiveID string `json:"receive_id"`
	KeyHex    string `json:"key_hex"`
	Verify    struct {
		Timestamp, Nonce, Echostr, Plain string
		MsgSignature                     string `json:"msg_signature"`
		BadNonce                         string `json:"bad_nonce"`
	}
	Message struct {
		Timestamp, Nonce, Signature, Encrypt, Plain string
		MsgSignature                                string `json:"msg_signature"`
	}
	Encrypt struct {
		Random, Timestamp, Nonce, Plain, Encrypt string
		MsgSignature                             string `json:"msg_signature"`
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

func mustCrypto(t testing.TB, token, key, id string) *Crypto {
	t.Helper()
	c, err := NewCrypto(token, key, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }
