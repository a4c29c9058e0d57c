package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"zhiyan/db"
	"zhiyan/engine"
	"zhiyan/sample"
	"zhiyan/tensor"
	"zhiyan/train"
	"zhiyan/web"
)

// webGen is the web chat's Generator for these tests: real generation with
// the golden qwen2-mini, greedy, a little paced so that a person — here
// chromedp — can watch the answer stream and stop it.
type webGen struct {
	eng   *engine.Engine
	sched *engine.Scheduler
}

func (g *webGen) Models(context.Context) []string { return []string{"qwen2-mini"} }

func (g *webGen) Chat(ctx context.Context, req web.ChatRequest, emit func(web.Delta) error) (web.Usage, error) {
	text, err := g.eng.ChatPrompt(req.Messages, engine.PromptOptions{Thinking: req.Think})
	if err != nil {
		return web.Usage{}, err
	}
	p := sample.DefaultParams()
	p.Temperature = 0
	max := req.MaxTokens
	if max == 0 {
		max = 30
	}
	r, err := g.sched.Generate(ctx, engine.Request{
		Prompt: g.eng.Tokenizer.Encode(text, true, true), MaxTokens: max,
		Stop: g.eng.Format.StopStrings(), Sampling: p,
	}, func(t engine.Token) error {
		select {
		case <-time.After(25 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		if t.Text == "" {
			return nil
		}
		return emit(web.Delta{Content: t.Text})
	})
	return web.Usage{PromptTokens: r.PromptTokens + r.CachedTokens, CompletionTokens: r.Tokens,
		Duration: r.PromptDuration + r.GenerateDuration, FinishReason: r.Reason}, err
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ZHIYAN_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH, and ZHIYAN_REQUIRE_BROWSER is set (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// browser drives one headless chromium tab; every step fails the test.
type browser struct {
	t   *testing.T
	ctx context.Context
	out string // screenshot folder
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// wait polls a JavaScript condition until it holds.
func (b *browser) wait(what, cond string) {
	b.t.Helper()
	b.do(what, chromedp.Steps(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	}))
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// shot saves a screenshot as NAME.png and checks it is not blank: a page
// that rendered nothing is one colour.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.out, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if f := nonBackground(img); f < 0.005 {
		b.t.Errorf("screenshot %s is blank: %.2f%% of the pixels differ from the corner's", name, 100*f)
	}
}

// nonBackground is the fraction of pixels whose colour differs from the
// top-left pixel's.
func nonBackground(img image.Image) float64 {
	r := img.Bounds()
	br, bg, bb, _ := img.At(r.Min.X, r.Min.Y).RGBA()
	diff := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr != br || cg != bg || cb != bb {
				diff++
			}
		}
	}
	return float64(diff) / float64(r.Dx()*r.Dy())
}

// watchProblems runs in every page before its scripts: it records script
// errors and Content-Security-Policy violations for problems to report.
const watchProblems = `window.__problems = [];
addEventListener("error", e => __problems.push("error: " + e.message));
addEventListener("unhandledrejection", e => __problems.push("rejection: " + e.reason));
addEventListener("securitypolicyviolation", e => __problems.push("CSP: " + e.violatedDirective + " " + e.blockedURI));`

// problems fails the test if the page reported script errors or CSP
// violations; call it before the page goes away.
func (b *browser) problems(when string) {
	b.t.Helper()
	if p := eval[[]string](b, `window.__problems || ["the watcher did not run"]`); len(p) > 0 {
		b.t.Errorf("%s: the page reported %q", when, p)
	}
}

// TestWebChatInBrowser walks through the web chat as a person would, in
// headless chromium against a real server, database and model.
func TestWebChatInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	eng, err := engine.Open(goldenPath(t, qwen2Mini))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	sched := eng.NewScheduler(engine.SchedulerOptions{Parallel: 2, Context: 1024, Threads: 2})
	t.Cleanup(sched.Close)

	store, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// A training run of the real trainer, paused halfway until the
	// Training tab has shown it running.
	runsDir := t.TempDir()
	release, trained := pausedRun(t, filepath.Join(runsDir, "tiny-poems"))
	app, err := web.New(web.Config{DB: store, Gen: &webGen{eng: eng, sched: sched}, RunsDir: runsDir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)

	out := os.Getenv("ZHIYAN_TEST_OUTPUT")
	if out == "" {
		out = filepath.Join("test-output", "web")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 860), chromedp.Flag("lang", "en-US"))...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int]("1")); err != nil { // starts the browser, untimed
		t.Fatalf("starting chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, out: out}
	b.do("watch problems", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchProblems})
		return err
	}))

	// The first start's setup link makes the administrator.
	link, err := app.SetupLink(context.Background(), srv.URL)
	if err != nil || link == "" {
		t.Fatalf("SetupLink = %q, %v", link, err)
	}
	b.do("setup", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup-form")),
		chromedp.SendKeys(chromedp.CSS("#setup-name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#setup-password"), "admin-password"),
		chromedp.Click(chromedp.CSS("#setup-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.preset-card[data-key="office.summary"]`)))
	b.shot("01-start")

	// Pick a scenario: its prompt lands in the input; send it and watch
	// the answer stream in, rendered.
	b.do("scenario", chromedp.Click(chromedp.CSS(`.preset-card[data-key="office.summary"]`)))
	if v := eval[string](b, `document.querySelector("#input").value`); !strings.Contains(v, "Summarize") && !strings.Contains(v, "总结") {
		t.Fatalf("the scenario's prompt is not in the input: %q", v)
	}
	b.do("send", chromedp.SendKeys(chromedp.CSS("#input"), "The cat sat on the mat."), chromedp.Click(chromedp.CSS("#send")))
	b.wait("streaming", `(() => { const m = document.querySelector(".msg.assistant[data-status=streaming] .content"); return m && m.textContent.length > 0; })()`)
	b.wait("answer", `document.querySelector(".msg.assistant[data-status=complete] .content p") !== null`)
	first := eval[string](b, `document.querySelector(".msg.assistant .content").textContent`)
	if first == "" {
		t.Fatal("empty answer")
	}
	b.shot("02-answer")
	convID := eval[string](b, `new URLSearchParams(location.hash.slice(1)).get("c")`)
	if convID == "" {
		t.Fatalf("no conversation in the URL: %s", eval[string](b, "location.href"))
	}

	// Regenerate: a new answer replaces the old one (greedy: the same text).
	oldID := eval[string](b, `document.querySelector(".msg.assistant").dataset.id`)
	b.do("regenerate", chromedp.Click(chromedp.CSS(".regenerate")))
	b.wait("regenerated", fmt.Sprintf(`(() => { const m = document.querySelectorAll(".msg.assistant"); return m.length === 1 && m[0].dataset.id !== %q && m[0].dataset.status === "complete"; })()`, oldID))

	// Stop: a long answer (settings: 120 tokens, 3 s) is cut short and saved
	// as interrupted.
	b.do("settings", chromedp.Click(chromedp.CSS("#settings-open")), chromedp.WaitVisible(chromedp.CSS("#set-max-tokens")),
		chromedp.SetValue(chromedp.CSS("#set-max-tokens"), "120"), chromedp.Click(chromedp.CSS("#settings-save")))
	b.wait("settings saved", `!document.querySelector("#settings").open`)
	owner, err := store.Authenticate(context.Background(), "admin", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cv, err := store.Conversation(context.Background(), owner.ID, convID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cv.Settings), `"max_tokens":120`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the settings were not saved: %s", cv.Settings)
		}
	}
	b.do("send long", chromedp.SendKeys(chromedp.CSS("#input"), "Now tell me a long story.\r"))
	b.wait("long answer streaming", `(() => { const m = document.querySelector(".msg.assistant[data-status=streaming] .content"); return m && m.textContent.length > 5; })()`)
	b.do("stop", chromedp.Click(chromedp.CSS("#stop")))
	b.wait("interrupted", `document.querySelector(".msg.assistant[data-status=interrupted]") !== null && !document.querySelector("#send").hidden`)
	b.shot("03-stopped")

	// Switch the language; it is remembered across a reload, which finds
	// the conversation again, the interrupted answer included.
	before := eval[string](b, `document.querySelector("#send").textContent`)
	b.do("language", chromedp.Click(chromedp.CSS("#lang-toggle")))
	after := eval[string](b, `document.querySelector("#send").textContent`)
	if want := map[string]string{"Send": "发送", "发送": "Send"}[before]; after != want {
		t.Fatalf("send button %q after switching from %q, want %q", after, before, want)
	}
	b.problems("before reload")
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".msg.assistant")))
	b.wait("reloaded", `document.querySelectorAll(".msg").length === 4`)
	if got := eval[string](b, `document.querySelector("#send").textContent`); got != after {
		t.Errorf("after reload the language is %q, want %q", got, after)
	}
	if n := eval[int](b, `document.querySelectorAll(".msg.assistant[data-status=interrupted]").length`); n != 1 {
		t.Errorf("after reload %d interrupted answers, want 1", n)
	}
	if n := eval[int](b, fmt.Sprintf(`document.querySelectorAll('.conv-item[data-id=%q]').length`, convID)); n != 1 {
		t.Errorf("the conversation is not in the list after reload")
	}
	b.shot("04-reloaded")

	// Edit the first question and send it again: what followed it goes.
	b.do("edit", chromedp.Click(chromedp.CSS(".msg.user .edit")), chromedp.WaitVisible(chromedp.CSS(".edit-box textarea")),
		chromedp.SetValue(chromedp.CSS(".edit-box textarea"), "Summarize: dogs bark."),
		chromedp.Click(chromedp.CSS(".save-send")))
	b.wait("edited", `(() => { const m = document.querySelectorAll(".msg"); return m.length === 2 && m[0].textContent.includes("dogs bark") && m[1].dataset.status === "complete"; })()`)

	// Keyboard: Ctrl+K starts a new chat, Enter sends, Esc stops.
	b.do("ctrl-k", chromedp.KeyEvent("k", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.WaitVisible(chromedp.CSS("#start")),
		chromedp.SendKeys(chromedp.CSS("#input"), "Hello there\r"))
	b.wait("second chat streaming", `(() => { const m = document.querySelector(".msg.assistant[data-status=streaming] .content"); return m && m.textContent.length > 0; })()`)
	b.do("escape", chromedp.KeyEvent(kb.Escape))
	b.wait("escape stopped", `document.querySelector(".msg.assistant[data-status=interrupted]") !== null`)
	b.wait("two conversations", `document.querySelectorAll(".conv-item").length === 2`)

	// Each conversation has a menu: rename, export (Markdown, JSON), delete.
	b.do("menu", chromedp.Click(chromedp.CSS(".conv-item.active .conv-menu")), chromedp.WaitVisible(chromedp.CSS(".menu-pop")))
	if n := eval[int](b, `document.querySelectorAll(".menu-pop button").length`); n != 4 {
		t.Errorf("the conversation menu has %d entries, want 4", n)
	}
	b.do("close menu", chromedp.Click(chromedp.CSS("#title")), chromedp.WaitNotPresent(chromedp.CSS(".menu-pop")))

	// Search finds conversations by their messages.
	b.do("search", chromedp.SendKeys(chromedp.CSS("#search"), "dogs bark"))
	b.wait("search results", fmt.Sprintf(`(() => { const c = document.querySelectorAll(".conv-item"); return c.length === 1 && c[0].dataset.id === %q; })()`, convID))

	// The Markdown renderer lets no markup or script through.
	checkMarkdown(b)

	// The administrator adds a second user, who cannot see the first
	// user's conversation, even by its id.
	b.do("add user", chromedp.Click(chromedp.CSS("#admin-open")), chromedp.WaitVisible(chromedp.CSS("#user-form")),
		chromedp.SendKeys(chromedp.CSS("#user-name"), "second"),
		chromedp.SendKeys(chromedp.CSS("#user-password"), "second-password"),
		chromedp.Click(chromedp.CSS("#user-form button")))
	b.wait("user added", `document.querySelector('#users-table tr[data-user="second"]') !== null`)
	b.shot("05-admin")

	// The administrator reads every conversation, a WeChat user's that
	// the bot keeps included, in the Conversations tab.
	wxID := botConversation(t, store)
	b.do("conversations tab", chromedp.Click(chromedp.CSS("#admin-tab-convs")))
	b.wait("all conversations", fmt.Sprintf(`document.querySelector('#admin-conv-table tr[data-id=%q]') !== null &&
		document.querySelector('#admin-conv-table tr[data-id=%q] .badge.src-wechat') !== null`, convID, wxID))
	b.shot("05b-admin-conversations")
	b.do("search all", chromedp.SendKeys(chromedp.CSS("#admin-conv-search"), "北京"))
	b.wait("search all results", fmt.Sprintf(`(() => { const r = document.querySelectorAll("#admin-conv-table tr[data-id]"); return r.length === 1 && r[0].dataset.id === %q; })()`, wxID))
	b.do("open bot conversation", chromedp.Click(chromedp.CSS("#admin-conv-table .conv-open")))
	b.wait("bot conversation", `document.querySelector("#admin-conv-messages .msg.assistant .content strong")?.textContent === "晴"`)
	if n := eval[int](b, `document.querySelectorAll("#admin-conv-messages .msg").length + document.querySelectorAll("#admin-conv-messages .edit, #admin-conv-messages .regenerate").length`); n != 2 {
		t.Errorf("the read-only view shows %d messages and buttons, want 2 messages and no buttons", n)
	}
	b.shot("05c-admin-conversation")

	// The Training tab lists the run, running; its chart shows the loss,
	// the validation point and the monitor's event, and follows the run to
	// its end on its own.
	b.do("training tab", chromedp.Click(chromedp.CSS("#admin-tab-runs")))
	b.wait("run listed", `document.querySelector('#runs-table tr[data-run="tiny-poems"][data-status="running"]') !== null`)
	b.do("open run", chromedp.Click(chromedp.CSS(`#runs-table tr[data-run="tiny-poems"] .run-open`)))
	b.wait("run chart", `(() => { const p = document.querySelector("#run-chart svg polyline.train-line");
		return p !== null && p.points.length === 15 && document.querySelector("#run-chart svg circle.val-point") !== null; })()`)
	if got := eval[string](b, `document.querySelector("#run-status .badge").className`); !strings.Contains(got, "run-running") {
		t.Errorf("the paused run's badge is %q, want running", got)
	}
	b.shot("05d-admin-training-running")
	release()
	if err := <-trained; err != nil {
		t.Fatal(err)
	}
	b.wait("run finished", `document.querySelector("#run-status .badge.run-finished") !== null &&
		document.querySelector("#run-chart svg polyline.train-line").points.length === 30`)
	if n := eval[int](b, `document.querySelectorAll("#run-chart svg .ev-mark.ev-norm_spike title").length`); n < 1 {
		t.Errorf("the chart marks %d norm spikes, want the one at step 20", n)
	}
	if n := eval[int](b, `document.querySelectorAll("#run-events tr").length`); n < 2 {
		t.Errorf("the events table has %d rows, want a header and the spike", n)
	}
	b.shot("05e-admin-training-finished")
	b.do("back to runs", chromedp.Click(chromedp.CSS("#run-back")))
	b.wait("runs list", `document.querySelector('#runs-table tr[data-run="tiny-poems"][data-status="finished"]') !== null`)
	b.problems("first user")
	b.do("sign out", chromedp.Click(chromedp.CSS("#admin-close")), chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), "second"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "second-password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#start")))
	if n := eval[int](b, `document.querySelectorAll(".conv-item").length`); n != 0 {
		t.Errorf("the second user sees %d conversations", n)
	}
	b.do("open by id", chromedp.Navigate(srv.URL+"/#c="+convID), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#start")))
	if n := eval[int](b, `document.querySelectorAll(".msg").length`); n != 0 {
		t.Errorf("the second user sees %d messages of the first user's conversation", n)
	}

	// A phone, in the dark.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#start")))
	// The sidebar is away (it slides: a transition) and opens from the menu.
	b.wait("sidebar hidden", `document.querySelector("#sidebar").getBoundingClientRect().right <= 0`)
	b.shot("06-phone")
	b.do("phone menu", chromedp.Click(chromedp.CSS("#menu")))
	b.wait("sidebar shown", `document.querySelector("#sidebar").getBoundingClientRect().left >= 0`)
	light := eval[string](b, `getComputedStyle(document.body).backgroundColor`)
	b.do("dark", chromedp.Click(chromedp.CSS("#theme-toggle")), chromedp.MouseClickXY(370, 420)) // on the scrim
	b.wait("sidebar closed", `document.querySelector("#sidebar").getBoundingClientRect().right <= 0`)
	if dark := eval[string](b, `getComputedStyle(document.body).backgroundColor`); dark == light {
		t.Errorf("the theme toggle left the background %s", dark)
	}
	b.shot("07-phone-dark")
	b.problems("second user")
}

