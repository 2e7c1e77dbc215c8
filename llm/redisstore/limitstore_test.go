package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/llmtest/limitstoretest"
	"github.com/keel-go/keel/llm/redisstore"
)

// redisAddr returns KEEL_REDIS_ADDR. Without it the test is skipped, except
// in CI (CI=true), where a missing Redis is a broken set-up and fails.
func redisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("KEEL_REDIS_ADDR")
	if addr == "" {
		const msg = "KEEL_REDIS_ADDR is not set: start a Redis (redis-server --port 6390 --save '' --appendonly no) and set KEEL_REDIS_ADDR=127.0.0.1:6390"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return addr
}

// newClient returns a new client (its own connection pool, as a separate
// replica would have) on the test Redis.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  redisAddr(tb),
		ContextTimeoutEnabled: true,
		Protocol:              2,
		DisableIdentity:       true,
	})
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("Redis at %s: %v", redisAddr(tb), err)
	}
	return c
}

// newStores returns n stores on the test Redis, each with its own client,
// sharing one prefix unique to the test.
func newStores(t *testing.T, n int, clientClock bool) []llm.LimitStore {
	prefix := "keel-test:" + limitstoretest.UniqueName(t) + ":"
	stores := make([]llm.LimitStore, n)
	for i := range stores {
		stores[i] = redisstore.NewLimitStore(newClient(t), redisstore.LimitStoreOptions{Prefix: prefix, ClientClock: clientClock})
	}
	return stores
}

// The contract suite runs with the caller's clock, which makes every
// timing in it exact; the server clock has its own tests below.
func TestLimitStoreContract(t *testing.T) {
	redisAddr(t)
	limitstoretest.Run(t, func(t *testing.T, n int) []llm.LimitStore { return newStores(t, n, true) })
}

func reserve(t *testing.T, s llm.LimitStore, key string, n float64, lim llm.Limit, maxWait time.Duration) (time.Duration, bool) {
	t.Helper()
	w, ok, err := s.Reserve(t.Context(), key, n, lim, time.Time{}, maxWait)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	return w, ok
}

// With the server's clock (the default) the now argument is ignored. A
// rate of one unit a minute makes the few milliseconds a test takes
// irrelevant to the counts.
func TestLimitStoreServerClockExactCounts(t *testing.T) {
	s := newStores(t, 1, false)[0]
	lim := llm.Limit{PerMinute: 1, Burst: 10}
	for i := range 10 {
		if _, ok := reserve(t, s, "k", 1, lim, 0); !ok {
			t.Fatalf("reservation %d refused", i+1)
		}
	}
	w, ok := reserve(t, s, "k", 1, lim, 0)
	if ok || w <= 59*time.Second || w > time.Minute {
		t.Fatalf("11th reservation = %v, %v; want refused with a wait just under a minute", w, ok)
	}
	// The wait is measured on the server's clock, whatever now says.
	if _, ok, _ := s.Reserve(t.Context(), "k", 1, lim, time.Now().Add(time.Hour), 0); ok {
		t.Fatal("a caller clock an hour ahead refilled a server-clock bucket")
	}
}

// Refill on the server's clock takes real time; one short sleep checks
// it, with a bound that only gets safer when the machine is slow.
func TestLimitStoreServerClockRefills(t *testing.T) {
	s := newStores(t, 1, false)[0]
	lim := llm.Limit{PerMinute: 600, Burst: 2} // one unit per 100ms
	for range 2 {
		if _, ok := reserve(t, s, "k", 1, lim, 0); !ok {
			t.Fatal("burst refused")
		}
	}
	time.Sleep(250 * time.Millisecond) // at least two units refilled
	for range 2 {
		if w, ok := reserve(t, s, "k", 1, lim, 0); !ok {
			t.Fatalf("after 250ms refused with wait %v", w)
		}
	}
}

