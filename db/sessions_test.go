package db

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		u, _ := d.CreateUser(ctx, "u", "pw", false)
		token, s, err := d.CreateSession(ctx, u.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(token) != 43 || strings.ContainsAny(token, "+/=") {
			t.Errorf("token %q: want 43 base64url characters (32 bytes)", token)
		}
		if s.ID == "" || s.ID == token || s.UserID != u.ID || len(s.CSRF) < 32 || s.CSRF == token {
			t.Errorf("CreateSession = %+v", s)
		}
		gotS, gotU, err := d.LookupSession(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if gotS.ID != s.ID || gotS.CSRF != s.CSRF || gotU.ID != u.ID || gotS != s {
			t.Errorf("LookupSession = %+v, %+v; want %+v of user %d", gotS, gotU, s, u.ID)
		}
		for _, bad := range []string{"", "x", token[:42], token + "x", s.ID, s.CSRF} {
			if _, _, err := d.LookupSession(ctx, bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("LookupSession(%q): err = %v, want ErrNotFound", bad, err)
			}
		}
		if _, _, err := d.CreateSession(ctx, 9999, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("CreateSession for a missing user: err = %v, want ErrNotFound", err)
		}

		// Disabled users' sessions stop working, and work again on re-enable.
		d.DisableUser(ctx, u.ID, true)
		if _, _, err := d.LookupSession(ctx, token); !errors.Is(err, ErrNotFound) {
			t.Errorf("session of disabled user: err = %v, want ErrNotFound", err)
		}
		d.DisableUser(ctx, u.ID, false)
		if _, _, err := d.LookupSession(ctx, token); err != nil {
			t.Errorf("session of re-enabled user: %v", err)
		}

		// Expiry, by the injected clock.
		d.now = func() time.Time { return time.Now().Add(time.Hour + time.Second) }
		if _, _, err := d.LookupSession(ctx, token); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session: err = %v, want ErrNotFound", err)
		}
		d.now = time.Now

		t2, _, _ := d.CreateSession(ctx, u.ID, time.Hour)
		t3, _, _ := d.CreateSession(ctx, u.ID, time.Hour)
		if err := d.DeleteSession(ctx, t2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.LookupSession(ctx, t2); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: err = %v", err)
		}
		if _, _, err := d.LookupSession(ctx, t3); err != nil {
			t.Errorf("DeleteSession removed another session: %v", err)
		}
		if err := d.DeleteSession(ctx, "unknown"); err != nil {
			t.Errorf("DeleteSession(unknown) = %v, want nil", err)
		}
		if err := d.DeleteUserSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{token, t3} {
			if _, _, err := d.LookupSession(ctx, tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("session after DeleteUserSessions: err = %v", err)
			}
		}
	})
}

func TestSetupTokens(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		token, err := d.CreateSetupToken(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.ConsumeSetupToken(ctx, "wrong"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ConsumeSetupToken(wrong): err = %v, want ErrNotFound", err)
		}
		// Racing consumers: exactly one wins.
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				err := d.ConsumeSetupToken(ctx, token)
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
				mu.Lock()
				if err == nil {
					wins++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("6 concurrent ConsumeSetupToken: %d succeeded, want 1", wins)
		}
		expiring, _ := d.CreateSetupToken(ctx, time.Minute)
		d.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		if err := d.ConsumeSetupToken(ctx, expiring); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired setup token: err = %v, want ErrNotFound", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		alice, _ := d.CreateUser(ctx, "alice", "pw", true)
		bob, _ := d.CreateUser(ctx, "bob", "pw", false)
		limits := KeyLimits{RequestsPerMinute: 60, TokenQuota: 1000}
		plain, k, err := d.CreateAPIKey(ctx, bob.ID, "laptop", limits)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, KeyPrefix) || len(plain) < 40 || k.Prefix != plain[:8] {
			t.Errorf("CreateAPIKey = %q, prefix %q", plain, k.Prefix)
		}
		if k.ID == 0 || k.UserID != bob.ID || k.Name != "laptop" || k.Limits != limits || k.Revoked || k.Created.IsZero() || !k.LastUsed.IsZero() {
			t.Errorf("CreateAPIKey record = %+v", k)
		}
		aplain, ak, _ := d.CreateAPIKey(ctx, alice.ID, "admin", KeyLimits{})

		gotK, gotU, err := d.LookupAPIKey(ctx, plain)
		if err != nil || gotK.ID != k.ID || gotU.ID != bob.ID || gotK.Limits != limits || gotK.LastUsed.IsZero() {
			t.Errorf("LookupAPIKey = %+v, %+v, %v", gotK, gotU, err)
		}
		for _, bad := range []string{"", plain[:len(plain)-1], plain + "x", k.Prefix, hashToken(plain)} {
			if _, _, err := d.LookupAPIKey(ctx, bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("LookupAPIKey(%q): err = %v, want ErrNotFound", bad, err)
			}
		}

		// Usage adds up under concurrency.
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, err := d.AddKeyUsage(ctx, k.ID, 7); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if total, err := d.AddKeyUsage(ctx, k.ID, 1); err != nil || total != 71 {
			t.Errorf("AddKeyUsage total = %d, %v; want 71", total, err)
		}
		if _, err := d.AddKeyUsage(ctx, 9999, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddKeyUsage(missing): err = %v, want ErrNotFound", err)
		}

		mine, err := d.APIKeys(ctx, bob.ID)
		if err != nil || len(mine) != 1 || mine[0].ID != k.ID || mine[0].TokensUsed != 71 {
			t.Errorf("APIKeys(bob) = %+v, %v", mine, err)
		}
		all, err := d.APIKeys(ctx, 0)
		if err != nil || len(all) != 2 || all[0].ID != k.ID || all[1].ID != ak.ID {
			t.Errorf("APIKeys(0) = %+v, %v; want both keys", all, err)
		}
		if one, err := d.APIKey(ctx, ak.ID); err != nil || one.UserID != alice.ID {
			t.Errorf("APIKey(%d) = %+v, %v", ak.ID, one, err)
		}

		d.DisableUser(ctx, bob.ID, true)
		if _, _, err := d.LookupAPIKey(ctx, plain); !errors.Is(err, ErrNotFound) {
			t.Errorf("key of disabled user: err = %v, want ErrNotFound", err)
		}
		d.DisableUser(ctx, bob.ID, false)

		if err := d.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.LookupAPIKey(ctx, plain); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked key: err = %v, want ErrNotFound", err)
		}
		if _, _, err := d.LookupAPIKey(ctx, aplain); err != nil {
			t.Errorf("revoking one key broke another: %v", err)
		}
		if got, _ := d.APIKey(ctx, k.ID); !got.Revoked {
			t.Errorf("APIKey after revoke: Revoked = false")
		}
		if err := d.RevokeAPIKey(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeAPIKey(missing): err = %v, want ErrNotFound", err)
		}
		if _, _, err := d.CreateAPIKey(ctx, 9999, "x", KeyLimits{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("CreateAPIKey for a missing user: err = %v, want ErrNotFound", err)
		}
	})
}