// pausedRun trains a tiny model with the real trainer into dir in the
// background: 30 steps with a validation estimate every 10 and a gradient
// blown up at step 20 (a norm spike the monitor skips), paused after the
// 15th step until release is called (at the latest when the test ends).
func pausedRun(t *testing.T, dir string) (release func(), done chan error) {
	t.Helper()
	lines := []string{"床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。", "春眠不覺曉，處處聞啼鳥。", "夜來風雨聲，花落知多少。"}
	var docs []string
	for i := range 200 {
		docs = append(docs, lines[i%4]+"\n"+lines[(i+1)%4])
	}
	c := train.SplitCorpus(docs, 10)
	v, err := train.CharVocab(train.JoinDocuments(c.Train), 0, []string{train.TokUNK, train.TokBOS, train.TokEOS})
	if err != nil {
		t.Fatal(err)
	}
	o := train.DefaultOptions(v.Size())
	o.Model = train.Config{Vocab: v.Size(), Dim: 16, Layers: 1, Heads: 2, KVHeads: 1, FFN: train.FFNWidth(16),
		Context: 16, NormEps: 1e-5, RopeBase: 10000}
	o.Batch, o.Steps, o.Warmup, o.EvalEvery, o.EvalBatches, o.Threads = 4, 30, 2, 10, 2, 1
	o.Monitor.Policy, o.Monitor.Window, o.Monitor.MinWindow = train.PolicySkip, 16, 8
	tr, err := train.NewTrainer(o, v, c.Encode(v))
	if err != nil {
		t.Fatal(err)
	}
	tr.Hooks.Grads = func(step int, g []float32) {
		if step == 20 {
			for i := range g {
				g[i] *= 100
			}
		}
	}
	reached, resume := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(resume) })
	t.Cleanup(release)
	done = make(chan error, 1)
	tr.Hooks.Step = func(r train.StepRecord, _ []train.Event) {
		if r.Step == 14 {
			close(reached)
			<-resume
		}
	}
	go func() {
		defer tr.Close()
		done <- tr.RunIn(train.RunOptions{Dir: dir, Export: train.ExportOptions{Type: tensor.F32}})
	}()
	<-reached
	return release, done
}

