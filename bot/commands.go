package bot

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

const helpText = `可用命令：
帮助（或 /help）—— 显示本说明
#清除记忆（或 /clear）—— 忘掉之前的对话，重新开始
#场景 —— 列出可选场景；#场景 名称 —— 切换场景；#场景 默认 —— 取消场景
#人设 描述 —— 自定义助手的人设
#模型 —— 查看当前使用的模型
其他消息都会交给 AI 回答。`

// command answers text when it is a command. Called with u.mu held.
func (b *Bot) command(ctx context.Context, u *user, text string) (reply string, ok bool, err error) {
	t := strings.TrimSpace(strings.ReplaceAll(text, "\u3000", " "))
	// "#场景：翻译" as well as "#场景 翻译".
	if i := strings.IndexAny(t, "：:"); strings.HasPrefix(t, "#") && i > 0 && !strings.Contains(t[:i], " ") {
		_, size := utf8.DecodeRuneInString(t[i:])
		t = t[:i] + " " + t[i+size:]
	}
	name, arg, _ := strings.Cut(t, " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(name) {
	case "帮助", "help", "/help", "#帮助", "#help":
		return helpText, true, nil
	case "#清除记忆", "/clear", "#clear", "#清空记忆":
		u.st.Conv = ""
		return "好的，之前的对话已经忘掉了，我们重新开始吧。", true, nil
	case "#模型", "/model", "#model":
		return "当前模型：" + b.cfg.Model, true, nil
	case "#人设", "/persona":
		if arg == "" {
			if u.st.System == "" {
				return "当前没有自定义人设。用「#人设 描述」设置。", true, nil
			}
			return "当前人设：" + u.st.System, true, nil
		}
		u.st.Scenario, u.st.System, u.st.Conv = "自定义", arg, ""
		return "人设已设置，接下来的对话从新开始。", true, nil
	case "#场景", "/scenario":
		return b.scenario(ctx, u, arg)
	}
	return "", false, nil
}

// scenario lists the scenarios or switches to one (a new conversation).
func (b *Bot) scenario(ctx context.Context, u *user, name string) (string, bool, error) {
	all, err := b.scenarios(ctx)
	if err != nil {
		return "", false, err
	}
	switch name {
	case "":
	case "默认", "无", "取消", "none", "default":
		u.st.Scenario, u.st.System, u.st.Conv = "", "", ""
		return "已取消场景，恢复默认助手。", true, nil
	default:
		for _, s := range all {
			if strings.EqualFold(s.Name, name) {
				u.st.Scenario, u.st.System, u.st.Conv = s.Name, s.Prompt, ""
				return fmt.Sprintf("已切换到场景「%s」，对话从新开始。", s.Name), true, nil
			}
		}
	}
	var b2 strings.Builder
	if name != "" {
		fmt.Fprintf(&b2, "没有名为「%s」的场景。", name)
	}
	if u.st.Scenario != "" {
		fmt.Fprintf(&b2, "当前场景：%s。", u.st.Scenario)
	}
	if len(all) == 0 {
		b2.WriteString("暂无可选场景。")
		return b2.String(), true, nil
	}
	b2.WriteString("可选场景：")
	for i, s := range all {
		if i > 0 {
			b2.WriteString("、")
		}
		b2.WriteString(s.Name)
	}
	b2.WriteString("。发送「#场景 名称」切换。")
	return b2.String(), true, nil
}

// scenarios are the configured ones followed by the store's built-in presets.
func (b *Bot) scenarios(ctx context.Context) ([]Scenario, error) {
	all := append([]Scenario(nil), b.cfg.Scenarios...)
	presets, err := b.db.Presets(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, p := range presets {
		all = append(all, Scenario{Name: p.Name, Prompt: p.Prompt})
	}
	return all, nil
}
