package web

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateChanging lists every state-changing /app route with a valid body
// (ID stands for a conversation id of the signed-in user).
var stateChangingRoutes = []struct {
	method, path string
	body         any
}{
	{"POST", "/app/conversations", conversationInput{}},
	{"PATCH", "/app/conversations/ID", conversationInput{Title: ptr("x")}},
	{"DELETE", "/app/conversations/ID", nil},
	{"POST", "/app/conversations/ID/messages", messageInput{Content: "hi"}},
	{"POST", "/app/presets", presetJSON{Category: "office", Name: "n", Prompt: "p"}},
	{"POST", "/app/presets/restore", struct{}{}},
	{"DELETE", "/app/presets/1", nil},
	{"POST", "/app/logout", nil},
	{"POST", "/app/admin/users", map[string]any{"name": "zed", "password": "12345678"}},
	{"PATCH", "/app/admin/users/2", map[string]any{"disabled": true}},
	{"DELETE", "/app/admin/users/2", nil},
	{"POST", "/app/admin/keys", map[string]any{"name": "k"}},
	{"DELETE", "/app/admin/keys/1", nil},
}

func TestNoSessionIsUnauthorized(t *testing.T) {
	e := newEnv(t)
	anon := e.client(t)
	routes := []struct{ method, path string }{
		{"GET", "/app/session"}, {"GET", "/app/models"}, {"GET", "/app/presets"}, {"GET", "/app/conversations"},
		{"GET", "/app/conversations/ABC"}, {"GET", "/app/conversations/ABC/export"}, {"GET", "/app/admin/users"}, {"GET", "/app/admin/keys"},
		{"GET", "/app/admin/conversations"}, {"GET", "/app/admin/conversations/ABC"},
	}
	for _, r := range stateChangingRoutes {
		if r.path != "/app/logout" {
			routes = append(routes, struct{ method, path string }{r.method, strings.ReplaceAll(r.path, "ID", "ABC")})
		}
	}
	for _, r := range routes {
		resp := anon.do(r.method, r.path, map[string]string{}, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a session = %d, want 401", r.method, r.path, resp.StatusCode)
		}
	}
	// A forged cookie or key is no better.
	for _, h := range []http.Header{
		{"Cookie": {sessionCookie + "=forged"}},
		{"Authorization": {"Bearer zy-forged"}},
	} {
		resp := anon.do("GET", "/app/conversations", nil, h)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /app/conversations with %v = %d, want 401", h, resp.StatusCode)
		}
	}
}

func TestCSRFRequired(t *testing.T) {
	e := newEnv(t)
	admin := e.user(t, "root", true)
	e.user(t, "other", false)
	cv := admin.newConversation(conversationInput{})
	good := admin.csrf
	for _, token := range []string{"", "wrong", good[:len(good)-1]} {
		admin.csrf = token
		for _, r := range stateChangingRoutes {
			path := strings.ReplaceAll(r.path, "ID", cv.ID)
			resp := admin.do(r.method, path, r.body, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with CSRF token %q = %d, want 403", r.method, path, token, resp.StatusCode)
			}
		}
	}
	// Nothing changed, and the right token works.
	admin.csrf = good
	var list struct{ Conversations []conversationJSON }
	admin.call("GET", "/app/conversations", nil, http.StatusOK, &list)
	if len(list.Conversations) != 1 {
		t.Errorf("%d conversations after refused requests, want 1", len(list.Conversations))
	}
	admin.call("PATCH", "/app/conversations/"+cv.ID, conversationInput{Title: ptr("ok")}, http.StatusOK, nil)
}

func TestOtherUsersConversationIsNotFound(t *testing.T) {
	e := newEnv(t)
	alice := e.user(t, "alice", false)
	mallory := e.user(t, "mallory", true) // even an administrator
	cv := alice.newConversation(conversationInput{Title: ptr("secret plans")})
	alice.chat(cv.ID, messageInput{Content: "my secret"})

	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/app/conversations/" + cv.ID, nil},
		{"GET", "/app/conversations/" + cv.ID + "/export?format=json", nil},
		{"PATCH", "/app/conversations/" + cv.ID, conversationInput{Title: ptr("mine now")}},
		{"POST", "/app/conversations/" + cv.ID + "/messages", messageInput{Content: "hi"}},
		{"POST", "/app/conversations/" + cv.ID + "/messages", messageInput{Regenerate: true}},
		{"DELETE", "/app/conversations/" + cv.ID, nil},
	} {
		resp := mallory.do(r.method, r.path, r.body, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("another user's %s %s = %d, want 404", r.method, r.path, resp.StatusCode)
		}
	}
	var list struct{ Conversations []conversationJSON }
	mallory.call("GET", "/app/conversations?q=secret", nil, http.StatusOK, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("another user's search found %+v", list.Conversations)
	}
	var mine struct {
		Conversation conversationJSON
		Messages     []messageJSON
	}
	alice.call("GET", "/app/conversations/"+cv.ID, nil, http.StatusOK, &mine)
	if mine.Conversation.Title != "secret plans" || len(mine.Messages) != 2 {
		t.Errorf("the owner's conversation changed: %+v", mine)
	}
}

func TestSecretsNeverInClear(t *testing.T) {
	e := newEnv(t)
	admin := e.user(t, "root", true)
	var created struct {
		Key    string  `json:"key"`
		APIKey keyJSON `json:"api_key"`
	}
	admin.call("POST", "/app/admin/keys", map[string]any{"name": "ci"}, http.StatusOK, &created)
	if !strings.HasPrefix(created.Key, "zy-") || !strings.HasPrefix(created.Key, created.APIKey.Prefix) {
		t.Fatalf("created key %q with prefix %q", created.Key, created.APIKey.Prefix)
	}
	// Listing shows the prefix, never the key.
	resp := admin.do("GET", "/app/admin/keys", nil, nil)
	var listed bytes.Buffer
	listed.ReadFrom(resp.Body)
	resp.Body.Close()
	if strings.Contains(listed.String(), created.Key) {
		t.Errorf("GET /app/admin/keys shows the key in clear")
	}
	// Neither the key, the session token nor a password is in the
	// database's files.
	var session string
	u := mustParse(t, e.srv.URL)
	for _, ck := range admin.hc.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("no session cookie")
	}
	dir := filepath.Dir(e.dbFile)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"API key": created.Key, "session token": session, "password": "password-root"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", filepath.Base(f), name)
			}
		}
	}
}
