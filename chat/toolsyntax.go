package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ToolSyntax is how a model writes tool calls in its output: the syntax its
// chat template renders past calls in, which is what it was trained on.
type ToolSyntax int

const (
	// ToolsNone: the model does not call tools (or the request offers none).
	ToolsNone ToolSyntax = iota
	// ToolsHermes is one block per call,
	// <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>
	// (Qwen2.5, Qwen3, QwQ, Hermes 2 Pro).
	ToolsHermes
	// ToolsLlama3: the whole answer is {"name": …, "parameters": {…}}
	// ("arguments" is accepted too), maybe after <|python_tag|> (Llama 3.1, 3.2).
	ToolsLlama3
	// ToolsDeepSeek is DeepSeek-R1's <｜tool▁calls▁begin｜>, then per call
	// <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜>,
	// then <｜tool▁calls▁end｜>.
	ToolsDeepSeek
	// ToolsDeepSeekV31 is DeepSeek-V3.1's variant, whose calls are
	// <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{…}<｜tool▁call▁end｜>. Either
	// DeepSeek syntax parses both forms.
	ToolsDeepSeekV31
	// ToolsMistral is [TOOL_CALLS][{"name": …, "arguments": {…}}, …] (Mistral Nemo).
	ToolsMistral
	// ToolsGLM is <tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n…</tool_call>
	// (GLM-4.5, 4.6); string values are written bare, others as JSON.
	ToolsGLM
	// ToolsQwenXML is <tool_call>\n<function=NAME>\n<parameter=K>\nV\n</parameter>\n…</function>\n</tool_call>
	// (Qwen3-Coder, Qwen3.5); string values are written bare, others as JSON.
	ToolsQwenXML
)

var toolSyntaxNames = [...]string{
	ToolsNone:        "none",
	ToolsHermes:      "hermes",
	ToolsLlama3:      "llama3",
	ToolsDeepSeek:    "deepseek",
	ToolsDeepSeekV31: "deepseek-v3.1",
	ToolsMistral:     "mistral",
	ToolsGLM:         "glm",
	ToolsQwenXML:     "qwen-xml",
}

func (t ToolSyntax) String() string {
	if t >= 0 && int(t) < len(toolSyntaxNames) {
		return toolSyntaxNames[t]
	}
	return fmt.Sprintf("ToolSyntax(%d)", int(t))
}

// The tags the syntaxes use.
const (
	tagToolCall    = "<tool_call>"
	tagToolCallEnd = "</tool_call>"
	tagPython      = "<|python_tag|>"
	tagMistral     = "[TOOL_CALLS]"
	dsCallsBegin   = "<｜tool▁calls▁begin｜>"
	dsCallsEnd     = "<｜tool▁calls▁end｜>"
	dsCallBegin    = "<｜tool▁call▁begin｜>"
	dsCallEnd      = "<｜tool▁call▁end｜>"
	dsSep          = "<｜tool▁sep｜>"
)

// openers are the texts that start a tool-call region in an answer.
// Llama 3 has none: only a whole answer can be its call.
func (t ToolSyntax) openers() []string {
	switch t {
	case ToolsHermes, ToolsGLM, ToolsQwenXML:
		return []string{tagToolCall}
	case ToolsMistral:
		return []string{tagMistral}
	case ToolsDeepSeek, ToolsDeepSeekV31:
		return []string{dsCallsBegin, dsCallBegin, dsCallsEnd}
	}
	return nil
}

// call is a parsed tool call before it gets an id.
type call struct {
	name string
	args json.RawMessage // a compact JSON object
}

type scanStatus int

const (
	scanMore scanStatus = iota // undecided: need more text
	scanOK                     // s[:n] is a tool-call region, giving calls
	scanBad                    // s[:n] is not a call: it is answer text
)

// scan decides about the tool-call region at the start of s, which starts
// with one of t's openers; final means no more text will come. Every
// decision depends only on a prefix of s that was present when it was made,
// so the same text split anywhere gives the same result.
func (t ToolSyntax) scan(s string, final bool) ([]call, int, scanStatus) {
	switch t {
	case ToolsHermes, ToolsGLM, ToolsQwenXML:
		return t.scanTagged(s, final)
	case ToolsMistral:
		return scanMistral(s, final)
	case ToolsDeepSeek, ToolsDeepSeekV31:
		return scanDeepSeek(s, final)
	}
	panic("chat: scan for a syntax without openers")
}

// undecided is the result for a region that is not complete: answer text if
// the output ended, else wait.
func undecided(s string, final bool) ([]call, int, scanStatus) {
	if final {
		return nil, len(s), scanBad
	}
	return nil, 0, scanMore
}

