package wechat

import (
	"errors"
	"reflect"
	"testing"

	"zhiyan/channel"
)

func TestParseMessage(t *testing.T) {
	const head = `<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1348831860</CreateTime>`
	tests := []struct {
		name  string
		xml   string
		want  Message
		text  string
		dedup string
	}{
		{"text", head + `<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 <b>&]]></Content><MsgId>1234567890123456</MsgId></xml>`,
			Message{MsgType: TypeText, Content: "你好 <b>&", MsgID: "1234567890123456"}, "你好 <b>&", "msg:1234567890123456"},
		{"text escaped, no CDATA", head + `<MsgType>text</MsgType><Content>a &lt; b</Content><MsgId>9</MsgId></xml>`,
			Message{MsgType: TypeText, Content: "a < b", MsgID: "9"}, "a < b", "msg:9"},
		{"image", head + `<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>2</MsgId></xml>`,
			Message{MsgType: TypeImage, PicURL: "http://x/p.jpg", MediaID: "m1", MsgID: "2"}, "", "msg:2"},
		{"voice recognised", head + `<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[ 明天天气 ]]></Recognition><MsgId>3</MsgId></xml>`,
			Message{MsgType: TypeVoice, MediaID: "m2", Format: "amr", Recognition: " 明天天气 ", MsgID: "3"}, "明天天气", "msg:3"},
		{"voice without recognition", head + `<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m3]]></MediaId><Format><![CDATA[speex]]></Format><MsgId>4</MsgId></xml>`,
			Message{MsgType: TypeVoice, MediaID: "m3", Format: "speex", MsgID: "4"}, "", "msg:4"},
		{"subscribe", head + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_7]]></EventKey><Ticket><![CDATA[tk]]></Ticket></xml>`,
			Message{MsgType: TypeEvent, Event: EventSubscribe, EventKey: "qrscene_7", Ticket: "tk"}, "", "ev:oUser:1348831860"},
		{"unsubscribe", head + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>`,
			Message{MsgType: TypeEvent, Event: EventUnsubscribe}, "", "ev:oUser:1348831860"},
		{"SCAN", head + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[123]]></EventKey></xml>`,
			Message{MsgType: TypeEvent, Event: EventScan, EventKey: "123"}, "", "ev:oUser:1348831860"},
		{"CLICK", head + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[menu_help]]></EventKey></xml>`,
			Message{MsgType: TypeEvent, Event: EventClick, EventKey: "menu_help"}, "", "ev:oUser:1348831860"},
		{"VIEW", head + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[https://e.com/]]></EventKey></xml>`,
			Message{MsgType: TypeEvent, Event: EventView, EventKey: "https://e.com/"}, "", "ev:oUser:1348831860"},
		{"unknown type kept raw", head + `<MsgType><![CDATA[location]]></MsgType><Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><MsgId>5</MsgId></xml>`,
			Message{MsgType: TypeLocation, MsgID: "5"}, "", "msg:5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.ToUserName, want.FromUserName, want.CreateTime = "gh_abc", "oUser", 1348831860
			if string(m.Raw) != tt.xml {
				t.Errorf("Raw = %q", m.Raw)
			}
			m.Raw = nil
			if !reflect.DeepEqual(*m, want) {
				t.Errorf("ParseMessage = %+v\nwant %+v", *m, want)
			}
			if got := m.Text(); got != tt.text {
				t.Errorf("Text() = %q, want %q", got, tt.text)
			}
			if got := m.DedupeKey(); got != tt.dedup {
				t.Errorf("DedupeKey() = %q, want %q", got, tt.dedup)
			}
		})
	}
}

func TestParseMessageRejects(t *testing.T) {
	for _, in := range []string{
		``,
		`not xml`,
		`<xml><Content>unclosed`,
		`<root><MsgType>text</MsgType></root>`,
		`<xml><CreateTime>soon</CreateTime></xml>`,
		`<xml><CreateTime>99999999999999999999</CreateTime></xml>`,
		"<xml><Content>\xff\xfe</Content></xml>",
		`<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>`,
	} {
		if m, err := ParseMessage([]byte(in)); !errors.Is(err, channel.ErrMalformed) {
			t.Errorf("ParseMessage(%q) = %+v, %v; want ErrMalformed", in, m, err)
		}
	}
}

func TestIsEvent(t *testing.T) {
	m := &Message{MsgType: TypeEvent, Event: "scan"}
	if !m.IsEvent(EventScan) || m.IsEvent(EventClick) {
		t.Fatal("IsEvent does not compare the event case-insensitively")
	}
	if (&Message{MsgType: TypeText, Event: EventScan}).IsEvent(EventScan) {
		t.Fatal("IsEvent true for a text message")
	}
}
