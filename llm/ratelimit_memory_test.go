package llm_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest/limitstoretest"
)

func TestMemoryLimitStoreContract(t *testing.T) {
	limitstoretest.Run(t, func(t *testing.T, n int) []llm.LimitStore {
		return slices.Repeat([]llm.LimitStore{llm.NewMemoryLimitStore()}, n)
	})
}

// Keys whose buckets are full again are forgotten as new keys arrive, so
// a store that sees many short-lived keys (tenants) stays small, and a
// forgotten key behaves like a fresh one.
func TestMemoryLimitStoreSweepsFullKeys(t *testing.T) {
	s := llm.NewMemoryLimitStore()
	ctx := t.Context()
	lim := llm.Limit{PerMinute: 60, Burst: 2}
	now := time.Unix(1_700_000_000, 0)
	for i := range 5000 {
		// Each key is full again 2s after its use; the clock moves on.
		now = now.Add(time.Second)
		key := "tenant-" + strconv.Itoa(i)
		if _, ok, _ := s.Reserve(ctx, key, 2, lim, now, 0); !ok {
			t.Fatalf("fresh key %s refused", key)
		}
	}
	// Recent keys are still exhausted, old ones full again.
	if _, ok, _ := s.Reserve(ctx, "tenant-4999", 1, lim, now, 0); ok {
		t.Fatal("a recent key forgot its reservation")
	}
	if _, ok, _ := s.Reserve(ctx, "tenant-0", 2, lim, now, 0); !ok {
		t.Fatal("an old key is not full again")
	}
}
