package grammar

import (
	"fmt"
	"sync"
	"testing"
)

// Allowed's trie walk must agree with matching every token on its own.
func TestAllowedMatchesBruteForce(t *testing.T) {
	vocab, _ := qwenVocab(t)
	tests := []struct {
		schema   string
		prefixes []string
	}{
		{"json", []string{``, `{"`, `{"a": "x\u00`, `{"a": 12`, `[1, {"x": [`, `"\ud83d`, "\"\xe4", `[true`}},
		{`{"type": "object", "properties": {"n": {"type": "string", "maxLength": 3}, "k": {"enum": ["ab", "abc"]}}, "required": ["n", "k"]}`,
			[]string{``, `{"n": "`, `{"n": "ab`, `{"n":"abc`, `{"n":"abc", "k": "ab`}},
		{`{"type": "number", "minimum": -1.5, "maximum": 20}`, []string{``, `-`, `-1.`, `1`, `20`}},
		{`{"type": "string", "pattern": "^[a-c]+x$"}`, []string{``, `"`, `"ab`, `"abx`}},
	}
	mask := make([]bool, len(vocab)+7)
	for _, tc := range tests {
		c := constraintFor(t, tc.schema)
		for _, p := range tc.prefixes {
			s := c.Start()
			if p != "" {
				if err := s.Advance([]byte(p)); err != nil {
					t.Fatalf("%s: %v", tc.schema, err)
				}
			}
			for i := range mask {
				mask[i] = true // Allowed must clear what it does not allow
			}
			for range 2 { // the second call is served from the mask cache
				s.Allowed(vocab, mask)
				n := 0
				for id, tok := range vocab {
					want := len(tok) > 0 && s.m.Accepts(tok)
					if mask[id] != want {
						t.Fatalf("%s after %q: mask[%d] (%q) = %v, want %v", tc.schema, p, id, tok, mask[id], want)
					}
					if want {
						n++
					}
				}
				for id := len(vocab); id < len(mask); id++ {
					if mask[id] {
						t.Fatalf("mask[%d] past the vocabulary is set", id)
					}
				}
				if n == 0 && !s.Done() {
					t.Errorf("%s after %q: no token allowed and not Done", tc.schema, p)
				}
			}
		}
	}
}

// A small vocabulary exercises duplicates, prefixes of one another and
// empty tokens.
func TestAllowedSmallVocab(t *testing.T) {
	vocab := [][]byte{[]byte(`{`), []byte(`{"`), []byte(`{"`), nil, []byte(`"`), []byte(`}`), []byte(`a`), []byte(`":`), []byte(` 1`), []byte(`1}`), []byte(`{}`), []byte(``)}
	s := JSONObject().Start()
	mask := make([]bool, len(vocab))
	check := func(want string) {
		t.Helper()
		s.Allowed(vocab, mask)
		got := ""
		for id, ok := range mask {
			if ok {
				got += fmt.Sprintf("%d ", id)
			}
		}
		if got != want {
			t.Errorf("after %d bytes: allowed %q, want %q", s.m.Len(), got, want)
		}
	}
	check("0 1 2 10 ")
	for _, step := range []struct {
		tok  int
		want string
	}{
		{1, "0 1 2 4 5 6 7 8 9 10 "}, // inside a key: any byte but a quote is text
		{6, "0 1 2 4 5 6 7 8 9 10 "},
		{7, "0 1 2 4 7 8 9 10 "}, // a value: object, string or number
		{8, "5 9 "},              // more digits, or the end
	} {
		if err := s.Advance(vocab[step.tok]); err != nil {
			t.Fatal(err)
		}
		check(step.want)
	}
}

// Sequences of one request share a Constraint from several goroutines.
func TestConcurrentStates(t *testing.T) {
	vocab := make([][]byte, 256)
	for i := range vocab {
		vocab[i] = []byte{byte(i)}
	}
	c := JSON()
	doc := []byte(`{"key": ["value", 12.5, {"x": null}], "b": "é"}`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.Start()
			mask := make([]bool, len(vocab))
			for _, b := range doc {
				s.Allowed(vocab, mask)
				if !mask[b] {
					errs <- fmt.Errorf("byte %q not allowed", b)
					return
				}
				if err := s.Advance([]byte{b}); err != nil {
					errs <- err
					return
				}
			}
			if !s.Done() {
				errs <- fmt.Errorf("not Done")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestVocab(t *testing.T) {
	pieces := []string{"<s>", "a", "b", "</s>"}
	v := Vocab(len(pieces), func(id int32) []byte { return []byte(pieces[id]) }, func(id int32) bool { return id == 0 || id == 3 })
	if v[0] != nil || string(v[1]) != "a" || string(v[2]) != "b" || v[3] != nil {
		t.Errorf("Vocab = %q", v)
	}
}
