package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"zhiyan/db"
)

// adminList is the answer of GET /app/admin/conversations.
type adminList struct {
	Conversations []adminConversationJSON
	More          bool
}

// adminDetail is the answer of GET /app/admin/conversations/{id}.
type adminDetail struct {
	Conversation conversationJSON
	Owner        ownerJSON
	Messages     []messageJSON
}

func TestAdminSeesEveryConversation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.user(t, "root", true)
	alice := e.user(t, "alice", false)

	// A WeChat user's conversation, as the bot keeps it.
	bot, err := e.db.PlatformUser(ctx, "wechat", "wx-openid-1", "小明")
	if err != nil {
		t.Fatal(err)
	}
	wx, err := e.db.CreateConversation(ctx, db.Conversation{OwnerID: bot.ID, Source: "wechat", Title: "天气"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []db.Message{
		{ConversationID: wx.ID, Role: "user", Content: "今天北京天气怎么样？"},
		{ConversationID: wx.ID, Role: "assistant", Content: "**晴**，最高 25 度。"},
	} {
		if _, err := e.db.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Alice's web conversation, touched last: it comes first.
	web := alice.newConversation(conversationInput{Title: ptr("holiday plans")})
	if _, err := e.db.AddMessage(ctx, db.Message{ConversationID: web.ID, Role: "user", Content: "Where should I go in May?"}); err != nil {
		t.Fatal(err)
	}

	var all adminList
	root.call("GET", "/app/admin/conversations", nil, http.StatusOK, &all)
	want := []struct {
		id, source, owner, platform, external string
	}{
		{web.ID, "web", "alice", "", ""},
		{wx.ID, "wechat", "小明", "wechat", "wx-openid-1"},
	}
	if len(all.Conversations) != len(want) || all.More {
		t.Fatalf("admin list = %+v, want %d conversations and no more", all, len(want))
	}
	for i, w := range want {
		got := all.Conversations[i]
		if got.ID != w.id || got.Source != w.source || got.Owner.Name != w.owner || got.Owner.Platform != w.platform || got.Owner.ExternalID != w.external {
			t.Errorf("admin list[%d] = %+v, want %+v", i, got, w)
		}
	}

	// Search covers titles and messages of every owner.
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"北京", []string{wx.ID}},
		{"天气", []string{wx.ID}},
		{"HOLIDAY", []string{web.ID}},
		{"may?", []string{web.ID}},
		{"nothing like this", nil},
	} {
		var got adminList
		root.call("GET", "/app/admin/conversations?q="+url.QueryEscape(tc.q), nil, http.StatusOK, &got)
		var ids []string
		for _, c := range got.Conversations {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("admin search %q = %v, want %v", tc.q, ids, tc.want)
		}
	}

	// Pages: "more" says whether another follows.
	for _, tc := range []struct {
		query    string
		wantID   string
		wantMore bool
	}{
		{"?limit=1", web.ID, true},
		{"?limit=1&offset=1", wx.ID, false},
	} {
		var got adminList
		root.call("GET", "/app/admin/conversations"+tc.query, nil, http.StatusOK, &got)
		if len(got.Conversations) != 1 || got.Conversations[0].ID != tc.wantID || got.More != tc.wantMore {
			t.Errorf("admin list %s = %+v, want %s and more=%v", tc.query, got, tc.wantID, tc.wantMore)
		}
	}

	// One conversation with its messages; reading it changes nothing.
	var d adminDetail
	root.call("GET", "/app/admin/conversations/"+wx.ID, nil, http.StatusOK, &d)
	if d.Conversation.ID != wx.ID || d.Conversation.Source != "wechat" || d.Owner.Name != "小明" || d.Owner.Platform != "wechat" {
		t.Errorf("admin detail = %+v", d)
	}
	if len(d.Messages) != 2 || d.Messages[0].Content != "今天北京天气怎么样？" || d.Messages[1].Role != "assistant" {
		t.Errorf("admin detail messages = %+v", d.Messages)
	}
	if !d.Conversation.Updated.Equal(all.Conversations[1].Updated) {
		t.Errorf("reading moved Updated from %v to %v", all.Conversations[1].Updated, d.Conversation.Updated)
	}
	d = adminDetail{}
	root.call("GET", "/app/admin/conversations/"+web.ID, nil, http.StatusOK, &d)
	if d.Owner.Name != "alice" || d.Conversation.Title != "holiday plans" || len(d.Messages) != 1 {
		t.Errorf("admin detail of alice's conversation = %+v", d)
	}
	root.call("GET", "/app/admin/conversations/nosuchconversation", nil, http.StatusNotFound, nil)

	// Read-only: no route changes a conversation through the admin view.
	for _, method := range []string{"PATCH", "DELETE", "POST"} {
		root.call(method, "/app/admin/conversations/"+wx.ID, conversationInput{Title: ptr("x")}, http.StatusNotFound, nil)
	}
	root.call("GET", "/app/admin/conversations/"+wx.ID, nil, http.StatusOK, &d)
	if d.Conversation.Title != "天气" || len(d.Messages) != 2 {
		t.Errorf("after refused writes the conversation is %+v", d)
	}

	// Only administrators: a user is forbidden, a stranger unauthorized.
	for _, path := range []string{"/app/admin/conversations", "/app/admin/conversations?q=天气", "/app/admin/conversations/" + wx.ID} {
		alice.call("GET", path, nil, http.StatusForbidden, nil)
		e.client(t).call("GET", path, nil, http.StatusUnauthorized, nil)
	}
}
