package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"zhiyan/internal/golden"
)

func TestServeRefusesOpenNetworkWithoutKey(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	t.Setenv("ZHIYAN_API_KEY", "")
	t.Setenv("ZHIYAN_API_KEYS", "")
	_, stderr, code := zhiyan(t, "serve", model, "--host", "0.0.0.0", "--port", "0")
	if code != 1 || !strings.Contains(stderr, "without an API key") {
		t.Fatalf("serve --host 0.0.0.0 = exit %d, %q; want a refusal", code, stderr)
	}
	_, stderr, code = zhiyan(t, "serve")
	if code != 2 || !strings.Contains(stderr, "MODEL.gguf") {
		t.Fatalf("serve without models = exit %d, %q", code, stderr)
	}
	_, stderr, code = zhiyan(t, "serve", model, "--port", "http")
	if code != 1 || !strings.Contains(stderr, "port") {
		t.Fatalf("serve --port http = exit %d, %q", code, stderr)
	}
}

// TestServe starts `zhiyan serve` on a free port, chats once and stops it
// as a signal would.
func TestServe(t *testing.T) {
	model := golden.Path(t, "qwen2-mini/qwen2-mini-F32.gguf")
	t.Setenv("ZHIYAN_PORT", "0")
	t.Setenv("ZHIYAN_API_KEYS", "k1, k2")
	stopServe = make(chan struct{})
	defer func() { stopServe = nil }()
	outR, outW := io.Pipe()
	exit := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		exit <- mainExit([]string{"serve", model, "--parallel", "2", "--ctx", "256"}, outW, &stderr)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the start-up line: %v (stderr %s)", err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "zhiyan serving on ")
	if !ok || strings.HasSuffix(url, ":0") || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("start-up line %q", line)
	}
	go io.Copy(io.Discard, outR)

	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"model":"qwen2-mini-F32","messages":[{"role":"user","content":"hi"}],"max_tokens":3}`))
	req.Header.Set("Authorization", "Bearer k2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"completion_tokens":3`) {
		t.Fatalf("chat = %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Get(url + "/v1/models"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("without a key: %v %v, want 401", resp.StatusCode, err)
	}

	close(stopServe)
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Errorf("still answering after shutdown")
	}
}
