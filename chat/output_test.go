package chat

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	think    = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>"}
	qwen3    = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>", Tools: ToolsHermes}
	hermes   = OutputFormat{Tools: ToolsHermes}
	llama3   = OutputFormat{Tools: ToolsLlama3}
	r1       = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>", Tools: ToolsDeepSeek}
	v31      = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>", Tools: ToolsDeepSeekV31}
	mistral  = OutputFormat{Tools: ToolsMistral}
	glm      = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>", Tools: ToolsGLM}
	qwen35   = OutputFormat{ReasoningStart: "<think>", ReasoningEnd: "</think>", Tools: ToolsQwenXML}
	magistra = OutputFormat{ReasoningStart: "[THINK]", ReasoningEnd: "[/THINK]", Tools: ToolsMistral}
)

// parsed is a whole reply's parse, with calls as "name args" for comparing.
type parsed struct {
	Content, Reasoning string
	Calls              []string
}

func (r parsed) String() string {
	return fmt.Sprintf("content %q, reasoning %q, calls %q", r.Content, r.Reasoning, r.Calls)
}

func (r parsed) equal(s parsed) bool {
	return r.Content == s.Content && r.Reasoning == s.Reasoning &&
		strings.Join(r.Calls, "\x00") == strings.Join(s.Calls, "\x00") && len(r.Calls) == len(s.Calls)
}

// parseChunks feeds chunks to a new parser and joins its deltas, checking
// every call's id and type on the way.
func parseChunks(t *testing.T, f OutputFormat, inReasoning bool, chunks []string) parsed {
	t.Helper()
	p := f.NewParser(inReasoning)
	var r parsed
	ids := map[string]bool{}
	add := func(d Delta) {
		r.Content += d.Content
		r.Reasoning += d.Reasoning
		for _, c := range d.ToolCalls {
			if !strings.HasPrefix(c.ID, "call_") || len(c.ID) < len("call_")+8 || ids[c.ID] {
				t.Errorf("tool call id %q: want a fresh call_…", c.ID)
			}
			ids[c.ID] = true
			if c.Type != "function" {
				t.Errorf("tool call type %q, want function", c.Type)
			}
			r.Calls = append(r.Calls, c.Function.Name+" "+string(c.Function.Arguments))
		}
	}
	for _, c := range chunks {
		add(p.Add(c))
	}
	add(p.Finish())
	return r
}

// splits returns ways to cut s: every cut into two pieces, one byte at a
// time, and a few random cuttings.
func splits(s string) [][]string {
	var out [][]string
	for i := 0; i <= len(s); i++ {
		out = append(out, []string{s[:i], s[i:]})
	}
	bytes := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		bytes[i] = s[i : i+1]
	}
	out = append(out, bytes)
	rng := rand.New(rand.NewPCG(1, uint64(len(s))))
	for range 20 {
		var pieces []string
		for rest := s; rest != ""; {
			n := min(len(rest), 1+rng.IntN(12))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		out = append(out, pieces)
	}
	return out
}

const (
	weatherJSON = `{"name": "get_weather", "arguments": {"location": "北京", "unit": "celsius"}}`
	weatherCall = `get_weather {"location":"北京","unit":"celsius"}`
	searchCall  = `search {"q":"a]b}\"c","n":3}`
)