// Replicas with their own connections never jointly exceed a limit on the
// server's clock either.
func TestLimitStoreServerClockReplicas(t *testing.T) {
	stores := newStores(t, 3, false)
	lim := llm.Limit{PerMinute: 1, Burst: 60}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for range 10 {
				_, ok, err := s.Reserve(context.Background(), "shared", 1, lim, time.Time{}, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 60 {
		t.Fatalf("three replicas admitted %d together, want exactly 60", got)
	}
}

// Keys carry the prefix, expire when their bucket is full again, and are
// deleted by a refund that fills the bucket.
func TestLimitStoreKeysExpire(t *testing.T) {
	c := newClient(t)
	prefix := "keel-test:" + limitstoretest.UniqueName(t) + ":"
	s := redisstore.NewLimitStore(c, redisstore.LimitStoreOptions{Prefix: prefix})
	lim := llm.Limit{PerMinute: 60, Burst: 10}
	if _, ok := reserve(t, s, "k", 3, lim, 0); !ok {
		t.Fatal("refused")
	}
	ttl, err := c.PTTL(t.Context(), prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 3*time.Second+10*time.Millisecond {
		t.Fatalf("key TTL = %v, want about 3s (the time until the bucket is full)", ttl)
	}
	if err := s.Refund(t.Context(), "k", 3, lim, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(t.Context(), prefix+"k").Result(); err != nil || n != 0 {
		t.Fatalf("after a full refund Exists = %d, %v; want the key gone", n, err)
	}
}

func TestNewLimitStoreDefaultPrefix(t *testing.T) {
	c := newClient(t)
	s := redisstore.NewLimitStore(c, redisstore.LimitStoreOptions{})
	key := limitstoretest.UniqueName(t)
	if _, ok := reserve(t, s, key, 1, llm.Limit{PerMinute: 60}, 0); !ok {
		t.Fatal("refused")
	}
	t.Cleanup(func() { c.Del(context.Background(), redisstore.DefaultLimitPrefix+key) })
	if n, err := c.Exists(t.Context(), redisstore.DefaultLimitPrefix+key).Result(); err != nil || n != 1 {
		t.Fatalf("Exists(%q) = %d, %v; want 1", redisstore.DefaultLimitPrefix+key, n, err)
	}
}

// The script is loaded with EVAL when the server does not have it cached
// (after a restart or SCRIPT FLUSH).
func TestLimitStoreSurvivesScriptFlush(t *testing.T) {
	c := newClient(t)
	s := newStores(t, 1, false)[0]
	lim := llm.Limit{PerMinute: 1, Burst: 2}
	if _, ok := reserve(t, s, "k", 1, lim, 0); !ok {
		t.Fatal("refused")
	}
	if err := c.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok := reserve(t, s, "k", 1, lim, 0); !ok {
		t.Fatal("refused after SCRIPT FLUSH")
	}
	if _, ok := reserve(t, s, "k", 1, lim, 0); ok {
		t.Fatal("admitted past the burst after SCRIPT FLUSH")
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A Redis that is down: the store reports KindUnavailable, and RateLimit
// applies its policy: FailClosed refuses with the cause wrapped, FailOpen
// admits under the local limiter.
func TestLimitStoreOutage(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	store := redisstore.NewLimitStore(c, redisstore.LimitStoreOptions{})

	_, _, err := store.Reserve(t.Context(), "k", 1, llm.Limit{PerMinute: 60}, time.Now(), 0)
	if !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Reserve on a closed port: %v, want kind unavailable", err)
	}
	if err := store.Refund(t.Context(), "k", 1, llm.Limit{PerMinute: 60}, time.Now()); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Refund on a closed port: %v, want kind unavailable", err)
	}

	req := &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}}
	for _, tc := range []struct {
		policy   llm.StoreErrorPolicy
		admitted int
	}{
		{llm.FailClosed, 0},
		{llm.FailOpen, 2}, // the local limiter's requests per minute
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			fake := llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
				return &llm.Response{Message: llm.AssistantText("ok")}, nil
			})
			m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
				Name:         "target",
				Limits:       llm.RateLimits{RequestsPerMinute: 2},
				Store:        store,
				OnStoreError: tc.policy,
			}))
			admitted := 0
			for range 3 {
				_, err := m.Generate(t.Context(), req)
				switch {
				case err == nil:
					admitted++
				case !errors.Is(err, llm.KindLocalRateLimited):
					t.Fatalf("err = %v, want kind %v", err, llm.KindLocalRateLimited)
				case tc.policy == llm.FailClosed && !errors.Is(err, llm.KindUnavailable):
					t.Fatalf("fail-closed refusal %v does not wrap the store's error", err)
				}
			}
			if admitted != tc.admitted {
				t.Fatalf("admitted %d of 3, want %d", admitted, tc.admitted)
			}
		})
	}
}

