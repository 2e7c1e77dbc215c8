package budgetstoretest

import (
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// Store is what the suite tests: budget counters and daily spend.
type Store interface {
	llm.BudgetStore
	llm.SpendStore
}

// NewStores returns n handles on one fresh, empty store. Handles from one
// call share all state, as replicas of a service share one Redis (each
// should use its own connection); stores from different calls share
// nothing, so subtests do not see each other's keys. For an in-process
// store, returning the same store n times is right.
type NewStores func(t *testing.T, n int) []Store

// Run runs the contract suite as subtests of t.
func Run(t *testing.T, newStores NewStores) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, newStores NewStores)
	}{
		{"ReserveUpToLimit", testReserveUpToLimit},
		{"Settle", testSettle},
		{"SettleClampsHeld", testSettleClamps},
		{"NegativeAmounts", testNegative},
		{"NoLimit", testNoLimit},
		{"ExactLargeAmounts", testLarge},
		{"Expiry", testExpiry},
		{"KeyIsolation", testIsolation},
		{"Concurrent", testConcurrent},
		{"Replicas", testReplicas},
		{"Spend", testSpend},
		{"SpendDays", testSpendDays},
		{"SpendNames", testSpendNames},
		{"SpendReplicas", testSpendReplicas},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStores) })
	}
}

func one(t *testing.T, newStores NewStores) Store {
	t.Helper()
	s := newStores(t, 1)
	if len(s) != 1 {
		t.Fatalf("NewStores(1) returned %d stores", len(s))
	}
	return s[0]
}

// later is an expiry well in the future.
func later() time.Time { return time.Now().Add(time.Hour) }

func bal(spent, held llm.NanoUSD) llm.BudgetBalance {
	return llm.BudgetBalance{Spent: spent, Held: held}
}

func mustReserve(t *testing.T, s llm.BudgetStore, key string, amount, limit llm.NanoUSD, wantOK bool, want llm.BudgetBalance) {
	t.Helper()
	got, ok, err := s.Reserve(t.Context(), key, amount, limit, later())
	if err != nil {
		t.Fatalf("Reserve(%q, %d, limit %d): %v", key, amount, limit, err)
	}
	if ok != wantOK || got != want {
		t.Fatalf("Reserve(%q, %d, limit %d) = %+v, %v; want %+v, %v", key, amount, limit, got, ok, want, wantOK)
	}
}

func mustSettle(t *testing.T, s llm.BudgetStore, key string, held, spent llm.NanoUSD, want llm.BudgetBalance) {
	t.Helper()
	got, err := s.Settle(t.Context(), key, held, spent, later())
	if err != nil {
		t.Fatalf("Settle(%q, %d, %d): %v", key, held, spent, err)
	}
	if got != want {
		t.Fatalf("Settle(%q, held %d, spent %d) = %+v; want %+v", key, held, spent, got, want)
	}
}

func mustBalance(t *testing.T, s llm.BudgetStore, key string, want llm.BudgetBalance) {
	t.Helper()
	got, err := s.Balance(t.Context(), key)
	if err != nil {
		t.Fatalf("Balance(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Balance(%q) = %+v; want %+v", key, got, want)
	}
}

func testReserveUpToLimit(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustBalance(t, s, "k", bal(0, 0)) // a new key is zero
	mustReserve(t, s, "k", 3, 10, true, bal(0, 3))
	mustReserve(t, s, "k", 3, 10, true, bal(0, 6))
	mustReserve(t, s, "k", 3, 10, true, bal(0, 9))
	mustReserve(t, s, "k", 3, 10, false, bal(0, 9)) // 12 > 10: refused...
	mustBalance(t, s, "k", bal(0, 9))               // ...and nothing changed
	mustReserve(t, s, "k", 1, 10, true, bal(0, 10)) // exactly the limit fits
	mustReserve(t, s, "k", 0, 10, true, bal(0, 10)) // nothing more fits nothing
	mustReserve(t, s, "k", 1, 10, false, bal(0, 10))
	mustReserve(t, s, "k", 1, 11, true, bal(0, 11)) // the limit is per call
	mustReserve(t, s, "k", 0, 5, false, bal(0, 11)) // already over a lower limit
}

func testSettle(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustReserve(t, s, "k", 5, 10, true, bal(0, 5))
	mustSettle(t, s, "k", 5, 3, bal(3, 0)) // refund 2
	mustSettle(t, s, "k", 0, 2, bal(5, 0)) // a charge without a reservation
	mustReserve(t, s, "k", 5, 10, true, bal(5, 5))
	mustReserve(t, s, "k", 1, 10, false, bal(5, 5)) // spent and held both count
	mustSettle(t, s, "k", 5, 7, bal(12, 0))         // a charge above its reservation
	mustReserve(t, s, "k", 0, 10, false, bal(12, 0))
	mustBalance(t, s, "k", bal(12, 0))
}

func testSettleClamps(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustReserve(t, s, "k", 5, 10, true, bal(0, 5))
	mustSettle(t, s, "k", 7, 0, bal(0, 0))
	mustSettle(t, s, "fresh", 4, 1, bal(1, 0))
}

