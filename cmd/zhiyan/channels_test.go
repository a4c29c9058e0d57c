package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "zhiyan.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeConfig: every platform's section, secrets from the environment
// and from files, and the mistakes a config file can hold.
func TestServeConfig(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "aes")
	if err := os.WriteFile(secretFile, []byte("aes-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_WX_TOKEN", "tok")
	cfg, err := loadServeConfig(writeConfig(t, `
[channels]
model = "qwen2.5:1.5b"
rate_limit = 20
group_prefixes = ["智言"]
scenarios = [{Name = "诗人", Prompt = "你是诗人"}]
[channels.memory]
turns = 6
idle = "30m"
[channels.wechat]
token = "env:TEST_WX_TOKEN"
aes_key = "file:`+secretFile+`"
app_id = "wx1"
customer_service = true
[channels.wecom]
token = "t"
corp_id = "ww1"
agent_id = 1000002
[channels.feishu]
app_id = "cli_1"
lark = true
[channels.dingtalk]
app_secret = "s"
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.Channels.bots()
	if err != nil {
		t.Fatal(err)
	}
	if b.Model != "qwen2.5:1.5b" || b.RateLimit != 20 || b.Memory.Turns != 6 || b.Memory.Idle != 30*time.Minute ||
		len(b.Scenarios) != 1 || b.Scenarios[0].Name != "诗人" || b.GroupPrefixes[0] != "智言" {
		t.Errorf("common settings: %+v", b)
	}
	if b.WeChat.Token != "tok" || b.WeChat.AESKey != "aes-from-file" || !b.WeChat.CustomerService ||
		b.WeCom.AgentID != 1000002 || b.Feishu.APIBase == "" || b.DingTalk.AppSecret != "s" {
		t.Errorf("platforms: %+v %+v %+v %+v", b.WeChat, b.WeCom, b.Feishu, b.DingTalk)
	}

	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", "[channels.wechat]\ntokn = \"x\"\n", "tokn"},
		{"unset variable", "[channels.dingtalk]\napp_secret = \"env:ZHIYAN_TEST_UNSET\"\n", "ZHIYAN_TEST_UNSET"},
		{"missing file", "[channels.dingtalk]\napp_secret = \"file:/nonexistent/secret\"\n", "nonexistent"},
		{"bad duration", "[channels.memory]\nidle = \"soon\"\n", "soon"},
		{"bad TOML", "[channels\n", "zhiyan.toml"},
	} {
		if _, err := loadServeConfig(writeConfig(t, tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	cfg, err = loadServeConfig(writeConfig(t, "[channels]\nmodel = \"x\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Channels.bots(); err == nil {
		t.Error("a [channels] section without a platform was accepted")
	}
	if cfg, err = loadServeConfig(writeConfig(t, "")); err != nil || cfg.Channels != nil {
		t.Errorf("an empty file: %+v, %v", cfg, err)
	}
}
