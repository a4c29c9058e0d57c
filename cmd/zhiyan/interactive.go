package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

const chatHelp = `Commands:
  /set temperature|top_k|top_p|min_p|repeat_penalty|presence_penalty|frequency_penalty|seed|num_predict VALUE
  /set system TEXT   set the system prompt (clears the conversation)
  /set verbose|quiet show or hide speeds after each answer
  /set think|nothink switch a thinking model's reasoning on or off (enable_thinking);
                     Qwen3 also reads /think and /no_think in a message
  /show              show the current settings
  /clear             forget the conversation
  /bye               leave (Ctrl-D too)
Ctrl-C stops an answer; a line ending in \ continues on the next line.`

// lineReader reads the user's lines: with editing and history on a
// terminal, plainly from a pipe.
type lineReader interface {
	readLine(prompt string) (string, error)
}

// errInterrupt is Ctrl-C at the prompt: it clears the line, it does not quit.
var errInterrupt = errors.New("interrupt")

type pipeReader struct{ sc *bufio.Scanner }

func (p pipeReader) readLine(string) (string, error) {
	if !p.sc.Scan() {
		if err := p.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return p.sc.Text(), nil
}

// ctrlCWatcher notes whether the bytes the terminal sent held Ctrl-C, which
// x/term's ReadLine reports as io.EOF like Ctrl-D.
type ctrlCWatcher struct {
	r   io.Reader
	saw bool
}

func (c *ctrlCWatcher) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if bytes.IndexByte(p[:n], 3) >= 0 {
		c.saw = true
	}
	return n, err
}

type termReader struct {
	fd    int
	rw    io.ReadWriter
	t     *term.Terminal
	watch *ctrlCWatcher
}

func newTermReader(in *os.File, out io.Writer) *termReader {
	w := &ctrlCWatcher{r: in}
	rw := struct {
		io.Reader
		io.Writer
	}{w, out}
	return &termReader{fd: int(in.Fd()), rw: rw, t: term.NewTerminal(rw, ""), watch: w}
}

// readLine puts the terminal in raw mode only while a line is edited, so
// Ctrl-C during an answer arrives as a signal.
func (tr *termReader) readLine(prompt string) (string, error) {
	old, err := term.MakeRaw(tr.fd)
	if err != nil {
		return "", err
	}
	defer term.Restore(tr.fd, old)
	tr.t.SetPrompt(prompt)
	tr.watch.saw = false
	line, err := tr.t.ReadLine()
	if err == io.EOF && tr.watch.saw {
		// The terminal keeps the Ctrl-C in its buffer and would report it
		// again: start a new one, keeping the history.
		history := tr.t.History
		tr.t = term.NewTerminal(tr.rw, "")
		tr.t.History = history
		return "", errInterrupt
	}
	return line, err
}

func (r *runner) interactive(in *os.File) error {
	var lr lineReader
	if term.IsTerminal(int(in.Fd())) {
		lr = newTermReader(in, r.out)
		fmt.Fprintln(r.out, "智言 zhiyan — type a message, /? for help, /bye to leave.")
	} else {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		lr = pipeReader{sc}
	}
	for {
		line, err := readMessage(lr)
		switch {
		case errors.Is(err, errInterrupt):
			fmt.Fprintln(r.out, "\r\nUse Ctrl-D or /bye to leave.")
			continue
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "/") {
			quit, err := r.command(line)
			if err != nil {
				fmt.Fprintln(r.out, err)
			}
			if quit {
				return nil
			}
			continue
		}
		if err := r.answerInterruptibly(line); err != nil {
			fmt.Fprintln(r.out, "error:", err)
		}
	}
}

// readMessage reads one message; lines ending in a backslash continue it.
func readMessage(lr lineReader) (string, error) {
	var b strings.Builder
	prompt := ">>> "
	for {
		line, err := lr.readLine(prompt)
		if err != nil {
			if err == io.EOF && b.Len() > 0 {
				return b.String(), nil
			}
			return "", err
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			b.WriteString(rest + "\n")
			prompt = "... "
			continue
		}
		b.WriteString(line)
		return b.String(), nil
	}
}

// command runs a /command; it reports whether to leave.
func (r *runner) command(line string) (bool, error) {
	fields := strings.Fields(line)
	switch fields[0] {
	case "/bye", "/exit", "/quit":
		return true, nil
	case "/?", "/help":
		fmt.Fprintln(r.out, chatHelp)
	case "/clear":
		r.history = nil
		r.sess.Reset()
		fmt.Fprintln(r.out, "Cleared the conversation.")
	case "/show":
		p := r.st.params
		think := "the template's default"
		if r.st.think != nil {
			think = map[bool]string{true: "on", false: "off"}[*r.st.think]
		}
		fmt.Fprintf(r.out, "temperature %g, top_k %d, top_p %g, min_p %g, repeat_penalty %g, presence_penalty %g, frequency_penalty %g, seed %d, num_predict %d\nsystem: %q\nthinking: %s\n",
			p.Temperature, p.TopK, p.TopP, p.MinP, p.RepeatPenalty, p.PresencePenalty, p.FrequencyPenalty, p.Seed, r.st.maxTokens, r.st.system, think)
	case "/set":
		return false, r.set(fields[1:], line)
	default:
		return false, fmt.Errorf("unknown command %s; /? lists them", fields[0])
	}
	return false, nil
}

func (r *runner) set(args []string, line string) error {
	if len(args) == 1 && (args[0] == "verbose" || args[0] == "quiet") {
		r.st.verbose = args[0] == "verbose"
		return nil
	}
	if len(args) == 1 && (args[0] == "think" || args[0] == "nothink") {
		on := args[0] == "think"
		r.st.think = &on
		msg := map[bool]string{true: "Thinking on.", false: "Thinking off."}[on]
		if !strings.Contains(r.e.Template, "enable_thinking") {
			msg += " (This model's chat template does not read enable_thinking.)"
		}
		fmt.Fprintln(r.out, msg)
		return nil
	}
	if len(args) >= 1 && args[0] == "system" {
		_, text, _ := strings.Cut(line, "system")
		r.st.system = strings.TrimSpace(text)
		r.history = nil
		fmt.Fprintln(r.out, "Set the system prompt; the conversation starts over.")
		return nil
	}
	if len(args) != 2 {
		return errors.New("usage: /set NAME VALUE (/? lists the names)")
	}
	p := &r.st.params
	name, val := args[0], args[1]
	num, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not a number", name, val)
	}
	switch name {
	case "temperature":
		p.Temperature = float32(num)
	case "top_k":
		p.TopK = int(num)
	case "top_p":
		p.TopP = float32(num)
	case "min_p":
		p.MinP = float32(num)
	case "repeat_penalty":
		p.RepeatPenalty = float32(num)
	case "presence_penalty":
		p.PresencePenalty = float32(num)
	case "frequency_penalty":
		p.FrequencyPenalty = float32(num)
	case "seed":
		p.Seed = uint64(num)
	case "num_predict":
		r.st.maxTokens = int(num)
	default:
		return fmt.Errorf("unknown setting %q (/? lists them)", name)
	}
	fmt.Fprintf(r.out, "Set %s to %s.\n", name, val)
	return nil
}
