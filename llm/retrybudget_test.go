package llm_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
)

// budgetAllow calls AllowRetry n times and returns how many were allowed.
func budgetAllow(b *llm.RetryBudget, n int) int {
	allowed := 0
	for range n {
		if b.AllowRetry() {
			allowed++
		}
	}
	return allowed
}

func budgetRecord(b *llm.RetryBudget, n int) {
	for range n {
		b.RecordRequest()
	}
}

func TestRetryBudgetRatioAndFloor(t *testing.T) {
	tests := []struct {
		name         string
		ratio        float64
		window       time.Duration
		minPerSecond float64
		requests     int
		want         int // retries allowed out of 100 asked
	}{
		{name: "ratio only", ratio: 0.5, window: 10 * time.Second, requests: 10, want: 5},
		{name: "floor only", ratio: 0.5, window: 10 * time.Second, minPerSecond: 1, requests: 0, want: 10},
		{name: "ratio plus floor", ratio: 0.2, window: 10 * time.Second, minPerSecond: 0.5, requests: 50, want: 15},
		{name: "fractional rate", ratio: 0, window: 2 * time.Second, minPerSecond: 1.5, requests: 100, want: 3},
		{name: "no traffic no floor", ratio: 1, window: time.Second, requests: 0, want: 0},
		{name: "negative values", ratio: -1, window: time.Second, minPerSecond: -1, requests: 10, want: 0},
		{name: "default window", ratio: 0, window: 0, minPerSecond: 1, requests: 0, want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := llm.NewRetryBudget(tt.ratio, tt.window, tt.minPerSecond)
				budgetRecord(b, tt.requests)
				if got := budgetAllow(b, 100); got != tt.want {
					t.Errorf("allowed %d retries, want %d", got, tt.want)
				}
				st := b.Stats()
				want := llm.RetryBudgetStats{Requests: int64(tt.requests), Retries: int64(tt.want), Denied: int64(100 - tt.want)}
				if st != want {
					t.Errorf("stats = %+v, want %+v", st, want)
				}
			})
		})
	}
}

func TestRetryBudgetSlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := llm.NewRetryBudget(0.5, 10*time.Second, 0) // ten 1s buckets
		budgetRecord(b, 10)                             // t=0
		if got := budgetAllow(b, 3); got != 3 {
			t.Fatalf("allowed %d, want 3", got)
		}
		time.Sleep(5 * time.Second)
		budgetRecord(b, 20) // t=5s
		if st := b.Stats(); st.Requests != 30 || st.Retries != 3 {
			t.Fatalf("stats at 5s = %+v", st)
		}
		if got := budgetAllow(b, 100); got != 12 { // 15 allowed in all, 3 spent
			t.Fatalf("allowed %d at 5s, want 12", got)
		}
		time.Sleep(5 * time.Second) // t=10s: the t=0 bucket has left the window
		if st := b.Stats(); st.Requests != 20 || st.Retries != 12 {
			t.Fatalf("stats at 10s = %+v, want 20 requests and 12 retries", st)
		}
		if got := budgetAllow(b, 100); got != 0 { // 10 allowed, 12 already spent
			t.Fatalf("allowed %d at 10s, want 0", got)
		}
		time.Sleep(5 * time.Second) // t=15s: everything has left
		if st := b.Stats(); st.Requests != 0 || st.Retries != 0 {
			t.Fatalf("stats at 15s = %+v, want an empty window", st)
		}
		time.Sleep(time.Hour) // buckets left over from long ago are not counted
		budgetRecord(b, 4)
		if got := budgetAllow(b, 100); got != 2 {
			t.Fatalf("allowed %d after an hour, want 2", got)
		}
	})
}

func TestRetryBudgetConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := llm.NewRetryBudget(0.25, time.Minute, 0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 64 {
			wg.Go(func() {
				budgetRecord(b, 100)
				n := budgetAllow(b, 100)
				mu.Lock()
				allowed += n
				mu.Unlock()
			})
		}
		wg.Wait()
		// Every retry was asked for after its own goroutine's requests but
		// possibly before others': at most a quarter of all requests.
		if allowed > 64*25 {
			t.Errorf("allowed %d retries, want at most %d", allowed, 64*25)
		}
		if st := b.Stats(); st.Requests != 6400 || st.Retries != int64(allowed) || st.Denied != int64(6400-allowed) {
			t.Errorf("stats = %+v, allowed %d", st, allowed)
		}
	})
}

func TestRetryBudgetNil(t *testing.T) {
	var b *llm.RetryBudget
	b.RecordRequest()
	if !b.AllowRetry() {
		t.Error("a nil budget refused a retry")
	}
	if b.Stats() != (llm.RetryBudgetStats{}) {
		t.Error("a nil budget has stats")
	}
}

func BenchmarkRetryBudget(b *testing.B) {
	budget := llm.NewRetryBudget(0.1, 10*time.Second, 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			budget.RecordRequest()
		}
	})
}
