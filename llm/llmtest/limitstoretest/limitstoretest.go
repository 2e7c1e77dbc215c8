package limitstoretest

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// Resolution is how far a store's waits may differ from the exact GCRA
// values: stores may keep time in microseconds and round waits up.
const Resolution = 2 * time.Microsecond

// NewStores returns n handles on one fresh, empty store. Handles from one
// call share all state, as replicas of a service share one Redis (each
// should use its own connection); stores from different calls share
// nothing, so subtests do not see each other's keys. For an in-process
// store, returning the same store n times is right.
type NewStores func(t *testing.T, n int) []llm.LimitStore

// Run runs the contract suite as subtests of t.
func Run(t *testing.T, newStores NewStores) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, newStores NewStores)
	}{
		{"ExactBurst", testExactBurst},
		{"Tokens", testTokens},
		{"FractionalRate", testFractionalRate},
		{"Refill", testRefill},
		{"Wait", testWait},
		{"OversizedReservation", testOversized},
		{"Refund", testRefund},
		{"RefundCapsAtBurst", testRefundCap},
		{"KeyIsolation", testIsolation},
		{"Unlimited", testUnlimited},
		{"RateChangeKeepsState", testRateChange},
		{"Concurrent", testConcurrent},
		{"Replicas", testReplicas},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStores) })
	}
}

// base is the suite's clock origin: the current time, so that stores that
// expire keys relative to the clock they are given keep them for the test,
// truncated so that every offset is exact in microseconds.
func base() time.Time { return time.Now().Truncate(time.Millisecond) }

func one(t *testing.T, newStores NewStores) llm.LimitStore {
	t.Helper()
	s := newStores(t, 1)
	if len(s) != 1 {
		t.Fatalf("NewStores(1) returned %d stores", len(s))
	}
	return s[0]
}

func reserve(t *testing.T, s llm.LimitStore, key string, n float64, lim llm.Limit, now time.Time, maxWait time.Duration) (time.Duration, bool) {
	t.Helper()
	w, ok, err := s.Reserve(t.Context(), key, n, lim, now, maxWait)
	if err != nil {
		t.Fatalf("Reserve(%q, %v): %v", key, n, err)
	}
	return w, ok
}

func refund(t *testing.T, s llm.LimitStore, key string, n float64, lim llm.Limit, now time.Time) {
	t.Helper()
	if err := s.Refund(t.Context(), key, n, lim, now); err != nil {
		t.Fatalf("Refund(%q, %v): %v", key, n, err)
	}
}

// mustAdmit reserves n units that must be admitted with the given wait.
func mustAdmit(t *testing.T, s llm.LimitStore, key string, n float64, lim llm.Limit, now time.Time, maxWait, want time.Duration) {
	t.Helper()
	w, ok := reserve(t, s, key, n, lim, now, maxWait)
	if !ok || !near(w, want) {
		t.Fatalf("Reserve(%v, maxWait %v) at +%v = %v, %v; want %v, true", n, maxWait, now.Sub(epoch(now)), w, ok, want)
	}
}

// mustRefuse reserves n units that must be refused with the given wait.
func mustRefuse(t *testing.T, s llm.LimitStore, key string, n float64, lim llm.Limit, now time.Time, maxWait, want time.Duration) {
	t.Helper()
	w, ok := reserve(t, s, key, n, lim, now, maxWait)
	if ok || !near(w, want) {
		t.Fatalf("Reserve(%v, maxWait %v) = %v, %v; want %v, false", n, maxWait, w, ok, want)
	}
}

// epoch is only used to print offsets readably.
func epoch(now time.Time) time.Time { return now.Truncate(time.Hour) }

func near(got, want time.Duration) bool {
	d := got - want
	return d >= -Resolution && d <= Resolution
}

// countAdmitted reserves one unit at a time, without waiting, until a
// refusal or limit attempts, and returns how many were admitted.
func countAdmitted(t *testing.T, s llm.LimitStore, key string, lim llm.Limit, now time.Time, limit int) int {
	t.Helper()
	for i := range limit {
		if _, ok := reserve(t, s, key, 1, lim, now, 0); !ok {
			return i
		}
	}
	return limit
}

