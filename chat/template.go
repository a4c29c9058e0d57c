package chat

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Template is a compiled tokenizer.chat_template. Render reproduces
// Hugging Face's apply_chat_template(..., tokenize=False): Jinja with
// trim_blocks and lstrip_blocks, and transformers' tojson, raise_exception
// and strftime_now. A Template is safe for concurrent use.
type Template struct {
	src    string
	pieces []piece // src lexed, for Uses
	tmpl   *jinja.Template
}

// ParseTemplate compiles the Jinja source of a chat template.
func ParseTemplate(src string) (*Template, error) {
	// Jinja reads every line ending as "\n" and drops one trailing newline
	// (keep_trailing_newline=False).
	code := strings.ReplaceAll(src, "\r\n", "\n")
	code = strings.ReplaceAll(code, "\r", "\n")
	code = strings.TrimSuffix(code, "\n")
	engine, pieces, err := engineSource(code)
	if err != nil {
		return nil, fmt.Errorf("chat: parse template: %w", err)
	}
	tmpl, err := jinja.Compile(engine)
	if err != nil {
		return nil, fmt.Errorf("chat: parse template: %w", err)
	}
	return &Template{src: src, pieces: pieces, tmpl: tmpl}, nil
}

// Source returns the template's Jinja source as given to ParseTemplate.
func (t *Template) Source() string { return t.src }

// Uses reports whether the template reads the variable name, e.g.
// "enable_thinking" (it can switch reasoning off) or "tools" (it can
// present tool definitions). It inspects the code only: a name that
// appears in text or strings does not count.
func (t *Template) Uses(name string) bool { return mentions(t.pieces, name) }

// RenderOptions are the template variables besides the messages.
type RenderOptions struct {
	// AddGenerationPrompt appends the opening of an assistant turn
	// (add_generation_prompt).
	AddGenerationPrompt bool
	// BOSToken and EOSToken are the texts of the tokenizer's special
	// tokens (bos_token, eos_token). An empty one is not passed at all, as
	// Hugging Face does for a token that is null.
	BOSToken, EOSToken string
	// Tools are OpenAI-style tool definitions ({"type": "function",
	// "function": {...}}), each as JSON so that tojson prints its keys in
	// their given order. Nil passes tools=None, as Hugging Face does.
	Tools []json.RawMessage
	// EnableThinking, when set, is passed as enable_thinking.
	EnableThinking *bool
	// Extra holds other template variables (e.g. "thinking" for DeepSeek
	// V3.1, "date_string" for Llama 3.1); the fields above win over it.
	// Values are JSON-like Go values (map keys are sorted), json.RawMessage
	// (its key order is kept) or anything encoding/json can marshal.
	Extra map[string]any
	// Now is the clock of strftime_now; nil means time.Now.
	Now func() time.Time
}

// TemplateError is the error a template raises itself through
// raise_exception, e.g. "Conversation roles must alternate …". Render
// returns it wrapped; its Message is the template's text.
type TemplateError struct {
	Message string
}

func (e *TemplateError) Error() string { return e.Message }

// Render renders msgs with the template. Errors the template raises come
// back wrapping a *TemplateError; other failures (a template reading what a
// message lacks, bad tool JSON) are plain errors.
func (t *Template) Render(msgs []Message, o RenderOptions) (string, error) {
	vars, err := o.variables(msgs)
	if err != nil {
		return "", fmt.Errorf("chat: render template: %w", err)
	}
	out, err := t.tmpl.RenderValues(vars)
	if err != nil {
		return "", fmt.Errorf("chat: render template: %w", err)
	}
	return out, nil
}

// variables builds the names a template sees, as transformers'
// render_jinja_template passes them.
func (o RenderOptions) variables(msgs []Message) (map[string]jinja.Value, error) {
	vars := make(map[string]jinja.Value, len(o.Extra)+10)
	for k, x := range o.Extra {
		v, err := goValue(x)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", k, err)
		}
		vars[k] = v
	}

	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		v, err := m.value()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		list[i] = v
	}
	vars["messages"] = jinja.NewList(list)

	// tools and documents are always defined, None when absent: templates
	// test "tools is not none".
	vars["tools"] = jinja.None()
	if o.Tools != nil {
		tools := make([]jinja.Value, len(o.Tools))
		for i, raw := range o.Tools {
			v, err := jsonValue(raw)
			if err != nil {
				return nil, fmt.Errorf("tool %d: %w", i, err)
			}
			tools[i] = v
		}
		vars["tools"] = jinja.NewList(tools)
	}
	vars["documents"] = jinja.None()
	vars["add_generation_prompt"] = jinja.NewBool(o.AddGenerationPrompt)
	if o.BOSToken != "" {
		vars["bos_token"] = jinja.NewString(o.BOSToken)
	}
	if o.EOSToken != "" {
		vars["eos_token"] = jinja.NewString(o.EOSToken)
	}
	if o.EnableThinking != nil {
		vars["enable_thinking"] = jinja.NewBool(*o.EnableThinking)
	}

	// transformers' globals; these shadow the engine's own versions
	now := o.Now
	if now == nil {
		now = time.Now
	}
	vars["raise_exception"] = jinja.NewCallable("raise_exception", raiseException)
	vars["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), fmt.Errorf("strftime_now: want one format string")
		}
		return jinja.NewString(strftime(args[0].AsString(), now())), nil
	})
	vars[hfToJSON] = jinja.NewCallable("tojson", filterToJSON)
	vars[hfStr] = jinja.NewCallable("str", pyPrint)
	vars[hfString] = jinja.NewCallable("string", pyPrint)
	vars[hfConcat] = jinja.NewCallable("~", pyConcat)
	vars[hfAdd] = jinja.NewCallable("+", pyAdd)
	vars[hfSub] = jinja.NewCallable("-", pySub)
	vars[hfMul] = jinja.NewCallable("*", pyMul)
	vars[hfDiv] = jinja.NewCallable("/", pyDiv)
	vars[hfFloorDiv] = jinja.NewCallable("//", pyFloorDiv)
	vars[hfMod] = jinja.NewCallable("%", pyMod)
	vars[hfPow] = jinja.NewCallable("**", pyPow)
	vars[hfIn] = jinja.NewCallable("in", pyIn)
	vars[hfIter] = jinja.NewCallable("iter", pyIter)
	return vars, nil
}

func raiseException(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) != 1 {
		return jinja.Undefined(), fmt.Errorf("raise_exception: want one message, got %d arguments", len(args))
	}
	return jinja.Undefined(), &TemplateError{Message: pyStr(args[0])}
}
