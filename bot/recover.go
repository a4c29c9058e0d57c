package bot

import (
	"context"
	"slices"
	"time"

	"zhiyan/db"
)

// recover resumes what a previous process left: for every bot user, an
// answer it never finished is generated again when it is recent (within
// RecoverWindow) and apologised for otherwise; an answer it finished but
// never queued is queued. Push channels then send what is queued; WeChat
// delivers it with the user's next message (or a retry of the question).
func (b *Bot) recover(ctx context.Context) error {
	users, err := b.db.Users(ctx)
	if err != nil {
		return err
	}
	for _, du := range users {
		if du.Platform == "" || b.chans[du.Platform] == nil {
			continue
		}
		if err := b.recoverUser(ctx, du); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bot) recoverUser(ctx context.Context, du db.User) error {
	u := b.userFor(du)
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := b.load(ctx, u); err != nil {
		return err
	}
	// Oldest first, so re-run answers keep their order.
	keys := make([]string, 0, len(u.st.Seen))
	for k, s := range u.st.Seen {
		if s.Asst != 0 && !s.Done {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 && len(u.st.Outbox) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, c string) int { return int(u.st.Seen[a].At - u.st.Seen[c].At) })
	convs := map[string][]db.Message{}
	ci := b.chans[du.Platform]
	for _, k := range keys {
		s := u.st.Seen[k]
		msgs, ok := convs[s.Conv]
		if !ok {
			var err error
			if msgs, err = b.db.Messages(ctx, s.Conv); err != nil {
				return err
			}
			convs[s.Conv] = msgs
		}
		i := slices.IndexFunc(msgs, func(m db.Message) bool { return m.ID == s.Asst })
		switch {
		case i < 0: // deleted meanwhile (by an admin, or with the user)
			s.Done = true
		case msgs[i].Status == db.StatusComplete:
			s.Done = true
			u.st.Outbox = append(u.st.Outbox, outItem{Asst: s.Asst, Question: s.Question, Text: msgs[i].Content, Late: true})
		case msgs[i].Status == db.StatusError:
			s.Done = true
			u.st.Outbox = append(u.st.Outbox, outItem{Asst: s.Asst, Question: s.Question, Text: msgFailed, Late: true})
		case b.now().Sub(time.UnixMilli(s.At)) > b.cfg.RecoverWindow:
			s.Done = true
			u.st.Outbox = append(u.st.Outbox, outItem{Asst: s.Asst, Question: s.Question, Late: true,
				Text: "抱歉，服务重启，这个问题没能回答完，请重新发送一次。"})
		default: // interrupted: generate it again
			async := ci.pushAll || (s.Async && ci.push != nil)
			b.start(u, &job{key: k, conv: s.Conv, asst: s.Asst, question: s.Question, route: s.Route, async: async})
			b.log.Info("bot: generating an interrupted answer again", "user", u.id, "message", s.Asst)
		}
	}
	if err := b.save(ctx, u); err != nil {
		return err
	}
	if ci.pushAll && len(u.st.Outbox) > 0 {
		r := u.st.Route
		b.goBackground(func() { b.flush(b.ctx, u, r, 0) })
	}
	return nil
}
