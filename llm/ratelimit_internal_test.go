package llm

import (
	"strconv"
	"testing"
	"time"
)

// The sweep keeps a MemoryLimitStore proportional to the keys in use: with
// a steady stream of new keys that each go idle, the map never holds much
// more than twice the sweep threshold.
func TestMemoryLimitStoreSweepBoundsSize(t *testing.T) {
	s := NewMemoryLimitStore()
	lim := Limit{PerMinute: 60, Burst: 1}
	now := time.Unix(1_700_000_000, 0)
	for i := range 20 * memSweepMin {
		now = now.Add(time.Second) // every earlier key is full again
		s.Reserve(t.Context(), "k"+strconv.Itoa(i), 1, lim, now, 0)
	}
	n := 0
	s.buckets.Range(func(any, any) bool { n++; return true })
	if n > 2*memSweepMin+1 || int64(n) != s.size.Load() {
		t.Fatalf("store holds %d keys (size counter %d), want at most %d", n, s.size.Load(), 2*memSweepMin+1)
	}
}
