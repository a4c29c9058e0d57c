package kernel

import (
	"sync"
	"testing"
)

// recordJob notes every index it is given and every chunk a worker runs.
type recordJob struct {
	mu     sync.Mutex
	hits   []int
	chunks map[int][][2]int // worker → chunks
}

func (j *recordJob) run(worker, lo, hi int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := lo; i < hi; i++ {
		j.hits[i]++
	}
	j.chunks[worker] = append(j.chunks[worker], [2]int{lo, hi})
}

func TestParallelCoversEveryIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 4, 7} {
		p := NewPool(threads)
		for _, n := range []int{0, 1, 2, 3, 15, 16, 17, 37, 100, 1000, 4864} {
			for _, grain := range []int{0, 1, 3, 16, 64, 5000} {
				j := &recordJob{hits: make([]int, n), chunks: map[int][][2]int{}}
				p.parallel(j, n, grain)
				for i, h := range j.hits {
					if h != 1 {
						t.Fatalf("threads %d, n %d, grain %d: index %d run %d times", threads, n, grain, i, h)
					}
				}
				g := max(grain, 1)
				chunks := 0
				for w, cs := range j.chunks {
					if w < 0 || w >= threads {
						t.Fatalf("threads %d, n %d, grain %d: unknown worker %d", threads, n, grain, w)
					}
					for _, c := range cs {
						if c[0]%g != 0 || (n > 0 && c[0] >= c[1]) {
							t.Errorf("threads %d, n %d, grain %d: chunk %v is empty or does not start on the grain", threads, n, grain, c)
						}
					}
					chunks += len(cs)
				}
				units := (n + g - 1) / g
				if want := min(units, threads*chunksPerWorker); threads > 1 && units > 1 && chunks != want {
					t.Errorf("threads %d, n %d, grain %d: %d chunks, want %d", threads, n, grain, chunks, want)
				}
			}
		}
		p.Close()
	}
}

func TestPoolThreadsAndClose(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-1, 1}, {0, 1}, {1, 1}, {4, 4}} {
		p := NewPool(tt.in)
		if got := p.Threads(); got != tt.want {
			t.Errorf("NewPool(%d).Threads() = %d, want %d", tt.in, got, tt.want)
		}
		p.Close()
		p.Close() // idempotent
	}
}
