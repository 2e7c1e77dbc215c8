package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/llmtest/budgetstoretest"
	"github.com/keel-go/keel/llm/llmtest/limitstoretest"
	"github.com/keel-go/keel/llm/redisstore"
)

// budgetPrefix returns a key prefix unique to the test.
func budgetPrefix(t testing.TB) string {
	return "keel-test:" + limitstoretest.UniqueName(t) + ":"
}

// budgetStores returns n stores on the test Redis, each with its own
// client (its own connection pool, as a replica would have), sharing one
// prefix unique to the test.
func budgetStores(t *testing.T, n int) []*redisstore.BudgetStore {
	prefix := budgetPrefix(t)
	stores := make([]*redisstore.BudgetStore, n)
	for i := range stores {
		stores[i] = redisstore.NewBudgetStore(newClient(t), redisstore.BudgetStoreOptions{Prefix: prefix})
	}
	return stores
}

func TestBudgetStoreContract(t *testing.T) {
	redisAddr(t)
	budgetstoretest.Run(t, func(t *testing.T, n int) []budgetstoretest.Store {
		var out []budgetstoretest.Store
		for _, s := range budgetStores(t, n) {
			out = append(out, s)
		}
		return out
	})
}

// Counters and spend live under the prefix, as documented, and expire.
func TestBudgetStoreKeys(t *testing.T) {
	c := newClient(t)
	prefix := budgetPrefix(t)
	s := redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{Prefix: prefix, SpendRetention: 48 * time.Hour})
	ctx := t.Context()
	expires := time.Now().Add(time.Hour)
	if _, ok, err := s.Reserve(ctx, "t:acme:d:2026-01-01", 5, 10, expires); err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, err := c.HGetAll(ctx, prefix+"t:acme:d:2026-01-01").Result()
	if err != nil || len(got) != 1 || got["held"] != "5" {
		t.Fatalf("counter hash = %v, %v", got, err)
	}
	if ttl := c.PTTL(ctx, prefix+"t:acme:d:2026-01-01").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("counter TTL %v, want about an hour", ttl)
	}

	day := time.Now().UTC().Truncate(24 * time.Hour)
	if err := s.RecordSpend(ctx, llm.SpendRecord{Time: day.Add(time.Hour), Tenant: "a|b", Feature: "chat", Model: "gpt-4o",
		Cost: 42, Usage: llm.Usage{InputTokens: 7, OutputTokens: 3}}); err != nil {
		t.Fatal(err)
	}
	key := prefix + "spend:" + day.Format(time.DateOnly)
	fields, err := c.HGetAll(ctx, key).Result()
	want := map[string]string{`a\|b|chat|gpt-4o|cost`: "42", `a\|b|chat|gpt-4o|calls`: "1", `a\|b|chat|gpt-4o|in`: "7", `a\|b|chat|gpt-4o|out`: "3"}
	if err != nil || len(fields) != len(want) {
		t.Fatalf("spend hash = %v, %v; want %v", fields, err, want)
	}
	for f, v := range want {
		if fields[f] != v {
			t.Fatalf("spend hash = %v, want %v", fields, want)
		}
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 24*time.Hour || ttl > 48*time.Hour {
		t.Fatalf("spend TTL %v, want the 48h retention from the day's start", ttl)
	}
	// A field that is not the store's is ignored by reports.
	c.HSet(ctx, key, "stray", "1")
	totals, err := s.Spend(ctx, day, day.Add(time.Hour))
	if err != nil || len(totals) != 1 || totals[0].Cost != 42 || totals[0].Tenant != "a|b" {
		t.Fatalf("Spend = %+v, %v", totals, err)
	}
}

func TestNewBudgetStoreDefaultPrefix(t *testing.T) {
	c := newClient(t)
	s := redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{})
	key := limitstoretest.UniqueName(t)
	t.Cleanup(func() { c.Del(context.Background(), redisstore.DefaultBudgetPrefix+key) })
	if _, err := s.Settle(t.Context(), key, 0, 1, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(t.Context(), redisstore.DefaultBudgetPrefix+key).Val(); n != 1 {
		t.Fatalf("Exists(%q) = %d, want 1", redisstore.DefaultBudgetPrefix+key, n)
	}
}

var budgetTestPrices = llm.NewPriceTable(map[string]llm.Price{"m": {Input: llm.PerMillion(1), Output: llm.PerMillion(2)}})

// budgetModel is a Budget over store with a per-tenant daily hard limit
// of limit, in front of a provider that takes a millisecond and reports
// in/out tokens; a call reserves 100 prompt tokens and 50 output tokens,
// $0.0002.
func budgetModel(store llm.BudgetStore, limit llm.NanoUSD, in, out int) llm.Model {
	provider := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		time.Sleep(time.Millisecond) // let calls overlap
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: in, OutputTokens: out}}, nil
	}}
	return llm.Chain(provider, llm.Budget(llm.BudgetOptions{
		Limits:       []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: limit.Dollars()}},
		Prices:       budgetTestPrices,
		TokenCounter: func(*llm.Request) int { return 100 },
		Store:        store,
		StoreTimeout: time.Second, // a slow CI machine is not an outage
	}))
}

