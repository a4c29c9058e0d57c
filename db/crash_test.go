package db

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv carries the DSN to a re-executed test binary that writes
// messages until it is killed; crashConvEnv names the conversation.
const (
	crashChildEnv = "ZHIYAN_DB_CRASH_CHILD"
	crashConvEnv  = "ZHIYAN_DB_CRASH_CONVERSATION"
)

const crashWriters = 4

// crashChild writes answers the way the web UI does (a streaming placeholder,
// then FinishMessage) from several goroutines, printing each message id to
// stdout once FinishMessage has returned, until killed.
func crashChild(dsn string) {
	ctx := context.Background()
	d, err := Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	conv := os.Getenv(crashConvEnv)
	var mu sync.Mutex
	for range crashWriters {
		go func() {
			for {
				m, err := d.AddMessage(ctx, Message{ConversationID: conv, Role: "assistant", Status: StatusStreaming})
				if err == nil {
					err = d.FinishMessage(ctx, crashAnswer(m.ID))
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d\n", m.ID) // one write(2) per line: a pipe keeps it whole
				mu.Unlock()
			}
		}()
	}
	select {}
}

// crashAnswer is the final form of message id: long enough to span pages.
func crashAnswer(id int64) Message {
	return Message{ID: id, Content: fmt.Sprintf("answer %d %s", id, bytes.Repeat([]byte("答"), 1500)),
		Model: "m", PromptTokens: 3, CompletionTokens: int(id), DurationMs: 5, Status: StatusComplete}
}

// TestCrashConsistency kills a writing process with SIGKILL 20 times, then
// checks the store is intact, every message the child reported is there in
// full, and nothing is left streaming or half-written.
func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary 20 times")
	}
	t.Run("sqlite", func(t *testing.T) {
		testCrash(t, filepath.Join(t.TempDir(), "crash.db"))
	})
	t.Run("postgres", func(t *testing.T) { testCrash(t, newPostgresDB(t)) })
}

func testCrash(t *testing.T, dsn string) {
	ctx := context.Background()
	d, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := d.CreateUser(ctx, "crash", "pw", false)
	conv, err := d.CreateConversation(ctx, Conversation{OwnerID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	reported := map[int64]bool{}
	for i := range 20 {
		ids, stderr := runAndKill(t, dsn, conv.ID, 1+rand.IntN(25))
		if len(ids) == 0 {
			t.Fatalf("run %d: child reported nothing; stderr:\n%s", i, stderr)
		}
		for _, id := range ids {
			reported[id] = true
		}
	}

	d, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL frees a killed child's instance lock once its backend sees
	// the closed socket; until then its answers count as live.
	for deadline := time.Now().Add(10 * time.Second); streaming(t, d) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		d.MarkInterrupted(ctx)
	}
	ms, err := d.Messages(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	present := map[int64]bool{}
	interrupted := 0
	for _, m := range ms {
		present[m.ID] = true
		switch m.Status {
		case StatusComplete:
			want := crashAnswer(m.ID)
			if m.Content != want.Content || m.CompletionTokens != want.CompletionTokens {
				t.Errorf("message %d: complete but content or counts differ", m.ID)
			}
		case StatusInterrupted:
			interrupted++
			if m.Content != "" || m.CompletionTokens != 0 {
				t.Errorf("message %d: interrupted but half-written", m.ID)
			}
			if reported[m.ID] {
				t.Errorf("message %d: reported finished but interrupted", m.ID)
			}
		default:
			t.Errorf("message %d: status %q after reopening", m.ID, m.Status)
		}
	}
	for id := range reported {
		if !present[id] {
			t.Errorf("message %d was reported committed but is missing", id)
		}
	}
	t.Logf("%d messages reported, %d stored, %d interrupted", len(reported), len(ms), interrupted)
}

// runAndKill starts a crash child, lets it report n messages, kills it with
// SIGKILL and returns every id it reported.
func runAndKill(t *testing.T, dsn, conv string, n int) ([]int64, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dsn, crashConvEnv+"="+conv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() }) // a stuck child must not hang the test
	defer killer.Stop()
	var ids []int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			t.Fatalf("child wrote %q", sc.Text())
		}
		ids = append(ids, id)
		if len(ids) == n {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	return ids, stderr.String()
}

func streaming(t *testing.T, d *DB) int {
	var n int
	if err := d.queryRow(context.Background(), "SELECT COUNT(*) FROM messages WHERE status = ?", StatusStreaming).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
