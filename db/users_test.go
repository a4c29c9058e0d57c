package db

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		if n, err := d.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("CountUsers on empty store = %d, %v; want 0", n, err)
		}
		admin, err := d.CreateUser(ctx, "Alice", "pw-alice", true)
		if err != nil {
			t.Fatal(err)
		}
		if admin.ID == 0 || admin.Name != "Alice" || !admin.Admin || admin.Created.IsZero() || admin.Disabled {
			t.Errorf("CreateUser = %+v", admin)
		}
		bob, err := d.CreateUser(ctx, "李雷", "pw-bob", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"alice", "ALICE", "Alice"} {
			if _, err := d.CreateUser(ctx, name, "x", false); !errors.Is(err, ErrExists) {
				t.Errorf("CreateUser(%q) after Alice: err = %v, want ErrExists", name, err)
			}
		}
		for _, name := range []string{"", " bob", "bob ", "a\nb", string(make([]rune, 65))} {
			if _, err := d.CreateUser(ctx, name, "x", false); err == nil {
				t.Errorf("CreateUser(%q) succeeded, want an error", name)
			}
		}

		got, err := d.User(ctx, bob.ID)
		if err != nil || got != bob {
			t.Errorf("User(%d) = %+v, %v; want %+v", bob.ID, got, err, bob)
		}
		if _, err := d.User(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("User(9999): err = %v, want ErrNotFound", err)
		}

		auth := []struct {
			name, password string
			want           int64 // 0: ErrBadCredentials
		}{
			{"Alice", "pw-alice", admin.ID},
			{"alice", "pw-alice", admin.ID}, // names are case-insensitive
			{"Alice", "pw-bob", 0},
			{"Alice", "", 0},
			{"nobody", "pw-alice", 0},
			{"李雷", "pw-bob", bob.ID},
		}
		for _, tc := range auth {
			u, err := d.Authenticate(ctx, tc.name, tc.password)
			if tc.want == 0 {
				if !errors.Is(err, ErrBadCredentials) {
					t.Errorf("Authenticate(%q, %q): err = %v, want ErrBadCredentials", tc.name, tc.password, err)
				}
			} else if err != nil || u.ID != tc.want {
				t.Errorf("Authenticate(%q, %q) = user %d, %v; want user %d", tc.name, tc.password, u.ID, err, tc.want)
			}
		}

		if err := d.SetPassword(ctx, bob.ID, "new"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Authenticate(ctx, "李雷", "pw-bob"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("old password after SetPassword: err = %v, want ErrBadCredentials", err)
		}
		if _, err := d.Authenticate(ctx, "李雷", "new"); err != nil {
			t.Errorf("new password after SetPassword: %v", err)
		}
		if err := d.SetAdmin(ctx, bob.ID, true); err != nil {
			t.Fatal(err)
		}
		if u, _ := d.User(ctx, bob.ID); !u.Admin {
			t.Errorf("SetAdmin(true) left Admin false")
		}
		if err := d.DisableUser(ctx, bob.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Authenticate(ctx, "李雷", "new"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("disabled user: err = %v, want ErrBadCredentials", err)
		}
		if err := d.DisableUser(ctx, bob.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Authenticate(ctx, "李雷", "new"); err != nil {
			t.Errorf("re-enabled user: %v", err)
		}
		for name, err := range map[string]error{
			"SetPassword": d.SetPassword(ctx, 9999, "x"),
			"SetAdmin":    d.SetAdmin(ctx, 9999, true),
			"DisableUser": d.DisableUser(ctx, 9999, true),
			"DeleteUser":  d.DeleteUser(ctx, 9999),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of a missing user: err = %v, want ErrNotFound", name, err)
			}
		}

		us, err := d.Users(ctx)
		if err != nil || len(us) != 2 || us[0].ID != admin.ID || us[1].ID != bob.ID {
			t.Errorf("Users = %+v, %v; want Alice, 李雷", us, err)
		}
		if n, err := d.CountUsers(ctx); err != nil || n != 2 {
			t.Errorf("CountUsers = %d, %v; want 2", n, err)
		}
	})
}

func TestPlatformUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		web, err := d.CreateUser(ctx, "张三", "pw", false)
		if err != nil {
			t.Fatal(err)
		}
		u1, err := d.PlatformUser(ctx, "wechat", "wx-1", "张三") // same display name as a web user: allowed
		if err != nil {
			t.Fatal(err)
		}
		if u1.ID == web.ID || u1.Platform != "wechat" || u1.ExternalID != "wx-1" || u1.Name != "张三" {
			t.Errorf("PlatformUser = %+v", u1)
		}
		again, err := d.PlatformUser(ctx, "wechat", "wx-1", "张三 (new nick)")
		if err != nil || again.ID != u1.ID || again.Name != "张三 (new nick)" {
			t.Errorf("PlatformUser again = %+v, %v; want user %d renamed", again, err, u1.ID)
		}
		other, err := d.PlatformUser(ctx, "feishu", "wx-1", "")
		if err != nil || other.ID == u1.ID || other.Name != "wx-1" {
			t.Errorf("PlatformUser on another platform = %+v, %v; want a new user named by its id", other, err)
		}
		if _, err := d.Authenticate(ctx, "张三 (new nick)", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("bot users cannot log in: err = %v", err)
		}
		if n, _ := d.CountUsers(ctx); n != 1 {
			t.Errorf("CountUsers = %d, want 1 (bot users are not counted)", n)
		}

		// Concurrent first contact from one person makes one user.
		ids := make(chan int64, 8)
		for range 8 {
			go func() {
				u, err := d.PlatformUser(ctx, "dingtalk", "dt-7", "王五")
				if err != nil {
					t.Error(err)
				}
				ids <- u.ID
			}()
		}
		seen := map[int64]bool{}
		for range 8 {
			seen[<-ids] = true
		}
		if len(seen) != 1 {
			t.Errorf("8 concurrent PlatformUser calls made users %v, want one", seen)
		}
	})
}

func TestDeleteUserCascades(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		u, _ := d.CreateUser(ctx, "gone", "pw", false)
		keep, _ := d.CreateUser(ctx, "kept", "pw", false)
		token, _, err := d.CreateSession(ctx, u.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := d.CreateAPIKey(ctx, u.ID, "k", KeyLimits{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.CreateConversation(ctx, Conversation{OwnerID: u.ID, Title: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.AddMessage(ctx, Message{ConversationID: c.ID, Role: "user", Content: "hi"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.SavePreset(ctx, Preset{OwnerID: u.ID, Category: "life", Name: "mine", Prompt: "p"}); err != nil {
			t.Fatal(err)
		}
		kc, _ := d.CreateConversation(ctx, Conversation{OwnerID: keep.ID})

		if err := d.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.LookupSession(ctx, token); !errors.Is(err, ErrNotFound) {
			t.Errorf("session of deleted user: err = %v", err)
		}
		if _, _, err := d.LookupAPIKey(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("key of deleted user: err = %v", err)
		}
		if ms, _ := d.Messages(ctx, c.ID); len(ms) != 0 {
			t.Errorf("messages of deleted user's conversation survive: %+v", ms)
		}
		all, _ := d.AllConversations(ctx, "", 0, 0)
		if len(all) != 1 || all[0].ID != kc.ID {
			t.Errorf("AllConversations after delete = %+v, want only %s", all, kc.ID)
		}
		if ps, _ := d.Presets(ctx, u.ID); len(ps) != 0 {
			t.Errorf("presets of deleted user survive: %+v", ps)
		}
		for _, left := range []struct {
			table, column string
			value         any
		}{
			{"sessions", "user_id", u.ID},
			{"api_keys", "user_id", u.ID},
			{"conversations", "owner_id", u.ID},
			{"messages", "conversation_id", c.ID},
			{"presets", "owner_id", u.ID},
		} {
			var n int
			err := d.queryRow(ctx, "SELECT COUNT(*) FROM "+left.table+" WHERE "+left.column+" = ?", left.value).Scan(&n)
			if err != nil || n != 0 {
				t.Errorf("%s rows of the deleted user = %d, %v; want 0", left.table, n, err)
			}
		}
	})
}

// TestAuthenticateTiming checks an unknown name costs about as much as a
// wrong password, so response times do not reveal which names exist.
func TestAuthenticateTiming(t *testing.T) {
	d := openSQLite(t)
	ctx := context.Background()
	if _, err := d.CreateUser(ctx, "known", "secret", false); err != nil {
		t.Fatal(err)
	}
	dummyHash() // computed once, lazily: not part of the per-call cost
	// Interleaved, and the fastest of several: other processes on the machine only add time.
	known, unknown := time.Hour, time.Hour
	for range 7 {
		for _, name := range []string{"known", "unknown"} {
			start := time.Now()
			d.Authenticate(ctx, name, "wrong")
			took := time.Since(start)
			if name == "known" {
				known = min(known, took)
			} else {
				unknown = min(unknown, took)
			}
		}
	}
	if unknown < known/2 || known < unknown/2 {
		t.Errorf("Authenticate: wrong password takes %v, unknown user %v; want within 2x", known, unknown)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("密码 pw")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("密码 pw")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: salt missing")
	}
	tests := []struct {
		hash, password string
		ok, err        bool
	}{
		{h, "密码 pw", true, false},
		{h, "密码 pW", false, false},
		{h, "", false, false},
		{"$2a$10$bcryptlooking", "x", false, true},
		{"$argon2id$v=19$m=19456,t=0,p=1$AAAA$AAAA", "x", false, true},
		{"$argon2id$v=19$m=19456,t=2,p=1$!!$AAAA", "x", false, true},
		{"", "x", false, true},
	}
	for _, tc := range tests {
		ok, err := checkPassword(tc.hash, tc.password)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("checkPassword(%q, %q) = %v, %v; want %v, error %v", tc.hash, tc.password, ok, err, tc.ok, tc.err)
		}
	}
}
