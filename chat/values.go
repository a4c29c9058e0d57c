package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ardanlabs/jinja"
)

// ToolCall is one function call an assistant turn made, as OpenAI and
// Hugging Face chat messages carry it.
type ToolCall struct {
	ID       string // "" leaves the id key out
	Type     string // normally "function"; "" leaves the key out
	Function FunctionCall
}

// FunctionCall names the function a ToolCall calls and its arguments.
type FunctionCall struct {
	Name string
	// Arguments is a JSON object (Ollama's form, and what most templates
	// expect) or a JSON string holding one (OpenAI's wire form); templates
	// see a mapping or a string accordingly. Empty means {}.
	Arguments json.RawMessage
}

// value is m as the message mapping a template sees. Optional fields that
// are empty are left out, so "is defined" tests in templates behave as with
// Hugging Face messages that lack the key.
func (m Message) value() (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	d.Set("role", jinja.NewString(m.Role))
	if m.ContentNull {
		d.Set("content", jinja.None())
	} else {
		d.Set("content", jinja.NewString(m.Content))
	}
	if m.ReasoningContent != "" {
		d.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			cv, err := c.value()
			if err != nil {
				return jinja.Undefined(), fmt.Errorf("tool call %d: %w", i, err)
			}
			calls[i] = cv
		}
		d.Set("tool_calls", jinja.NewList(calls))
	}
	if m.ToolCallID != "" {
		d.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	if m.Name != "" {
		d.Set("name", jinja.NewString(m.Name))
	}
	return v, nil
}

func (c ToolCall) value() (jinja.Value, error) {
	args := jinja.NewDict()
	if len(c.Function.Arguments) > 0 {
		var err error
		if args, err = jsonValue(c.Function.Arguments); err != nil {
			return jinja.Undefined(), fmt.Errorf("function %q arguments: %w", c.Function.Name, err)
		}
	}
	fn := jinja.NewDict()
	fn.AsDict().Set("name", jinja.NewString(c.Function.Name))
	fn.AsDict().Set("arguments", args)

	v := jinja.NewDict()
	d := v.AsDict()
	if c.ID != "" {
		d.Set("id", jinja.NewString(c.ID))
	}
	if c.Type != "" {
		d.Set("type", jinja.NewString(c.Type))
	}
	d.Set("function", fn)
	return v, nil
}

// jsonValue decodes one JSON value into a template value, keeping the key
// order of objects (templates print tool definitions with tojson, and
// Python keeps insertion order) and integers apart from floats.
func jsonValue(data []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSON(dec)
	if err != nil {
		return jinja.Undefined(), err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jinja.Undefined(), fmt.Errorf("invalid JSON: data after the value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func decodeJSON(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return jinja.Undefined(), fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			var items []jinja.Value
			for dec.More() {
				it, err := decodeJSON(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, it)
			}
			_, err = dec.Token() // ']'
			return jinja.NewList(items), err
		case '{':
			v := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), fmt.Errorf("invalid JSON: %w", err)
				}
				val, err := decodeJSON(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				v.AsDict().Set(k.(string), val)
			}
			_, err = dec.Token() // '}'
			return v, err
		}
		return jinja.Undefined(), fmt.Errorf("invalid JSON: unexpected %v at offset %d", t, dec.InputOffset())
	}
	return jinja.FromGoValue(tok), nil
}

// goValue converts a caller's Go value (RenderOptions.Extra) into a
// template value. json.RawMessage keeps its key order; maps are ordered by
// key; other types (structs, …) go through encoding/json.
func goValue(x any) (jinja.Value, error) {
	switch x := x.(type) {
	case nil, bool, int, int64, float64, string, json.Number:
		return jinja.FromGoValue(x), nil
	case jinja.Value:
		return x, nil
	case json.RawMessage:
		return jsonValue(x)
	case []any:
		items := make([]jinja.Value, len(x))
		for i, it := range x {
			v, err := goValue(it)
			if err != nil {
				return jinja.Undefined(), err
			}
			items[i] = v
		}
		return jinja.NewList(items), nil
	case map[string]any:
		v := jinja.NewDict()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			kv, err := goValue(x[k])
			if err != nil {
				return jinja.Undefined(), err
			}
			v.AsDict().Set(k, kv)
		}
		return v, nil
	}
	data, err := json.Marshal(x)
	if err != nil {
		return jinja.Undefined(), err
	}
	return jsonValue(data)
}