// budgetAvoidMidnight waits for the next UTC day when the current one
// ends within a minute, so that a test's calls share one daily counter.
func budgetAvoidMidnight(t *testing.T) {
	now := time.Now().UTC()
	if left := now.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now); left < time.Minute {
		t.Logf("waiting %v for midnight UTC", left)
		time.Sleep(left)
	}
}

func budgetReq() *llm.Request {
	return &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}, MaxOutputTokens: 50,
		Principal: llm.Principal{Tenant: "acme"}}
}

// Budgets are exact under concurrency across replicas: goroutines on two
// replicas (two clients, two middlewares) spending against one budget in
// Redis never overspend it when calls cost what they reserved, and by no
// more than the calls in flight when they cost more.
func TestBudgetExactUnderConcurrencyAcrossReplicas(t *testing.T) {
	const call = llm.NanoUSD(200_000)
	const goroutines = 16
	for _, tc := range []struct {
		name    string
		in, out int
		cost    llm.NanoUSD
	}{
		{"cost as reserved", 100, 50, call},
		{"cost over the reservation", 150, 50, 250_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budgetAvoidMidnight(t)
			stores := budgetStores(t, 2)
			limit := 50 * call
			replicas := []llm.Model{budgetModel(stores[0], limit, tc.in, tc.out), budgetModel(stores[1], limit, tc.in, tc.out)}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for g := range goroutines {
				m := replicas[g%2]
				wg.Go(func() {
					for {
						_, err := m.Generate(context.Background(), budgetReq())
						if errors.Is(err, llm.KindBudgetExceeded) {
							return
						}
						if err != nil {
							t.Error(err)
							return
						}
						admitted.Add(1)
					}
				})
			}
			wg.Wait()
			spent := llm.NanoUSD(admitted.Load()) * tc.cost
			key := "t:acme:d:" + time.Now().UTC().Format(time.DateOnly)
			b, err := stores[1].Balance(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if b.Held != 0 || b.Spent != spent {
				t.Fatalf("counter %+v, want spent %v (%d calls) and nothing held", b, spent, admitted.Load())
			}
			if tc.cost == call && admitted.Load() != 50 {
				t.Fatalf("two replicas admitted %d calls, want exactly 50", admitted.Load())
			}
			if over := tc.cost - call; spent > limit+goroutines*over {
				t.Fatalf("spent %v of %v with %d goroutines each at most %v over", spent, limit, goroutines, over)
			}
			totals, err := llm.SpendReport(t.Context(), stores[0], time.Now().Add(-time.Hour), time.Now())
			if err != nil || len(totals) != 1 || totals[0].Cost != spent || totals[0].Calls != admitted.Load() {
				t.Fatalf("spend report %+v, %v; want %d calls costing %v", totals, err, admitted.Load(), spent)
			}
			t.Logf("%d calls admitted, %v spent of %v", admitted.Load(), spent, limit)
		})
	}
}

// A Redis that is down: the store reports KindUnavailable, and Budget
// applies its policy: FailOpen answers under the local counter, FailClosed
// refuses without calling the provider.
func TestBudgetStoreOutage(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	store := redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{})
	ctx := t.Context()
	if _, _, err := store.Reserve(ctx, "k", 1, 2, time.Now()); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Reserve on a closed port: %v", err)
	}
	if _, err := store.Settle(ctx, "k", 1, 2, time.Now()); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Settle on a closed port: %v", err)
	}
	if _, err := store.Balance(ctx, "k"); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Balance on a closed port: %v", err)
	}
	if err := store.RecordSpend(ctx, llm.SpendRecord{Time: time.Now()}); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("RecordSpend on a closed port: %v", err)
	}
	if _, err := store.Spend(ctx, time.Now(), time.Now()); !errors.Is(err, llm.KindUnavailable) {
		t.Fatalf("Spend on a closed port: %v", err)
	}

	for _, tc := range []struct {
		policy   llm.StoreErrorPolicy
		admitted int
	}{
		{llm.FailClosed, 0},
		{llm.FailOpen, 2}, // the local counter's share of the limit
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			fake := llmtest.NewModel(llmtest.Reply("ok").WithUsage(100, 50).Times(3))
			m := llm.Chain(fake, llm.Budget(llm.BudgetOptions{
				Limits:       []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: 0.0004}},
				Prices:       budgetTestPrices,
				TokenCounter: func(*llm.Request) int { return 100 },
				Store:        store,
				OnStoreError: tc.policy,
			}))
			admitted := 0
			for range 3 {
				_, err := m.Generate(t.Context(), budgetReq())
				switch {
				case err == nil:
					admitted++
				case !errors.Is(err, llm.KindBudgetExceeded):
					t.Fatalf("err = %v, want kind budget_exceeded", err)
				case tc.policy == llm.FailClosed && !errors.Is(err, llm.KindUnavailable):
					t.Fatalf("fail-closed refusal %v does not wrap the store's error", err)
				}
			}
			if admitted != tc.admitted || fake.Calls() != tc.admitted {
				t.Fatalf("admitted %d of 3 (provider calls %d), want %d", admitted, fake.Calls(), tc.admitted)
			}
		})
	}
}

