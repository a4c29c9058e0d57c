package wecom

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

func FuzzParseXML(f *testing.F) {
	a, c := loadVectors(f)
	for _, s := range []string{a.Message.Plain, c.Message.Plain, "<xml><MsgType>event</MsgType></xml>", "<xml>", ""} {
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
	})
}

// FuzzVerify feeds arbitrary echostr values through a correctly signed URL
// verification: the decrypter must reject or open them, never panic.
func FuzzVerify(f *testing.F) {
	a, _ := loadVectors(f)
	f.Add(a.Verify.Echostr)
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==")
	s := server(a)
	s.Now = clock(a.Verify.Timestamp)
	f.Fuzz(func(t *testing.T, echo string) {
		q := url.Values{
			"msg_signature": {signature(a.Token, a.Verify.Timestamp, a.Verify.Nonce, echo)},
			"timestamp":     {a.Verify.Timestamp}, "nonce": {a.Verify.Nonce}, "echostr": {echo},
		}
		_, _ = s.Verify(httptest.NewRequest("GET", "/wecom?"+q.Encode(), nil))
	})
}
