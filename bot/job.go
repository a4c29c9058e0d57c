package bot

import (
	"context"
	"strings"
	"time"

	"zhiyan/db"
)

// job is one generation: the answer to one question, written into the
// placeholder message asst. A user's jobs run one after another, so each
// question sees the answers before it.
type job struct {
	u        *user
	key      string // delivery key; "" for none
	conv     string
	asst     int64
	question string
	route    route // where a pushed answer goes
	prev     *job  // runs after this one is done
	done     chan struct{}

	// Under u.mu:
	finished bool // the answer is in the outbox (or sent)
	async    bool // push the answer when it is ready
}

// start queues j after the user's newest job. Called with u.mu held.
func (b *Bot) start(u *user, j *job) {
	j.u, j.prev, j.done = u, u.last, make(chan struct{})
	u.last = j
	if j.key != "" {
		u.jobs[j.key] = j
	}
	if !b.goBackground(func() { b.run(j) }) {
		// Closing: the placeholder stays streaming, so the next process
		// marks it interrupted and generates it again.
		j.finished = true
		close(j.done)
	}
}

func (b *Bot) run(j *job) {
	if j.prev != nil {
		select {
		case <-j.prev.done:
		case <-b.ctx.Done():
		}
	}
	start := time.Now()
	answer, err := b.generate(j)
	b.finish(j, answer, err, time.Since(start))
}

// generate builds the conversation's history up to j's question and runs
// the model on it; on failure it returns what was generated so far.
func (b *Bot) generate(j *job) (string, error) {
	if err := b.ctx.Err(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.GenTimeout)
	defer cancel()
	msgs, err := b.db.Messages(ctx, j.conv)
	if err != nil {
		return "", err
	}
	conv, err := b.db.Conversation(ctx, j.u.id, j.conv)
	if err != nil {
		return "", err
	}
	var partial strings.Builder
	answer, err := b.cfg.Gen.Chat(ctx, b.cfg.Model, history(msgs, j.asst, conv.System, b.cfg.Memory),
		func(text string) error { partial.WriteString(text); return nil })
	if err != nil {
		return partial.String(), err
	}
	return answer, nil
}

// finish stores the answer and queues it for delivery — pushing it at once
// when the user is waiting for a push. When the bot is closing, the answer
// is left interrupted for the next process to generate again.
func (b *Bot) finish(j *job, answer string, genErr error, took time.Duration) {
	ctx := context.WithoutCancel(b.ctx)
	m := db.Message{ID: j.asst, Content: answer, Model: b.cfg.Model, DurationMs: took.Milliseconds(), Status: db.StatusComplete}
	text := strings.TrimSpace(answer)
	closing := b.ctx.Err() != nil
	switch {
	case closing:
		m.Status = db.StatusInterrupted
	case genErr != nil:
		m.Status, m.Error, text = db.StatusError, genErr.Error(), msgFailed
		b.log.Warn("bot: generation failed", "user", j.u.id, "message", j.asst, "err", genErr)
	case text == "":
		text = msgEmpty
	}
	if err := b.db.FinishMessage(ctx, m); err != nil {
		b.log.Error("bot: storing an answer", "message", j.asst, "err", err)
	}
	u := j.u
	u.mu.Lock()
	j.finished = true
	if j.key != "" && u.jobs[j.key] == j {
		delete(u.jobs, j.key)
	}
	async := j.async
	if !closing {
		if s := u.st.Seen[j.key]; s != nil {
			s.Done = true
		}
		u.st.Outbox = append(u.st.Outbox, outItem{Asst: j.asst, Question: j.question, Text: text})
		if err := b.save(ctx, u); err != nil {
			b.log.Error("bot: saving user state", "user", u.id, "err", err)
		}
	}
	u.mu.Unlock()
	close(j.done)
	if async && !closing {
		b.flush(ctx, u, j.route, j.asst)
	}
}

// flush pushes every queued answer along r, in order; own is the answer
// r belongs to (0 if none), the others say which question they answer.
// What cannot be sent stays queued, marked late, for the next message.
func (b *Bot) flush(ctx context.Context, u *user, r route, own int64) {
	ci := b.chans[u.platform]
	if ci == nil || ci.push == nil {
		return
	}
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	u.mu.Lock()
	items := takeOutbox(u)
	if len(items) > 0 {
		b.saveLogged(ctx, u)
	}
	u.mu.Unlock()
	for i, it := range items {
		for _, part := range splitText(it.text(own), ci.maxBytes, ci.hint) {
			if err := ci.push(ctx, r, part); err != nil {
				b.log.Warn("bot: push failed; the answer waits for the next message", "platform", u.platform, "user", u.id, "err", err)
				u.mu.Lock()
				rest := items[i:]
				for k := range rest {
					rest[k].Late = true
				}
				u.st.Outbox = append(rest, u.st.Outbox...)
				b.saveLogged(ctx, u)
				u.mu.Unlock()
				return
			}
		}
	}
}

// pushText sends a reply that is not an answer (a command's, a greeting)
// in the background.
func (b *Bot) pushText(platform string, r route, text string) {
	ci := b.chans[platform]
	if ci == nil || ci.push == nil || text == "" {
		return
	}
	b.goBackground(func() {
		for _, part := range splitText(text, ci.maxBytes, ci.hint) {
			if err := ci.push(b.ctx, r, part); err != nil {
				b.log.Warn("bot: push failed", "platform", platform, "err", err)
				return
			}
		}
	})
}

func (b *Bot) saveLogged(ctx context.Context, u *user) {
	if err := b.save(ctx, u); err != nil {
		b.log.Error("bot: saving user state", "user", u.id, "err", err)
	}
}
