// Package bot is the assistant inside WeChat Official Accounts, WeCom,
// Feishu and DingTalk: it turns the platforms' callbacks (package channel and
// its children) into conversations in the store (package db) answered by a
// Generator, and delivers the answers within each platform's rules — above
// all WeChat's five seconds. It knows nothing of models or of the server
// that mounts its handler.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sync"
	"time"

	"zhiyan/chat"
	"zhiyan/db"
)

// Generator answers a conversation. The server implements it on its models;
// emit receives the answer as it is generated and Chat returns it whole.
type Generator interface {
	Chat(ctx context.Context, model string, msgs []chat.Message, emit func(text string) error) (string, error)
}

// MemoryConfig bounds what of a conversation goes back to the model.
type MemoryConfig struct {
	Turns    int           // user turns kept, the new question included; 0 = 10
	MaxChars int           // characters of history kept (the question always is); 0 = 4000
	Idle     time.Duration // after this long without a message, a new conversation starts; 0 = 2 h
}

// Scenario is a persona the user can switch to with "#场景 name".
type Scenario struct {
	Name, Prompt string
}

// Config is the bot's configuration. DB and Gen are required; a channel is
// served when its section is set.
type Config struct {
	DB    *db.DB
	Gen   Generator
	Model string // the model every answer uses, shown by "#模型"

	WeChat   *WeChatConfig
	WeCom    *WeComConfig
	Feishu   *FeishuConfig
	DingTalk *DingTalkConfig

	Memory MemoryConfig
	// RateLimit is the messages a user may send per minute; 0 = no limit.
	RateLimit int
	// Allow, when not empty, lists the only users served; Deny lists users
	// ignored. An entry is "platform:id" or a bare platform user id.
	Allow, Deny []string
	// GroupPrefixes make a group message addressed to the bot when it starts
	// with one of them (besides an @-mention), e.g. "智言".
	GroupPrefixes []string
	// Scenarios are offered by "#场景" besides the store's built-in presets.
	Scenarios []Scenario
	// Greeting answers a new follower; "" = a built-in greeting.
	Greeting string

	// GenTimeout bounds one generation; 0 = 5 min.
	GenTimeout time.Duration
	// CloseTimeout bounds how long Close waits for generations; 0 = 10 s.
	CloseTimeout time.Duration
	// DedupeTTL is how long a delivery id is remembered; 0 = 24 h.
	DedupeTTL time.Duration
	// RecoverWindow: at start, unfinished answers younger than this are
	// generated again; older ones get an apology. 0 = 1 h.
	RecoverWindow time.Duration

	Now    func() time.Time // nil = time.Now
	Logger *slog.Logger     // nil = discard
}

// Bot serves the channels. Create it with New, mount Handler, call Close on
// shutdown.
type Bot struct {
	cfg   Config
	db    *db.DB
	log   *slog.Logger
	mux   map[string]http.Handler // last path element → channel
	chans map[string]*channelInfo // platform → delivery

	ctx    context.Context // cancelled by Close: stops generations
	cancel context.CancelFunc
	wg     sync.WaitGroup // generations and background deliveries

	mu     sync.Mutex
	users  map[int64]*user
	closed bool // Close has begun: no new background work

	limiter *limiter
}

// channelInfo is how a platform delivers answers outside the callback's
// own response.
type channelInfo struct {
	// push sends one text (at most maxBytes) along r; nil when the platform
	// can only answer passively (WeChat without the customer-service API).
	push     func(ctx context.Context, r route, text string) error
	maxBytes int
	hint     string // ends every part of a split answer but the last
	// pushAll: every answer goes out by push (the callback is acknowledged
	// at once); otherwise only answers promised for later do.
	pushAll bool
}

// New checks cfg, builds the channels and resumes what a previous process
// left unfinished: answers interrupted mid-generation are generated again
// (or apologised for) and undelivered ones wait for the user's next message.
func New(cfg Config) (*Bot, error) {
	if cfg.DB == nil || cfg.Gen == nil {
		return nil, errors.New("bot: Config needs DB and Gen")
	}
	cfg = withDefaults(cfg)
	b := &Bot{
		cfg:     cfg,
		db:      cfg.DB,
		log:     cfg.Logger,
		mux:     map[string]http.Handler{},
		chans:   map[string]*channelInfo{},
		users:   map[int64]*user{},
		limiter: newLimiter(cfg.RateLimit, time.Minute),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for _, add := range []func() error{b.addWeChat, b.addWeCom, b.addFeishu, b.addDingTalk} {
		if err := add(); err != nil {
			b.cancel()
			return nil, err
		}
	}
	if err := b.recover(b.ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("bot: resuming unfinished answers: %w", err)
	}
	return b, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Memory.Turns <= 0 {
		cfg.Memory.Turns = 10
	}
	if cfg.Memory.MaxChars <= 0 {
		cfg.Memory.MaxChars = 4000
	}
	if cfg.Memory.Idle <= 0 {
		cfg.Memory.Idle = 2 * time.Hour
	}
	if cfg.GenTimeout <= 0 {
		cfg.GenTimeout = 5 * time.Minute
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 10 * time.Second
	}
	if cfg.DedupeTTL <= 0 {
		cfg.DedupeTTL = 24 * time.Hour
	}
	if cfg.RecoverWindow <= 0 {
		cfg.RecoverWindow = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Greeting == "" {
		cfg.Greeting = "你好，我是你的 AI 助手，办公、写作、生活上的问题都可以问我。发送「帮助」查看可用命令。"
	}
	return cfg
}

// Handler routes a callback by the last element of its path: /wechat,
// /wecom, /feishu, /dingtalk — so it works mounted with or without a
// stripped prefix (the server mounts it under /channel/). Channels not
// configured answer 404.
func (b *Bot) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := b.mux[path.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Close waits up to CloseTimeout for the generations in flight, then stops
// the rest; their answers are left interrupted in the store, and the next
// New generates them again. Undelivered answers stay in the store too.
func (b *Bot) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.cfg.CloseTimeout):
		b.cancel()
		<-done
	}
	b.cancel()
	return nil
}

func (b *Bot) now() time.Time { return b.cfg.Now() }

// goBackground runs f in the background, counted by Close; once Close has
// begun it does not run f and reports false.
func (b *Bot) goBackground(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

func (b *Bot) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
