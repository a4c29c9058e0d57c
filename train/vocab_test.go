package train

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"zhiyan/gguf"
	"zhiyan/tokenizer"
)

const poems = "床前明月光，疑是地上霜。\n舉頭望明月，低頭思故鄉。\n\n春眠不覺曉，處處聞啼鳥。\n夜來風雨聲，花落知多少。\n"

func TestCharVocab(t *testing.T) {
	v, err := CharVocab(poems+"a b", 0, []string{TokUNK, TokBOS, TokEOS})
	if err != nil {
		t.Fatal(err)
	}
	if v.UNK != 0 || v.BOS != 1 || v.EOS != 2 {
		t.Errorf("special ids = %d %d %d, want 0 1 2", v.UNK, v.BOS, v.EOS)
	}
	// The most frequent character comes first after the specials: "\n" (5×).
	if v.Tokens[3] != "\n" {
		t.Errorf("token 3 = %q, want the most frequent character \\n", v.Tokens[3])
	}
	if !slices.Contains(v.Tokens, charSpace) {
		t.Errorf("space is not stored as %q", charSpace)
	}
	ids := v.Encode("明月x")
	if len(ids) != 3 || ids[2] != v.UNK {
		t.Errorf("Encode(明月x) = %v, want 3 ids ending in UNK", ids)
	}

	small, err := CharVocab(poems, 4, []string{TokUNK})
	if err != nil {
		t.Fatal(err)
	}
	if small.Size() != 5 {
		t.Errorf("vocabulary of 4 characters + <unk> has %d tokens", small.Size())
	}
	if _, err := CharVocab(poems, 0, []string{TokBOS}); err == nil {
		t.Error("a character vocabulary without <unk> was accepted")
	}
}

// roundTrip saves v as a GGUF file and reads it back both as a Vocab and
// through the engine's tokenizer.FromGGUF.
func roundTrip(t *testing.T, v *Vocab) (*Vocab, *tokenizer.Tokenizer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	if err := SaveVocab(path, v); err != nil {
		t.Fatal(err)
	}
	back, err := LoadVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return back, tok
}

func TestVocabRoundTrip(t *testing.T) {
	chars, err := CharVocab(poems+" ok", 0, []string{TokUNK, TokBOS, TokEOS})
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := TrainBPE(strings.Repeat(poems+"hello world, hello there!\n", 3), 300, []string{TokEndOfText}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v    *Vocab
	}{{"chars", chars}, {"bpe", bpe}} {
		t.Run(tc.name, func(t *testing.T) {
			back, tok := roundTrip(t, tc.v)
			for _, f := range []string{"Model", "Pre", "Tokens", "Types", "Scores", "Merges", "BOS", "EOS", "UNK"} {
				got, want := reflect.ValueOf(*back).FieldByName(f).Interface(), reflect.ValueOf(*tc.v).FieldByName(f).Interface()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s after the round trip = %v, want %v", f, got, want)
				}
			}
			for _, text := range []string{poems, "低頭思故鄉。\n\n", " ok", "hello world"} {
				if tc.name == "chars" && strings.Contains(text, "hello") {
					continue // not in that vocabulary
				}
				ids := tc.v.Encode(text)
				if got := tok.Encode(text, true, false); !slices.Equal(got, ids) {
					t.Errorf("engine Encode(%q) = %v, trainer %v", text, got, ids)
				}
				if got := tok.Decode(ids); got != text {
					t.Errorf("engine Decode(Encode(%q)) = %q", text, got)
				}
			}
		})
	}
}

func TestTrainBPE(t *testing.T) {
	// The classic example: "aa" is the most frequent pair, then "aa"+"a"
	// and "a"+"b" tie at 2 and the lower ids ("a"=97 < "aa") do not win:
	// ("aa", "a") has left id 256, ("a", "b") left id 97, so "a b".
	v, err := TrainBPE("aaabdaaabac", 256+3+1, []string{TokEndOfText}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a a", "a b", "aa ab"}
	if !slices.Equal(v.Merges, want) {
		t.Errorf("merges = %q, want %q", v.Merges, want)
	}
	if ids := v.Encode("aaabdaaabac"); len(ids) != 5 {
		t.Errorf("Encode = %v (%d tokens), want 5: aaab d aaab a c", ids, len(ids))
	}
	// Multi-byte text: CJK characters become single tokens once merged.
	v, err = TrainBPE(strings.Repeat(poems, 4), 400, []string{TokEndOfText}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := v.Encode(poems)
	if n := len([]rune(poems)); len(ids) >= n {
		t.Errorf("%d BPE tokens for %d characters: nothing was merged", len(ids), n)
	}
	if got := v.Decode(ids); got != poems {
		t.Errorf("Decode(Encode(text)) = %q", got)
	}
	if v.EOS != int32(v.Size()-1) || v.BOS != v.EOS {
		t.Errorf("BOS/EOS = %d/%d, want the end-of-text token %d", v.BOS, v.EOS, v.Size()-1)
	}
}

func TestPreSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"it's 42!", []string{"it", "'s", " ", "4", "2", "!"}},
		{"床前明月光，疑是地上霜。\n", []string{"床前明月光", "，疑是地上霜", "。\n"}},
		{"a  b\n\nc", []string{"a", " ", " b", "\n\n", "c"}},
		{"x ...\n", []string{"x", " ...\n"}},
	} {
		if got := preSplit(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("preSplit(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
