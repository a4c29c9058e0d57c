package feishu

import "encoding/base64"

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func must64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
