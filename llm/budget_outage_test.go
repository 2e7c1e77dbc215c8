package llm_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
)

// budgetFlakyStore is a shared store (not a *MemoryBudgetStore, so Budget
// treats it as remote) that can go down: failing at once, or hanging
// until the caller's context ends.
type budgetFlakyStore struct {
	mem      *llm.MemoryBudgetStore
	down     atomic.Bool
	hang     atomic.Bool
	failures atomic.Int64
	calls    atomic.Int64
}

func budgetNewFlakyStore() *budgetFlakyStore {
	return &budgetFlakyStore{mem: llm.NewMemoryBudgetStore()}
}

func (s *budgetFlakyStore) fail(ctx context.Context) error {
	s.calls.Add(1)
	if !s.down.Load() {
		return nil
	}
	s.failures.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return llm.TransportError("fake-store", "", ctx.Err())
	}
	return &llm.Error{Kind: llm.KindUnavailable, Provider: "fake-store", Message: "connection refused"}
}

func (s *budgetFlakyStore) Reserve(ctx context.Context, key string, amount, limit llm.NanoUSD, expires time.Time) (llm.BudgetBalance, bool, error) {
	if err := s.fail(ctx); err != nil {
		return llm.BudgetBalance{}, false, err
	}
	return s.mem.Reserve(ctx, key, amount, limit, expires)
}

func (s *budgetFlakyStore) Settle(ctx context.Context, key string, held, spent llm.NanoUSD, expires time.Time) (llm.BudgetBalance, error) {
	if err := s.fail(ctx); err != nil {
		return llm.BudgetBalance{}, err
	}
	return s.mem.Settle(ctx, key, held, spent, expires)
}

func (s *budgetFlakyStore) Balance(ctx context.Context, key string) (llm.BudgetBalance, error) {
	return s.mem.Balance(ctx, key)
}

func (s *budgetFlakyStore) RecordSpend(ctx context.Context, rec llm.SpendRecord) error {
	if err := s.fail(ctx); err != nil {
		return err
	}
	return s.mem.RecordSpend(ctx, rec)
}

func (s *budgetFlakyStore) Spend(ctx context.Context, from, to time.Time) ([]llm.SpendTotal, error) {
	return s.mem.Spend(ctx, from, to)
}

// FailOpen: while the store hangs, calls go on against a local counter
// seeded with the spend the store last reported; the first call waits
// exactly StoreTimeout, later ones not at all; once the store is back,
// what was spent locally is written to it before the next reservation,
// and the spend records follow.
func TestBudgetStoreOutageFailOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := budgetNewFlakyStore()
		var storeFailures atomic.Int64
		opts := budgetOpts(store, budgetTenantDaily(5*budgetCall, 0))
		opts.OnStoreFailure = func(context.Context, error) { storeFailures.Add(1) }
		fake := budgetAnswer(100, 50)
		m := llm.Chain(fake, llm.Budget(opts))
		req := budgetReq("acme", "")
		const key = "t:acme:d:2000-01-01"

		if got := budgetCountAdmitted(t, m, req, 3); got != 3 {
			t.Fatalf("store up: %d calls", got)
		}
		store.down.Store(true)
		store.hang.Store(true)
		start := time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatalf("first call in the outage: %v", err)
		}
		if got := time.Since(start); got != 50*time.Millisecond {
			t.Fatalf("first call in the outage took %v, want the 50ms store timeout", got)
		}
		start = time.Now()
		// The local counter allows the 2 calls of headroom the store
		// last reported, and no more.
		if got := budgetCountAdmitted(t, m, req, 10); got != 1 {
			t.Fatalf("then %d more calls, want 1", got)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("calls during the cooldown waited %v for the store", got)
		}
		if storeFailures.Load() != 1 || store.failures.Load() != 1 {
			t.Fatalf("OnStoreFailure heard %d failures, the store saw %d calls fail; want 1 and 1", storeFailures.Load(), store.failures.Load())
		}
		if b := budgetBalance(t, store, key); b != (llm.BudgetBalance{Spent: 3 * budgetCall}) {
			t.Fatalf("store during the outage: %+v", b)
		}

		store.down.Store(false)
		time.Sleep(time.Second) // the cooldown
		if _, err := m.Generate(t.Context(), req); !errors.Is(err, llm.KindBudgetExceeded) {
			t.Fatalf("after the outage: %v, want the budget exhausted by the calls made during it", err)
		}
		if b := budgetBalance(t, store, key); b != (llm.BudgetBalance{Spent: 5 * budgetCall}) {
			t.Fatalf("store after the outage: %+v, want the 5 calls and nothing held", b)
		}
		if fake.Calls() != 5 {
			t.Fatalf("the provider saw %d calls, want 5", fake.Calls())
		}
		// A charge (here, an unlimited tenant's) flushes the spend records
		// kept during the outage in the background.
		if _, err := m.Generate(t.Context(), budgetReq("globex", "")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		totals := budgetReport(t, store, llm.ByTenant)
		if len(totals) != 2 || totals[0].Calls != 5 || totals[0].Cost != 5*budgetCall {
			t.Fatalf("spend after the outage: %+v, want acme's 5 calls", totals)
		}
	})
}