// A Redis that accepts connections but never answers: with
// ContextTimeoutEnabled every call ends at RateLimit's StoreTimeout. The
// connection is an in-memory pipe inside a synctest bubble, so the
// timeout is measured on the fake clock, exactly.
func TestLimitStoreHungServerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, closeHung := hungClient()
		defer closeHung()
		store := redisstore.NewLimitStore(c, redisstore.LimitStoreOptions{})

		fake := llmtest.NewModel(llmtest.Reply("ok"))
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:         "target",
			Limits:       llm.RateLimits{RequestsPerMinute: 100},
			Store:        store,
			StoreTimeout: 50 * time.Millisecond,
			OnStoreError: llm.FailOpen,
		}))
		start := time.Now()
		if _, err := m.Generate(t.Context(), &llm.Request{Model: "m"}); err != nil {
			t.Fatalf("fail-open call: %v", err)
		}
		if got := time.Since(start); got != 50*time.Millisecond {
			t.Fatalf("call took %v, want exactly the 50ms store timeout", got)
		}
		// The store is left alone for a second after a failure: the next
		// call does not wait for it again.
		start = time.Now()
		if _, err := m.Generate(t.Context(), &llm.Request{Model: "m"}); !errors.Is(err, llmtest.ErrNoMoreSteps) {
			t.Fatalf("second call: %v, want the fake's ErrNoMoreSteps (admitted)", err)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("second call took %v, want no wait on the failed store", got)
		}
	})
}

func BenchmarkRedisLimitStore(b *testing.B) {
	c := newClient(b)
	prefix := "keel-bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	s := redisstore.NewLimitStore(c, redisstore.LimitStoreOptions{Prefix: prefix})
	lim := llm.Limit{PerMinute: 1e12} // never refuses
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Reserve(ctx, "k", 1, lim, time.Time{}, 0); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// Tiny rates make the emission interval astronomically long; the store
// clamps times as llm.MemoryLimitStore does, instead of sending Redis an
// expiry it rejects. Both clocks, as the caller's now takes the same path.
func TestLimitStoreTinyRate(t *testing.T) {
	for _, clientClock := range []bool{false, true} {
		t.Run(fmt.Sprintf("clientClock=%v", clientClock), func(t *testing.T) {
			s := newStores(t, 1, clientClock)[0]
			now := time.Now()
			for _, lim := range []llm.Limit{
				{PerMinute: 1e-12, Burst: 1},
				{PerMinute: 1e-12},
				{PerMinute: 1e-300, Burst: 1e300},
				{PerMinute: math.SmallestNonzeroFloat64, Burst: 1},
			} {
				key := fmt.Sprintf("k%g-%g", lim.PerMinute, lim.Burst)
				w, ok, err := s.Reserve(t.Context(), key, 1, lim, now, 0)
				if err != nil {
					t.Fatalf("%+v: first Reserve: %v", lim, err)
				}
				if lim.Burst >= 1 && (!ok || w != 0) {
					t.Errorf("%+v: first Reserve = %v, %v; want admitted at once (burst of one)", lim, w, ok)
				}
				w, ok, err = s.Reserve(t.Context(), key, 1, lim, now, time.Duration(math.MaxInt64))
				if err != nil {
					t.Fatalf("%+v: second Reserve: %v", lim, err)
				}
				if lim.Burst >= 1 && lim.Burst < 1e300 && (ok && w < 100*365*24*time.Hour) {
					t.Errorf("%+v: second Reserve = %v, %v; want a wait of a century or more", lim, w, ok)
				}
				if err := s.Refund(t.Context(), key, 1, lim, now); err != nil {
					t.Fatalf("%+v: Refund: %v", lim, err)
				}
			}
		})
	}
}