func testNegative(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustReserve(t, s, "k", -5, 10, true, bal(0, 0))
	mustReserve(t, s, "k", 4, 10, true, bal(0, 4))
	mustSettle(t, s, "k", -1, -1, bal(0, 4))
}

func testNoLimit(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	const big = llm.NanoUSD(1e15) // a million dollars
	mustReserve(t, s, "k", big, math.MaxInt64, true, bal(0, big))
	mustReserve(t, s, "k", big, math.MaxInt64, true, bal(0, 2*big))
}

// Amounts are integers: sums past 2⁵³ (where float64 stops counting
// units) stay exact.
func testLarge(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	const big = llm.NanoUSD(1<<53 + 1)
	mustSettle(t, s, "k", 0, big, bal(big, 0))
	mustSettle(t, s, "k", 0, 2, bal(big+2, 0))
	mustReserve(t, s, "k", 3, math.MaxInt64, true, bal(big+2, 3))
	mustSettle(t, s, "k", 3, 1, bal(big+3, 0))
	mustBalance(t, s, "k", bal(big+3, 0))
}

func testExpiry(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	ctx := t.Context()
	if _, err := s.Settle(ctx, "gone", 0, 5, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	mustBalance(t, s, "gone", bal(0, 0))
	mustSettle(t, s, "kept", 0, 5, bal(5, 0))
	mustBalance(t, s, "kept", bal(5, 0))
}

func testIsolation(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	mustReserve(t, s, "a", 10, 10, true, bal(0, 10))
	mustReserve(t, s, "b", 10, 10, true, bal(0, 10))
	mustSettle(t, s, "a", 10, 1, bal(1, 0))
	mustBalance(t, s, "b", bal(0, 10))
}

func testConcurrent(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	reserveConcurrently(t, []Store{s}, 8, 40)
}

func testReplicas(t *testing.T, newStores NewStores) {
	stores := newStores(t, 2)
	if len(stores) != 2 {
		t.Fatalf("NewStores(2) returned %d stores", len(stores))
	}
	reserveConcurrently(t, stores, 8, 40)
	// A settlement on one replica is visible to the other.
	mustSettle(t, stores[0], "shared", 100, 60, bal(60, 0))
	mustReserve(t, stores[1], "shared", 40, 100, true, bal(60, 40))
	mustReserve(t, stores[1], "shared", 1, 100, false, bal(60, 40))
}

// reserveConcurrently runs goroutines, spread over stores, that each try
// attempts reservations of one nano-dollar on key "shared" under a limit
// of 100, and checks that exactly 100 were admitted.
func reserveConcurrently(t *testing.T, stores []Store, goroutines, attempts int) {
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
				b, ok, err := s.Reserve(ctx, "shared", 1, 100, later())
				if err != nil {
					errs <- err
					return
				}
				if b.Spent+b.Held > 100 {
					errs <- &llm.Error{Message: "balance past the limit: " + strconv.FormatInt(int64(b.Held), 10)}
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
		t.Fatal(err)
	}
	if got := admitted.Load(); got != 100 {
		t.Fatalf("%d goroutines on %d handles admitted %d, want exactly 100", goroutines, len(stores), got)
	}
	mustBalance(t, stores[0], "shared", bal(0, 100))
}

// day returns midnight n days before today in loc: recent, so that stores
// that expire old days keep it.
func day(loc *time.Location, n int) time.Time {
	y, m, d := time.Now().In(loc).Date()
	return time.Date(y, m, d-n, 0, 0, 0, 0, loc)
}

func record(t *testing.T, s llm.SpendRecorder, recs ...llm.SpendRecord) {
	t.Helper()
	for _, r := range recs {
		if err := s.RecordSpend(t.Context(), r); err != nil {
			t.Fatalf("RecordSpend(%+v): %v", r, err)
		}
	}
}

// spend returns s's totals from..to sorted by tenant, feature and model.
func spend(t *testing.T, s llm.SpendStore, from, to time.Time) []llm.SpendTotal {
	t.Helper()
	got, err := llm.SpendReport(t.Context(), s, from, to, llm.ByTenant, llm.ByFeature, llm.ByModel)
	if err != nil {
		t.Fatalf("Spend: %v", err)
	}
	return got
}

func checkTotals(t *testing.T, what string, got, want []llm.SpendTotal) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testSpend(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	d := day(time.UTC, 3)
	u := llm.Usage{InputTokens: 1000, OutputTokens: 200, CachedInputTokens: 600, CacheWriteTokens: 100, ReasoningTokens: 50}
	record(t, s,
		llm.SpendRecord{Time: d.Add(time.Hour), Tenant: "acme", User: "u1", Feature: "chat", Model: "gpt-4o", Cost: 1_234_567, Usage: u},
		llm.SpendRecord{Time: d.Add(2 * time.Hour), Tenant: "acme", User: "u2", Feature: "chat", Model: "gpt-4o", Cost: 1, Usage: u, Estimated: true},
		llm.SpendRecord{Time: d.Add(3 * time.Hour), Tenant: "acme", Feature: "search", Model: "gpt-4o-mini", Cost: 10},
		llm.SpendRecord{Time: d.Add(4 * time.Hour), Tenant: "globex", Feature: "chat", Model: "gpt-4o", Cost: 100},
	)
	checkTotals(t, "by tenant, feature and model", spend(t, s, d, d.AddDate(0, 0, 1)), []llm.SpendTotal{
		{Tenant: "acme", Feature: "chat", Model: "gpt-4o", Cost: 1_234_568, Calls: 2, EstimatedCalls: 1, Usage: u.Add(u)},
		{Tenant: "acme", Feature: "search", Model: "gpt-4o-mini", Cost: 10, Calls: 1},
		{Tenant: "globex", Feature: "chat", Model: "gpt-4o", Cost: 100, Calls: 1},
	})
	byTenant, err := llm.SpendReport(t.Context(), s, d, d.AddDate(0, 0, 1), llm.ByTenant)
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, "by tenant", byTenant, []llm.SpendTotal{
		{Tenant: "acme", Cost: 1_234_578, Calls: 3, EstimatedCalls: 1, Usage: u.Add(u)},
		{Tenant: "globex", Cost: 100, Calls: 1},
	})
	all, err := llm.SpendReport(t.Context(), s, d, d.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, "grand total", all, []llm.SpendTotal{{Cost: 1_234_678, Calls: 4, EstimatedCalls: 1, Usage: u.Add(u)}})
	checkTotals(t, "another day", spend(t, s, d.AddDate(0, 0, 1), d.AddDate(0, 0, 2)), []llm.SpendTotal{})
}