// scanTagged reads <tool_call>BODY</tool_call>. A body that cannot start a
// call (Hermes: not '{') ends the region at once, so prose that mentions the
// tag is not held back.
func (t ToolSyntax) scanTagged(s string, final bool) ([]call, int, scanStatus) {
	rest := s[len(tagToolCall):]
	if b := strings.TrimLeft(rest, space); b != "" && b[0] != '{' {
		var bad bool
		switch t {
		case ToolsHermes:
			bad = true
		case ToolsQwenXML:
			bad = !strings.HasPrefix(b, "<function=") && !strings.HasPrefix("<function=", b)
		case ToolsGLM:
			// A function name, which ends the line, has no spaces.
			name := b
			if i := strings.IndexAny(b, "\n<"); i >= 0 {
				name = b[:i]
			}
			bad = strings.ContainsAny(name, " \t")
		}
		if bad {
			return nil, len(tagToolCall), scanBad
		}
	}
	body, n := rest, len(s)
	if i := strings.Index(rest, tagToolCallEnd); i >= 0 {
		body, n = rest[:i], len(tagToolCall)+i+len(tagToolCallEnd)
	} else if !final || t == ToolsGLM {
		return undecided(s, final)
	}
	// An unterminated block at the end still counts if its body is a call,
	// except GLM's: without the end its last argument may be cut off.
	var c call
	var ok bool
	switch t {
	case ToolsHermes:
		c, ok = jsonCall(body, false)
	case ToolsGLM:
		c, ok = glmCall(body)
	case ToolsQwenXML:
		c, ok = qwenXMLCall(body)
	}
	if !ok {
		return nil, n, scanBad
	}
	return []call{c}, n, scanOK
}

// scanMistral reads [TOOL_CALLS] and a JSON array of calls (or one call).
func scanMistral(s string, final bool) ([]call, int, scanStatus) {
	rest := strings.TrimLeft(s[len(tagMistral):], space)
	off := len(s) - len(rest)
	if rest == "" {
		return undecided(s, final)
	}
	n, ok := jsonEnd(rest)
	if !ok {
		return nil, len(tagMistral), scanBad
	}
	if n < 0 {
		return undecided(s, final)
	}
	n += off
	value := []byte(s[off:n])
	if value[0] == '{' {
		if c, ok := jsonCall(string(value), false); ok {
			return []call{c}, n, scanOK
		}
		return nil, n, scanBad
	}
	var items []json.RawMessage
	if json.Unmarshal(value, &items) != nil || len(items) == 0 {
		return nil, n, scanBad
	}
	calls := make([]call, len(items))
	for i, item := range items {
		c, ok := jsonCall(string(item), false)
		if !ok {
			return nil, n, scanBad
		}
		calls[i] = c
	}
	return calls, n, scanOK
}

// scanDeepSeek reads one call, <｜tool▁call▁begin｜>…<｜tool▁call▁end｜>,
// with the <｜tool▁calls▁begin｜> before the first one; a lone
// <｜tool▁calls▁end｜> closes the list and is dropped.
func scanDeepSeek(s string, final bool) ([]call, int, scanStatus) {
	if strings.HasPrefix(s, dsCallsEnd) {
		return nil, len(dsCallsEnd), scanOK
	}
	pos := 0
	if strings.HasPrefix(s, dsCallsBegin) {
		rest := strings.TrimLeft(s[len(dsCallsBegin):], space)
		switch {
		case strings.HasPrefix(rest, dsCallBegin):
		case strings.HasPrefix(dsCallBegin, rest):
			return undecided(s, final)
		default:
			return nil, len(dsCallsBegin), scanBad
		}
		pos = len(s) - len(rest)
	}
	start := pos + len(dsCallBegin)
	body, n := s[start:], len(s)
	if i := strings.Index(body, dsCallEnd); i >= 0 {
		body, n = body[:i], start+i+len(dsCallEnd)
	} else if !final {
		return nil, 0, scanMore
	}
	c, ok := deepSeekCall(body)
	if !ok {
		return nil, n, scanBad
	}
	return []call{c}, n, scanOK
}

