package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/tensor"
)

// testChats are fine-tuning chats made from the synthetic verse of
// testCorpus: the first half-line asked, the rest of the poem answered.
func testChats() [][]Message {
	var out [][]Message
	for i, p := range testCorpus(200).Train {
		first, rest, _ := strings.Cut(p, "，")
		c := []Message{{Role: "user", Content: first}, {Role: "assistant", Content: rest}}
		if i%3 == 0 {
			c = append([]Message{{Role: "system", Content: "写诗"}}, c...)
		}
		out = append(out, c)
	}
	return out
}

func chatVocab(t *testing.T, chats [][]Message) *Vocab {
	t.Helper()
	var texts []string
	for _, c := range chats {
		texts = append(texts, chatText(c))
	}
	v, err := CharVocab(strings.Join(texts, "\n"), 0, ChatSpecials)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEncodeChats(t *testing.T) {
	chats := [][]Message{
		{{Role: "user", Content: "春"}, {Role: "assistant", Content: "花落"}},
		{{Role: "system", Content: "詩"}, {Role: "user", Content: "月"}, {Role: "assistant", Content: "明"}},
	}
	v := chatVocab(t, chats)
	ids, target, starts, err := EncodeChats(v, chats)
	if err != nil {
		t.Fatal(err)
	}
	// Render the tokens, marking targets with [ ].
	var b strings.Builder
	for i, id := range ids {
		s := v.Tokens[id]
		if target[i] {
			s = "[" + s + "]"
		}
		b.WriteString(s)
	}
	want := "<|im_start|>user\n春<|im_end|>\n<|im_start|>assistant\n[花][落][<|im_end|>]\n" +
		"<|im_start|>system\n詩<|im_end|>\n<|im_start|>user\n月<|im_end|>\n<|im_start|>assistant\n[明][<|im_end|>]\n"
	if got := b.String(); got != want {
		t.Errorf("EncodeChats =\n%s\nwant\n%s", got, want)
	}
	if len(starts) != 2 || starts[0] != 0 || v.Tokens[ids[starts[1]]] != TokIMStart || v.Tokens[ids[starts[1]+1]] != "s" {
		t.Errorf("chat starts %v", starts)
	}
	if _, _, _, err := EncodeChats(mustCharVocab(t, "春花", []string{TokUNK}), chats); err == nil {
		t.Error("a vocabulary without ChatML tokens was accepted")
	}
}

func mustCharVocab(t *testing.T, text string, specials []string) *Vocab {
	t.Helper()
	v, err := CharVocab(text, 0, specials)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestChatTemplateAgreement checks that the template written into the
// model renders, through the chat package, exactly the tokens fine-tuning
// trained on: the whole chat, and the prompt up to the assistant's answer.
func TestChatTemplateAgreement(t *testing.T) {
	tmpl, err := chat.ParseTemplate(ChatMLTemplate)
	if err != nil {
		t.Fatal(err)
	}
	conv := []Message{{Role: "system", Content: "写诗"}, {Role: "user", Content: "春天"}, {Role: "assistant", Content: "春眠不覺曉，\n處處聞啼鳥。"}}
	v := chatVocab(t, [][]Message{conv})
	ids, target, _, err := EncodeChats(v, [][]Message{conv})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []chat.Message
	for _, m := range conv {
		msgs = append(msgs, chat.Message{Role: m.Role, Content: m.Content})
	}
	whole, err := tmpl.Render(msgs, chat.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Tokenizer().Encode(whole, false, true); !slices.Equal(got, ids) {
		t.Errorf("template tokens\n%v\nwant\n%v", got, ids)
	}
	prompt, err := tmpl.Render(msgs[:2], chat.RenderOptions{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	first := slices.Index(target, true)
	if got := v.Tokenizer().Encode(prompt, false, true); !slices.Equal(got, ids[:first]) {
		t.Errorf("generation prompt tokens\n%v\nwant\n%v", got, ids[:first])
	}
	if chat.Detect(ChatMLTemplate) != chat.FormatChatML {
		t.Error("the template is not detected as ChatML")
	}
}

func TestSamplerChatWindows(t *testing.T) {
	chats := testChats()
	v := chatVocab(t, chats)
	ids, target, starts, err := EncodeChats(v, chats)
	if err != nil {
		t.Fatal(err)
	}
	const B, T = 6, 24
	x, y := make([]int32, B*T), make([]int32, B*T)
	s := newSampler(1)
	start, _ := v.ID(TokIMStart)
	for range 20 {
		s.batch(x, y, ids, target, starts, B, T)
		for b := range B {
			if x[b*T] != start {
				t.Fatalf("window %d starts with %q, not a chat", b, v.Tokens[x[b*T]])
			}
		}
		for i, tg := range y {
			if tg >= 0 && i%T+1 < T && tg != x[i+1] {
				t.Fatalf("target %d is %d, the next token %d", i, tg, x[i+1])
			}
		}
	}
	// Every target position is an assistant token: find each window in
	// the stream and compare with the mask.
	for b := range B {
		off := -1
		for _, st := range starts {
			if slices.Equal(ids[st:int(st)+T], x[b*T:(b+1)*T]) {
				off = int(st)
			}
		}
		for i := range T {
			if (y[b*T+i] >= 0) != target[off+1+i] {
				t.Fatalf("window %d position %d: target %d, mask %v", b, i, y[b*T+i], target[off+1+i])
			}
		}
	}
}

// TestFineTune fine-tunes a tiny model on chats and checks the loss on the
// assistant's tokens falls, the evaluation counts only those, and the
// exported model carries the ChatML template the engine uses.
func TestFineTune(t *testing.T) {
	chats := testChats()
	v := chatVocab(t, chats)
	c := &ChatCorpus{}
	for i, m := range chats {
		if i%5 == 0 {
			c.Val = append(c.Val, m)
		} else {
			c.Train = append(c.Train, m)
		}
	}
	data, err := c.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(v.Size())
	o.Model = Config{Vocab: v.Size(), Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, FFN: FFNWidth(32), Context: 64, NormEps: 1e-5, RopeBase: 10000}
	o.Batch, o.Steps, o.Warmup, o.LR, o.MinLR, o.EvalEvery, o.Clip = 4, 40, 5, 3e-3, 3e-4, 0, 2
	o.Monitor.NonConvergeAt = 1.1
	tr, err := NewTrainer(o, v, data)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	before := tr.Evaluate(true)
	runSteps(t, tr, o.Steps)
	after := tr.Evaluate(true)
	t.Logf("validation loss %.3f → %.3f", before, after)
	if !(after < before-0.5) {
		t.Errorf("validation loss %.3f → %.3f, want a fall of 0.5", before, after)
	}
	// The evaluation's target count is that of the assistant tokens of
	// the validation chats (each fits its window).
	want := 0
	for _, tg := range data.ValTarget {
		if tg {
			want++
		}
	}
	if tr.Model.cnt == 0 || tr.Model.cnt > want {
		t.Errorf("last evaluation batch scored %d targets of %d", tr.Model.cnt, want)
	}

	path := filepath.Join(t.TempDir(), "chat.gguf")
	if err := tr.Export(path, ExportOptions{Type: tensor.F32, ChatTemplate: ChatMLTemplate}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Template != ChatMLTemplate || e.Format != chat.FormatChatML {
		t.Errorf("engine template %q, format %v", e.Template, e.Format)
	}
	end, _ := v.ID(TokIMEnd)
	if !e.Tokenizer.IsEOG(end) {
		t.Errorf("%s does not end generation", TokIMEnd)
	}
}

func TestLoadModel(t *testing.T) {
	tr := tinyRun(t, 3, nil)
	runSteps(t, tr, 3)
	dir := t.TempDir()
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16} {
		path := filepath.Join(dir, typ.String()+".gguf")
		if err := tr.Export(path, ExportOptions{Type: typ}); err != nil {
			t.Fatal(err)
		}
		c, w, v, err := LoadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		if c != tr.Opt.Model || !slices.Equal(v.Tokens, tr.Vocab.Tokens) {
			t.Errorf("%s: config %+v, want %+v; %d tokens", typ, c, tr.Opt.Model, v.Size())
		}
		tol := 0.0
		if typ == tensor.F16 {
			tol = 1e-3
		}
		for i, x := range w {
			if d := float64(x - tr.Model.Params[i]); d > tol || d < -tol {
				t.Fatalf("%s: weight %d is %g, want %g", typ, i, x, tr.Model.Params[i])
			}
		}
		tr2 := tinyRun(t, 3, nil)
		if err := tr2.SetWeights(w); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTangSFT(t *testing.T) {
	poems := []Poem{
		{Title: "春曉", Author: "孟浩然", Tags: []string{"春天", "唐诗三百首"}, Text: "春眠不覺曉，處處聞啼鳥。\n夜來風雨聲，花落知多少。"},
		{Title: "靜夜思", Author: "李白", Tags: []string{"思乡"}, Text: "牀前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。"},
		{Title: "無題", Author: "佚名", Text: "朝辭白帝彩雲間，千里江陵一日還。\n兩岸猿聲啼不住，輕舟已過萬重山。\n朝辭白帝彩雲間，千里江陵一日還。\n兩岸猿聲啼不住，輕舟已過萬重山。"},
	}
	n := SFTSizes{Topic: 10, Form: 10, Any: 5, Continue: 10, Author: 6, IdentityReps: 1}
	a, b := TangSFT(poems, n, 7), TangSFT(poems, n, 7)
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Fatal("the same seed gave different sets")
	}
	if want := 4 + 10 + 5 + 10 + 6 + len(identity); len(a) != want { // 2 topic pairs, each twice
		t.Errorf("%d chats, want %d", len(a), want)
	}
	seen := map[string]bool{}
	for _, c := range a {
		if len(c) != 2 || c[0].Role != "user" || c[1].Role != "assistant" {
			t.Fatalf("chat %v is not one user and one assistant turn", c)
		}
		u, ans := c[0].Content, c[1].Content
		switch {
		case strings.Contains(u, "唐诗三百首"):
			t.Errorf("a collection tag became a topic: %q", u)
		case strings.Contains(u, "春天"):
			seen["topic"] = true
			if ans != poems[0].Text {
				t.Errorf("%q answered with %q", u, ans)
			}
		case strings.Contains(u, "七言律诗"):
			seen["form"] = true
			if ans != poems[2].Text {
				t.Errorf("%q answered with %q", u, ans)
			}
		case strings.Contains(u, "靜夜思"):
			seen["author"] = true
			if !strings.Contains(ans, "李白") {
				t.Errorf("%q answered with %q", u, ans)
			}
		case strings.Contains(u, "牀前明月光，疑是地上霜。"):
			seen["continue"] = true
			if ans != "舉頭望明月，低頭思故鄉。" {
				t.Errorf("%q answered with %q", u, ans)
			}
		}
	}
	for _, k := range []string{"topic", "form", "author", "continue"} {
		if !seen[k] {
			t.Errorf("no %s chat", k)
		}
	}
}

func TestReadChats(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, text, err string
	}{
		{"ok.jsonl", `{"messages":[{"role":"user","content":"春"},{"role":"assistant","content":"花"}]}` + "\n\n", ""},
		{"noassistant.jsonl", `{"messages":[{"role":"user","content":"春"}]}`, "assistant"},
		{"badrole.jsonl", `{"messages":[{"role":"","content":"春"},{"role":"assistant","content":"花"}]}`, "role"},
		{"notjson.jsonl", `{"messages":`, "noTjson.jsonl:1"},
	} {
		p := filepath.Join(dir, tt.name)
		writeFile(t, p, tt.text)
		c, err := ReadChats(p, 0)
		if tt.err == "" {
			if err != nil || len(c.Train) != 1 || !IsChatFile(p) {
				t.Errorf("%s: %v, %+v", tt.name, err, c)
			}
			continue
		}
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.err)) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.err)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