func testExactBurst(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 10}
	for range 10 {
		mustAdmit(t, s, "k", 1, lim, now, 0, 0)
	}
	mustRefuse(t, s, "k", 1, lim, now, 0, time.Second)
	mustRefuse(t, s, "k", 1, lim, now, 0, time.Second) // a refusal changes nothing

	// Burst 0 means one minute's worth.
	if got := countAdmitted(t, s, "default-burst", llm.Limit{PerMinute: 30}, now, 100); got != 30 {
		t.Fatalf("default burst admitted %d, want 30", got)
	}
}

func testTokens(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 600, Burst: 1000} // one token per 100ms
	mustAdmit(t, s, "k", 400, lim, now, 0, 0)
	mustAdmit(t, s, "k", 400, lim, now, 0, 0)
	mustRefuse(t, s, "k", 300, lim, now, 0, 10*time.Second)
	mustAdmit(t, s, "k", 200, lim, now, 0, 0) // exactly the rest
	mustRefuse(t, s, "k", 1, lim, now, 0, 100*time.Millisecond)
	mustAdmit(t, s, "k", 50, lim, now.Add(5*time.Second), 0, 0)
	mustRefuse(t, s, "k", 1, lim, now.Add(5*time.Second), 0, 100*time.Millisecond)
}

func testFractionalRate(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	// 7 per minute: an interval of 8.571428...s, not a whole number of
	// nanoseconds or microseconds.
	lim := llm.Limit{PerMinute: 7}
	if got := countAdmitted(t, s, "k", lim, now, 100); got != 7 {
		t.Fatalf("admitted %d at once, want 7", got)
	}
	interval := time.Minute / 7 // rounded down; the Resolution added below covers it
	for i := 1; i <= 20; i++ {
		at := now.Add(time.Duration(i) * interval).Add(Resolution)
		if got := countAdmitted(t, s, "k", lim, at, 100); got != 1 {
			t.Fatalf("after %d intervals admitted %d, want 1", i, got)
		}
	}
}

func testRefill(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 2}
	mustAdmit(t, s, "k", 1, lim, now, 0, 0)
	mustAdmit(t, s, "k", 1, lim, now, 0, 0)
	mustRefuse(t, s, "k", 1, lim, now.Add(500*time.Millisecond), 0, 500*time.Millisecond)
	mustAdmit(t, s, "k", 1, lim, now.Add(time.Second), 0, 0)
	mustRefuse(t, s, "k", 1, lim, now.Add(time.Second), 0, time.Second)
	// A long idle period refills to the burst, never beyond it.
	later := now.Add(time.Hour)
	if got := countAdmitted(t, s, "k", lim, later, 10); got != 2 {
		t.Fatalf("after an idle hour admitted %d, want the burst of 2", got)
	}
}

func testWait(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 1}
	mustAdmit(t, s, "k", 1, lim, now, 10*time.Second, 0)
	mustAdmit(t, s, "k", 1, lim, now, 10*time.Second, time.Second)
	mustAdmit(t, s, "k", 1, lim, now, 10*time.Second, 2*time.Second)
	// Over maxWait: refused with the wait it needs, and nothing reserved.
	mustRefuse(t, s, "k", 1, lim, now, 2*time.Second, 3*time.Second)
	mustAdmit(t, s, "k", 1, lim, now, 3*time.Second, 3*time.Second)
	// A wait equal to maxWait is admitted; time passing shortens waits.
	mustAdmit(t, s, "k", 1, lim, now.Add(1500*time.Millisecond), 2500*time.Millisecond, 2500*time.Millisecond)
}

func testOversized(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 10}
	mustRefuse(t, s, "k", 15, lim, now, 0, 5*time.Second)
	mustAdmit(t, s, "k", 15, lim, now, 5*time.Second, 5*time.Second)
	mustRefuse(t, s, "k", 1, lim, now, 0, 6*time.Second)
}

func testRefund(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 5}
	if got := countAdmitted(t, s, "k", lim, now, 10); got != 5 {
		t.Fatalf("admitted %d, want 5", got)
	}
	refund(t, s, "k", 3, lim, now)
	if got := countAdmitted(t, s, "k", lim, now, 10); got != 3 {
		t.Fatalf("after refunding 3 admitted %d, want 3", got)
	}
	// A refunded wait: reserve ahead, refund, and the wait is gone.
	mustAdmit(t, s, "w", 5, lim, now, 0, 0)
	mustAdmit(t, s, "w", 2, lim, now, 5*time.Second, 2*time.Second)
	refund(t, s, "w", 2, lim, now)
	mustRefuse(t, s, "w", 1, lim, now, 0, time.Second)
	// Fractional refunds add up.
	refund(t, s, "w", 0.5, lim, now)
	refund(t, s, "w", 0.5, lim, now)
	mustAdmit(t, s, "w", 1, lim, now, 0, 0)
}

