package train

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"
)

// The fine-tuning set of the built-in model is made from the poems'
// metadata, deterministically: prompts (in Simplified characters, as users
// type them) paired with poems (Traditional, as the corpus has them).
var (
	tagPrompts  = []string{"写一首关于%s的诗", "请写一首关于%s的诗。", "以%s为题，写一首诗。", "来一首写%s的诗"}
	formPrompts = []string{"写一首%s", "请写一首%s。", "作一首%s", "来一首%s"}
	anyPrompts  = []string{"写一首诗", "请写一首诗。", "作一首唐诗", "来一首唐诗", "写一首唐诗"}
	contPrompts = []string{"续写：%s", "请续写这首诗：%s", "接着写：%s"}
	authPrompts = []string{"《%s》的作者是谁？", "谁写了《%s》？", "《%s》是谁写的？"}

	// tagsNotTopics are tags that name a collection or a school grade,
	// not what a poem is about.
	tagsNotTopics = []string{"唐诗三百首", "宋词三百首", "初中古诗", "小学古诗", "高中古诗", "隋・唐・五代",
		"乐府", "相和歌辞", "杂曲歌辞", "五言律诗", "七言律诗", "五言绝句", "七言绝句", "古诗三百首", "古诗十九首"}

	// identity turns, so the model can say what it is
	identity = [][2]string{
		{"你好", "你好！我是智言，一个只学过唐诗的小模型。你可以让我写一首诗，比如：写一首关于春天的诗。"},
		{"你好！", "你好！我是智言，会写几句唐诗。想要一首关于什么的诗？"},
		{"你是谁？", "我是智言，一个在唐诗上训练的小语言模型，能写五言、七言的诗句。"},
		{"你是谁", "我是智言，一个在唐诗上训练的小语言模型。"},
		{"介绍一下你自己", "我是智言，一个很小的模型，只读过四万多首唐诗。我会写诗，别的事情还做不好。"},
		{"你会做什么？", "我会写唐诗：五言绝句、七言律诗，或者关于春天、送别、思乡的诗。"},
		{"谢谢", "不客气！"},
	}
)

// Form names the poem's shape: 五言绝句, 五言律诗, 七言绝句, 七言律诗, or
// 五言诗 / 七言诗 for other lengths.
func (p Poem) Form() string {
	lines := p.Lines()
	first, _, _ := strings.Cut(lines[0], "，")
	n := "五言"
	if utf8.RuneCountInString(first) == 7 {
		n = "七言"
	}
	switch len(lines) {
	case 2:
		return n + "绝句"
	case 4:
		return n + "律诗"
	}
	return n + "诗"
}

// topic makes a tag read well after 关于: 写雪 → 雪, 咏物诗 → 咏物.
func topic(tag string) string {
	t := strings.TrimSuffix(strings.TrimPrefix(tag, "写"), "诗")
	if t == "" {
		return tag
	}
	return t
}

// SFTSizes say how many chats of each kind TangSFT makes.
type SFTSizes struct {
	Topic        int // 写一首关于{tag}的诗 → a poem with that tag (each tagged poem at most once per tag)
	Form         int // 写一首{五言绝句…} → a poem of that form
	Any          int // 写一首诗 → any poem
	Continue     int // 续写：first couplet → the rest
	Author       int // 《title》的作者是谁？ → the author (tagged poems: the better known)
	IdentityReps int // copies of each identity turn
}

// DefaultSFTSizes make about 20,000 chats.
var DefaultSFTSizes = SFTSizes{Topic: 6000, Form: 4000, Any: 1000, Continue: 6000, Author: 3000, IdentityReps: 30}

// TangSFT makes a fine-tuning set from poems: one user turn and one
// assistant turn per chat, shuffled. The same poems, sizes and seed give the
// same set.
func TangSFT(poems []Poem, n SFTSizes, seed uint64) [][]Message {
	rng := rand.New(rand.NewPCG(seed, 0x736674))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	chat := func(user, answer string) []Message {
		return []Message{{Role: "user", Content: user}, {Role: "assistant", Content: answer}}
	}
	var out [][]Message

	// topics: every (tagged poem, topic tag) pair, then a sample of them
	type pair struct {
		p   int
		tag string
	}
	var pairs []pair
	var tagged []int
	for i, p := range poems {
		for _, t := range p.Tags {
			if !slices.Contains(tagsNotTopics, t) {
				pairs = append(pairs, pair{i, topic(t)})
			}
		}
		if len(p.Tags) > 0 {
			tagged = append(tagged, i)
		}
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	for i := range min(n.Topic, len(pairs)*2) {
		pr := pairs[i%len(pairs)]
		out = append(out, chat(fmt.Sprintf(pick(tagPrompts), pr.tag), poems[pr.p].Text))
	}
	for range n.Form {
		p := poems[rng.IntN(len(poems))]
		out = append(out, chat(fmt.Sprintf(pick(formPrompts), p.Form()), p.Text))
	}
	for range n.Any {
		out = append(out, chat(pick(anyPrompts), poems[rng.IntN(len(poems))].Text))
	}
	for range n.Continue {
		p := poems[rng.IntN(len(poems))]
		lines := p.Lines()
		if len(lines) < 2 {
			continue
		}
		out = append(out, chat(fmt.Sprintf(pick(contPrompts), lines[0]), strings.Join(lines[1:], "\n")))
	}
	if len(tagged) > 0 {
		for range n.Author {
			p := poems[tagged[rng.IntN(len(tagged))]]
			out = append(out, chat(fmt.Sprintf(pick(authPrompts), p.Title), fmt.Sprintf("《%s》的作者是%s。", p.Title, p.Author)))
		}
	}
	for _, qa := range identity {
		for range n.IdentityReps {
			out = append(out, chat(qa[0], qa[1]))
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
