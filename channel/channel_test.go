package channel

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	const hint = "…"
	tests := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"fits", "hello", 5, []string{"hello"}},
		{"empty", "", 8, []string{""}},
		{"ascii, no break", "abcdefghij", 7, []string{"abcd" + hint, "efghij"}},
		{"at a newline", "ab\ncdefgh\nij", 10, []string{"ab\n" + hint, "cdefgh\nij"}},
		{"CJK on rune boundaries", "你好世界和平", 10, []string{"你好" + hint, "世界" + hint, "和平"}},
		{"prefers a sentence end", "一二。三四五六", 16, []string{"一二。" + hint, "三四五六"}},
		{"prefers a space", "aaaa bbb cc", 9, []string{"aaaa " + hint, "bbb cc"}},
		{"ignores a break too early", "a bcdefghijk", 9, []string{"a bcde" + hint, "fghijk"}},
		{"emoji", "😀😀😀", 9, []string{"😀" + hint, "😀😀"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.text, tt.max, hint)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Fatalf("Split(%q, %d) = %q, want %q", tt.text, tt.max, got, tt.want)
			}
		})
	}
}

// Split's contract on long mixed text: every part fits, is valid UTF-8 when
// the input is, and the parts rebuild the text.
func TestSplitProperties(t *testing.T) {
	const hint = "\n【未完待续，回复任意文字以继续】"
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "第%d段：The quick brown fox 跳过了懒狗🐕。", i)
		if i%7 == 0 {
			b.WriteString("\n")
		}
	}
	text := b.String()
	for _, max := range []int{64, 100, 2048} {
		parts := Split(text, max, hint)
		var back strings.Builder
		for i, p := range parts {
			if len(p) > max {
				t.Fatalf("max %d: part %d has %d bytes", max, i, len(p))
			}
			if !utf8.ValidString(p) {
				t.Fatalf("max %d: part %d is not valid UTF-8", max, i)
			}
			if i < len(parts)-1 {
				body, ok := strings.CutSuffix(p, hint)
				if !ok {
					t.Fatalf("max %d: part %d lacks the hint", max, i)
				}
				if len(body) < (max-len(hint))/2-utf8.UTFMax {
					t.Fatalf("max %d: part %d is only %d bytes", max, i, len(body))
				}
				p = body
			}
			back.WriteString(p)
		}
		if back.String() != text {
			t.Fatalf("max %d: parts do not rebuild the text", max)
		}
	}
	// Invalid UTF-8 still splits within bounds and loses nothing.
	bad := strings.Repeat("\x80", 50)
	parts := Split(bad, 10, "")
	if strings.Join(parts, "") != bad {
		t.Fatal("invalid bytes lost")
	}
}

func TestSplitPanicsOnNoRoom(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Split with no room after the hint did not panic")
		}
	}()
	Split("0123456789", 5, "....")
}

func TestDedupe(t *testing.T) {
	now := time.Unix(1700000000, 0)
	d := NewDedupe(30*time.Second, 3, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		key     string
		seen    bool
	}{
		{0, "a", false},
		{0, "a", true}, // WeChat's retry
		{10 * time.Second, "a", true},
		{0, "b", false},
		{19 * time.Second, "a", true}, // 29 s after a
		{time.Second, "a", false},     // 30 s: expired, recorded again
		{0, "", false},
		{0, "", false}, // the empty key identifies nothing
		{0, "c", false},
		{0, "d", false}, // full (b, a, c): b, the oldest, is dropped
		{0, "b", false}, // so b counts as new
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := d.Seen(s.key); got != s.seen {
			t.Fatalf("step %d: Seen(%q) = %v, want %v", i, s.key, got, s.seen)
		}
	}
	if n := d.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3 (the bound)", n)
	}
	d.Forget("d")
	if d.Seen("d") {
		t.Fatal("Seen after Forget")
	}
	now = now.Add(time.Hour)
	if n := d.Len(); n != 0 {
		t.Fatalf("Len after an hour = %d", n)
	}
	// Heavy use stays bounded and compacts.
	for i := range 10000 {
		d.Seen(fmt.Sprint(i))
		now = now.Add(time.Millisecond)
	}
	if n := d.Len(); n != 3 || len(d.order)-d.head != 3 || cap(d.order) > 1000 {
		t.Fatalf("after 10000 keys: Len %d, queue %d (cap %d)", n, len(d.order)-d.head, cap(d.order))
	}
}

func TestCheckWindow(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, tt := range []struct {
		sent   time.Time
		window time.Duration
		stale  bool
	}{
		{now, 5 * time.Minute, false},
		{now.Add(-5 * time.Minute), 5 * time.Minute, false},
		{now.Add(-5*time.Minute - time.Second), 5 * time.Minute, true},
		{now.Add(5*time.Minute + time.Second), 5 * time.Minute, true},
		{time.Unix(0, 0), 0, false},
		{time.Unix(0, 0), -1, false},
	} {
		err := CheckWindow(tt.sent, now, tt.window)
		if (err != nil) != tt.stale || (err != nil && !errors.Is(err, ErrStale)) {
			t.Errorf("CheckWindow(%v, window %v) = %v, want stale=%v", tt.sent, tt.window, err, tt.stale)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{fmt.Errorf("wechat: %w", ErrSignature), http.StatusForbidden},
		{fmt.Errorf("x: %w", ErrStale), http.StatusForbidden},
		{fmt.Errorf("x: %w", ErrReceiver), http.StatusForbidden},
		{fmt.Errorf("x: %w", ErrPadding), http.StatusForbidden},
		{fmt.Errorf("x: %w", ErrTooLarge), http.StatusRequestEntityTooLarge},
		{fmt.Errorf("x: %w", ErrMalformed), http.StatusBadRequest},
		{fmt.Errorf("x: %w", ErrConfig), http.StatusInternalServerError},
		{errors.New("other"), http.StatusInternalServerError},
	} {
		if got := HTTPStatus(tt.err); got != tt.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	e := &APIError{Platform: "wecom", Op: "message/send", Code: 60020, Msg: "not allow"}
	if e.Error() != "wecom message/send: error 60020: not allow" {
		t.Fatalf("APIError = %q", e.Error())
	}
}
