// Package wecom speaks the WeCom (企业微信) self-built app callback protocol —
// sealed callbacks, URL verification with an encrypted echostr, message XML —
// and its message-send API. The crypto is WXBizMsgCrypt from package wechat,
// with the CorpID as receive ID. It knows nothing of models or conversations.
package wecom

import (
	"encoding/xml"
	"fmt"
	"strings"

	"zhiyan/channel"
)

// Message types and events of the WeCom app callback.
const (
	TypeText  = "text"
	TypeImage = "image"
	TypeVoice = "voice"
	TypeVideo = "video"
	TypeEvent = "event"

	EventSubscribe      = "subscribe"
	EventEnterAgent     = "enter_agent"
	EventClick          = "click"
	EventUnsubscribe    = "unsubscribe"
	EventChangeExternal = "change_external_contact"
)

// MaxTextBytes is the most a text message may carry, in UTF-8 bytes.
const MaxTextBytes = 2048

// Message is one decoded callback. Fields a type does not use stay empty;
// the whole decrypted XML is kept in Raw.
type Message struct {
	ToUserName   string `xml:"ToUserName"`   // the CorpID
	FromUserName string `xml:"FromUserName"` // the member's UserID
	CreateTime   int64  `xml:"CreateTime"`
	MsgType      string `xml:"MsgType"`
	MsgID        string `xml:"MsgId"` // empty for events
	AgentID      int64  `xml:"AgentID"`

	Content string `xml:"Content"` // text

	PicURL       string `xml:"PicUrl"`       // image
	MediaID      string `xml:"MediaId"`      // image, voice, video
	Format       string `xml:"Format"`       // voice: amr
	ThumbMediaID string `xml:"ThumbMediaId"` // video

	Event    string `xml:"Event"`
	EventKey string `xml:"EventKey"`

	Raw []byte `xml:"-"`
}

// ParseMessage decodes one decrypted callback document (root <xml>).
func ParseMessage(data []byte) (*Message, error) {
	var m struct {
		XMLName xml.Name `xml:"xml"`
		Message
	}
	if err := xml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("wecom: %w: XML: %v", channel.ErrMalformed, err)
	}
	msg := m.Message
	msg.Raw = data
	return &msg, nil
}

// DedupeKey identifies a delivery across WeCom's retries: MsgId, or
// FromUserName + CreateTime + Event for events.
func (m *Message) DedupeKey() string {
	if m.MsgID != "" {
		return "msg:" + m.MsgID
	}
	return fmt.Sprintf("ev:%s:%d:%s", m.FromUserName, m.CreateTime, m.Event)
}

// Text is the content of a text message, trimmed; "" for other types.
func (m *Message) Text() string {
	if m.MsgType == TypeText {
		return strings.TrimSpace(m.Content)
	}
	return ""
}

// envelope is the outer callback document.
type envelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName string   `xml:"ToUserName"`
	AgentID    string   `xml:"AgentID"`
	Encrypt    string   `xml:"Encrypt"`
}

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }
