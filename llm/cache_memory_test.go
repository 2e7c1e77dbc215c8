package llm_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest/cachestoretest"
)

func TestMemoryCacheContract(t *testing.T) {
	for _, size := range []int64{1 << 20, llm.DefaultCacheMaxBytes} { // one LRU, and sharded
		t.Run(strconv.FormatInt(size, 10), func(t *testing.T) {
			cachestoretest.Run(t, func(t *testing.T, n int) []llm.CacheStore {
				return slices.Repeat([]llm.CacheStore{llm.NewMemoryCache(size)}, n)
			})
		})
	}
}

func cacheText(n int) *llm.Response {
	return &llm.Response{Message: llm.AssistantText(strings.Repeat("x", n)), FinishReason: llm.FinishStop}
}

// The least recently used entries go first when the byte budget is
// exceeded; reading an entry makes it recent.
func TestMemoryCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	c := llm.NewMemoryCache(4000) // one LRU: well under a shard's size
	for i := range 4 {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), cacheText(500), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 4 || c.Bytes() > 4000 {
		t.Fatalf("Len %d, Bytes %d after four ~900-byte entries; want 4 within 4000", c.Len(), c.Bytes())
	}
	per := c.Bytes() / 4
	if _, ok, _ := c.Get(ctx, "k0"); !ok { // k0 becomes the most recent
		t.Fatal("k0 missing")
	}
	_ = c.Set(ctx, "k4", cacheText(500), time.Hour)              // over budget: k1 goes
	for i, want := range []bool{true, false, true, true, true} { // in order: k4 ends most recent
		key := "k" + strconv.Itoa(i)
		if _, ok, _ := c.Get(ctx, key); ok != want {
			t.Errorf("after eviction Get(%s) hit = %v, want %v", key, ok, want)
		}
	}
	if c.Bytes() > 4000 {
		t.Fatalf("Bytes %d over the budget", c.Bytes())
	}

	// A large entry evicts as many as it needs (k0, k2, k3); one over the
	// budget is not stored and drops the key's old entry (k4).
	_ = c.Set(ctx, "big", cacheText(int(4000-2*per)), time.Hour)
	if c.Len() != 2 || c.Bytes() > 4000 {
		t.Fatalf("after a large entry: Len %d, Bytes %d; want the large one and one more", c.Len(), c.Bytes())
	}
	_ = c.Set(ctx, "k4", cacheText(5000), time.Hour)
	if _, ok, _ := c.Get(ctx, "k4"); ok {
		t.Fatal("an entry over the whole budget was stored")
	}
	if err := c.Delete(ctx, "big"); err != nil || c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("after deleting everything: Len %d, Bytes %d, %v", c.Len(), c.Bytes(), err)
	}
}

// Vectors count against the same budget, by their size.
func TestMemoryCacheVectorBudget(t *testing.T) {
	ctx := context.Background()
	c := llm.NewMemoryCache(10_000)
	v := make([]float32, 1000) // 4000 bytes each
	_ = c.SetVectors(ctx, []string{"a", "b", "c"}, [][]float32{v, v, v}, time.Hour)
	got, _ := c.GetVectors(ctx, []string{"a", "b", "c"})
	if got[0] != nil || got[1] == nil || got[2] == nil {
		t.Fatalf("with room for two vectors, hits = %v %v %v; want the last two", got[0] != nil, got[1] != nil, got[2] != nil)
	}
}

// Entries expire after their TTL on the cache's clock, exactly.
func TestMemoryCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := llm.NewMemoryCache(1 << 20)
		_ = c.Set(ctx, "k", cacheText(1), time.Minute)
		_ = c.SetVectors(ctx, []string{"v"}, [][]float32{{1}}, time.Minute)
		_ = c.Set(ctx, "forever", cacheText(1), 0)
		time.Sleep(time.Minute - time.Nanosecond)
		if _, ok, _ := c.Get(ctx, "k"); !ok {
			t.Fatal("expired before its TTL")
		}
		if v, _ := c.GetVectors(ctx, []string{"v"}); v[0] == nil {
			t.Fatal("vector expired before its TTL")
		}
		time.Sleep(time.Nanosecond)
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Fatal("served after its TTL")
		}
		if v, _ := c.GetVectors(ctx, []string{"v"}); v[0] != nil {
			t.Fatal("vector served after its TTL")
		}
		time.Sleep(365 * 24 * time.Hour)
		if _, ok, _ := c.Get(ctx, "forever"); !ok {
			t.Fatal("an entry without TTL expired")
		}
		if c.Len() != 1 {
			t.Fatalf("Len = %d after the expired entries were read; want 1", c.Len())
		}
	})
}

// A TTL too long to represent as a time means no expiry, not an entry
// that is expired at once.
func TestMemoryCacheHugeTTL(t *testing.T) {
	c := llm.NewMemoryCache(1 << 20)
	_ = c.Set(context.Background(), "k", cacheText(1), time.Duration(1<<63-1))
	if _, ok, _ := c.Get(context.Background(), "k"); !ok {
		t.Fatal("an entry with the longest TTL expired at once")
	}
}
