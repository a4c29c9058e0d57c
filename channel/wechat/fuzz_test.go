package wechat

import (
	"bytes"
	"testing"
)

func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f)
	for _, s := range []string{v.B.Message.Encrypt, v.A.Message.Encrypt, "", "AAAA", "%%", "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="} {
		f.Add(s)
	}
	c := mustCrypto(f, v.B.Token, v.B.AESKey, v.B.ReceiveID)
	f.Fuzz(func(t *testing.T, enc string) {
		msg, err := c.Decrypt(enc)
		if err != nil {
			return
		}
		// Whatever opens must survive a round trip.
		again, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Decrypt(again)
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("round trip of %q = %q, %v", msg, back, err)
		}
	})
}

func FuzzParseXML(f *testing.F) {
	v := loadVectors(f)
	for _, s := range []string{v.A.Message.Plain, v.B.Message.Plain, v.C.Message.Plain, plainText,
		`<xml><MsgType>event</MsgType><Event>subscribe</Event></xml>`, `<xml><Encrypt><![CDATA[x]]></Encrypt></xml>`, `<xml>`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		if m.DedupeKey() == "" {
			t.Fatal("empty dedupe key")
		}
		_ = m.Text()
		// A text reply built from any parsed message parses back.
		r, err := ParseMessage(TextReply(m.FromUserName, m.ToUserName, m.CreateTime, m.Content))
		if err != nil {
			t.Fatalf("reply to %q does not parse: %v", data, err)
		}
		if r.Content != m.Content {
			t.Fatalf("reply content %q, want %q", r.Content, m.Content)
		}
	})
}