var parserTests = []struct {
	name        string
	f           OutputFormat
	inReasoning bool
	out         string
	want        parsed
}{
	// Formats without tags pass text through, white space and all.
	{"plain", OutputFormat{}, false, "  Hello <think> 世界\n", parsed{Content: "  Hello <think> 世界\n"}},
	{"plain/hermes tag", OutputFormat{}, false, "<tool_call>\n" + weatherJSON + "\n</tool_call>",
		parsed{Content: "<tool_call>\n" + weatherJSON + "\n</tool_call>"}},

	// Reasoning.
	{"think", think, false, "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
		parsed{Reasoning: "Let me think.", Content: "The answer is 4."}},
	{"think/leading space", think, false, "\n <think>a\n\nb</think>c", parsed{Reasoning: "a\n\nb", Content: "c"}},
	{"think/empty block", think, false, "<think>\n\n</think>\n\n你好！", parsed{Content: "你好！"}},
	{"think/no block", think, false, "\n\n你好！\n", parsed{Content: "你好！\n"}},
	{"think/opened by prompt", think, true, "好的，我来算一下。\n</think>\n\n答案是 4。",
		parsed{Reasoning: "好的，我来算一下。", Content: "答案是 4。"}},
	{"think/never closed", think, true, "\nstill thinking...\n\n", parsed{Reasoning: "still thinking..."}},
	{"think/not at start", think, false, "Sure. <think>x</think> y", parsed{Content: "Sure. <think>x</think> y"}},
	{"think/lookalike", think, false, "<thinkpad> is a laptop", parsed{Content: "<thinkpad> is a laptop"}},
	{"think/partial tag at end", think, false, "<thin", parsed{Content: "<thin"}},
	{"think/end tag lookalike", think, true, "a </thin b</think>c", parsed{Reasoning: "a </thin b", Content: "c"}},
	{"think/magistral", magistra, false, "[THINK]hmm[/THINK]ok", parsed{Reasoning: "hmm", Content: "ok"}},

	// Hermes (Qwen2.5, Qwen3, QwQ).
	{"hermes/one call", hermes, false, "<tool_call>\n" + weatherJSON + "\n</tool_call>", parsed{Calls: []string{weatherCall}}},
	{"hermes/two calls", hermes, false,
		"<tool_call>\n" + weatherJSON + "\n</tool_call>\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"a]b}\\\"c\", \"n\": 3}}\n</tool_call>",
		parsed{Calls: []string{weatherCall, searchCall}}},
	{"hermes/text then call", hermes, false, "让我查一下。\n\n<tool_call>\n" + weatherJSON + "\n</tool_call>",
		parsed{Content: "让我查一下。", Calls: []string{weatherCall}}},
	{"hermes/call then text", hermes, false, "<tool_call>\n" + weatherJSON + "\n</tool_call>\n\nDone.",
		parsed{Content: "Done.", Calls: []string{weatherCall}}},
	{"hermes/arguments string", hermes, false, `<tool_call>{"name": "f", "arguments": "{\"a\": [1, 2]}"}</tool_call>`,
		parsed{Calls: []string{`f {"a":[1,2]}`}}},
	{"hermes/no arguments", hermes, false, `<tool_call>{"name": "now"}</tool_call>`, parsed{Calls: []string{`now {}`}}},
	{"hermes/unterminated call", hermes, false, "<tool_call>\n" + weatherJSON + "\n", parsed{Calls: []string{weatherCall}}},
	{"hermes/malformed", hermes, false, "Hi\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }}\n</tool_call>\nBye",
		parsed{Content: "Hi\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }}\n</tool_call>\nBye"}},
	{"hermes/arguments not an object", hermes, false, `<tool_call>{"name": "f", "arguments": [1]}</tool_call>`,
		parsed{Content: `<tool_call>{"name": "f", "arguments": [1]}</tool_call>`}},
	{"hermes/cut off", hermes, false, "OK <tool_call>\n{\"name\": \"f\", \"argu",
		parsed{Content: "OK <tool_call>\n{\"name\": \"f\", \"argu"}},
	{"hermes/tag in prose", hermes, false, "Use the <tool_call> tag, then " + "<tool_call>" + weatherJSON + "</tool_call>",
		parsed{Content: "Use the <tool_call> tag, then", Calls: []string{weatherCall}}},
	{"hermes/partial tag at end", hermes, false, "a <tool_", parsed{Content: "a <tool_"}},
	{"qwen3/reasoning and call", qwen3, false, "<think>\n要查天气。\n</think>\n\n<tool_call>\n" + weatherJSON + "\n</tool_call>",
		parsed{Reasoning: "要查天气。", Calls: []string{weatherCall}}},
	{"qwen3/call inside reasoning", qwen3, false, "<think><tool_call>" + weatherJSON + "</tool_call></think>ok",
		parsed{Reasoning: "<tool_call>" + weatherJSON + "</tool_call>", Content: "ok"}},

	// Llama 3.1 and 3.2: the whole answer.
	{"llama3/call", llama3, false, `{"name": "get_weather", "parameters": {"location": "北京", "unit": "celsius"}}`,
		parsed{Calls: []string{weatherCall}}},
	{"llama3/arguments and space", llama3, false, "\n " + weatherJSON + "\n", parsed{Calls: []string{weatherCall}}},
	{"llama3/python tag", llama3, false, `<|python_tag|>{"type": "function", "name": "f", "parameters": {}}`,
		parsed{Calls: []string{`f {}`}}},
	{"llama3/json answer", llama3, false, `{"answer": 42}`, parsed{Content: `{"answer": 42}`}},
	{"llama3/extra key", llama3, false, `{"name": "Ann", "parameters": {}, "age": 3}`,
		parsed{Content: `{"name": "Ann", "parameters": {}, "age": 3}`}},
	{"llama3/call then text", llama3, false, `{"name": "f", "parameters": {}} and more`,
		parsed{Content: `{"name": "f", "parameters": {}} and more`}},
	{"llama3/cut off", llama3, false, `{"name": "f", "parameters": {"a": "}`, parsed{Content: `{"name": "f", "parameters": {"a": "}`}},
	{"llama3/text", llama3, false, "Hello {\"name\": \"f\", \"parameters\": {}}", parsed{Content: "Hello {\"name\": \"f\", \"parameters\": {}}"}},
	{"llama3/python tag and code", llama3, false, "<|python_tag|>print(1)", parsed{Content: "<|python_tag|>print(1)"}},

	// DeepSeek R1 and V3.1.
	{"r1/two calls", r1, true, "要查。\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" +
		`{"location": "北京", "unit": "celsius"}` + "\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>search\n```json\n" +
		`{"q": "a]b}\"c", "n": 3}` + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		parsed{Reasoning: "要查。", Calls: []string{weatherCall, searchCall}}},
	{"v3.1/call", v31, false, "查一下<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" +
		`{"location": "北京", "unit": "celsius"}` + "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		parsed{Content: "查一下", Calls: []string{weatherCall}}},
	{"v3.1/malformed", v31, false, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{bad}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
		parsed{Content: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{bad}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"}},
	{"v3.1/begin without call", v31, false, "<｜tool▁calls▁begin｜>oops", parsed{Content: "<｜tool▁calls▁begin｜>oops"}},
	{"v3.1/cut off", v31, false, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\":",
		parsed{Content: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"a\":"}},

	// Mistral.
	{"mistral/two calls", mistral, false, `[TOOL_CALLS][{"name": "get_weather", "arguments": {"location": "北京", "unit": "celsius"}, "id": "abc123def"}, ` +
		`{"name": "search", "arguments": {"q": "a]b}\"c", "n": 3}}]`, parsed{Calls: []string{weatherCall, searchCall}}},
	{"mistral/one object", mistral, false, "[TOOL_CALLS] " + weatherJSON, parsed{Calls: []string{weatherCall}}},
	{"mistral/bad call", mistral, false, `[TOOL_CALLS][{"name": 1}] ok`, parsed{Content: `[TOOL_CALLS][{"name": 1}] ok`}},
	{"mistral/not json", mistral, false, "[TOOL_CALLS] sorry", parsed{Content: "[TOOL_CALLS] sorry"}},
	{"magistral/reasoning and call", magistra, false, "[THINK]weather[/THINK][TOOL_CALLS][" + weatherJSON + "]",
		parsed{Reasoning: "weather", Calls: []string{weatherCall}}},

	// GLM-4.6.
	{"glm/call", glm, false, "\n<think>要查。</think>\n好的。\n<tool_call>get_weather\n<arg_key>location</arg_key>\n<arg_value>北京</arg_value>\n" +
		"<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n<arg_key>opts</arg_key>\n<arg_value>{\"a\": [1, true]}</arg_value>\n</tool_call>",
		parsed{Reasoning: "要查。", Content: "好的。", Calls: []string{`get_weather {"location":"北京","days":3,"opts":{"a":[1,true]}}`}}},
	{"glm/no arguments", glm, false, "<tool_call>now\n</tool_call>", parsed{Calls: []string{`now {}`}}},
	{"glm/tag in prose", glm, false, "The <tool_call> tag is <b>bold</b>", parsed{Content: "The <tool_call> tag is <b>bold</b>"}},
	{"glm/unterminated", glm, false, "<tool_call>now\n", parsed{Content: "<tool_call>now\n"}},
	{"glm/malformed", glm, false, "<tool_call>f\n<arg_key>a</arg_key>junk</tool_call>",
		parsed{Content: "<tool_call>f\n<arg_key>a</arg_key>junk</tool_call>"}},

	// Qwen3.5 (Qwen3-Coder's XML).
	{"qwen-xml/call", qwen35, true, "要查。\n</think>\n\n我查一下。\n\n<tool_call>\n<function=get_weather>\n<parameter=location>\n北京\n</parameter>\n" +
		"<parameter=note>\nline 1\nline 2\n</parameter>\n<parameter=n>\n3\n</parameter>\n</function>\n</tool_call>",
		parsed{Reasoning: "要查。", Content: "我查一下。", Calls: []string{`get_weather {"location":"北京","note":"line 1\nline 2","n":3}`}}},
	{"qwen-xml/json body", qwen35, false, "<tool_call>\n" + weatherJSON + "\n</tool_call>", parsed{Calls: []string{weatherCall}}},
	{"qwen-xml/tag in prose", qwen35, false, "The <tool_call> tag.", parsed{Content: "The <tool_call> tag."}},
	{"qwen-xml/missing end", qwen35, false, "<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</tool_call>",
		parsed{Content: "<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</tool_call>"}},
}

// TestOutputParser checks each reply parsed whole, and that every way of
// cutting it into chunks gives the same result.
func TestOutputParser(t *testing.T) {
	for _, tt := range parserTests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseChunks(t, tt.f, tt.inReasoning, []string{tt.out})
			if !got.equal(tt.want) {
				t.Fatalf("parse(%q) = %v\nwant %v", tt.out, got, tt.want)
			}
			for _, chunks := range splits(tt.out) {
				if got := parseChunks(t, tt.f, tt.inReasoning, chunks); !got.equal(tt.want) {
					t.Fatalf("parse(%q) = %v\nwant %v", chunks, got, tt.want)
				}
			}
		})
	}
}