// LocalShare splits the headroom between replicas during an outage.
func TestBudgetStoreOutageLocalShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := budgetNewFlakyStore()
		opts := budgetOpts(store, budgetTenantDaily(10*budgetCall, 0))
		opts.LocalShare = 0.25
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
		if got := budgetCountAdmitted(t, m, budgetReq("acme", ""), 2); got != 2 {
			t.Fatal(got)
		}
		store.down.Store(true)
		if got := budgetCountAdmitted(t, m, budgetReq("acme", ""), 10); got != 2 {
			t.Fatalf("outage: %d calls, want 2 (a quarter of the 8 left)", got)
		}
		if got := budgetCountAdmitted(t, m, budgetReq("globex", ""), 10); got != 2 {
			t.Fatalf("outage, a tenant the store never reported: %d calls, want 2 (a quarter of 10)", got)
		}
	})
}

// FailClosed refuses calls while the store fails, without calling the
// provider, with the store's error wrapped.
func TestBudgetStoreOutageFailClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := budgetNewFlakyStore()
		opts := budgetOpts(store, budgetTenantDaily(5*budgetCall, 0))
		opts.OnStoreError = llm.FailClosed
		fake := budgetAnswer(100, 50)
		m := llm.Chain(fake, llm.Budget(opts))
		store.down.Store(true)
		_, err := m.Generate(t.Context(), budgetReq("acme", ""))
		if !errors.Is(err, llm.KindBudgetExceeded) || !errors.Is(err, llm.KindUnavailable) || llm.RetryAfterOf(err) != time.Second {
			t.Fatalf("err = %v, want budget_exceeded wrapping the store's unavailable, retry after 1s", err)
		}
		calls := store.calls.Load()
		if _, err := m.Generate(t.Context(), budgetReq("acme", "")); !errors.Is(err, llm.KindBudgetExceeded) {
			t.Fatal(err)
		}
		if store.calls.Load() != calls || fake.Calls() != 0 {
			t.Fatalf("during the cooldown the store got %d more calls and the provider %d; want none", store.calls.Load()-calls, fake.Calls())
		}
		// Without a limit that applies, there is nothing to check: the
		// call goes through and its spend is kept for later.
		opts.Limits = nil
		m = llm.Chain(fake, llm.Budget(opts))
		if _, err := m.Generate(t.Context(), budgetReq("acme", "")); err != nil {
			t.Fatal(err)
		}
		store.down.Store(false)
		time.Sleep(time.Second)
		if _, err := m.Generate(t.Context(), budgetReq("acme", "")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if totals := budgetReport(t, store); len(totals) != 1 || totals[0].Calls != 2 {
			t.Fatalf("spend %+v, want both calls", totals)
		}
	})
}

// A store that fails after the reservation: the hold stays in the store
// until it answers again, and is then released with the charge, before
// the next reservation.
func TestBudgetStoreFailsAfterReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := budgetNewFlakyStore()
		var breakStore atomic.Bool
		breakStore.Store(true)
		inner := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
			if breakStore.Load() {
				store.down.Store(true) // the store goes down while the provider answers
			}
			return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: 100, OutputTokens: 10}}, nil
		}}
		m := llm.Chain(inner, llm.Budget(budgetOpts(store, budgetTenantDaily(5*budgetCall, 0))))
		resp, err := m.Generate(t.Context(), budgetReq("acme", ""))
		if err != nil || resp.Cost != llm.NanoUSD(120_000).Dollars() {
			t.Fatalf("%+v, %v", resp, err)
		}
		const key = "t:acme:d:2000-01-01"
		if b := budgetBalance(t, store, key); b != (llm.BudgetBalance{Held: budgetCall}) {
			t.Fatalf("during the outage: %+v, want the reservation still held", b)
		}
		breakStore.Store(false)
		store.down.Store(false)
		time.Sleep(time.Second)
		if _, err := m.Generate(t.Context(), budgetReq("acme", "")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if b := budgetBalance(t, store, key); b != (llm.BudgetBalance{Spent: 240_000}) {
			t.Fatalf("after the outage: %+v, want both calls spent and nothing held", b)
		}
		if totals := budgetReport(t, store); len(totals) != 1 || totals[0].Calls != 2 || totals[0].Cost != 240_000 {
			t.Fatalf("spend %+v", totals)
		}
	})
}
