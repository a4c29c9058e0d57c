package wechat

import (
	"encoding/xml"
	"fmt"
	"strconv"

	"zhiyan/channel"
)

// MaxTextBytes is the most a text message may carry, in UTF-8 bytes; split
// longer answers with channel.Split(text, MaxTextBytes, ContinueHint).
const MaxTextBytes = 2048

// ContinueHint ends every part of a split answer but the last.
const ContinueHint = "\n【未完待续，回复任意文字以继续】"

// SplitText cuts an answer into messages of at most MaxTextBytes, each but
// the last ending with ContinueHint.
func SplitText(text string) []string {
	return channel.Split(text, MaxTextBytes, ContinueHint)
}

// cdata marshals as <![CDATA[…]]>; encoding/xml splits any "]]>" inside.
type cdata struct {
	Text string `xml:",cdata"`
}

type textReply struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata
	FromUserName cdata
	CreateTime   int64
	MsgType      cdata
	Content      cdata
}

// TextReply is the passive reply XML carrying text from the account (from)
// to the user (to).
func TextReply(to, from string, createTime int64, text string) []byte {
	b, err := xml.Marshal(textReply{
		ToUserName:   cdata{to},
		FromUserName: cdata{from},
		CreateTime:   createTime,
		MsgType:      cdata{TypeText},
		Content:      cdata{text},
	})
	if err != nil {
		panic(fmt.Sprintf("wechat: marshal text reply: %v", err)) // fixed shape: cannot fail
	}
	return b
}

type sealedReply struct {
	XMLName      xml.Name `xml:"xml"`
	Encrypt      cdata
	MsgSignature cdata
	TimeStamp    int64
	Nonce        cdata
}

// SealReply encrypts a reply document for safe mode and wraps it in the
// <Encrypt/MsgSignature/TimeStamp/Nonce> envelope.
func (c *Crypto) SealReply(reply []byte, timestamp int64, nonce string) ([]byte, error) {
	enc, err := c.Encrypt(reply)
	if err != nil {
		return nil, err
	}
	return c.envelope(enc, timestamp, nonce), nil
}

func (c *Crypto) envelope(enc string, timestamp int64, nonce string) []byte {
	sig := Signature(c.token, strconv.FormatInt(timestamp, 10), nonce, enc)
	b, err := xml.Marshal(sealedReply{
		Encrypt:      cdata{enc},
		MsgSignature: cdata{sig},
		TimeStamp:    timestamp,
		Nonce:        cdata{nonce},
	})
	if err != nil {
		panic(fmt.Sprintf("wechat: marshal sealed reply: %v", err))
	}
	return b
}
