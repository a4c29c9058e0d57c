package db

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestConcurrentMessages has many goroutines add and finish messages in
// shared and separate conversations: nothing is lost, ids are unique and
// each conversation keeps its messages in order.
func TestConcurrentMessages(t *testing.T) {
	const workers, perWorker = 16, 20
	forEachStore(t, func(t *testing.T, d *DB) {
		ctx := context.Background()
		u, _ := d.CreateUser(ctx, "u", "pw", false)
		shared, _ := d.CreateConversation(ctx, Conversation{OwnerID: u.ID})
		own := make([]Conversation, workers)
		for i := range own {
			own[i], _ = d.CreateConversation(ctx, Conversation{OwnerID: u.ID})
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					conv := own[w].ID
					if i%2 == 0 {
						conv = shared.ID
					}
					m, err := d.AddMessage(ctx, Message{ConversationID: conv, Role: "assistant", Status: StatusStreaming})
					if err != nil {
						t.Error(err)
						return
					}
					content := fmt.Sprintf("w%d-%d", w, i)
					if err := d.FinishMessage(ctx, Message{ID: m.ID, Content: content, Status: StatusComplete}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		total := 0
		for _, c := range append(own, shared) {
			ms, err := d.Messages(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := perWorker / 2
			if c.ID == shared.ID {
				want = workers * perWorker / 2
			}
			if len(ms) != want {
				t.Errorf("conversation %s has %d messages, want %d", c.ID, len(ms), want)
			}
			for i, m := range ms {
				if seen[m.ID] || m.Status != StatusComplete || (i > 0 && m.ID <= ms[i-1].ID) {
					t.Errorf("message %+v: duplicate id, out of order or not complete", m)
				}
				seen[m.ID] = true
			}
			total += len(ms)
		}
		if total != workers*perWorker {
			t.Errorf("%d messages stored, want %d", total, workers*perWorker)
		}
	})
}

// TestOpenRace opens one fresh store from several goroutines at once, as
// replicas starting together would: all succeed and each migration is
// applied exactly once.
func TestOpenRace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testOpenRace(t, filepath.Join(t.TempDir(), "race.db")) })
	t.Run("postgres", func(t *testing.T) { testOpenRace(t, newPostgresDB(t)) })
}

func testOpenRace(t *testing.T, dsn string) {
	const n = 4
	ctx := context.Background()
	dbs := make([]*DB, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range dbs {
		wg.Go(func() {
			<-start
			d, err := Open(ctx, dsn)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			dbs[i] = d
		})
	}
	close(start)
	wg.Wait()
	for _, d := range dbs {
		if d != nil {
			defer d.Close()
		}
	}
	if t.Failed() {
		return
	}
	ms, _ := migrations(dbs[0].Dialect())
	var applied, distinct int
	if err := dbs[0].sql.QueryRow("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != len(ms) || distinct != len(ms) {
		t.Errorf("schema_migrations has %d rows (%d versions), want %d", applied, distinct, len(ms))
	}
	// Every handle works: each writes a user the others can see.
	for i, d := range dbs {
		if _, err := d.CreateUser(ctx, fmt.Sprintf("user%d", i), "pw", false); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := dbs[n-1].CountUsers(ctx); n != len(dbs) {
		t.Errorf("CountUsers = %d, want %d", n, len(dbs))
	}
}

func TestMigrationsMatch(t *testing.T) {
	lite, err := migrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pgm, err := migrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pgm) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations, want the same non-zero number", len(lite), len(pgm))
	}
	for i := range lite {
		if lite[i].version != pgm[i].version || lite[i].name != pgm[i].name {
			t.Errorf("migration %d: SQLite %s, PostgreSQL %s", i, lite[i].name, pgm[i].name)
		}
	}
}

// TestNoSecretsInClear writes a password, a session token, a setup token and
// an API key, then scans every byte SQLite wrote (database, WAL, shared
// memory) for them; the hashes must be there instead.
func TestNoSecretsInClear(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := Open(ctx, filepath.Join(dir, "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	password := "correct horse battery staple"
	u, _ := d.CreateUser(ctx, "u", password, false)
	session, _, _ := d.CreateSession(ctx, u.ID, time.Hour)
	setup, _ := d.CreateSetupToken(ctx, time.Hour)
	key, _, _ := d.CreateAPIKey(ctx, u.ID, "k", KeyLimits{})
	secrets := map[string]string{"password": password, "session token": session, "setup token": setup, "API key": key}

	scan := func(when string) {
		var all []byte
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		for what, s := range secrets {
			if bytes.Contains(all, []byte(s)) {
				t.Errorf("%s: the %s is stored in clear", when, what)
			}
		}
		for _, s := range []string{session, setup, key} {
			if !bytes.Contains(all, []byte(hashToken(s))) {
				t.Errorf("%s: hash of %q not found: is the scan looking at the right files?", when, s[:8])
			}
		}
	}
	scan("before checkpoint")
	d.Close() // checkpoints the WAL into the main file
	scan("after close")
}

func TestOpenPaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	odd := filepath.Join(dir, "a b#?%", "数据")
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		filepath.Join(odd, "z.db"),
		"file:" + filepath.Join(dir, "uri.db") + "?cache=private",
	} {
		d, err := Open(ctx, dsn)
		if err != nil {
			t.Errorf("Open(%q): %v", dsn, err)
			continue
		}
		if d.Dialect() != SQLite {
			t.Errorf("Open(%q).Dialect() = %q", dsn, d.Dialect())
		}
		if err := d.Check(ctx); err != nil {
			t.Errorf("Open(%q).Check: %v", dsn, err)
		}
		var mode string
		d.sql.QueryRow("PRAGMA journal_mode").Scan(&mode)
		var fk int
		d.sql.QueryRow("PRAGMA foreign_keys").Scan(&fk)
		if mode != "wal" || fk != 1 {
			t.Errorf("Open(%q): journal_mode %q, foreign_keys %d; want wal, 1", dsn, mode, fk)
		}
		d.Close()
	}
	if _, err := os.Stat(filepath.Join(odd, "z.db")); err != nil {
		t.Errorf("database not created at the odd path: %v", err)
	}
	if d := openPostgres(t); d.Dialect() != Postgres || d.Check(ctx) != nil {
		t.Errorf("PostgreSQL: Dialect %q, Check %v", d.Dialect(), d.Check(ctx))
	}
}
