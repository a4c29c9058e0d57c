package bench

import "testing"

func TestReadSum(t *testing.T) {
	for _, n := range []int{64, 128, 192, 1 << 16, 1<<16 + 64} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i>>8)
		}
		if got, want := readSum(b), readSumGo(b); got != want {
			t.Errorf("readSum(%d bytes) = %#x, want %#x", n, got, want)
		}
	}
}

func TestMachineLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the machine")
	}
	bw := MemoryBandwidth(1, 1)
	fma := FMAPeak(1, 1)
	t.Logf("1 thread: read %.1f GB/s, FMA %.1f GFLOP/s", bw/1e9, fma/1e9)
	if bw < 1e8 || fma < 1e8 {
		t.Errorf("implausible machine limits: %g B/s, %g FLOP/s", bw, fma)
	}
}
