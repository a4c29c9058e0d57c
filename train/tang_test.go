package train

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tangFile is the prepared corpus committed with the repository.
const tangFile = "../testdata/tang/tang.jsonl.gz"

func TestRegulated(t *testing.T) {
	tests := []struct {
		lines []string
		want  bool
	}{
		{[]string{"秦川雄帝宅，函谷壯皇居。", "綺殿千尋起，離宮百雉餘。"}, true},
		{[]string{"朝辭白帝彩雲間，千里江陵一日還。"}, true},
		{[]string{"秦川雄帝宅，函谷壯皇居。", "朝辭白帝彩雲間，千里江陵一日還。"}, false}, // mixed lengths
		{[]string{"秦川雄帝宅，函谷壯皇居"}, false},                      // no 。
		{[]string{"秦川雄帝宅，函谷□皇居。"}, false},                     // missing glyph
		{[]string{"秦川雄帝，函谷壯皇居。"}, false},                      // halves differ
		{[]string{"秦川雄帝宅函谷，壯皇居。"}, false},
		{[]string{"一二三四，五六七八。"}, false}, // four characters
		{nil, false},
	}
	for _, tt := range tests {
		if got := Regulated(tt.lines); got != tt.want {
			t.Errorf("Regulated(%q) = %v, want %v", tt.lines, got, tt.want)
		}
	}
}

// TestReadTangTarball builds a small tarball laid out as the npm package
// and checks file order (numeric, not lexical) and the selection.
func TestReadTangTarball(t *testing.T) {
	files := map[string]string{
		"package/dist/quantangshi/poet.tang.1000.json": `[{"author":"乙","title":"二","paragraphs":["綺殿千尋起，離宮百雉餘。"],"tags":["春天"]}]`,
		"package/dist/quantangshi/poet.tang.0.json": `[{"author":"甲","title":"一","paragraphs":["秦川雄帝宅，函谷壯皇居。"]},
			{"author":"丙","title":"殘","paragraphs":["秦川□帝宅，函谷壯皇居。"]}]`,
		"package/dist/quantangshi/poet.song.0.json":   `[{"author":"宋","title":"宋","paragraphs":["秦川雄帝宅，函谷壯皇居。"]}]`,
		"package/dist/quantangshi/authors.tang.json":  `[]`,
		"package/dist/quantangshi/poet.tang.200.json": `[{"author":"丁","title":"三","paragraphs":["朝辭白帝彩雲間，千里江陵一日還。","兩岸猿聲啼不住，輕舟已過萬重山。"]}]`,
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"package/dist/quantangshi/poet.tang.1000.json", "package/dist/quantangshi/poet.tang.0.json",
		"package/dist/quantangshi/poet.song.0.json", "package/dist/quantangshi/authors.tang.json", "package/dist/quantangshi/poet.tang.200.json"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name]))})
		tw.Write([]byte(files[name]))
	}
	tw.Close()
	zw.Close()
	poems, err := ReadTangTarball(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range poems {
		got = append(got, p.Author+":"+p.Title)
	}
	if want := []string{"甲:一", "丁:三", "乙:二"}; !slices.Equal(got, want) {
		t.Errorf("poems %q, want %q", got, want)
	}
	if p := poems[1]; p.Text != "朝辭白帝彩雲間，千里江陵一日還。\n兩岸猿聲啼不住，輕舟已過萬重山。" || p.Form() != "七言绝句" {
		t.Errorf("poem text %q, form %s", p.Text, p.Form())
	}
	if !slices.Equal(poems[2].Tags, []string{"春天"}) {
		t.Errorf("tags %q", poems[2].Tags)
	}
	if _, err := ReadTangTarball(strings.NewReader("not gzip")); err == nil {
		t.Error("a non-gzip tarball was accepted")
	}
}

// TestTangCorpus checks the committed corpus against the numbers of the
// tang-char benchmark (its description counts two newline characters after
// every poem; JoinDocuments puts them between poems only).
func TestTangCorpus(t *testing.T) {
	poems, err := ReadPoems(tangFile)
	if err != nil {
		t.Skipf("no prepared corpus: %v", err)
	}
	if len(poems) != 46856 {
		t.Fatalf("%d poems, want 46,856", len(poems))
	}
	c, err := ReadCorpus(tangFile, 20)
	if err != nil {
		t.Fatal(err)
	}
	trainText, valText := JoinDocuments(c.Train), JoinDocuments(c.Val)
	for _, s := range []struct {
		name       string
		docs       int
		text       string
		wantDocs   int
		wantChars  int
		wantSHA256 string
	}{
		{"train", len(c.Train), trainText, 44513, 2818622 - 2, "30cff87b1dd7b0140b3cb1963edfb0f8dde8c368937bace6360d21159d8d66e3"},
		{"val", len(c.Val), valText, 2343, 145885 - 2, "92406ac1a323f0d112e291d975886a441cb1a6e7bba9296b9b2983b1a4e045ee"},
	} {
		sum := sha256.Sum256([]byte(s.text))
		if n := utf8.RuneCountInString(s.text); s.docs != s.wantDocs || n != s.wantChars || hex.EncodeToString(sum[:]) != s.wantSHA256 {
			t.Errorf("%s: %d poems, %d chars, sha256 %x; want %d, %d, %s", s.name, s.docs, n, sum, s.wantDocs, s.wantChars, s.wantSHA256)
		}
	}
	v, err := CharVocab(trainText, 3000, []string{TokUNK})
	if err != nil {
		t.Fatal(err)
	}
	if v.Size() != 3001 {
		t.Errorf("vocabulary of %d tokens, want 3,001", v.Size())
	}
	for _, s := range []struct {
		name string
		text string
	}{{"train", trainText}, {"val", valText}} {
		ids := v.Encode(s.text)
		unk := 0
		for _, id := range ids {
			if id == v.UNK {
				unk++
			}
		}
		if r := float64(unk) / float64(len(ids)); r < 0.0185 || r > 0.0195 {
			t.Errorf("%s: <unk> rate %.4f, want 1.9%%", s.name, r)
		}
	}
	if h := UnigramLoss(v.Encode(trainText)); h < 6.21 || h > 6.23 {
		t.Errorf("unigram entropy %.4f, want 6.22", h)
	}
}

func TestTopic(t *testing.T) {
	for _, tt := range []struct{ tag, want string }{
		{"春天", "春天"}, {"写雪", "雪"}, {"咏物诗", "咏物"}, {"写人诗", "人"}, {"写", "写"}, {"诗", "诗"},
	} {
		if got := topic(tt.tag); got != tt.want {
			t.Errorf("topic(%q) = %q, want %q", tt.tag, got, tt.want)
		}
	}
}

// TestTangSFTFile checks the committed chat set is what TangSFT makes from
// the committed poems, so either can be regenerated from the other.
func TestTangSFTFile(t *testing.T) {
	poems, err := ReadPoems(tangFile)
	if err != nil {
		t.Skipf("no prepared corpus: %v", err)
	}
	c, err := ReadChats("../testdata/tang/tang-sft.jsonl.gz", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := TangSFT(poems, DefaultSFTSizes, 1337)
	if len(c.Train) != len(want) {
		t.Fatalf("%d chats, want %d", len(c.Train), len(want))
	}
	for i := range want {
		if !slices.Equal(c.Train[i], want[i]) {
			t.Fatalf("chat %d is %v, want %v", i, c.Train[i], want[i])
		}
	}
}
