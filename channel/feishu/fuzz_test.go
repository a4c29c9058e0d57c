package feishu

import "testing"

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{msgEvent, `{"challenge":"c","token":"t","type":"url_verification"}`,
		`{"schema":"2.0","header":{"event_type":"im.message.receive_v1"},"event":{"message":{"message_id":"m","message_type":"text","content":"{\"text\":\"@_user_1\"}","mentions":[{"key":"@_user_1"},{"key":""}]}}}`,
		`{"encrypt":"x"}`, `[]`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		_ = e.DedupeKey()
		m, err := e.MessageReceive()
		if err != nil {
			return
		}
		_, _ = m.Message.CleanText("ou_bot")
		_ = m.Message.Mentioned("ou_bot")
	})
}

func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f).Decrypt
	f.Add(v.Encrypt)
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, enc string) {
		plain, err := Decrypt(v.EncryptKey, enc)
		if err != nil {
			return
		}
		if back, err := Decrypt(v.EncryptKey, Encrypt(v.EncryptKey, plain)); err != nil || string(back) != string(plain) {
			t.Fatalf("round trip of %q = %q, %v", plain, back, err)
		}
	})
}
