package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestConversationCRUD(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "ivy", false)
	a := c.newConversation(conversationInput{Title: ptr("Quarterly report"), Scenario: ptr("office.outline")})
	b := c.newConversation(conversationInput{Settings: &settings{Temperature: ptr(0.5), TopP: ptr(0.9), MaxTokens: 8}})
	c.chat(b.ID, messageInput{Content: "Write about pandas"})

	list := func(q string) []string {
		var r struct{ Conversations []conversationJSON }
		c.call("GET", "/app/conversations?q="+q, nil, http.StatusOK, &r)
		var titles []string
		for _, cv := range r.Conversations {
			titles = append(titles, cv.Title)
		}
		return titles
	}
	if got := strings.Join(list(""), "|"); got != "Write about pandas|Quarterly report" {
		t.Errorf("list = %q, want newest first", got)
	}
	if got := strings.Join(list("quarterly"), "|"); got != "Quarterly report" {
		t.Errorf("search title = %q", got)
	}
	if got := strings.Join(list("pandas"), "|"); got != "Write about pandas" {
		t.Errorf("search message = %q", got)
	}

	var u conversationJSON
	c.call("PATCH", "/app/conversations/"+a.ID, conversationInput{Title: ptr("  Q3 report "), System: ptr("Be brief."),
		Settings: &settings{Think: ptr(true)}}, http.StatusOK, &u)
	if u.Title != "Q3 report" || u.System != "Be brief." || string(u.Settings) != `{"think":true}` || u.Scenario != "office.outline" {
		t.Errorf("updated = %+v", u)
	}
	for _, bad := range []settings{{Temperature: ptr(2.5)}, {TopP: ptr(-0.1)}, {MaxTokens: -1}} {
		c.call("PATCH", "/app/conversations/"+a.ID, conversationInput{Settings: &bad}, http.StatusBadRequest, nil)
	}

	c.call("DELETE", "/app/conversations/"+a.ID, nil, http.StatusOK, nil)
	c.call("GET", "/app/conversations/"+a.ID, nil, http.StatusNotFound, nil)
	if got := list(""); len(got) != 1 {
		t.Errorf("after delete: %q", got)
	}
}

func TestExport(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "jack", false)
	cv := c.newConversation(conversationInput{Title: ptr("导出 test"), System: ptr("Answer in English.")})
	done, _ := answerOf(t, c.chat(cv.ID, messageInput{Content: "Say hi"}))

	get := func(format string) (*http.Response, string) {
		resp := c.do("GET", "/app/conversations/"+cv.ID+"/export?format="+format, nil, nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, md := get("md")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "%E5%AF%BC%E5%87%BA%20test.md") {
		t.Errorf("markdown export: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"# 导出 test\n", "## System\n\nAnswer in English.", "## User\n\nSay hi", "## Assistant\n\n" + done.Content} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown export lacks %q:\n%s", want, md)
		}
	}
	resp, js := get("json")
	var out struct {
		Conversation conversationJSON
		Messages     []messageJSON
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("json export: %d %v", resp.StatusCode, err)
	}
	if out.Conversation.ID != cv.ID || len(out.Messages) != 2 || out.Messages[1].Content != done.Content {
		t.Errorf("json export = %+v", out)
	}
	if resp, _ := get("pdf"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown format = %d, want 400", resp.StatusCode)
	}
}

func TestPresets(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "kim", false)
	other := e.user(t, "lee", false)
	type presets struct {
		Builtin []builtin
		Mine    []presetJSON
		Hidden  int
	}
	var p presets
	c.call("GET", "/app/presets", nil, http.StatusOK, &p)
	if len(p.Builtin) != len(builtins) || len(p.Mine) != 0 {
		t.Fatalf("presets = %d built-in, %d own; want %d, 0", len(p.Builtin), len(p.Mine), len(builtins))
	}
	// Every category the start screen shows has presets in both languages.
	keys := map[string]bool{}
	for _, b := range builtins {
		keys[b.Key] = true
		if b.NameZh == "" || b.NameEn == "" || b.PromptZh == "" || b.PromptEn == "" || !strings.HasPrefix(b.Key, b.Category+".") {
			t.Errorf("built-in %+v is incomplete", b)
		}
	}
	for _, k := range []string{"office.email", "office.minutes", "office.summary", "office.outline", "office.translate",
		"writing.marketing", "writing.slogan", "writing.poem", "writing.acrostic", "writing.story",
		"life.plan", "life.recipe", "life.travel", "life.advice"} {
		if !keys[k] {
			t.Errorf("no built-in preset %s", k)
		}
	}

	// Editing a built-in makes an own copy and hides the original.
	var mine presetJSON
	c.call("POST", "/app/presets", map[string]any{"category": "writing", "name": "七言藏头诗", "prompt": "写一首七言藏头诗：", "replaces": "writing.acrostic"}, http.StatusOK, &mine)
	c.call("POST", "/app/presets", map[string]any{"category": "sports", "name": "x", "prompt": "y"}, http.StatusBadRequest, nil)
	c.call("GET", "/app/presets", nil, http.StatusOK, &p)
	if len(p.Mine) != 1 || p.Mine[0].Name != "七言藏头诗" || len(p.Builtin) != len(builtins)-1 || p.Hidden != 1 {
		t.Fatalf("after edit: %+v", p)
	}
	mine.Prompt = "改过的"
	c.call("POST", "/app/presets", mine, http.StatusOK, nil)
	// Presets are per user.
	other.call("POST", "/app/presets", mine, http.StatusNotFound, nil)
	other.call("DELETE", "/app/presets/"+itoa(mine.ID), nil, http.StatusNotFound, nil)
	var op presets
	other.call("GET", "/app/presets", nil, http.StatusOK, &op)
	if len(op.Mine) != 0 || len(op.Builtin) != len(builtins) {
		t.Errorf("another user sees %+v", op)
	}

	c.call("POST", "/app/presets/restore", struct{}{}, http.StatusOK, nil)
	c.call("DELETE", "/app/presets/"+itoa(mine.ID), nil, http.StatusOK, nil)
	c.call("GET", "/app/presets", nil, http.StatusOK, &p)
	if len(p.Mine) != 0 || len(p.Builtin) != len(builtins) || p.Hidden != 0 {
		t.Errorf("after restore and delete: %+v", p)
	}
}
