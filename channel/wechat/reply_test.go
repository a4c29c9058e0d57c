package wechat

import (
	"strconv"
	"strings"
	"testing"
)

func TestTextReply(t *testing.T) {
	for _, text := range []string{"", "你好", "a]]>b", "<tag> & \"q\"", "line\nbreak"} {
		b := TextReply("oUser", "gh_abc", 1700000000, text)
		m, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("TextReply(%q) = %s: %v", text, b, err)
		}
		if m.ToUserName != "oUser" || m.FromUserName != "gh_abc" || m.CreateTime != 1700000000 ||
			m.MsgType != TypeText || m.Content != text {
			t.Fatalf("TextReply(%q) decodes to %+v", text, m)
		}
	}
	const want = `<xml><ToUserName><![CDATA[o]]></ToUserName><FromUserName><![CDATA[g]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>`
	if got := string(TextReply("o", "g", 1, "hi")); got != want {
		t.Fatalf("TextReply = %s\nwant %s", got, want)
	}
}

func TestSealReply(t *testing.T) {
	v := loadVectors(t).B
	c := mustCrypto(t, v.Token, v.AESKey, v.ReceiveID)
	reply := TextReply("oUser", "gh_abc", 1700000000, "答案")
	env, err := c.SealReply(reply, 1700000000, "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Encrypt, MsgSignature, Nonce string
		TimeStamp                    int64
	}
	if err := xmlUnmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	if e.TimeStamp != 1700000000 || e.Nonce != "n0nce" {
		t.Fatalf("envelope timestamp %d nonce %q", e.TimeStamp, e.Nonce)
	}
	if err := c.CheckMsgSignature(e.MsgSignature, strconv.FormatInt(e.TimeStamp, 10), e.Nonce, e.Encrypt); err != nil {
		t.Fatal(err)
	}
	got, err := c.Decrypt(e.Encrypt)
	if err != nil || string(got) != string(reply) {
		t.Fatalf("sealed reply opens to %q, %v", got, err)
	}
}

func TestSplitText(t *testing.T) {
	long := strings.Repeat("这是一个很长的回答。", 300) // 9000 bytes
	parts := SplitText(long)
	if len(parts) != 5 {
		t.Fatalf("%d parts, want 5", len(parts))
	}
	var back string
	for i, p := range parts {
		if len(p) > MaxTextBytes {
			t.Fatalf("part %d: %d bytes", i, len(p))
		}
		if i < len(parts)-1 {
			var ok bool
			if p, ok = strings.CutSuffix(p, ContinueHint); !ok {
				t.Fatalf("part %d lacks the hint", i)
			}
		}
		back += p
	}
	if back != long {
		t.Fatal("parts do not rebuild the answer")
	}
	if got := SplitText("短"); len(got) != 1 || got[0] != "短" {
		t.Fatalf("SplitText(short) = %q", got)
	}
}
