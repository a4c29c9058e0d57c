package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"

	"golang.org/x/term"

	"zhiyan/builtin"
	"zhiyan/chat"
	"zhiyan/engine"
	"zhiyan/model"
	"zhiyan/sample"
)

// stdin is where an interactive chat reads; tests replace it with a pipe.
var stdin = os.Stdin

// runSettings are the knobs of `zhiyan run`, also changed with /set.
type runSettings struct {
	params    sample.Params
	system    string
	maxTokens int
	verbose   bool
	raw       bool
	think     *bool // enable_thinking for the template; nil leaves its default
}

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run [flags] [MODEL [PROMPT]]", stderr)
	var st runSettings
	st.params = sample.DefaultParams()
	p := &st.params
	fs.Func("temperature", "sampling temperature; 0 = greedy (default 0.8)", floatFlag(&p.Temperature))
	fs.IntVar(&p.TopK, "top-k", p.TopK, "keep the k most likely tokens; 0 = off")
	fs.Func("top-p", "nucleus sampling threshold; 1 = off (default 0.95)", floatFlag(&p.TopP))
	fs.Func("min-p", "drop tokens below min-p × the top probability (default 0.05)", floatFlag(&p.MinP))
	fs.Func("repeat-penalty", "penalty for repeated tokens; 1 = off", floatFlag(&p.RepeatPenalty))
	fs.Func("presence-penalty", "OpenAI-style presence penalty", floatFlag(&p.PresencePenalty))
	fs.Func("frequency-penalty", "OpenAI-style frequency penalty", floatFlag(&p.FrequencyPenalty))
	fs.Uint64Var(&p.Seed, "seed", 0, "random seed; 0 = a new one each run")
	fs.IntVar(&st.maxTokens, "n", -1, "maximum tokens to generate; -1 = until the end of the context")
	fs.StringVar(&st.system, "system", "", "system prompt")
	fs.BoolVar(&st.raw, "raw", false, "send the prompt as it is, without the chat template")
	fs.BoolVar(&st.verbose, "verbose", false, "print token counts and speeds after each answer")
	ctxLen := fs.Int("ctx", 4096, "context length in tokens (at most the model's)")
	threads := fs.Int("threads", runtime.NumCPU(), "threads")
	models := fs.String("models", "", modelsFlagHelp)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) == 0 {
		pos = []string{builtin.Name} // chat with the model zhiyan ships
	}
	path, err := modelPath(pos[0], *models, true, stderr)
	if err != nil {
		return err
	}
	e, err := engine.Open(path)
	if err != nil {
		return err
	}
	defer e.Close()
	n := min(*ctxLen, e.Model.Config.ContextLen)
	sess := e.NewSession(model.Options{Context: n, Threads: *threads})
	defer sess.Close()
	r := &runner{e: e, sess: sess, st: st, out: stdout, errOut: stderr, color: isTerminal(stdout)}
	if len(pos) > 1 {
		return r.answer(context.Background(), strings.Join(pos[1:], " "))
	}
	return r.interactive(stdin)
}

func floatFlag(dst *float32) func(string) error {
	return func(s string) error {
		var v float64
		if _, err := fmt.Sscan(s, &v); err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		*dst = float32(v)
		return nil
	}
}

// runner holds one terminal conversation.
type runner struct {
	e       *engine.Engine
	sess    *engine.Session
	st      runSettings
	history []chat.Message // answers only: templates drop past reasoning anyway
	out     io.Writer
	errOut  io.Writer
	color   bool // out is a terminal: dim the reasoning
}

// prompt renders the conversation so far plus the new user message.
// It reports whether the chat template was used: not with --raw, nor for
// models without one (base models), which get the text as it is.
func (r *runner) prompt(user string) (string, bool, error) {
	if r.st.raw || (r.e.Template == "" && r.e.Format == chat.FormatNone) {
		return user, false, nil
	}
	var msgs []chat.Message
	if r.st.system != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: r.st.system})
	}
	msgs = append(msgs, r.history...)
	msgs = append(msgs, chat.Message{Role: "user", Content: user})
	text, err := r.e.ChatPrompt(msgs, engine.PromptOptions{Thinking: r.st.think})
	return text, true, err
}

// answer generates a reply to one user message, streaming it to r.out.
// Cancelling ctx (Ctrl-C) ends the answer, keeping what was said.
func (r *runner) answer(ctx context.Context, user string) error {
	text, templated, err := r.prompt(user)
	if err != nil {
		return err
	}
	tokens := r.e.Tokenizer.Encode(text, true, templated)
	sampler := sample.New(r.st.params, r.e.Model.Config.Vocab)
	// The terminal offers no tools; raw text is shown as it is.
	var format chat.OutputFormat
	if templated {
		format = chat.DetectOutput(r.e.Template)
		format.Tools = chat.ToolsNone
	}
	parser := format.NewParser(format.PromptOpensReasoning(text))
	reply := &replyPrinter{w: r.out, color: r.color}
	res, err := r.sess.Generate(ctx, tokens, engine.Options{
		MaxTokens: r.st.maxTokens,
		Stop:      r.e.Format.StopStrings(),
		Sampler:   sampler,
	}, func(s string) error {
		return reply.print(parser.Add(s))
	})
	if perr := reply.print(parser.Finish()); err == nil {
		err = perr
	}
	reply.endThinking()
	fmt.Fprintln(r.out)
	if err != nil {
		return err
	}
	if templated {
		r.history = append(r.history, chat.Message{Role: "user", Content: user}, chat.Message{Role: "assistant", Content: reply.answer.String()})
	}
	if r.st.verbose {
		fmt.Fprintf(r.errOut, "prompt: %d tokens (%d cached), %.1f tokens/s; answer: %d tokens, %.1f tokens/s; %s\n",
			res.PromptTokens, res.CachedTokens, rate(res.PromptTokens, res.PromptDuration.Seconds()),
			res.Tokens, rate(res.Tokens, res.GenerateDuration.Seconds()), res.Reason)
	}
	return nil
}

// replyPrinter writes a reply as it streams: the reasoning under a
// "Thinking…" header (dimmed on a terminal), then the answer.
type replyPrinter struct {
	w        io.Writer
	color    bool
	thinking bool // the reasoning block is open on screen
	answer   strings.Builder
}

const (
	ansiDim   = "\x1b[2m"
	ansiReset = "\x1b[0m"
)

func (p *replyPrinter) print(d chat.Delta) error {
	var b strings.Builder
	if d.Reasoning != "" {
		if !p.thinking {
			p.thinking = true
			if p.color {
				b.WriteString(ansiDim)
			}
			b.WriteString("Thinking…\n")
		}
		b.WriteString(d.Reasoning)
	}
	if d.Content != "" {
		b.WriteString(p.closing())
		p.answer.WriteString(d.Content)
		b.WriteString(d.Content)
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// endThinking closes the reasoning block when the reply ended inside it.
func (p *replyPrinter) endThinking() { io.WriteString(p.w, p.closing()) }

func (p *replyPrinter) closing() string {
	if !p.thinking {
		return ""
	}
	p.thinking = false
	if p.color {
		return "\n…done thinking." + ansiReset + "\n\n"
	}
	return "\n…done thinking.\n\n"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func rate(n int, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

// answerInterruptibly runs answer with Ctrl-C cancelling only the answer.
func (r *runner) answerInterruptibly(user string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	return r.answer(ctx, user)
}
