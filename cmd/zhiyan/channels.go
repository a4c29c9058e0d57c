package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"zhiyan/bot"
	"zhiyan/channel/feishu"
)

// serveConfig is the TOML file `zhiyan serve --config` reads. Its
// [channels] table has one section per chat platform to serve; secret
// values may be written "env:NAME" (from the environment) or "file:PATH"
// (the file's contents, trailing newline dropped).
type serveConfig struct {
	Channels *channelsConfig `toml:"channels"`
}

type channelsConfig struct {
	Model         string         `toml:"model"` // "" = the first servable model
	RateLimit     int            `toml:"rate_limit"`
	Allow         []string       `toml:"allow"`
	Deny          []string       `toml:"deny"`
	GroupPrefixes []string       `toml:"group_prefixes"`
	Greeting      string         `toml:"greeting"`
	Scenarios     []bot.Scenario `toml:"scenarios"`
	Memory        struct {
		Turns    int      `toml:"turns"`
		MaxChars int      `toml:"max_chars"`
		Idle     duration `toml:"idle"`
	} `toml:"memory"`
	WeChat *struct {
		Token           secret `toml:"token"`
		AESKey          secret `toml:"aes_key"`
		AppID           string `toml:"app_id"`
		AppSecret       secret `toml:"app_secret"`
		CustomerService bool   `toml:"customer_service"`
	} `toml:"wechat"`
	WeCom *struct {
		Token   secret `toml:"token"`
		AESKey  secret `toml:"aes_key"`
		CorpID  string `toml:"corp_id"`
		AgentID int64  `toml:"agent_id"`
		Secret  secret `toml:"secret"`
	} `toml:"wecom"`
	Feishu *struct {
		AppID             string `toml:"app_id"`
		AppSecret         secret `toml:"app_secret"`
		VerificationToken secret `toml:"verification_token"`
		EncryptKey        secret `toml:"encrypt_key"`
		BotOpenID         string `toml:"bot_open_id"`
		Lark              bool   `toml:"lark"` // Lark (larksuite.com) instead of Feishu
	} `toml:"feishu"`
	DingTalk *struct {
		AppSecret secret `toml:"app_secret"`
	} `toml:"dingtalk"`
}

// secret is a configuration string that may come from the environment or
// a file, so the file itself need hold no secret.
type secret string

func (s *secret) UnmarshalText(b []byte) error {
	v := string(b)
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val, ok := os.LookupEnv(name)
		if !ok {
			return fmt.Errorf("environment variable %s is not set", name)
		}
		v = val
	case strings.HasPrefix(v, "file:"):
		data, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return err
		}
		v = strings.TrimRight(string(data), "\r\n")
	}
	*s = secret(v)
	return nil
}

// duration is a Go duration string in TOML ("2h", "30m").
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

// loadServeConfig reads a config file; unknown keys are errors, so a typo
// does not silently switch a channel off.
func loadServeConfig(path string) (*serveConfig, error) {
	var c serveConfig
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("%s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	return &c, nil
}

// bots turns the [channels] table into the bots' configuration, or nil
// when there is none.
func (c *channelsConfig) bots() (*bot.Config, error) {
	if c == nil {
		return nil, nil
	}
	b := &bot.Config{Model: c.Model, RateLimit: c.RateLimit, Allow: c.Allow, Deny: c.Deny,
		GroupPrefixes: c.GroupPrefixes, Greeting: c.Greeting, Scenarios: c.Scenarios,
		Memory: bot.MemoryConfig{Turns: c.Memory.Turns, MaxChars: c.Memory.MaxChars, Idle: time.Duration(c.Memory.Idle)}}
	if w := c.WeChat; w != nil {
		b.WeChat = &bot.WeChatConfig{Token: string(w.Token), AESKey: string(w.AESKey), AppID: w.AppID, AppSecret: string(w.AppSecret), CustomerService: w.CustomerService}
	}
	if w := c.WeCom; w != nil {
		b.WeCom = &bot.WeComConfig{Token: string(w.Token), AESKey: string(w.AESKey), CorpID: w.CorpID, AgentID: w.AgentID, Secret: string(w.Secret)}
	}
	if w := c.Feishu; w != nil {
		b.Feishu = &bot.FeishuConfig{AppID: w.AppID, AppSecret: string(w.AppSecret), VerificationToken: string(w.VerificationToken),
			EncryptKey: string(w.EncryptKey), BotOpenID: w.BotOpenID}
		if w.Lark {
			b.Feishu.APIBase = feishu.LarkBaseURL
		}
	}
	if w := c.DingTalk; w != nil {
		b.DingTalk = &bot.DingTalkConfig{AppSecret: string(w.AppSecret)}
	}
	if b.WeChat == nil && b.WeCom == nil && b.Feishu == nil && b.DingTalk == nil {
		return nil, fmt.Errorf("[channels] configures no platform (wechat, wecom, feishu or dingtalk)")
	}
	return b, nil
}
