package wechat

import (
	"encoding/xml"
	"fmt"
	"strings"

	"zhiyan/channel"
)

// Message types and events of the Official Account callback.
const (
	TypeText     = "text"
	TypeImage    = "image"
	TypeVoice    = "voice"
	TypeVideo    = "video"
	TypeLocation = "location"
	TypeLink     = "link"
	TypeEvent    = "event"

	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
	EventScan        = "SCAN"
	EventClick       = "CLICK"
	EventView        = "VIEW"
)

// Message is one decoded callback. Fields a type does not use stay empty;
// types this package does not model keep their whole XML in Raw.
type Message struct {
	ToUserName   string `xml:"ToUserName"`   // the account's original ID, gh_…
	FromUserName string `xml:"FromUserName"` // the user's OpenID
	CreateTime   int64  `xml:"CreateTime"`   // Unix seconds
	MsgType      string `xml:"MsgType"`
	MsgID        string `xml:"MsgId"` // 64-bit id as text; empty for events

	Content string `xml:"Content"` // text

	PicURL  string `xml:"PicUrl"`  // image
	MediaID string `xml:"MediaId"` // image, voice, video

	Format      string `xml:"Format"`      // voice: amr or speex
	Recognition string `xml:"Recognition"` // voice: WeChat's ASR text, if enabled

	Event    string `xml:"Event"`    // event
	EventKey string `xml:"EventKey"` // event: qrscene_…, menu key, URL
	Ticket   string `xml:"Ticket"`   // event: QR code ticket

	// Encrypt is the sealed message of safe and compatible modes, present
	// only in the outer envelope.
	Encrypt string `xml:"Encrypt"`

	// Raw is the XML this message was decoded from (the inner XML in safe
	// mode).
	Raw []byte `xml:"-"`
	// Encrypted reports that the message arrived sealed, so that the reply
	// must be sealed too.
	Encrypted bool `xml:"-"`

	nonce string // the request's nonce, reused for the sealed reply
}

// ParseMessage decodes one callback XML document whose root is <xml>.
func ParseMessage(data []byte) (*Message, error) {
	var m struct {
		XMLName xml.Name `xml:"xml"`
		Message
	}
	if err := xml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("wechat: %w: XML: %v", channel.ErrMalformed, err)
	}
	msg := m.Message
	msg.Raw = data
	return &msg, nil
}

// DedupeKey identifies a delivery across WeChat's retries: MsgId for
// messages, FromUserName + CreateTime for events (which have no MsgId).
func (m *Message) DedupeKey() string {
	if m.MsgID != "" {
		return "msg:" + m.MsgID
	}
	return fmt.Sprintf("ev:%s:%d", m.FromUserName, m.CreateTime)
}

// Text is what the user said: the content of a text message, or WeChat's
// recognition of a voice message ("" when recognition is off, so the
// caller can say it cannot hear voice yet).
func (m *Message) Text() string {
	switch m.MsgType {
	case TypeText:
		return m.Content
	case TypeVoice:
		return strings.TrimSpace(m.Recognition)
	}
	return ""
}

// IsEvent reports whether m is the given event (case-insensitive, since
// WeChat spells some events in capitals).
func (m *Message) IsEvent(event string) bool {
	return m.MsgType == TypeEvent && strings.EqualFold(m.Event, event)
}