// Records count on their calendar day in their Time's location; a report
// covers the days from the one holding from to the last one starting
// before to.
func testSpendDays(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	loc := time.FixedZone("UTC+10", 10*3600)
	d := day(loc, 5)
	rec := func(at time.Time, cost llm.NanoUSD) llm.SpendRecord {
		return llm.SpendRecord{Time: at, Tenant: "acme", Model: "m", Cost: cost}
	}
	record(t, s,
		rec(d.Add(-time.Nanosecond), 1),              // the day before
		rec(d, 10),                                   // first instant of d
		rec(d.Add(23*time.Hour+59*time.Minute), 100), // last minute of d (13:59 UTC)
		rec(d.AddDate(0, 0, 1), 1000),                // the day after
		rec(d.AddDate(0, 0, 2).Add(time.Hour), 10000),
	)
	total := func(from, to time.Time) llm.NanoUSD {
		t.Helper()
		var n llm.NanoUSD
		for _, r := range spend(t, s, from, to) {
			n += r.Cost
		}
		return n
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     llm.NanoUSD
	}{
		{"one day", d, d.AddDate(0, 0, 1), 110},
		{"from mid-day", d.Add(12 * time.Hour), d.AddDate(0, 0, 1), 110},
		{"to mid-day includes that day", d, d.Add(time.Hour), 110},
		{"three days", d.AddDate(0, 0, -1), d.AddDate(0, 0, 2), 1111},
		{"four days", d.AddDate(0, 0, -1), d.AddDate(0, 0, 2).Add(time.Nanosecond), 11111},
		{"empty range", d, d, 0},
	} {
		if got := total(tc.from, tc.to); got != tc.want {
			t.Errorf("%s: spend = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func testSpendNames(t *testing.T, newStores NewStores) {
	s := one(t, newStores)
	d := day(time.UTC, 1)
	names := []string{"", "a|b", `a\`, `|\|`, "ünï cödé"}
	var want []llm.SpendTotal
	for i, n := range names {
		record(t, s, llm.SpendRecord{Time: d, Tenant: n, Feature: n + "f", Model: "m" + n, Cost: llm.NanoUSD(i + 1)})
		want = append(want, llm.SpendTotal{Tenant: n, Feature: n + "f", Model: "m" + n, Cost: llm.NanoUSD(i + 1), Calls: 1})
	}
	slices.SortFunc(want, func(a, b llm.SpendTotal) int {
		switch {
		case a.Tenant < b.Tenant:
			return -1
		case a.Tenant > b.Tenant:
			return 1
		}
		return 0
	})
	checkTotals(t, "names with separators", spend(t, s, d, d.AddDate(0, 0, 1)), want)
}

func testSpendReplicas(t *testing.T, newStores NewStores) {
	stores := newStores(t, 2)
	d := day(time.UTC, 0)
	var wg sync.WaitGroup
	const per = 25
	for g := range 4 {
		s := stores[g%2]
		wg.Go(func() {
			for range per {
				if err := s.RecordSpend(context.WithoutCancel(t.Context()),
					llm.SpendRecord{Time: d, Tenant: "acme", Model: "m", Cost: 3, Usage: llm.Usage{InputTokens: 2}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkTotals(t, "records of two replicas", spend(t, stores[1], d, d.AddDate(0, 0, 1)), []llm.SpendTotal{
		{Tenant: "acme", Model: "m", Cost: 4 * per * 3, Calls: 4 * per, Usage: llm.Usage{InputTokens: 4 * per * 2}},
	})
}
