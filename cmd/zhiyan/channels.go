package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"zhiyan/bot"
	"zhiyan/channel/feishu"
)

// channelsFile is the JSON file `zhiyan serve --channels` reads: one section
// per chat platform to serve, secrets usually written as ${ENV_VAR}.
type channelsFile struct {
	Model  string `json:"model"` // "" = the first servable model
	WeChat *struct {
		Token, AESKey, AppID, AppSecret string
		CustomerService                 bool `json:"customer_service"`
	} `json:"wechat"`
	WeCom *struct {
		Token, AESKey, CorpID, Secret string
		AgentID                       int64 `json:"agent_id"`
	} `json:"wecom"`
	Feishu *struct {
		AppID, AppSecret, EncryptKey, BotOpenID string
		VerificationToken                       string `json:"verification_token"`
		Lark                                    bool   // Lark (larksuite.com) instead of Feishu
	} `json:"feishu"`
	DingTalk *struct {
		AppSecret string
	} `json:"dingtalk"`
	Memory struct {
		Turns    int    `json:"turns"`
		MaxChars int    `json:"max_chars"`
		Idle     string `json:"idle"` // a Go duration, e.g. "2h"
	} `json:"memory"`
	RateLimit     int            `json:"rate_limit"` // messages per user per minute
	Allow         []string       `json:"allow"`
	Deny          []string       `json:"deny"`
	GroupPrefixes []string       `json:"group_prefixes"`
	Greeting      string         `json:"greeting"`
	Scenarios     []bot.Scenario `json:"scenarios"`
}

// loadChannels reads a channels file: ${VAR} is replaced by the
// environment's VAR first, so secrets need not sit in the file.
func loadChannels(path string) (*bot.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var missing []string
	expanded := os.Expand(string(data), func(name string) string {
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: environment variables %v are not set", path, missing)
	}
	var f channelsFile
	dec := json.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &bot.Config{Model: f.Model, RateLimit: f.RateLimit, Allow: f.Allow, Deny: f.Deny,
		GroupPrefixes: f.GroupPrefixes, Greeting: f.Greeting, Scenarios: f.Scenarios,
		Memory: bot.MemoryConfig{Turns: f.Memory.Turns, MaxChars: f.Memory.MaxChars}}
	if f.Memory.Idle != "" {
		if c.Memory.Idle, err = time.ParseDuration(f.Memory.Idle); err != nil {
			return nil, fmt.Errorf("%s: memory.idle: %w", path, err)
		}
	}
	if w := f.WeChat; w != nil {
		c.WeChat = &bot.WeChatConfig{Token: w.Token, AESKey: w.AESKey, AppID: w.AppID, AppSecret: w.AppSecret, CustomerService: w.CustomerService}
	}
	if w := f.WeCom; w != nil {
		c.WeCom = &bot.WeComConfig{Token: w.Token, AESKey: w.AESKey, CorpID: w.CorpID, AgentID: w.AgentID, Secret: w.Secret}
	}
	if w := f.Feishu; w != nil {
		c.Feishu = &bot.FeishuConfig{AppID: w.AppID, AppSecret: w.AppSecret, VerificationToken: w.VerificationToken, EncryptKey: w.EncryptKey, BotOpenID: w.BotOpenID}
		if w.Lark {
			c.Feishu.APIBase = feishu.LarkBaseURL
		}
	}
	if w := f.DingTalk; w != nil {
		c.DingTalk = &bot.DingTalkConfig{AppSecret: w.AppSecret}
	}
	if c.WeChat == nil && c.WeCom == nil && c.Feishu == nil && c.DingTalk == nil {
		return nil, fmt.Errorf("%s: no channel configured (wechat, wecom, feishu or dingtalk)", path)
	}
	return c, nil
}
