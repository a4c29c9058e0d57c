package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// chineseText repeats the golden lines that are mostly Han characters until
// the text reaches size bytes.
func chineseText(tb testing.TB, size int) string {
	tb.Helper()
	var zh []string
	for _, l := range readJSONL(tb, "tokenizer/qwen2.lines.parse_special_false.jsonl") {
		han := 0
		for _, r := range l.Text {
			if unicode.Is(unicode.Han, r) {
				han++
			}
		}
		if han*2 > len([]rune(l.Text)) {
			zh = append(zh, l.Text)
		}
	}
	if len(zh) == 0 {
		tb.Fatal("no Chinese lines")
	}
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		sb.WriteString(zh[i%len(zh)])
		sb.WriteByte('\n')
	}
	return sb.String()
}

func BenchmarkEncodeChinese1MB(b *testing.B) {
	tok := loadTok(b, "qwen2")
	text := chineseText(b, 1<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, false, true)
	}
}

func BenchmarkEncodeEnglishSPM(b *testing.B) {
	tok := loadTok(b, "llama-spm")
	text := strings.Repeat("The history of the river town begins in the year 1742, when a small group of farmers settled near the old stone bridge. ", 1000)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, true, true)
	}
}

// BenchmarkEncodeChineseNoRepeat: Han characters in random order, so that
// words do not repeat and the per-call word cache cannot help.
func BenchmarkEncodeChineseNoRepeat1MB(b *testing.B) {
	tok := loadTok(b, "qwen2")
	var han []rune
	for _, r := range chineseText(b, 1<<16) {
		if unicode.Is(unicode.Han, r) {
			han = append(han, r)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		sb.WriteRune(han[rng.IntN(len(han))])
		if rng.IntN(12) == 0 {
			sb.WriteString("，")
		}
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, false, true)
	}
}

func BenchmarkNewQwen2(b *testing.B) {
	v := vocabFromGGUF(b, vocabFiles["qwen2"])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(v); err != nil {
			b.Fatal(err)
		}
	}
}