// TestOutputParserStreams checks that text comes out as soon as it is
// final, and only then.
func TestOutputParserStreams(t *testing.T) {
	type step struct {
		add                string
		content, reasoning string
		calls              int
	}
	tests := []struct {
		name  string
		f     OutputFormat
		steps []step
	}{
		{"plain", OutputFormat{}, []step{{add: "Hel", content: "Hel"}, {add: "lo\n", content: "lo\n"}}},
		{"reasoning", qwen3, []step{
			{add: "<th"},
			{add: "ink>\n"},
			{add: "Hmm", reasoning: "Hmm"},
			{add: ", ok.\n\n", reasoning: ", ok."},
			{add: "Yes", reasoning: "\n\nYes"},
			{add: "</thi"},
			{add: "nk>\n\n"},
			{add: "Hi", content: "Hi"},
			{add: " there", content: " there"},
			{add: " <tool", content: ""},
			{add: "s>", content: " <tools>"},
			{add: "\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}"},
			{add: "\n</tool_call>", calls: 1},
			{add: "\nDone", content: "Done"},
		}},
		{"llama3 holds a possible call", llama3, []step{
			{add: "{\"name\": \"f\", "},
			{add: "\"parameters\": {}}"},
			{add: "\n"},
		}},
		{"llama3 releases what cannot be a call", llama3, []step{
			{add: "{\"a\": 1"},
			{add: "}", content: "{\"a\": 1}"},
			{add: " ok", content: " ok"},
		}},
		{"glm prose", glm, []step{
			{add: "The <tool_call> tag", content: "The"},
			{add: " is", content: " <tool_call> tag is"},
		}},
		{"hermes prose", hermes, []step{
			{add: "The <tool_call>", content: "The"},
			{add: " tag", content: " <tool_call> tag"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.f.NewParser(false)
			for _, s := range tt.steps {
				d := p.Add(s.add)
				if d.Content != s.content || d.Reasoning != s.reasoning || len(d.ToolCalls) != s.calls {
					t.Fatalf("Add(%q) = %q, %q, %d calls; want %q, %q, %d", s.add,
						d.Content, d.Reasoning, len(d.ToolCalls), s.content, s.reasoning, s.calls)
				}
			}
		})
	}
}

// TestOutputParserFinishResets checks that a parser is ready for the next
// reply after Finish.
func TestOutputParserFinishResets(t *testing.T) {
	p := qwen3.NewParser(true)
	if d := p.Add("a</think>b<tool_call>{"); d.Reasoning != "a" || d.Content != "b" {
		t.Fatalf("Add = %+v, want reasoning a and content b", d)
	}
	if d := p.Finish(); d.Content != "<tool_call>{" {
		t.Fatalf("Finish = %+v, want the cut-off call as content", d)
	}
	if d := p.Add("<think>x</think>y"); d.Reasoning != "x" || d.Content != "y" {
		t.Fatalf("Add after Finish = %+v, want reasoning x and content y", d)
	}
	if d := p.Finish(); !d.Empty() {
		t.Fatalf("Finish = %+v, want nothing left", d)
	}
	if d := p.Finish(); !d.Empty() {
		t.Fatalf("Finish with nothing added = %+v", d)
	}
}
