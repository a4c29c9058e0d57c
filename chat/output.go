package chat

import (
	"crypto/rand"
	"strings"
)

// space is the white space trimmed around tags, as llama.cpp trims it.
const space = " \t\r\n"

// reasoningTags are the reasoning delimiters DetectOutput knows, as pairs.
var reasoningTags = [][2]string{
	{"<think>", "</think>"},                    // Qwen3, QwQ, DeepSeek-R1 and V3.1, GLM-4.5+
	{"[THINK]", "[/THINK]"},                    // Magistral
	{"<|START_THINKING|>", "<|END_THINKING|>"}, // Command R7B
}

// OutputFormat says how a model writes reasoning and tool calls; detected
// from its chat template source. The zero value passes text through.
type OutputFormat struct {
	ReasoningStart, ReasoningEnd string // e.g. "<think>", "</think>"; "" = model does not reason
	Tools                        ToolSyntax
}

// DetectOutput returns the output format of the model whose chat template
// source is src, by the markers the template renders: a template that
// renders or strips reasoning names its tags, and one that renders past
// tool calls shows their syntax.
func DetectOutput(src string) OutputFormat {
	var f OutputFormat
	for _, t := range reasoningTags {
		if strings.Contains(src, t[0]) && strings.Contains(src, t[1]) {
			f.ReasoningStart, f.ReasoningEnd = t[0], t[1]
			break
		}
	}
	switch {
	case strings.Contains(src, dsCallBegin):
		// R1 fences the arguments in ```json; V3.1 writes them bare.
		f.Tools = ToolsDeepSeekV31
		if strings.Contains(src, "```json") {
			f.Tools = ToolsDeepSeek
		}
	case strings.Contains(src, tagMistral):
		f.Tools = ToolsMistral
	case strings.Contains(src, "<arg_key>"):
		f.Tools = ToolsGLM
	case strings.Contains(src, "<function=") && strings.Contains(src, "<parameter="):
		f.Tools = ToolsQwenXML
	case strings.Contains(src, tagToolCall):
		f.Tools = ToolsHermes
	case strings.Contains(src, "<|start_header_id|>") &&
		(strings.Contains(src, tagPython) || strings.Contains(src, "tool_call")):
		// Llama 3.0's templates have no tool support; 3.1's and 3.2's
		// render calls as the whole assistant turn.
		f.Tools = ToolsLlama3
	}
	return f
}

// PromptOpensReasoning reports whether prompt (as rendered for generation)
// ends inside a reasoning block, as the templates of DeepSeek-R1, QwQ and
// Qwen3.5 leave it: the model's output then starts with reasoning.
func (f OutputFormat) PromptOpensReasoning(prompt string) bool {
	return f.ReasoningStart != "" && strings.HasSuffix(strings.TrimRight(prompt, space), f.ReasoningStart)
}

// ToolCallSyntax gives what a grammar needs to force a call whose name sits
// in the JSON object: the text before the call object, after it, and the key
// holding the arguments. ok is false for syntaxes that write the name
// outside JSON (DeepSeek: see ToolCallFor) or the arguments as XML (GLM,
// Qwen XML), and for ToolsNone.
func (f OutputFormat) ToolCallSyntax() (prefix, suffix, argsKey string, ok bool) {
	switch f.Tools {
	case ToolsHermes:
		return tagToolCall + "\n", "\n" + tagToolCallEnd, "arguments", true
	case ToolsLlama3:
		return "", "", "parameters", true
	case ToolsMistral:
		return tagMistral + "[", "]", "arguments", true
	}
	return "", "", "", false
}

// ToolCallFor gives the text around the arguments object of a call to the
// function name, as the model writes it: a grammar forcing that call is
// prefix, a JSON object, suffix. ok is false where the arguments are not a
// JSON object (GLM, Qwen XML) and for ToolsNone.
func (f OutputFormat) ToolCallFor(name string) (prefix, suffix string, ok bool) {
	quoted := jsonString(name)
	switch f.Tools {
	case ToolsHermes:
		return tagToolCall + "\n{\"name\": " + quoted + ", \"arguments\": ", "}\n" + tagToolCallEnd, true
	case ToolsLlama3:
		return "{\"name\": " + quoted + ", \"parameters\": ", "}", true
	case ToolsMistral:
		return tagMistral + "[{\"name\": " + quoted + ", \"arguments\": ", "}]", true
	case ToolsDeepSeek:
		return dsCallsBegin + dsCallBegin + "function" + dsSep + name + "\n```json\n", "\n```" + dsCallEnd + dsCallsEnd, true
	case ToolsDeepSeekV31:
		return dsCallsBegin + dsCallBegin + name + dsSep, dsCallEnd + dsCallsEnd, true
	}
	return "", "", false
}

