package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"zhiyan/db"
)

// inbound is one user message, in the platforms' common terms.
type inbound struct {
	platform string
	ext      string // the platform's user id
	name     string // display name, for the admin's view
	key      string // delivery id: retries of one message share it
	text     string
	route    route
}

// intake is what accept made of a message.
type intake struct {
	u      *user
	s      *seen // the delivery's record
	retry  bool  // a platform retry of a delivery already accepted
	ignore bool  // nothing to answer (denied user)
	// reply is an answer to give at once: a command's, a refusal, or, on a
	// retry, the reply given before.
	reply string
	// job is the generation the answer waits for: the question's own, or for
	// a "继续" the newest one; nil when nothing is pending.
	job  *job
	asst int64 // the message's own answer id (0 if it asked nothing)
	// flush: answers are waiting for delivery (push platforms send them now).
	flush bool
	// attempts is the delivery's count so far and first its first arrival
	// (s is shared with other deliveries: read it under u.mu only).
	attempts int
	first    time.Time
}

var errClosed = errors.New("bot: closed")

// Replies the bot gives without the model.
const (
	msgNotAllowed  = "抱歉，你暂时没有使用这个助手的权限，请联系管理员。"
	msgRateLimited = "消息太频繁了，请稍等一分钟再发。"
	msgNotText     = "暂时只能处理文字消息，图片、文件等还不支持，请用文字描述你的问题。"
	msgNoVoiceText = "收到语音，但没有拿到识别结果（公众号需开启「接收语音识别结果」）。请直接发文字。"
	msgComing      = "问题有点难，我还在思考。稍后回复任意文字（如「继续」）即可获取答案。"
	msgFailed      = "抱歉，生成回答时出错了，请稍后再试。"
	msgEmpty       = "抱歉，我没有想到合适的回答，请换个说法再问一次。"
)

// accept records one message and decides its answer: a retry finds its
// first delivery; a command or refusal is answered at once; a question is
// stored (the user's message and a streaming answer placeholder) before its
// generation starts, queued after the user's previous one.
func (b *Bot) accept(ctx context.Context, in inbound) (*intake, error) {
	if b.isClosed() {
		return nil, errClosed
	}
	if b.listed(b.cfg.Deny, in) {
		return &intake{ignore: true}, nil
	}
	if len(b.cfg.Allow) > 0 && !b.listed(b.cfg.Allow, in) {
		return &intake{reply: msgNotAllowed}, nil
	}
	du, err := b.db.PlatformUser(ctx, in.platform, in.ext, in.name)
	if err != nil {
		return nil, err
	}
	if du.Disabled {
		return &intake{ignore: true}, nil
	}
	u := b.userFor(du)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := b.load(ctx, u); err != nil {
		return nil, err
	}
	u.st.Route = in.route
	now := b.now()
	if s := u.st.Seen[in.key]; s != nil && in.key != "" {
		s.Attempts++
		it := &intake{u: u, s: s, retry: true, reply: s.Reply, asst: s.Asst, flush: len(u.st.Outbox) > 0,
			attempts: s.Attempts, first: time.UnixMilli(s.At)}
		if s.Reply == "" && !s.Done {
			it.job = u.jobs[in.key]
		}
		return it, b.save(ctx, u)
	}
	s := &seen{At: ms(now), Attempts: 1, Route: in.route}
	if in.key != "" {
		u.st.Seen[in.key] = s
	}
	it := &intake{u: u, s: s, flush: len(u.st.Outbox) > 0, attempts: 1, first: now}
	if !b.limiter.allow(u.id, now) {
		s.Reply = msgRateLimited
		it.reply = s.Reply
		return it, b.save(ctx, u)
	}
	if reply, ok, err := b.command(ctx, u, in.text); err != nil {
		return nil, err
	} else if ok {
		s.Reply = reply
		it.reply = reply
		return it, b.save(ctx, u)
	}
	if isContinue(in.text) && (len(u.st.Outbox) > 0 || u.pending() != nil) {
		// Only fetching what is pending: not a question for the model.
		it.job = u.pending()
		return it, b.save(ctx, u)
	}
	if err := b.ask(ctx, u, du, in, s, now); err != nil {
		delete(u.st.Seen, in.key)
		return nil, err
	}
	it.job, it.asst = u.jobs[in.key], s.Asst
	return it, b.save(ctx, u)
}

// ask stores a question and starts its generation. Called with u.mu held.
func (b *Bot) ask(ctx context.Context, u *user, du db.User, in inbound, s *seen, now time.Time) error {
	conv, err := b.conversation(ctx, u, du, now, in.text)
	if err != nil {
		return err
	}
	if _, err := b.db.AddMessage(ctx, db.Message{ConversationID: conv, Role: "user", Content: in.text}); err != nil {
		return err
	}
	am, err := b.db.AddMessage(ctx, db.Message{ConversationID: conv, Role: "assistant", Model: b.cfg.Model, Status: db.StatusStreaming})
	if err != nil {
		return err
	}
	u.st.Active = ms(now)
	s.Conv, s.Asst, s.Question = conv, am.ID, in.text
	s.Async = b.chans[in.platform].pushAll
	b.start(u, &job{key: in.key, conv: conv, asst: am.ID, question: in.text, route: in.route, async: s.Async})
	return nil
}

// conversation returns the conversation a new question goes to: the
// current one, or a new one when there is none, it was deleted, or the user
// has been idle past Memory.Idle. Called with u.mu held.
func (b *Bot) conversation(ctx context.Context, u *user, du db.User, now time.Time, question string) (string, error) {
	idle := now.Sub(time.UnixMilli(u.st.Active)) > b.cfg.Memory.Idle
	if u.st.Conv != "" && !idle {
		_, err := b.db.Conversation(ctx, du.ID, u.st.Conv)
		if err == nil {
			return u.st.Conv, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return "", err
		}
	}
	c, err := b.db.CreateConversation(ctx, db.Conversation{
		OwnerID:  du.ID,
		Title:    truncate(question, 30),
		Model:    b.cfg.Model,
		System:   u.st.System,
		Scenario: u.st.Scenario,
		Source:   du.Platform,
	})
	if err != nil {
		return "", fmt.Errorf("bot: new conversation for user %d: %w", du.ID, err)
	}
	u.st.Conv = c.ID
	return c.ID, nil
}

// pending returns the user's newest generation if it is still running.
// Called with u.mu held.
func (u *user) pending() *job {
	if u.last != nil && !u.last.finished {
		return u.last
	}
	return nil
}

// listed reports whether the message's sender is on list.
func (b *Bot) listed(list []string, in inbound) bool {
	return slices.Contains(list, in.ext) || slices.Contains(list, in.platform+":"+in.ext)
}

// continueWords ask only for what is pending, as the split-answer hint and
// the "still thinking" reply invite.
var continueWords = []string{"继续", "继续。", "c", "continue", "more", "1", "。", ".", "?", "？"}

func isContinue(text string) bool {
	return slices.Contains(continueWords, strings.ToLower(strings.TrimSpace(text)))
}

// truncate shortens s to at most n characters, marking the cut.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
