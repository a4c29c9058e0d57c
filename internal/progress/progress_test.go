package progress

import (
	"strings"
	"testing"
	"time"
)

func TestPlainLines(t *testing.T) {
	var out strings.Builder
	b := New(&out, "quantize", 3<<20, "B")
	clock := b.start
	b.now = func() time.Time { return clock }
	b.Add(1 << 20) // first update is drawn
	clock = clock.Add(time.Second)
	b.Add(1 << 20) // within the interval: not drawn
	clock = clock.Add(5 * time.Second)
	b.Add(1 << 19) // 2.5 MiB in 6 s: 426.7 KiB/s, 0.5 MiB left
	clock = clock.Add(2 * time.Second)
	b.Add(1 << 19)
	b.Finish()
	want := "quantize 1.0 MiB/3.0 MiB  33% 0s\n" +
		"quantize 2.5 MiB/3.0 MiB  83% 6s 426.7 KiB/s ETA 1s\n" +
		"quantize 3.0 MiB/3.0 MiB 100% 8s 384.0 KiB/s\n"
	if out.String() != want {
		t.Errorf("output:\n%q\nwant\n%q", out.String(), want)
	}
}
