package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
)

func TestCompose(t *testing.T) {
	a1 := outItem{Asst: 1, Question: "第一个问题", Text: "答案一"}
	a2 := outItem{Asst: 2, Question: "第二个问题", Text: "答案二"}
	label := "【「第一个问题」的回答】\n"
	tests := []struct {
		name      string
		items     []outItem
		own       int64
		notice    string
		max       int
		want      string
		wantRest  string
		wantItems int
	}{
		{"own answer", []outItem{a2}, 2, "", 2048, "答案二", "", 0},
		{"earlier answer first, labelled", []outItem{a1, a2}, 2, "", 2048, label + "答案一\n\n答案二", "", 0},
		{"fetch labels everything", []outItem{a1}, 0, "", 2048, label + "答案一", "", 0},
		{"late own answer labelled", []outItem{{Asst: 2, Question: "第二个问题", Text: "答案二", Late: true}}, 2, "", 2048, "【「第二个问题」的回答】\n答案二", "", 0},
		{"notice alone", nil, 3, "稍等", 2048, "稍等", "", 0},
		{"notice after answers", []outItem{a1}, 3, "稍等", 2048, label + "答案一\n\n稍等", "", 0},
		{"nothing", nil, 3, "", 2048, "", "", 0},
		{"split", []outItem{{Asst: 5, Text: strings.Repeat("字", 30)}}, 5, "稍等", 40, strings.Repeat("字", 12) + "…", strings.Repeat("字", 18), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest := compose(tt.items, tt.own, tt.notice, tt.max, "…")
			if got != tt.want || len(rest) != tt.wantItems || (len(rest) > 0 && rest[0].Text != tt.wantRest) {
				t.Errorf("compose = %q, %+v; want %q, rest %q", got, rest, tt.want, tt.wantRest)
			}
			if len(got) > tt.max {
				t.Errorf("reply of %d bytes exceeds %d", len(got), tt.max)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	msg := func(id int64, role, content, status string) db.Message {
		return db.Message{ID: id, Role: role, Content: content, Status: status}
	}
	conv := []db.Message{
		msg(1, "user", "问一", "complete"),
		msg(2, "assistant", "答一", "complete"),
		msg(3, "user", "问二", "complete"),
		msg(4, "assistant", "", "interrupted"),
		msg(5, "user", "问三", "complete"),
		msg(6, "assistant", "答三", "complete"),
		msg(7, "user", "问四", "complete"),
		msg(8, "assistant", "", "streaming"),
		msg(9, "user", "later", "complete"),
	}
	render := func(ms []chat.Message) string {
		var parts []string
		for _, m := range ms {
			parts = append(parts, m.Role[:1]+":"+m.Content)
		}
		return strings.Join(parts, " ")
	}
	tests := []struct {
		name   string
		asst   int64
		system string
		mc     MemoryConfig
		want   string
	}{
		{"all, failed answers left out", 8, "", MemoryConfig{Turns: 10, MaxChars: 1000}, "u:问一 a:答一 u:问二 u:问三 a:答三 u:问四"},
		{"system first", 2, "你是助手", MemoryConfig{Turns: 10, MaxChars: 1000}, "s:你是助手 u:问一"},
		{"two turns", 8, "", MemoryConfig{Turns: 2, MaxChars: 1000}, "u:问三 a:答三 u:问四"},
		{"chars bound, starting with the user", 8, "", MemoryConfig{Turns: 10, MaxChars: 6}, "u:问三 a:答三 u:问四"},
		{"the question always stays", 8, "", MemoryConfig{Turns: 1, MaxChars: 1}, "u:问四"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(history(conv, tt.asst, tt.system, tt.mc)); got != tt.want {
				t.Errorf("history = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, time.Minute)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		user int64
		at   time.Duration
		want bool
	}{
		{1, 0, true}, {1, time.Second, true}, {1, 2 * time.Second, false}, // third within a minute
		{2, 2 * time.Second, true}, // per user
		{1, 61 * time.Second, true}, {1, 62 * time.Second, true}, {1, 63 * time.Second, false}, {1, 122 * time.Second, true},
	}
	for i, s := range steps {
		if got := l.allow(s.user, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: allow(%d, +%v) = %v, want %v", i, s.user, s.at, got, s.want)
		}
	}
	if !newLimiter(0, time.Minute).allow(1, t0) {
		t.Error("limit 0 must not limit")
	}
}

func TestCommands(t *testing.T) {
	d, _ := openDB(t)
	if _, err := d.SavePreset(context.Background(), db.Preset{Category: "writing", Name: "写作助手", Prompt: "你擅长写作。"}); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{DB: d, Gen: stubGen(func(string) (string, error) { return "", nil }), Model: "m1",
		Scenarios: []Scenario{{Name: "Translator", Prompt: "Translate."}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u := &user{st: userState{Conv: "c1"}}
	tests := []struct {
		text, want, scenario, system string
		cleared                      bool
	}{
		{"帮助", "#清除记忆", "", "", false},
		{" /help ", "#场景", "", "", false},
		{"#模型", "m1", "", "", false},
		{"#场景", "Translator、写作助手", "", "", false},
		{"#场景：写作助手", "已切换到场景「写作助手」", "写作助手", "你擅长写作。", true},
		{"#场景 translator", "Translator", "Translator", "Translate.", true},
		{"#场景 没有的", "没有名为「没有的」的场景", "Translator", "Translate.", false},
		{"#场景 默认", "已取消场景", "", "", true},
		{"#人设 你是一只猫: 喵", "人设已设置", "自定义", "你是一只猫: 喵", true},
		{"#清除记忆", "忘掉", "自定义", "你是一只猫: 喵", true},
	}
	for _, tt := range tests {
		u.st.Conv = "c1"
		reply, ok, err := b.command(context.Background(), u, tt.text)
		if err != nil || !ok || !strings.Contains(reply, tt.want) {
			t.Errorf("%q: %q, %v, %v; want it to contain %q", tt.text, reply, ok, err, tt.want)
		}
		if u.st.Scenario != tt.scenario || u.st.System != tt.system || (u.st.Conv == "") != tt.cleared {
			t.Errorf("%q: state %+v", tt.text, u.st)
		}
	}
	for _, text := range []string{"你好", "帮助我写信", "#场景翻译"} {
		if _, ok, _ := b.command(context.Background(), u, text); ok {
			t.Errorf("%q taken as a command", text)
		}
	}
}

func TestIsContinue(t *testing.T) {
	for text, want := range map[string]bool{"继续": true, " C ": true, "？": true, "继续写": false, "": false} {
		if got := isContinue(text); got != want {
			t.Errorf("isContinue(%q) = %v", text, got)
		}
	}
}

func TestNewAndRoutes(t *testing.T) {
	d, _ := openDB(t)
	gen := stubGen(func(string) (string, error) { return "", nil })
	if _, err := New(Config{Gen: gen}); err == nil {
		t.Error("New without DB succeeded")
	}
	if _, err := New(Config{DB: d, Gen: gen, WeChat: &WeChatConfig{AESKey: wxAESKey}}); err == nil {
		t.Error("New with a WeChat channel without token succeeded")
	}
	b, err := New(Config{DB: d, Gen: gen, DingTalk: &DingTalkConfig{AppSecret: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for path, want := range map[string]int{"/dingtalk": 400, "/channel/dingtalk": 400, "/wechat": 404, "/": 404} {
		rec := httptest.NewRecorder()
		b.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}")))
		if rec.Code != want {
			t.Errorf("POST %s: %d, want %d", path, rec.Code, want)
		}
	}
}