// deepSeekCall reads R1's "function<｜tool▁sep｜>NAME\n```json\n{…}\n```" or
// V3.1's "NAME<｜tool▁sep｜>{…}".
func deepSeekCall(body string) (call, bool) {
	head, tail, ok := strings.Cut(body, dsSep)
	if !ok {
		return call{}, false
	}
	head, tail = strings.TrimSpace(head), strings.TrimSpace(tail)
	var name, args string
	if strings.HasPrefix(tail, "{") {
		name, args = head, tail
	} else {
		var rest string
		name, rest, _ = strings.Cut(tail, "\n")
		rest = strings.TrimSpace(rest)
		if r, ok := strings.CutPrefix(rest, "```json"); ok {
			rest = r
		} else {
			rest = strings.TrimPrefix(rest, "```")
		}
		args = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	name = strings.TrimSpace(name)
	obj, ok := jsonObject(args)
	if name == "" || strings.ContainsAny(name, " \t\r\n<>") || !ok {
		return call{}, false
	}
	return call{name, obj}, true
}

// jsonCall reads a call object: {"name": "f", "arguments": {…}} or with
// "parameters"; arguments may be a JSON string holding the object, and
// missing ones mean {}. strict (for whole answers, which might be JSON
// meant for the user) allows no keys besides those and "type".
func jsonCall(s string, strict bool) (call, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil {
		return call{}, false
	}
	var name string
	if json.Unmarshal(m["name"], &name) != nil || name == "" {
		return call{}, false
	}
	raw, params := m["arguments"], m["parameters"]
	if raw != nil && params != nil {
		return call{}, false
	}
	if raw == nil {
		raw = params
	}
	if strict {
		if raw == nil {
			return call{}, false
		}
		for k := range m {
			if k != "name" && k != "arguments" && k != "parameters" && k != "type" {
				return call{}, false
			}
		}
	}
	if raw == nil {
		return call{name, json.RawMessage("{}")}, true
	}
	var text string
	if raw[0] == '"' && json.Unmarshal(raw, &text) == nil {
		raw = json.RawMessage(text)
	}
	obj, ok := jsonObject(string(raw))
	if !ok {
		return call{}, false
	}
	return call{name, obj}, true
}

// jsonObject returns s compacted if it is one JSON object.
func jsonObject(s string) (json.RawMessage, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !json.Valid([]byte(s)) {
		return nil, false
	}
	var b bytes.Buffer
	json.Compact(&b, []byte(s)) // valid: cannot fail
	return b.Bytes(), true
}

// glmCall reads GLM's "NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>…"
// (or a JSON call object).
func glmCall(body string) (call, bool) {
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") {
		return jsonCall(t, false)
	}
	name, rest := body, ""
	if i := strings.Index(body, "<arg_key>"); i >= 0 {
		name, rest = body[:i], body[i:]
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, "<>\n") {
		return call{}, false
	}
	var args objectWriter
	for rest = strings.TrimLeft(rest, space); rest != ""; rest = strings.TrimLeft(rest, space) {
		key, after, ok := between(rest, "<arg_key>", "</arg_key>")
		if !ok {
			return call{}, false
		}
		value, after, ok := between(strings.TrimLeft(after, space), "<arg_value>", "</arg_value>")
		if !ok {
			return call{}, false
		}
		args.add(strings.TrimSpace(key), value)
		rest = after
	}
	return call{name, args.object()}, true
}

// qwenXMLCall reads "<function=NAME>\n<parameter=K>\nV\n</parameter>\n…</function>"
// (or a JSON call object).
func qwenXMLCall(body string) (call, bool) {
	t := strings.TrimSpace(body)
	if strings.HasPrefix(t, "{") {
		return jsonCall(t, false)
	}
	name, rest, ok := between(t, "<function=", ">")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, "<\n") {
		return call{}, false
	}
	var args objectWriter
	for {
		rest = strings.TrimLeft(rest, space)
		if r, ok := strings.CutPrefix(rest, "</function>"); ok {
			rest = r
			break
		}
		key, after, ok := between(rest, "<parameter=", ">")
		if !ok {
			return call{}, false
		}
		value, after, ok := strings.Cut(after, "</parameter>")
		if !ok {
			return call{}, false
		}
		// The template puts the value on lines of its own.
		value = strings.TrimSuffix(strings.TrimPrefix(value, "\n"), "\n")
		args.add(strings.TrimSpace(key), value)
		rest = after
	}
	if strings.TrimSpace(rest) != "" {
		return call{}, false
	}
	return call{name, args.object()}, true
}

// between cuts s = open + inner + close + rest.
func between(s, open, close string) (inner, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, open)
	if !ok {
		return "", "", false
	}
	return strings.Cut(s, close)
}

// objectWriter builds a JSON object from XML-style arguments, keeping their
// order. The templates write strings bare and other values as JSON, so a
// value that is valid JSON is taken as JSON, anything else as a string; a
// string argument that looks like JSON ("42", "true") thus comes back as
// that JSON value: without the tool's schema the text cannot tell.
type objectWriter struct{ b bytes.Buffer }

func (w *objectWriter) add(key, value string) {
	if w.b.Len() == 0 {
		w.b.WriteByte('{')
	} else {
		w.b.WriteByte(',')
	}
	w.b.WriteString(jsonString(key))
	w.b.WriteByte(':')
	if v := strings.TrimSpace(value); v != "" && json.Valid([]byte(v)) {
		json.Compact(&w.b, []byte(v)) // valid: cannot fail
	} else {
		w.b.WriteString(jsonString(value))
	}
}

func (w *objectWriter) object() json.RawMessage {
	if w.b.Len() == 0 {
		return json.RawMessage("{}")
	}
	w.b.WriteByte('}')
	return w.b.Bytes()
}

// jsonString is s as a JSON string, with <, > and & left as they are.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string cannot fail
	return strings.TrimSuffix(b.String(), "\n")
}

// jsonEnd returns the length of the JSON object or array s starts with,
// tracking only brackets and strings (json.Valid checks the rest), or -1 if
// s ends inside it; ok is false if s does not start with one or its
// brackets do not match.
func jsonEnd(s string) (n int, ok bool) {
	if s == "" || s[0] != '{' && s[0] != '[' {
		return 0, false
	}
	var stack []byte
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if stack[len(stack)-1] != c {
				return 0, false
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return i + 1, true
			}
		}
	}
	return -1, true
}
