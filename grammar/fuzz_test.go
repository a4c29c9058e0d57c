package grammar

import "testing"

// FuzzFromSchema: any bytes compile or fail with an error, never a panic;
// a compiled constraint runs its matcher over the input too.
func FuzzFromSchema(f *testing.F) {
	for _, tc := range matchTests {
		if tc.schema != "json" && tc.schema != "json-object" {
			f.Add([]byte(tc.schema))
		}
	}
	for _, s := range walkSchemas {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"type": "string", "pattern": "^(a|b)*c{2,5}$", "maxLength": 9}`))
	f.Add([]byte(`{"enum": [1, "x"], "type": ["string", "integer"], "minimum": 0}`))
	f.Fuzz(func(t *testing.T, schema []byte) {
		c, err := FromSchema(schema)
		if err != nil {
			return
		}
		m := c.Matcher()
		for _, b := range schema {
			if !m.Feed([]byte{b}) {
				break
			}
		}
		vocab := [][]byte{[]byte(`{`), []byte(`"`), []byte(`a`), []byte(`1`), []byte(`]`), []byte(`}`), []byte(`,`), []byte(`:`), nil}
		mask := make([]bool, len(vocab))
		c.Start().Allowed(vocab, mask)
	})
}
