package chat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteTag(t *testing.T) {
	tests := []struct {
		code string
		stmt bool
		want string
	}{
		{" a ", false, " hf_str(a) "},
		{"a + b + c", false, "hf_str(hf_add(hf_add(a , b) , c))"},
		{"a - b + c * d ** 2", false, "hf_str(hf_add(hf_sub(a , b) , hf_mul(c , hf_pow(d , 2))))"},
		{"'x' ~ y", false, "hf_str(hf_concat('x' , y))"},
		{"x | tojson(indent=4) | string", false, "hf_str(x | hf_tojson(indent=4) | hf_string)"},
		{"if 'a' in b and c not in d", true, "if hf_in('a' , b) and (not hf_in(c , d))"},
		{"if a in b in c", true, "if a in b in c"}, // chained: left to the engine
		{"for m in messages[1:] if m.role != 'x' recursive", true, "for m in hf_iter(messages[1:]) if m.role != 'x' recursive"},
		{"for k, v in d | items", true, "for k, v in hf_iter(d | items)"},
		{"set ns.x = ns.x + [1]", true, "set ns.x = hf_add(ns.x , [1])"},
		{"set x", true, "set x"},
		{"f(a + b, k='+')", false, "hf_str(f(hf_add(a , b), k='+'))"},
		{"'a' + x if x is string else y[0] + 1", false, "hf_str(hf_add('a' , x) if x is string else hf_add(y[0] , 1))"},
		{"a, b", false, "a, b"},
		{`'\n\u4e2d\\' ~ "\x41\'\d"`, false, "hf_str(hf_concat(\"\n中\\\\\" , \"A'\\\\d\"))"},
		{"macro m(x='a' + 'b')", true, "macro m(x='a' + 'b')"},
		{"x | tojson ! y", false, "x | tojson ! y"}, // unlexable: untouched
	}
	for _, tt := range tests {
		if got := rewriteTag(tt.code, tt.stmt); got != tt.want {
			t.Errorf("rewriteTag(%q, %v)\n = %q\nwant %q", tt.code, tt.stmt, got, tt.want)
		}
	}
}

func TestEngineSource(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a{# {{ a + b }} #}b", `{{ "a" }}{{ "b" }}`},
		{"{{- a -}}", "{{ hf_str(a) }}"},
		{"say \"{{ d['k'] }}\"\\", `{{ "say \"" }}{{ hf_str(d['k']) }}{{ "\"\\" }}`},
		{"{{ {'a': {'b': 1}} }}", "{{ hf_str({'a': {'b': 1} }) }}"},
		{"{% raw %}{{ x }}{% endraw %}", `{{ "{{ x }}" }}`},
		{"  {% if x %}\n  y\n  {% endif %}\n", "{% if x %}{{ \"  y\n\" }}{% endif %}"},
	}
	for _, tt := range tests {
		got, _, err := engineSource(tt.src)
		if err != nil || got != tt.want {
			t.Errorf("engineSource(%q)\n = %q, %v\nwant %q", tt.src, got, err, tt.want)
		}
	}
}

// TestGoldenTemplatesRewritten checks that the rewriter parses every
// expression of the real templates, so none of them falls back to the
// engine's lenient operators.
func TestGoldenTemplatesRewritten(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "templates", "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pieces, err := splitTemplate(string(src))
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		for _, pc := range pieces {
			if pc.kind != pieceExpr && pc.kind != pieceStmt {
				continue
			}
			stmt, code := pc.kind == pieceStmt, pc.text
			toks, err := lex(code)
			if err != nil {
				t.Errorf("%s: lex %q: %v", filepath.Base(f), code, err)
				continue
			}
			if stmt {
				switch kw := strings.Fields(code)[0]; kw {
				case "if", "elif", "for", "set":
				default:
					continue // no expression to rewrite
				}
			}
			if p := (&exprParser{toks: toks}); !p.parseTag(stmt) {
				t.Errorf("%s: cannot parse %q", filepath.Base(f), code)
			}
		}
	}
}

func TestUses(t *testing.T) {
	src := `{# enable_thinking #}{% if tools %}{{ 'enable_thinking' }}{% endif %}` +
		`{{ message.reasoning_content }}{%- if thinking is defined and thinking %}x{% endif %}`
	tmpl, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"tools", true},
		{"thinking", true},
		{"enable_thinking", false},   // only in a comment and a string
		{"reasoning_content", false}, // an attribute
		{"message", true},
		{"tool", false},
	} {
		if got := tmpl.Uses(tt.name); got != tt.want {
			t.Errorf("Uses(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if tmpl.Source() != src {
		t.Errorf("Source() = %q, want the parsed source", tmpl.Source())
	}
}