func testRefundCap(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 5}
	refund(t, s, "fresh", 100, lim, now) // nothing to refund to
	if got := countAdmitted(t, s, "fresh", lim, now, 100); got != 5 {
		t.Fatalf("after refunding a fresh key admitted %d, want the burst of 5", got)
	}
	refund(t, s, "fresh", 100, lim, now) // more than was reserved
	if got := countAdmitted(t, s, "fresh", lim, now, 100); got != 5 {
		t.Fatalf("after an over-refund admitted %d, want the burst of 5", got)
	}
}

func testIsolation(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 60, Burst: 3}
	keys := []string{"a", "b", "model:tenant:rpm:acme", "model:tenant:rpm:acme2", "ünïcode key", ""}
	for _, k := range keys {
		if got := countAdmitted(t, s, k, lim, now, 10); got != 3 {
			t.Fatalf("key %q admitted %d, want 3 (keys must not share state)", k, got)
		}
	}
}

func testUnlimited(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	for _, lim := range []llm.Limit{{}, {PerMinute: -1}, {PerMinute: math.Inf(1)}, {PerMinute: math.NaN()}} {
		for range 1000 {
			mustAdmit(t, s, "k", 1e9, lim, now, 0, 0)
		}
		refund(t, s, "k", 1e9, lim, now)
	}
	// Zero units are always admitted and change nothing.
	lim := llm.Limit{PerMinute: 60, Burst: 1}
	mustAdmit(t, s, "z", 1, lim, now, 0, 0)
	mustAdmit(t, s, "z", 0, lim, now, 0, 0)
	mustRefuse(t, s, "z", 1, lim, now, 0, time.Second)
}

func testRateChange(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	// Scaling rate and burst together keeps the tolerance (one minute),
	// so a half-used bucket stays half used at the new rate.
	full := llm.Limit{PerMinute: 60, Burst: 60}
	half := llm.Limit{PerMinute: 30, Burst: 30}
	if got := countAdmitted(t, s, "k", full, now, 30); got != 30 {
		t.Fatalf("admitted %d, want 30", got)
	}
	if got := countAdmitted(t, s, "k", half, now, 100); got != 15 {
		t.Fatalf("at half the rate admitted %d more, want 15", got)
	}
}

func testConcurrent(t *testing.T, newStores NewStores) {
	s, now := one(t, newStores), base()
	lim := llm.Limit{PerMinute: 1, Burst: 100}
	if got := admitConcurrently(t, []llm.LimitStore{s}, lim, now, 8, 40); got != 100 {
		t.Fatalf("8 goroutines admitted %d, want exactly 100", got)
	}
}

func testReplicas(t *testing.T, newStores NewStores) {
	stores := newStores(t, 2)
	if len(stores) != 2 {
		t.Fatalf("NewStores(2) returned %d stores", len(stores))
	}
	now := base()
	lim := llm.Limit{PerMinute: 1, Burst: 100}
	if got := admitConcurrently(t, stores, lim, now, 8, 40); got != 100 {
		t.Fatalf("two replicas admitted %d together, want exactly 100", got)
	}
	// A refund on one replica is visible to the other.
	refund(t, stores[0], "shared", 2, lim, now)
	if got := countAdmitted(t, stores[1], "shared", lim, now, 10); got != 2 {
		t.Fatalf("after a refund on replica 0, replica 1 admitted %d, want 2", got)
	}
}

// admitConcurrently runs goroutines, spread over stores, that each try
// attempts single-unit reservations of key "shared", and returns how many
// were admitted.
func admitConcurrently(t *testing.T, stores []llm.LimitStore, lim llm.Limit, now time.Time, goroutines, attempts int) int {
	t.Helper()
	var (
		admitted atomic.Int64
		wg       sync.WaitGroup
		errs     = make(chan error, goroutines)
	)
	ctx := context.WithoutCancel(t.Context())
	for g := range goroutines {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for range attempts {
				_, ok, err := s.Reserve(ctx, "shared", 1, lim, now, 0)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Reserve: %v", err)
	}
	return int(admitted.Load())
}

// UniqueName returns a name unique to this test run and test, for key
// prefixes on shared backends.
func UniqueName(t testing.TB) string {
	return t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
}
