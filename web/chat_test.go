package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
)

// answerOf checks the event sequence of one turn and returns the final
// assistant message and the text of its deltas.
func answerOf(t *testing.T, evs []event) (messageJSON, string) {
	t.Helper()
	var names []string
	var deltas strings.Builder
	var done messageJSON
	for _, e := range evs {
		names = append(names, e.name)
		switch e.name {
		case "delta":
			var d Delta
			if err := json.Unmarshal(e.data, &d); err != nil {
				t.Fatal(err)
			}
			deltas.WriteString(d.Content)
		case "done":
			if err := json.Unmarshal(e.data, &done); err != nil {
				t.Fatal(err)
			}
		case "error":
			t.Fatalf("error event: %s", e.data)
		}
	}
	got := strings.Join(names, ",")
	if !strings.HasPrefix(got, "conversation,user,assistant,") || !strings.HasSuffix(got, ",done") {
		t.Fatalf("events = %s, want conversation,user,assistant,delta…,done", got)
	}
	return done, deltas.String()
}

func TestChatStreamsAndSaves(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "alice", false)
	cv := c.newConversation(conversationInput{System: ptr("You are helpful.")})
	done, text := answerOf(t, c.chat(cv.ID, messageInput{Content: "Hello! What is 2+2?\nThanks"}))

	if done.Status != "complete" || done.Content != text || text == "" {
		t.Fatalf("done = %+v, want complete with the streamed text %q", done, text)
	}
	if done.CompletionTokens == 0 || done.Model != "qwen2-mini" {
		t.Errorf("done = %+v, want token counts and the model", done)
	}
	// The same request straight to the generator gives the same answer:
	// what was streamed is the model's output, nothing lost or added.
	var want strings.Builder
	_, err := e.gen.Chat(context.Background(), ChatRequest{Model: "qwen2-mini", Messages: []chat.Message{
		{Role: "system", Content: "You are helpful."}, {Role: "user", Content: "Hello! What is 2+2?\nThanks"}}},
		func(d Delta) error { want.WriteString(d.Content); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if text != want.String() {
		t.Errorf("streamed %q, generator alone gives %q", text, want.String())
	}

	var got struct {
		Conversation conversationJSON `json:"conversation"`
		Messages     []messageJSON    `json:"messages"`
	}
	c.call("GET", "/app/conversations/"+cv.ID, nil, http.StatusOK, &got)
	if got.Conversation.Title != "Hello! What is 2+2?" || got.Conversation.Model != "qwen2-mini" {
		t.Errorf("conversation = %+v, want the first line as title and the model", got.Conversation)
	}
	if len(got.Messages) != 2 || got.Messages[0].Role != "user" || got.Messages[1].Content != text || got.Messages[1].Status != "complete" {
		t.Fatalf("messages = %+v", got.Messages)
	}
}

func TestRegenerateAndEdit(t *testing.T) {
	e := newEnv(t)
	c := e.user(t, "bob", false)
	cv := c.newConversation(conversationInput{})
	first, _ := answerOf(t, c.chat(cv.ID, messageInput{Content: "Name a colour."}))

	evs := c.chat(cv.ID, messageInput{Regenerate: true})
	if evs[1].name != "user" {
		t.Fatalf("regenerate events start %s, %s", evs[0].name, evs[1].name)
	}
	again, _ := answerOf(t, evs)
	if again.ID == first.ID || again.Content != first.Content {
		t.Errorf("regenerated %+v, want a new message with the same (greedy) text as %+v", again, first)
	}
	msgs, err := e.db.Messages(context.Background(), cv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].ID != again.ID {
		t.Fatalf("after regenerate: %d messages, want the question and the new answer", len(msgs))
	}

	edited, _ := answerOf(t, c.chat(cv.ID, messageInput{Content: "Name a fruit.", Edit: msgs[0].ID}))
	msgs, err = e.db.Messages(context.Background(), cv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Content != "Name a fruit." || msgs[1].ID != edited.ID {
		t.Fatalf("after edit: %+v", msgs)
	}
	// An edit must name a user message of this conversation.
	resp := c.do("POST", "/app/conversations/"+cv.ID+"/messages", messageInput{Content: "x", Edit: edited.ID}, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("editing an answer = %d, want 404", resp.StatusCode)
	}
}

func TestStopSavesInterrupted(t *testing.T) {
	e := newEnv(t)
	e.gen.pace = 30 * time.Millisecond
	c := e.user(t, "carol", false)
	cv := c.newConversation(conversationInput{Settings: &settings{MaxTokens: 400}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, _ := json.Marshal(messageInput{Content: "Tell me a long story about a dragon."})
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/app/conversations/"+cv.ID+"/messages", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Read until two deltas arrived, then leave like a browser's Stop.
	buf := make([]byte, 1)
	var seen strings.Builder
	for strings.Count(seen.String(), "event: delta") < 2 {
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatalf("stream ended early: %v\n%s", err, seen.String())
		}
		seen.Write(buf)
	}
	cancel()
	resp.Body.Close()

	var m db.Message
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := e.db.Messages(context.Background(), cv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 2 {
			m = msgs[1]
		}
		if m.Status != "streaming" && m.Status != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m.Status != "interrupted" || m.Content == "" || m.CompletionTokens >= 400 {
		t.Fatalf("after stop: %+v, want an interrupted partial answer", m)
	}
	// The conversation is free again: the next turn is answered.
	c.call("PATCH", "/app/conversations/"+cv.ID, conversationInput{Settings: &settings{MaxTokens: 4}}, http.StatusOK, nil)
	if done, _ := answerOf(t, c.chat(cv.ID, messageInput{Content: "Shorter, please."})); done.Status != "complete" {
		t.Errorf("next turn = %+v", done)
	}
}

func TestChatHistoryMessages(t *testing.T) {
	history := []db.Message{
		{Role: "user", Content: "q1", Status: "complete"},
		{Role: "assistant", Content: "a1", Status: "complete"},
		{Role: "user", Content: "q2", Status: "complete"},
		{Role: "assistant", Content: "", Status: "interrupted"},
		{Role: "assistant", Content: "boom", Status: "error"},
		{Role: "user", Content: "q3", Status: "complete"},
	}
	got := chatMessages("sys", history)
	want := []chat.Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "q1"}, {Role: "assistant", Content: "a1"},
		{Role: "user", Content: "q2"}, {Role: "user", Content: "q3"}}
	if len(got) != len(want) {
		t.Fatalf("chatMessages = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Role != want[i].Role || got[i].Content != want[i].Content {
			t.Errorf("chatMessages[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestTitleFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  hello\nworld", "hello"},
		{strings.Repeat("长", 45), strings.Repeat("长", 40) + "…"},
		{"short", "short"},
	}
	for _, tt := range tests {
		if got := titleFrom(tt.in); got != tt.want {
			t.Errorf("titleFrom(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