// Delta is what an OutputParser decided about the text given to it since
// the last call: text of the answer, of the reasoning, and completed calls.
type Delta struct {
	Content, Reasoning string
	// ToolCalls are completed calls in order. Arguments is the JSON object
	// as generated, compacted; ID is "call_" and a random string; Type is
	// "function".
	ToolCalls []ToolCall
}

// Empty reports whether d carries nothing.
func (d Delta) Empty() bool {
	return d.Content == "" && d.Reasoning == "" && len(d.ToolCalls) == 0
}

// OutputParser splits streamed model output into answer text, reasoning
// text and tool calls. Text that might be the start of a tag (a partial
// "<thi" or "<tool_"), and white space that might be trimmed, is held back
// until decided; everything else comes out at once.
//
// White space is trimmed as llama.cpp and Ollama do: the reasoning has none
// at either end, and the answer none at its start (for models that reason)
// nor around tool calls. Nothing else is dropped: a tool call that does not
// parse (malformed JSON, or cut off at the end) is returned verbatim as
// answer text once that is certain, tags included, as llama.cpp does. A
// reasoning block the output never closes is all reasoning.
//
// Reasoning is recognised only at the start of the output (or from the start
// when the prompt opened it); Llama 3's call only as the whole output, which
// is therefore held back until Finish once it starts with '{'. Tool calls
// are not looked for inside reasoning.
type OutputParser struct {
	f       OutputFormat
	openers []string // tags that start a tool call in the answer
	state   parseState
	buf     string // text received and not yet decided
	gap     string // white space before a tool call: answer text if it is not one
	trim    bool   // drop white space at the start of the next text
	called  bool   // a tool call was the last thing decided
	d       Delta  // decided since the last Add or Finish
	newID   func() string
}

type parseState int

const (
	stateStart     parseState = iota // reasoning (or a whole-answer call) may begin
	stateReasoning                   // inside the reasoning block
	stateAnswer                      // answer text, watching for tool calls
	stateCall                        // buf starts with a tool-call opener
	stateWhole                       // Llama 3: the whole answer may be a call
)

// NewParser returns a parser for one generated reply. inReasoning says the
// prompt already opened a reasoning block (see PromptOpensReasoning). To
// leave tool-call syntax alone (the request offered no tools), set f.Tools
// to ToolsNone first.
func (f OutputFormat) NewParser(inReasoning bool) *OutputParser {
	p := &OutputParser{f: f, openers: f.Tools.openers(), newID: newCallID}
	if inReasoning && f.ReasoningEnd != "" {
		p.state, p.trim = stateReasoning, true
	}
	return p
}

// Add takes the next piece of generated text, split anywhere (even inside a
// tag or a UTF-8 character), and returns what became final.
func (p *OutputParser) Add(text string) Delta {
	p.buf += text
	for p.step(false) {
	}
	return p.take()
}

// Finish ends the reply and returns the rest: held-back text, and a last
// tool call that needed the end to be decided. The parser is then reset to
// the start of a new reply (with no reasoning block open).
func (p *OutputParser) Finish() Delta {
	for p.step(true) {
	}
	d := p.take()
	*p = OutputParser{f: p.f, openers: p.openers, newID: p.newID}
	return d
}

func (p *OutputParser) take() Delta {
	d := p.d
	p.d = Delta{}
	return d
}

// step advances one decision; it reports whether another may follow.
// final means no more text will come: every state then decides.
func (p *OutputParser) step(final bool) bool {
	switch p.state {
	case stateStart:
		return p.start(final)
	case stateReasoning:
		return p.reasoning(final)
	case stateAnswer:
		return p.answer(final)
	case stateCall:
		return p.call(final)
	case stateWhole:
		return p.whole(final)
	}
	panic("chat: bad parser state")
}

func (p *OutputParser) start(final bool) bool {
	t := strings.TrimLeft(p.buf, space)
	if open := p.f.ReasoningStart; open != "" {
		if rest, ok := strings.CutPrefix(t, open); ok {
			p.buf, p.state, p.trim = rest, stateReasoning, true
			return true
		}
		if strings.HasPrefix(open, t) && !final {
			return false
		}
	}
	if p.f.Tools == ToolsLlama3 {
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, tagPython) {
			p.state = stateWhole
			return true
		}
		if strings.HasPrefix(tagPython, t) && !final {
			return false
		}
	}
	// A reasoning model's answer may follow a closed block in the prompt.
	p.state, p.trim = stateAnswer, p.f.ReasoningStart != ""
	return true
}