// botConversation stores a WeChat user's conversation as the bot would
// and returns its id.
func botConversation(t *testing.T, store *db.DB) string {
	t.Helper()
	ctx := context.Background()
	u, err := store.PlatformUser(ctx, "wechat", "wx-openid-1", "小明")
	if err != nil {
		t.Fatal(err)
	}
	cv, err := store.CreateConversation(ctx, db.Conversation{OwnerID: u.ID, Source: "wechat", Title: "天气"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []db.Message{
		{ConversationID: cv.ID, Role: "user", Content: "今天北京天气怎么样？"},
		{ConversationID: cv.ID, Role: "assistant", Content: "**晴**，最高 25 度。"},
	} {
		if _, err := store.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return cv.ID
}

// checkMarkdown renders hostile Markdown in the page and checks that only
// the expected elements come out.
func checkMarkdown(b *browser) {
	b.t.Helper()
	const hostile = "<script>window.pwned=1</script>\n\n<img src=x onerror=\"window.pwned=1\">\n\n" +
		"[click](javascript:window.pwned=1) [mail](mailto:a@b.c) [ok](https://example.org/a?b=1&c=\"2\")\n\n" +
		"**bold** `<b>code</b>`\n\n```go\nfunc main() { fmt.Println(\"hi\") } // done\n```\n\n| a | b |\n|:-:|---|\n| 1 | <i>2</i> |"
	res := eval[map[string]any](b, fmt.Sprintf(`import("/app/static/markdown.js").then(m => {
		const d = document.createElement("div");
		d.innerHTML = m.renderMarkdown(%q);
		return {
			bad: d.querySelectorAll("script, img, iframe, i, b, [onerror]").length,
			hrefs: [...d.querySelectorAll("a")].map(a => a.getAttribute("href")).join(" "),
			strong: d.querySelectorAll("strong").length,
			keywords: d.querySelectorAll("pre .tok-k").length,
			copy: d.querySelectorAll("button[data-copy]").length,
			cells: d.querySelectorAll("td").length,
			centered: d.querySelectorAll("td.al-center").length,
			text: d.textContent,
			pwned: !!window.pwned,
		};
	})`, hostile))
	if res["bad"].(float64) != 0 || res["pwned"].(bool) {
		b.t.Errorf("Markdown let markup through: %v", res)
	}
	if hrefs := res["hrefs"].(string); hrefs != `mailto:a@b.c https://example.org/a?b=1&c="2"` {
		b.t.Errorf("Markdown links = %q, want only the mailto and https ones", hrefs)
	}
	if res["strong"].(float64) != 1 || res["keywords"].(float64) < 1 || res["copy"].(float64) != 1 || res["cells"].(float64) != 2 || res["centered"].(float64) != 1 {
		b.t.Errorf("Markdown rendering = %v", res)
	}
	if !strings.Contains(res["text"].(string), "<b>code</b>") {
		b.t.Errorf("inline code lost its text: %q", res["text"])
	}
}
