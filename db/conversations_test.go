package db

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

// ids lists conversation ids, for comparing listings.
func ids(cs []Conversation) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestConversations(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		alice, _ := d.CreateUser(ctx, "alice", "pw", false)
		bob, _ := d.CreateUser(ctx, "bob", "pw", false)
		bot, _ := d.PlatformUser(ctx, "wechat", "wx-1", "微信用户")

		// A clock that ticks a second a call orders the conversations.
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		d.now = func() time.Time { clock = clock.Add(time.Second); return clock }

		settings := json.RawMessage(`{"temperature":0.7,"top_p":0.9}`)
		c1, err := d.CreateConversation(ctx, Conversation{OwnerID: alice.ID, Title: "周报 draft", Model: "qwen", System: "be brief",
			Scenario: "office/report", Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		if len(c1.ID) != 26 || c1.Source != "web" || c1.Created.IsZero() || !c1.Updated.Equal(c1.Created) {
			t.Errorf("CreateConversation = %+v", c1)
		}
		c2, _ := d.CreateConversation(ctx, Conversation{OwnerID: alice.ID, Title: "100% done_ok"})
		c3, _ := d.CreateConversation(ctx, Conversation{OwnerID: alice.ID, Title: "Recipes"})
		cb, _ := d.CreateConversation(ctx, Conversation{OwnerID: bob.ID, Title: "bob's"})
		cw, _ := d.CreateConversation(ctx, Conversation{OwnerID: bot.ID, Title: "wechat chat", Source: "wechat"})
		if _, err := d.CreateConversation(ctx, Conversation{OwnerID: 9999}); !errors.Is(err, ErrNotFound) {
			t.Errorf("CreateConversation for a missing user: err = %v, want ErrNotFound", err)
		}
		if _, err := d.CreateConversation(ctx, Conversation{OwnerID: alice.ID, Settings: json.RawMessage("{bad")}); err == nil {
			t.Errorf("CreateConversation with invalid settings JSON succeeded")
		}

		got, err := d.Conversation(ctx, alice.ID, c1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != c1.Title || got.Model != "qwen" || got.System != "be brief" || got.Scenario != "office/report" ||
			string(got.Settings) != string(settings) || !got.Created.Equal(c1.Created) {
			t.Errorf("Conversation = %+v, want %+v", got, c1)
		}
		if got, _ := d.Conversation(ctx, alice.ID, c2.ID); got.Settings != nil {
			t.Errorf("empty settings read back as %q, want nil", got.Settings)
		}

		// A message in c1 makes it the most recent and findable by its content.
		if _, err := d.AddMessage(ctx, Message{ConversationID: c1.ID, Role: "user", Content: "西红柿炒鸡蛋 how?"}); err != nil {
			t.Fatal(err)
		}

		list := []struct {
			owner         int64
			query         string
			limit, offset int
			want          []string
		}{
			{alice.ID, "", 0, 0, []string{c1.ID, c3.ID, c2.ID}},
			{alice.ID, "", 2, 0, []string{c1.ID, c3.ID}},
			{alice.ID, "", 2, 2, []string{c2.ID}},
			{alice.ID, "recipes", 0, 0, []string{c3.ID}}, // case-insensitive
			{alice.ID, "周报", 0, 0, []string{c1.ID}},
			{alice.ID, "西红柿", 0, 0, []string{c1.ID}}, // message content
			{alice.ID, "%", 0, 0, []string{c2.ID}},   // LIKE wildcards match themselves
			{alice.ID, "e_o", 0, 0, []string{c2.ID}},
			{alice.ID, "o_k", 0, 0, nil},
			{alice.ID, `\`, 0, 0, nil},
			{alice.ID, "bob", 0, 0, nil}, // not another owner's
			{bob.ID, "", 0, 0, []string{cb.ID}},
			{9999, "", 0, 0, nil},
		}
		for _, tc := range list {
			cs, err := d.Conversations(ctx, tc.owner, tc.query, tc.limit, tc.offset)
			if err != nil || !slices.Equal(ids(cs), tc.want) {
				t.Errorf("Conversations(%d, %q, %d, %d) = %v, %v; want %v", tc.owner, tc.query, tc.limit, tc.offset, ids(cs), err, tc.want)
			}
		}
		all, err := d.AllConversations(ctx, "", 0, 0)
		if want := []string{c1.ID, cw.ID, cb.ID, c3.ID, c2.ID}; err != nil || !slices.Equal(ids(all), want) {
			t.Errorf("AllConversations = %v, %v; want %v", ids(all), err, want)
		}
		if all, _ := d.AllConversations(ctx, "WECHAT", 1, 0); !slices.Equal(ids(all), []string{cw.ID}) || all[0].Source != "wechat" {
			t.Errorf("AllConversations(WECHAT) = %+v", all)
		}

		// Update and delete are scoped to the owner.
		upd := c2
		upd.Title, upd.Model, upd.System, upd.Scenario, upd.Settings = "renamed", "llama", "sys", "life/travel", json.RawMessage(`{"a":1}`)
		if err := d.UpdateConversation(ctx, bob.ID, upd); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateConversation by another user: err = %v, want ErrNotFound", err)
		}
		if err := d.UpdateConversation(ctx, alice.ID, upd); err != nil {
			t.Fatal(err)
		}
		got, _ = d.Conversation(ctx, alice.ID, c2.ID)
		if got.Title != "renamed" || got.Model != "llama" || got.System != "sys" || got.Scenario != "life/travel" ||
			string(got.Settings) != `{"a":1}` || !got.Updated.After(c2.Updated) || !got.Created.Equal(c2.Created) {
			t.Errorf("after UpdateConversation: %+v", got)
		}
		if err := d.DeleteConversation(ctx, bob.ID, c2.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteConversation by another user: err = %v, want ErrNotFound", err)
		}
		if err := d.DeleteConversation(ctx, alice.ID, c2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Conversation(ctx, alice.ID, c2.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted conversation: err = %v", err)
		}
		if err := d.DeleteConversation(ctx, alice.ID, c2.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting twice: err = %v, want ErrNotFound", err)
		}
	})
}

func TestMessages(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		u, _ := d.CreateUser(ctx, "u", "pw", false)
		c, _ := d.CreateConversation(ctx, Conversation{OwnerID: u.ID})
		other, _ := d.CreateConversation(ctx, Conversation{OwnerID: u.ID})

		m1, err := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "user", Content: "写一首藏头诗"})
		if err != nil {
			t.Fatal(err)
		}
		if m1.ID == 0 || m1.Status != StatusComplete || m1.Created.IsZero() {
			t.Errorf("AddMessage = %+v", m1)
		}
		if got, _ := d.Conversation(ctx, u.ID, c.ID); !got.Updated.Equal(m1.Created) {
			t.Errorf("AddMessage did not touch Updated: %v, want %v", got.Updated, m1.Created)
		}
		m2, err := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "assistant", Status: StatusStreaming, Model: "qwen"})
		if err != nil {
			t.Fatal(err)
		}
		final := Message{ID: m2.ID, Content: "春眠不觉晓", Reasoning: "think", ToolCalls: json.RawMessage(`[{"name":"f"}]`),
			Model: "qwen-2", PromptTokens: 12, CompletionTokens: 34, DurationMs: 567, Status: StatusComplete}
		if err := d.FinishMessage(ctx, final); err != nil {
			t.Fatal(err)
		}
		m3, _ := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "user", Content: "again"})
		m4, _ := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "assistant", Status: StatusStreaming})
		if _, err := d.AddMessage(ctx, Message{ConversationID: other.ID, Role: "user", Content: "elsewhere"}); err != nil {
			t.Fatal(err)
		}

		ms, err := d.Messages(ctx, c.ID)
		if err != nil || len(ms) != 4 {
			t.Fatalf("Messages = %d, %v; want 4", len(ms), err)
		}
		got := ms[1]
		final.ConversationID, final.Role, final.Created = c.ID, "assistant", m2.Created
		if got.Content != final.Content || got.Reasoning != final.Reasoning || string(got.ToolCalls) != string(final.ToolCalls) ||
			got.Model != final.Model || got.PromptTokens != 12 || got.CompletionTokens != 34 || got.DurationMs != 567 ||
			got.Status != StatusComplete || got.Role != "assistant" || got.ConversationID != c.ID || !got.Created.Equal(m2.Created) {
			t.Errorf("finished message = %+v, want %+v", got, final)
		}
		if ms[0].Content != "写一首藏头诗" || ms[0].ToolCalls != nil || ms[2].ID != m3.ID || ms[3].Status != StatusStreaming {
			t.Errorf("Messages order or content wrong: %+v", ms)
		}

		errorCases := map[string]error{
			"AddMessage to a missing conversation": func() error {
				_, err := d.AddMessage(ctx, Message{ConversationID: "nope", Role: "user"})
				return err
			}(),
			"FinishMessage of a missing message": d.FinishMessage(ctx, Message{ID: 99999, Status: StatusComplete}),
		}
		for name, err := range errorCases {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
		if _, err := d.AddMessage(ctx, Message{ConversationID: c.ID, Status: "weird"}); err == nil {
			t.Errorf("AddMessage with an unknown status succeeded")
		}
		if err := d.FinishMessage(ctx, Message{ID: m4.ID, ToolCalls: json.RawMessage("[")}); err == nil {
			t.Errorf("FinishMessage with invalid tool calls succeeded")
		}

		// MarkInterrupted turns only streaming messages into interrupted ones.
		n, err := d.MarkInterrupted(ctx)
		if err != nil || n != 1 {
			t.Errorf("MarkInterrupted = %d, %v; want 1", n, err)
		}
		ms, _ = d.Messages(ctx, c.ID)
		if ms[3].Status != StatusInterrupted || ms[1].Status != StatusComplete {
			t.Errorf("after MarkInterrupted statuses = %q, %q", ms[1].Status, ms[3].Status)
		}

		// Regenerate: drop m3 and after.
		if err := d.DeleteMessagesFrom(ctx, c.ID, m3.ID); err != nil {
			t.Fatal(err)
		}
		ms, _ = d.Messages(ctx, c.ID)
		if len(ms) != 2 || ms[1].ID != m2.ID {
			t.Errorf("after DeleteMessagesFrom(%d): %d messages, want 2", m3.ID, len(ms))
		}
		if ms, _ := d.Messages(ctx, other.ID); len(ms) != 1 {
			t.Errorf("DeleteMessagesFrom touched another conversation: %d messages left", len(ms))
		}
		// New messages never reuse deleted ids.
		m5, _ := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "user"})
		if m5.ID <= m4.ID {
			t.Errorf("new message id %d reuses a deleted id (last was %d)", m5.ID, m4.ID)
		}
	})
}

func TestMarkInterruptedOnOpen(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/z.db"
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := d.CreateUser(ctx, "u", "pw", false)
	c, _ := d.CreateConversation(ctx, Conversation{OwnerID: u.ID})
	m, _ := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "assistant", Status: StatusStreaming})
	d.Close()
	d, err = Open(ctx, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ms, _ := d.Messages(ctx, c.ID)
	if len(ms) != 1 || ms[0].ID != m.ID || ms[0].Status != StatusInterrupted {
		t.Errorf("after reopening: %+v, want message %d interrupted", ms, m.ID)
	}
}

func TestPresetsAndSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		alice, _ := d.CreateUser(ctx, "alice", "pw", false)
		bob, _ := d.CreateUser(ctx, "bob", "pw", false)
		global, err := d.SavePreset(ctx, Preset{Category: "office", Name: "邮件", Prompt: "写一封邮件"})
		if err != nil {
			t.Fatal(err)
		}
		mine, err := d.SavePreset(ctx, Preset{OwnerID: alice.ID, Category: "writing", Name: "藏头诗", Prompt: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if global.ID == 0 || mine.ID == 0 || mine.OwnerID != alice.ID {
			t.Errorf("SavePreset = %+v, %+v", global, mine)
		}
		if _, err := d.SavePreset(ctx, Preset{OwnerID: 9999, Name: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("SavePreset for a missing user: err = %v, want ErrNotFound", err)
		}
		if _, err := d.SavePreset(ctx, Preset{OwnerID: alice.ID}); err == nil {
			t.Errorf("SavePreset without a name succeeded")
		}
		listing := []struct {
			owner int64
			want  []Preset
		}{
			{alice.ID, []Preset{global, mine}},
			{bob.ID, []Preset{global}},
			{0, []Preset{global}},
		}
		for _, tc := range listing {
			if got, err := d.Presets(ctx, tc.owner); err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("Presets(%d) = %+v, %v; want %+v", tc.owner, got, err, tc.want)
			}
		}

		edited := mine
		edited.Prompt, edited.Category = "new prompt", "life"
		stolen := edited
		stolen.OwnerID = bob.ID
		if _, err := d.SavePreset(ctx, stolen); !errors.Is(err, ErrNotFound) {
			t.Errorf("SavePreset of another user's preset: err = %v, want ErrNotFound", err)
		}
		asGlobal := edited
		asGlobal.OwnerID = 0
		if _, err := d.SavePreset(ctx, asGlobal); !errors.Is(err, ErrNotFound) {
			t.Errorf("SavePreset of a user preset as built-in: err = %v, want ErrNotFound", err)
		}
		if _, err := d.SavePreset(ctx, edited); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.Presets(ctx, alice.ID); !slices.Equal(got, []Preset{global, edited}) {
			t.Errorf("after edit Presets = %+v", got)
		}
		if err := d.DeletePreset(ctx, bob.ID, mine.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeletePreset by another user: err = %v, want ErrNotFound", err)
		}
		if err := d.DeletePreset(ctx, alice.ID, global.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeletePreset of a built-in by a user: err = %v, want ErrNotFound", err)
		}
		if err := d.DeletePreset(ctx, alice.ID, mine.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.DeletePreset(ctx, 0, global.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.Presets(ctx, alice.ID); len(got) != 0 {
			t.Errorf("after deletes Presets = %+v", got)
		}

		if _, err := d.Setting(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Setting(missing): err = %v, want ErrNotFound", err)
		}
		for _, v := range []string{"v1", "v2"} {
			if err := d.SetSetting(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			if got, err := d.Setting(ctx, "k"); err != nil || got != v {
				t.Errorf("Setting(k) = %q, %v; want %q", got, err, v)
			}
		}
	})
}

// TestMarkInterruptedReplicas: on PostgreSQL a replica opening or shutting
// down interrupts only its own answers and those of replicas that are gone.
func TestMarkInterruptedReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := newPostgresDB(t)
	open := func() *DB {
		d, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	status := func(d *DB, id int64) string {
		var s string
		if err := d.queryRow(ctx, "SELECT status FROM messages WHERE id = ?", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	defer b.Close()
	u, _ := a.CreateUser(ctx, "u", "pw", false)
	c, _ := a.CreateConversation(ctx, Conversation{OwnerID: u.ID})
	ma, _ := a.AddMessage(ctx, Message{ConversationID: c.ID, Role: "assistant", Status: StatusStreaming})
	mb, _ := b.AddMessage(ctx, Message{ConversationID: c.ID, Role: "assistant", Status: StatusStreaming})

	late := open() // a replica starting while a and b stream
	defer late.Close()
	if sa, sb := status(late, ma.ID), status(late, mb.ID); sa != StatusStreaming || sb != StatusStreaming {
		t.Errorf("after a third replica opened: statuses %q, %q; want both streaming", sa, sb)
	}
	if n, err := b.MarkInterrupted(ctx); err != nil || n != 1 {
		t.Errorf("b.MarkInterrupted = %d, %v; want 1 (its own)", n, err)
	}
	if sa, sb := status(late, ma.ID), status(late, mb.ID); sa != StatusStreaming || sb != StatusInterrupted {
		t.Errorf("after b.MarkInterrupted: statuses %q, %q; want streaming, interrupted", sa, sb)
	}
	a.Close() // a dies with its answer streaming
	// The server drops a's lock when its backend notices the closed connection: soon, not at once.
	n := 0
	for deadline := time.Now().Add(10 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if n, err = late.MarkInterrupted(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 || status(late, ma.ID) != StatusInterrupted {
		t.Errorf("MarkInterrupted after a closed = %d, status %q; want a's answer interrupted", n, status(late, ma.ID))
	}
}
