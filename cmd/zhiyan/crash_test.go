package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zhiyan/db"
	"zhiyan/internal/golden"
)

// serveArgsEnv makes the test binary run `zhiyan serve` with these
// (JSON-encoded) arguments instead of the tests: the crash test's server.
const serveArgsEnv = "ZHIYAN_TEST_SERVE_ARGS"

func TestMain(m *testing.M) {
	if v := os.Getenv(serveArgsEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(mainExit(append([]string{"serve"}, args...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// answer is an assistant message whose final event reached a client.
type answer struct {
	conv            string
	id              int64
	content, status string
}

// TestCrashLosesNoAnswer kills `zhiyan serve` with SIGKILL 20 times while 8
// clients chat in the web chat: after every restart the database passes its
// integrity check, and every answer whose final event reached its client is
// there, complete and identical.
func TestCrashLosesNoAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 20 times")
	}
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	home := filepath.Join(t.TempDir(), "models")
	ctx := context.Background()

	// One user, made through the database itself; the clients open new
	// conversations as they go.
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(ctx, filepath.Join(home, "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, "wang", "a long passphrase", false); err != nil {
		t.Fatal(err)
	}
	d.Close()

	args, _ := json.Marshal([]string{model, "--port", "0", "--parallel", "4", "--ctx", "512"})
	var (
		mu       sync.Mutex
		answered []answer
	)
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), serveArgsEnv+"="+string(args), "ZHIYAN_HOME="+home, "ZHIYAN_DB=", "ZHIYAN_API_KEY=", "ZHIYAN_API_KEYS=")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		base, ok := strings.CutPrefix(strings.TrimSpace(line), "zhiyan serving on ")
		if err != nil || !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: start-up line %q, %v: %s", round, line, err, stderr.String())
		}
		go io.Copy(io.Discard, stdout)

		var wg sync.WaitGroup
		first := make(chan struct{}, 8)
		for range 8 {
			wg.Go(func() {
				for _, a := range chatUntilGone(base, first) {
					mu.Lock()
					answered = append(answered, a)
					mu.Unlock()
				}
			})
		}
		// Kill at a random moment once answers flow (slow builds, such as
		// the race detector's, take longer to get there).
		select {
		case <-first:
		case <-time.After(30 * time.Second):
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no shutdown of any kind
		cmd.Wait()
		wg.Wait()
	}

	d, err = db.Open(ctx, filepath.Join(home, "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Check(ctx); err != nil {
		t.Fatalf("integrity check after 20 kills: %v", err)
	}
	if len(answered) < 20 {
		t.Fatalf("only %d answers completed in 20 rounds: the test proves little", len(answered))
	}
	users, err := d.Users(ctx)
	if err != nil || len(users) != 1 {
		t.Fatalf("users %v, %v", users, err)
	}
	convs, err := d.Conversations(ctx, users[0].ID, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]db.Message{}
	for _, conv := range convs {
		msgs, err := d.Messages(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			stored[m.ID] = m
			if m.Status == db.StatusStreaming {
				t.Errorf("message %d is still marked streaming after a restart", m.ID)
			}
		}
	}
	complete := 0
	for _, a := range answered {
		if a.status == db.StatusComplete {
			complete++
		}
		m, ok := stored[a.id]
		if !ok || m.ConversationID != a.conv || m.Status != a.status || m.Content != a.content {
			t.Errorf("answer %d that reached its client: stored %+v (found %v)", a.id, m, ok)
		}
	}
	if complete < len(answered)/2 {
		t.Errorf("only %d of %d delivered answers are complete", complete, len(answered))
	}
	t.Logf("%d answers (%d complete) delivered and found intact across 20 kills", len(answered), complete)
}

// chatUntilGone signs in and asks questions, a few per new conversation,
// until the server goes away, returning the answers whose final event
// arrived; it signals answered after each.
func chatUntilGone(base string, answered chan<- struct{}) []answer {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Post(base+"/app/login", "application/json", strings.NewReader(`{"name":"wang","password":"a long passphrase"}`))
	if err != nil {
		return nil
	}
	var s struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	post := func(path, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", s.CSRF)
		return c.Do(req)
	}
	var out []answer
	conv := ""
	for i := 0; ; i++ {
		if i%4 == 0 {
			resp, err := post("/app/conversations", `{"title":"crash","model":"qwen2-mini-F32","settings":{"max_tokens":24}}`)
			if err != nil {
				return out
			}
			var cv struct{ ID string }
			json.NewDecoder(resp.Body).Decode(&cv)
			resp.Body.Close()
			if cv.ID == "" {
				return out
			}
			conv = cv.ID
		}
		resp, err := post("/app/conversations/"+conv+"/messages", fmt.Sprintf(`{"content":"第%d个问题：写一首诗"}`, i))
		if err != nil {
			return out
		}
		a, ok := finalEvent(resp.Body)
		resp.Body.Close()
		if !ok {
			return out
		}
		a.conv = conv
		out = append(out, a)
		select {
		case answered <- struct{}{}:
		default:
		}
	}
}

// finalEvent reads an answer's SSE stream and returns its "done" event.
func finalEvent(r io.Reader) (answer, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
			continue
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && event == "done" {
			var m struct {
				ID              int64
				Content, Status string
			}
			if json.Unmarshal([]byte(v), &m) != nil || m.ID == 0 {
				return answer{}, false
			}
			return answer{id: m.ID, content: m.Content, status: m.Status}, true
		}
	}
	return answer{}, false
}
