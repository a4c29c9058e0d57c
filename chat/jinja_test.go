package chat

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// jinjaCases are Jinja2 semantics that Hugging Face's environment defines
// (tojson, strftime_now, trim_blocks, lstrip_blocks) or that the engine
// alone gets wrong (printing, Python's +, in and for, whitespace control,
// string escapes, nested braces), plus a sample of everyday template
// constructs. Expected values were produced by jinja2 3.1.6 in the
// golden renderer's environment (testdata/templates/README.md) with the
// clock pinned to goldenNow. For errors only the failure is required, and
// the message too when the template raised it (TemplateError).
var jinjaCases = []struct {
	src, vars string // vars: a JSON object of template variables
	want, err string
}{
	{"{{ x | tojson }}", "{\"x\": {\"b\": 1, \"a\": [1, 2.5, \"é<>&'\\\"\\\\\\n\\t\\u0001\\b\\f\u2028\x7f\"], \"c\": null, \"d\": true, \"e\": {}, \"f\": []}}", "{\"b\": 1, \"a\": [1, 2.5, \"é<>&'\\\"\\\\\\n\\t\\u0001\\b\\f\u2028\x7f\"], \"c\": null, \"d\": true, \"e\": {}, \"f\": []}", ""},
	{"{{ x | tojson(indent=2) }}", "{\"x\": {\"b\": 1, \"a\": [1, 2.5, \"é<>&'\\\"\\\\\\n\\t\\u0001\\b\\f\u2028\x7f\"], \"c\": null, \"d\": true, \"e\": {}, \"f\": []}}", "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.5,\n    \"é<>&'\\\"\\\\\\n\\t\\u0001\\b\\f\u2028\x7f\"\n  ],\n  \"c\": null,\n  \"d\": true,\n  \"e\": {},\n  \"f\": []\n}", ""},
	{"{{ x | tojson(indent=0) }}", "{\"x\": {\"a\": [1, {}]}}", "{\n\"a\": [\n1,\n{}\n]\n}", ""},
	{"{{ x | tojson(indent='\t') }}", "{\"x\": {\"a\": [1]}}", "{\n\t\"a\": [\n\t\t1\n\t]\n}", ""},
	{"{{ x | tojson(ensure_ascii=True) }}", "{\"x\": \"😀é\x7f\"}", "\"\\ud83d\\ude00\\u00e9\\u007f\"", ""},
	{"{{ x | tojson(sort_keys=True, separators=(',', ':')) }}", "{\"x\": {\"b\": [1, 2], \"a\": 1}}", "{\"a\":1,\"b\":[1,2]}", ""},
	{"{{ x | tojson }}", "{\"x\": [1.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 123456789.123, -0.0, 2.5e-07, 1.7976931348623157e+308, 3]}", "[1.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 123456789.123, -0.0, 2.5e-07, 1.7976931348623157e+308, 3]", ""},
	{"{{ nope | tojson }}", "", "", "TypeError: Object of type Undefined is not JSON serializable"},
	{"{{ none }}|{{ 1.0 }}|{{ nope }}|{{ true }}", "", "None|1.0||True", ""},
	{"{{ [1, 'a', none, true, 2.0, {'k': \"it's\"}, 'q\"\\n'] }}", "", "[1, 'a', None, True, 2.0, {'k': \"it's\"}, 'q\"\\n']", ""},
	{"{{ 'a' ~ none ~ 1.5 ~ nope }}", "", "aNone1.5", ""},
	{"{{ none | string }}{{ 2.0 | string }}", "", "None2.0", ""},
	{"{{ 10 / 4 }} {{ 7 // 2 }} {{ 2 * 3 + 1 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -1 + 2 }}", "", "2.5 3 7 7 9 1", ""},
	{"{{ 1 + 2.5 }} {{ true + 1 }} {{ [1] + [2] }} {{ 'a' + 'b' }}", "", "3.5 2 [1, 2] ab", ""},
	{"{{ 'a' + 1 }}", "", "", "TypeError: can only concatenate str (not \"int\") to str"},
	{"{{ 1 + 'a' }}", "", "", "TypeError: unsupported operand type(s) for +: 'int' and 'str'"},
	{"{{ nope + 'a' }}", "", "", "UndefinedError: 'nope' is undefined"},
	{"{{ 'a' + none }}", "", "", "TypeError: can only concatenate str (not \"NoneType\") to str"},
	{"{{ {'a': 1} + {} }}", "", "", "TypeError: unsupported operand type(s) for +: 'dict' and 'dict'"},
	{"{{ 'a' ~ 1 + 2 }}", "", "", "TypeError: can only concatenate str (not \"int\") to str"},
	{"{{ 1 in [1.0] }} {{ 'a' in {'a': 1} }} {{ 'b' not in 'abc' }} {{ 'x' in nope }}", "", "True True False False", ""},
	{"{{ 'x' in none }}", "", "", "TypeError: argument of type 'NoneType' is not iterable"},
	{"{{ 1 in 'abc' }}", "", "", "TypeError: 'in <string>' requires string as left operand, not int"},
	{"{% for x in none %}{% endfor %}", "", "", "TypeError: 'NoneType' object is not iterable"},
	{"{% for x in 5 %}{% endfor %}", "", "", "TypeError: 'int' object is not iterable"},
	{"{% for x in nope %}a{% else %}b{% endfor %}", "", "b", ""},
	{"{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", "", "ab", ""},
	{"{% for x in [1, 2, 3] if x > 1 %}{{ x }}{{ loop.index }}{% endfor %}", "", "2132", ""},
	{"{{ 'a' + ('b' if x else 'c') + 'd' }}", "{\"x\": true}", "abd", ""},
	{"{{ 'a' if 'b' in 'abc' else 'c' }}", "", "a", ""},
	{"{% set y = x | default(0) + 1 %}{{ y }}", "", "1", ""},
	{"{{ xs | length + 1 }}", "{\"xs\": [1, 2]}", "3", ""},
	{"  {% if true %}\nx\n  {% endif %}\n", "", "x\n", ""},
	{"{% set ns = namespace(n=0) %}{% for m in [1, 2] %}{% set ns.n = ns.n + m %}{% endfor %}{{ ns.n }}", "", "3", ""},
	{"{{ raise_exception('bad ' ~ 1) }}", "", "", "TemplateError: bad 1"},
	{"{{ strftime_now('%A %a %d %B %b %Y %y %H:%M:%S %p %I %j %-d %m %%') }}", "", "Saturday Sat 28 November Nov 2026 26 00:00:00 AM 12 332 28 11 %", ""},
	{"a  \n  {% if true %}x{% endif %}  \n", "", "a  \nx  ", ""},
	{"{{ 1 }}  {% if true %}x{% endif %}", "", "1  x", ""},
	{"a\n  {#- c #}  b", "", "a  b", ""},
	{"{% if true %}\n  \n{% endif %}", "", "  \n", ""},
	{"{% raw %}\n {{ x }} {% endraw %}\ny", "", "\n {{ x }} y", ""},
	{"  {%+ if true %}x{% endif +%}\ny", "", "  x\ny", ""},
	{"{{ {'a': {'b': 1}} }}", "", "{'a': {'b': 1}}", ""},
	{"{{ \"\\u4e2d\\x41\\r\\101\\\\\" }}", "", "中A\x0dA\\", ""},
	{"x\n{{- 1 -}}\n  \ny", "", "x1y", ""},
	{"{% for m in [1, 2] %}{{ m }}\n{% endfor %}", "", "1\n2\n", ""},
	{"a{{ x }}{{- y }}", "{\"x\": \"  \", \"y\": \"b\"}", "a  b", ""},
	{"line\n    {% for i in [1] %}\n    {{ i }}\n    {% endfor %}\n", "", "line\n    1\n", ""},
	{"{% set x %}\n  a {{ 1 }}\n{% endset %}[{{ x }}]", "", "[  a 1\n]", ""},
	{"{% macro m(a, b=\"d\") %}<{{ a }}{{ b }}>{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}", "", "<1d><23>", ""},
	{"{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", "", "02", ""},
	{"{% for x in \"abc\" %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}", "", "0TrueFalse33,1FalseFalse23,2FalseTrue13", ""},
	{"{% for x in xs %}{{ loop.previtem | default(\"-\") }}{{ loop.nextitem | default(\"-\") }} {% endfor %}", "{\"xs\": [1, 2, 3]}", "-2 13 2- ", ""},
	{"{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}{% for k, v in d.items() %}{{ k }}{% endfor %}{{ d.keys() | list }}{{ d.get('z', 'no') }}{{ d['b'] }}", "{\"d\": {\"b\": 1, \"a\": [2]}}", "b=1;a=[2];ba['b', 'a']no1", ""},
	{"{{ xs | length }}|{{ xs | first }}|{{ xs | last }}|{{ xs | reverse | list }}|{{ xs[::-1] }}|{{ xs[1:] }}|{{ xs[-1] }}|{{ xs | join('-') }}|{{ xs | sort }}|{{ xs | unique | list }}|{{ xs | max }}{{ xs | min }}{{ xs | sum }}", "{\"xs\": [3, 1, 2, 1]}", "4|3|1|[1, 2, 1, 3]|[1, 2, 1, 3]|[1, 2, 1]|1|3-1-2-1|[1, 1, 2, 3]|[3, 1, 2]|317", ""},
	{"{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}|{{ ms | rejectattr('role', 'eq', 'user') | list | length }}|{{ ms | map(attribute='role') | list }}", "{\"ms\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}]}", "a,c|1|['user', 'assistant', 'user']", ""},
	{"{% set ns = namespace(found=false, i=0) %}{% for m in ms[::-1] %}{% set ns.i = ns.i + 1 %}{% if m.role == 'user' and not ns.found %}{% set ns.found = true %}{{ ns.i }}{% endif %}{% endfor %}{{ ns.found }}", "{\"ms\": [{\"role\": \"user\"}, {\"role\": \"assistant\"}]}", "2True", ""},
	{"{{ x | default('d') }}{{ none | default('d') }}{{ '' | default('d', true) }}{{ n | default('d') }}", "{\"n\": null}", "dNonedNone", ""},
	{"{{ '%s-%s' % ('a', 1) }}{{ '{}'.format(1) }}", "", "a-11", ""},
	{"{{ 'abc' | capitalize }}{{ 'a b' | title }}{{ [1,2] | string }}{{ 'ab' | list }}{{ 5 | string }}{{ 3.7 | int }}{{ '4' | int + 1 }}{{ 2 | float }}{{ -3 | abs }}", "", "AbcA B[1, 2]['a', 'b']5352.03", ""},
	{"{% if xs %}t{% else %}f{% endif %}{% if ys %}t{% elif zs is defined %}e{% else %}f{% endif %}", "{\"xs\": [], \"ys\": {}}", "ff", ""},
	{"{{ x.a }}{{ x['a'] }}{{ x.b | default('nb') }}{{ l[5] | default('oob') }}", "{\"x\": {\"a\": 1}, \"l\": [1]}", "11nboob", ""},
	{"{% for x in xs %}{% for y in x %}{{ loop.index }}{{ y }}{% endfor %}|{% endfor %}", "{\"xs\": [[1, 2], [3]]}", "1122|13|", ""},
	{"{{ 'a\"b' }}{{ \"it's\" }}{{ '\\\\' }}", "", "a\"bit's\\", ""},
	{"{%- for m in ms -%}\n  {%- if m.role == 'user' -%}\n    U:{{ m.content }}\n  {%- else -%}\n    A:{{ m.content }}\n  {%- endif -%}\n{%- endfor -%}\n", "{\"ms\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}", "U:aA:b", ""},
	{"{{ m.content is none }}{{ m.content }}{% if m.content %}y{% endif %}{{ m.content | default('d', true) }}", "{\"m\": {\"content\": null}}", "TrueNoned", ""},
	{"{{ 7 - 2 }} {{ 7 - 2.5 }} {{ true - 1 }} {{ 'x' * 3 }} {{ 3 * 'x' }} {{ [1] * 2 }} {{ 'x' * -1 }} {{ 2 * 3.5 }}", "", "5 4.5 0 xxx xxx [1, 1]  7.0", ""},
	{"{{ 7 / 2 }} {{ 6 / 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7.5 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 % 2 }} {{ -7.5 % 2 }}", "", "3.5 2.0 3 -4 3.0 2 -2 1.5 0.5", ""},
	{"{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2.0 ** 2 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ -3 | abs }}", "", "1024 0.5 4.0 64 4 3", ""},
	{"{{ 1 / 0 }}", "", "", "ZeroDivisionError: division by zero"},
	{"{{ 1 // 0 }}", "", "", "ZeroDivisionError: integer division or modulo by zero"},
	{"{{ 1 % 0 }}", "", "", "ZeroDivisionError: integer modulo by zero"},
	{"{{ 3 - 'a' }}", "", "", "TypeError: unsupported operand type(s) for -: 'int' and 'str'"},
	{"{{ 'a' * 'b' }}", "", "", "TypeError: can't multiply sequence by non-int of type 'str'"},
	{"{{ 'a' * 1.5 }}", "", "", "TypeError: can't multiply sequence by non-int of type 'float'"},
	{"{{ nope - 1 }}", "", "", "UndefinedError: 'nope' is undefined"},
	{"{{ '%s-%s' % ('a', 1) }}|{{ '%d%%' % 50 }}|{{ '%05.1f' % 3.14159 }}|{{ '%-4s|' % 'ab' }}|{{ '%x %X %#x %o %#o' % (255, 255, 255, 8, 8) }}", "", "a-1|50%|003.1|ab  ||ff FF 0xff 10 0o10", ""},
	{"{{ '%r %s' % ('q', none) }}|{{ '%e %g %g %g %.3g' % (12345.678, 1234567.0, 0.0001, 100000.0, 3.14159) }}|{{ '%(a)s=%(b)d' % {'a': 'x', 'b': 2} }}|{{ '%c%c' % ('h', 105) }}|{{ '%5d|%-5d|%+d|% d' % (42, 42, 42, 42) }}|{{ '%.2s' % 'abc' }}|{{ '%d' % 3.9 }}", "", "'q' None|1.234568e+04 1.23457e+06 0.0001 100000 3.14|x=2|hi|   42|42   |+42| 42|ab|3", ""},
	{"{{ '%s %s' % ('a',) }}", "", "", "TypeError: not enough arguments for format string"},
	{"{{ '%s' % ('a', 'b') }}", "", "", "TypeError: not all arguments converted during string formatting"},
	{"{{ '%d' % 'a' }}", "", "", "TypeError: %d format: a real number is required, not str"},
	{"{{ ns | length - 1 }} {{ loop_index0 % 2 == 0 }}", "{\"ns\": [1, 2, 3], \"loop_index0\": 4}", "2 True", ""},
}

func TestTemplateJinja(t *testing.T) {
	for _, tt := range jinjaCases {
		t.Run(tt.src, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.src)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			o := RenderOptions{Now: goldenNow}
			if tt.vars != "" {
				var vars map[string]json.RawMessage
				if err := json.Unmarshal([]byte(tt.vars), &vars); err != nil {
					t.Fatal(err)
				}
				o.Extra = map[string]any{}
				for k, v := range vars {
					o.Extra[k] = v
				}
			}
			got, err := tmpl.Render(nil, o)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Render: %v, want %q", err, tt.want)
			case tt.err == "" && got != tt.want:
				t.Fatalf("Render = %q, want %q", got, tt.want)
			case tt.err != "" && err == nil:
				t.Fatalf("Render = %q, want error %q", got, tt.err)
			}
			if msg, ok := strings.CutPrefix(tt.err, "TemplateError: "); ok {
				var te *TemplateError
				if !errors.As(err, &te) || te.Message != msg {
					t.Fatalf("Render error %v, want TemplateError %q", err, msg)
				}
			}
		})
	}
}
