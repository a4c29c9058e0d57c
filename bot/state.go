package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"zhiyan/db"
)

// user is a platform user met by this process. Its state is loaded from the
// store once, changed under mu and written back after every change, so a
// restart finds deliveries, pending answers and memory settings as they were.
type user struct {
	id       int64
	platform string
	ext      string // the platform's user id

	mu     sync.Mutex
	loaded bool
	st     userState
	jobs   map[string]*job // by delivery key: this process's generations
	last   *job            // the newest generation; the next one waits for it
	sendMu sync.Mutex      // one push delivery at a time, so answers keep their order
}

// userState is what survives a restart, stored as JSON in the settings
// table under stateKey(user id).
type userState struct {
	Conv     string           `json:"conv,omitempty"` // the conversation new questions go to
	Scenario string           `json:"scenario,omitempty"`
	System   string           `json:"system,omitempty"` // the persona's prompt
	Active   int64            `json:"active,omitempty"` // Unix ms of the last question
	Seen     map[string]*seen `json:"seen,omitempty"`   // deliveries by key (MsgId, event_id…)
	Outbox   []outItem        `json:"outbox,omitempty"` // answers not yet delivered, oldest first
	Route    route            `json:"route"`            // how to reach the user now
}

// seen is one delivery: a platform's retries find it by key.
type seen struct {
	At       int64  `json:"at"`             // first delivery, Unix ms
	Attempts int    `json:"n"`              // deliveries so far
	Conv     string `json:"conv,omitempty"` // for a question: its conversation
	Asst     int64  `json:"asst,omitempty"` // and its answer's message id
	Question string `json:"q,omitempty"`
	// Reply is what the callback's own response carried, sent again when
	// the platform retries because that response was lost.
	Reply string `json:"reply,omitempty"`
	Async bool   `json:"async,omitempty"` // the answer goes out by push when ready
	Done  bool   `json:"done,omitempty"`  // the answer is finished (and queued or sent)
	Route route  `json:"route,omitzero"`
}

// outItem is an answer waiting for delivery.
type outItem struct {
	Asst     int64  `json:"asst,omitempty"`
	Question string `json:"q,omitempty"`
	Text     string `json:"text"`
	// Late items are delivered with a later message than their own, so
	// they carry the question they answer.
	Late bool `json:"late,omitempty"`
}

// route is how to deliver to a user outside a callback's response.
type route struct {
	To        string `json:"to,omitempty"`    // WeChat OpenID, WeCom UserID
	MessageID string `json:"mid,omitempty"`   // Feishu: the message to reply to
	Webhook   string `json:"hook,omitempty"`  // DingTalk sessionWebhook
	Expires   int64  `json:"exp,omitempty"`   // and its expiry, Unix ms
	Group     bool   `json:"group,omitempty"` // DingTalk: @ the sender in a group
	StaffID   string `json:"staff,omitempty"`
}

// maxSeen bounds the deliveries remembered per user; the oldest go first.
const maxSeen = 300

// replayWindow is how long a reply is kept to answer a platform's retry
// again; WeChat retries within 15 s.
const replayWindow = 10 * time.Minute

func stateKey(userID int64) string { return "bot.user." + strconv.FormatInt(userID, 10) }

// userFor returns the user entry for a db user, creating it on first use.
func (b *Bot) userFor(u db.User) *user {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.users[u.ID]
	if !ok {
		e = &user{id: u.ID, platform: u.Platform, ext: u.ExternalID, jobs: map[string]*job{}}
		b.users[u.ID] = e
	}
	return e
}

// load reads u's state from the store on first use. Call with u.mu held.
func (b *Bot) load(ctx context.Context, u *user) error {
	if u.loaded {
		return nil
	}
	v, err := b.db.Setting(ctx, stateKey(u.id))
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal([]byte(v), &u.st); err != nil {
			// A state we cannot read must not lock the user out: start over.
			b.log.Warn("bot: unreadable user state; starting afresh", "user", u.id, "err", err)
			u.st = userState{}
		}
	}
	if u.st.Seen == nil {
		u.st.Seen = map[string]*seen{}
	}
	u.loaded = true
	return nil
}

// save writes u's state. Call with u.mu held.
func (b *Bot) save(ctx context.Context, u *user) error {
	b.prune(u)
	data, err := json.Marshal(&u.st)
	if err != nil {
		return fmt.Errorf("bot: encoding user state: %w", err)
	}
	// Saving must not fail because the request that caused it went away.
	return b.db.SetSetting(context.WithoutCancel(ctx), stateKey(u.id), string(data))
}

// prune forgets deliveries older than DedupeTTL (keeping unfinished ones)
// and, beyond maxSeen, the oldest finished ones. Finished ones past the
// platforms' retry windows keep only what deduplication needs.
func (b *Bot) prune(u *user) {
	now := b.now()
	cutoff, slim := ms(now.Add(-b.cfg.DedupeTTL)), ms(now.Add(-replayWindow))
	for k, s := range u.st.Seen {
		finished := s.Done || s.Asst == 0
		switch {
		case s.At < cutoff && finished:
			delete(u.st.Seen, k)
		case s.At < slim && finished:
			s.Reply, s.Question, s.Route = "", "", route{}
		}
	}
	for len(u.st.Seen) > maxSeen {
		oldK, oldAt := "", int64(1<<62)
		for k, s := range u.st.Seen {
			if s.At < oldAt && (s.Done || s.Asst == 0) {
				oldK, oldAt = k, s.At
			}
		}
		if oldK == "" {
			break
		}
		delete(u.st.Seen, oldK)
	}
}

// takeOutbox removes and returns the queued answers. Call with u.mu held.
func takeOutbox(u *user) []outItem {
	items := u.st.Outbox
	u.st.Outbox = nil
	return items
}

func ms(t time.Time) int64 { return t.UnixMilli() }