// A Redis that accepts connections but never answers: with
// ContextTimeoutEnabled every call ends at Budget's StoreTimeout, measured
// exactly on synctest's fake clock over an in-memory pipe.
func TestBudgetStoreHungServerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, closeHung := hungClient()
		defer closeHung()
		fake := llmtest.NewModel(llmtest.Reply("ok").Times(2))
		m := llm.Chain(fake, llm.Budget(llm.BudgetOptions{
			Limits:       []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: 1}},
			Store:        redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{}),
			StoreTimeout: 50 * time.Millisecond,
		}))
		req := &llm.Request{Model: "gpt-4o-mini", Principal: llm.Principal{Tenant: "acme"}}
		start := time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatalf("fail-open call: %v", err)
		}
		if got := time.Since(start); got != 50*time.Millisecond {
			t.Fatalf("call took %v, want exactly the 50ms store timeout", got)
		}
		// The store is left alone for a second after a failure.
		start = time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("second call took %v, want no wait on the failed store", got)
		}
	})
}

// budgetProxy is a TCP proxy in front of the test Redis that can cut
// every connection and refuse new ones: Redis going down mid-run
// without stopping the server other tests share.
type budgetProxy struct {
	ln    net.Listener
	to    string
	down  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newBudgetProxy(t *testing.T, to string) *budgetProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &budgetProxy{ln: ln, to: to}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

// cut closes every open connection.
func (p *budgetProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Redis goes down mid-run: calls keep working under FailOpen's local
// counter, which starts from the spend Redis last reported, so a tenant
// stays within its budget; once Redis is back, what was spent meanwhile
// is written to it before the next reservation.
func TestBudgetRedisDownMidRun(t *testing.T) {
	budgetAvoidMidnight(t)
	proxy := newBudgetProxy(t, redisAddr(t))
	c := redis.NewClient(&redis.Options{Addr: proxy.ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1,
		DialerRetries: 1, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	store := redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{Prefix: budgetPrefix(t)})
	const call = llm.NanoUSD(200_000)
	var failures atomic.Int64
	fake := llmtest.NewModel(llmtest.Reply("ok").WithUsage(100, 50).Times(100))
	m := llm.Chain(fake, llm.Budget(llm.BudgetOptions{
		Limits:         []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: (6 * call).Dollars()}},
		Prices:         budgetTestPrices,
		TokenCounter:   func(*llm.Request) int { return 100 },
		Store:          store,
		StoreTimeout:   time.Second,
		OnStoreFailure: func(context.Context, error) { failures.Add(1) },
	}))
	key := "t:acme:d:" + time.Now().UTC().Format(time.DateOnly)
	for range 2 {
		if _, err := m.Generate(t.Context(), budgetReq()); err != nil {
			t.Fatal(err)
		}
	}

	proxy.down.Store(true)
	proxy.cut()
	admitted := 0
	for range 10 {
		_, err := m.Generate(t.Context(), budgetReq())
		if errors.Is(err, llm.KindBudgetExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("during the outage: %v", err)
		}
		admitted++
	}
	if admitted != 4 || failures.Load() == 0 {
		t.Fatalf("during the outage %d calls were admitted (want the 4 left) and %d store failures reported", admitted, failures.Load())
	}

	proxy.down.Store(false)
	// After the one-second cooldown the next call writes the outage's
	// spend and is refused: the budget is spent.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := m.Generate(t.Context(), budgetReq())
		if !errors.Is(err, llm.KindBudgetExceeded) {
			t.Fatalf("after the outage: %v, want budget_exceeded", err)
		}
		b, berr := store.Balance(t.Context(), key)
		if berr == nil && b == (llm.BudgetBalance{Spent: 6 * call}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis never received the outage's spend: %+v, %v", b, berr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if fake.Calls() != 6 {
		t.Fatalf("the provider saw %d calls, want 6", fake.Calls())
	}
}

// BenchmarkRedisBudget measures a Budget call on the Redis store: one
// reservation, one settlement per counter and one spend record.
func BenchmarkRedisBudget(b *testing.B) {
	c := newClient(b)
	prefix := "keel-bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	store := redisstore.NewBudgetStore(c, redisstore.BudgetStoreOptions{Prefix: prefix})
	provider := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: 100, OutputTokens: 50}}, nil
	}}
	m := llm.Chain(provider, llm.Budget(llm.BudgetOptions{
		Limits:       []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: 1e9}},
		Prices:       budgetTestPrices,
		Store:        store,
		StoreTimeout: time.Second,
	}))
	req := budgetReq()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