func (p *OutputParser) reasoning(final bool) bool {
	end := p.f.ReasoningEnd
	if i := strings.Index(p.buf, end); i >= 0 {
		p.addReasoning(strings.TrimRight(p.buf[:i], space))
		p.buf, p.state, p.trim = p.buf[i+len(end):], stateAnswer, true
		return true
	}
	if final {
		p.addReasoning(strings.TrimRight(p.buf, space))
		p.buf = ""
		return false
	}
	s := p.buf[:len(p.buf)-partialSuffix(p.buf, end)]
	n := len(strings.TrimRight(s, space))
	p.addReasoning(s[:n])
	p.buf = p.buf[n:]
	return false
}

func (p *OutputParser) answer(final bool) bool {
	if len(p.openers) == 0 {
		p.addContent(p.buf)
		p.buf = ""
		return false
	}
	if i := firstIndex(p.buf, p.openers); i >= 0 {
		before := p.buf[:i]
		n := len(strings.TrimRight(before, space))
		p.addContent(before[:n])
		if !p.trim {
			p.gap = before[n:]
		}
		p.buf, p.state = p.buf[i:], stateCall
		return true
	}
	if final {
		p.addContent(p.buf)
		p.buf = ""
		return false
	}
	hold := 0
	for _, o := range p.openers {
		hold = max(hold, partialSuffix(p.buf, o))
	}
	s := p.buf[:len(p.buf)-hold]
	n := len(strings.TrimRight(s, space))
	p.addContent(s[:n])
	p.buf = p.buf[n:]
	return false
}

func (p *OutputParser) call(final bool) bool {
	calls, n, st := p.f.Tools.scan(p.buf, final)
	switch st {
	case scanMore:
		return false
	case scanOK:
		if len(calls) == 0 && !p.called {
			// A closing tag (DeepSeek's end of calls) with no call before
			// it belongs to the text.
			st = scanBad
			break
		}
		for _, c := range calls {
			p.addCall(c)
		}
		p.trim = true
	}
	if st == scanBad {
		p.d.Content += p.gap + p.buf[:n]
		p.trim, p.called = false, false
	}
	p.gap = ""
	p.buf, p.state = p.buf[n:], stateAnswer
	return true
}

// whole holds a Llama 3 answer that starts with '{' (or <|python_tag|>)
// until it is known: a call if it is one call object and nothing more,
// answer text as soon as it cannot be.
func (p *OutputParser) whole(final bool) bool {
	body, _ := strings.CutPrefix(strings.TrimLeft(p.buf, space), tagPython)
	body = strings.TrimLeft(body, space)
	notCall := func() bool {
		p.state = stateAnswer
		return true
	}
	if body == "" {
		if final {
			return notCall()
		}
		return false
	}
	n, ok := jsonEnd(body)
	if !ok || n < 0 && final {
		return notCall()
	}
	if n < 0 {
		return false
	}
	c, ok := jsonCall(body[:n], true)
	if !ok || strings.TrimLeft(body[n:], space) != "" {
		return notCall()
	}
	if !final {
		return false
	}
	p.addCall(c)
	p.buf, p.state = "", stateAnswer
	return false
}

func (p *OutputParser) addReasoning(s string) {
	if p.trim {
		if s = strings.TrimLeft(s, space); s == "" {
			return
		}
		p.trim = false
	}
	p.d.Reasoning += s
}

func (p *OutputParser) addContent(s string) {
	if p.trim {
		if s = strings.TrimLeft(s, space); s == "" {
			return
		}
		p.trim = false
	}
	p.d.Content += s
	p.called = false
}

func (p *OutputParser) addCall(c call) {
	p.called = true
	p.d.ToolCalls = append(p.d.ToolCalls, ToolCall{
		ID:       p.newID(),
		Type:     "function",
		Function: FunctionCall{Name: c.name, Arguments: c.args},
	})
}

// newCallID returns a fresh tool-call id.
func newCallID() string { return "call_" + strings.ToLower(rand.Text()) }

// partialSuffix returns the length of the longest end of s that is a proper
// start of tag: text that may yet become tag.
func partialSuffix(s, tag string) int {
	for n := min(len(tag)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}

// firstIndex returns where the first of tags occurs in s, or -1.
func firstIndex(s string, tags []string) int {
	first := -1
	for _, t := range tags {
		if i := strings.Index(s, t); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}
