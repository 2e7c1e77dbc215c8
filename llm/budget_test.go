package llm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// The budget tests price model "m" at $1 per million input tokens (1,000
// nano-dollars a token) and $2 per million output tokens, count 100
// prompt tokens per request and allow 50 output tokens, so a call reserves
// exactly 200,000 nano-dollars ($0.0002), and a call reporting that usage
// costs the same.
var budgetTestPrices = llm.NewPriceTable(map[string]llm.Price{
	"m":  {Input: llm.PerMillion(1), Output: llm.PerMillion(2)},
	"m2": {Input: llm.PerMillion(10), Output: llm.PerMillion(20)},
	"e":  {Input: llm.PerMillion(0.5), Mode: "embedding"},
})

const budgetCall llm.NanoUSD = 200_000 // one full call of "m"

func budgetTokens(*llm.Request) int { return 100 }

func budgetReq(tenant, feature string) *llm.Request {
	return &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}, MaxOutputTokens: 50,
		Principal: llm.Principal{Tenant: tenant, User: "u-" + tenant}, Feature: feature}
}

// budgetAnswer answers every call with usage in/out.
func budgetAnswer(in, out int) *llmtest.Model {
	return llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: in, OutputTokens: out}}, nil
	})
}

func budgetOpts(store llm.BudgetStore, limits ...llm.BudgetLimit) llm.BudgetOptions {
	return llm.BudgetOptions{Limits: limits, Prices: budgetTestPrices, TokenCounter: budgetTokens, Store: store}
}

func budgetTenantDaily(hard, soft llm.NanoUSD) llm.BudgetLimit {
	return llm.BudgetLimit{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: hard.Dollars(), Soft: soft.Dollars()}
}

// budgetCountAdmitted calls m with req until it is refused, up to limit calls,
// and returns how many calls were answered.
func budgetCountAdmitted(t *testing.T, m llm.Model, req *llm.Request, limit int) int {
	t.Helper()
	for i := range limit {
		if _, err := m.Generate(t.Context(), req); err != nil {
			if !errors.Is(err, llm.KindBudgetExceeded) {
				t.Fatalf("call %d: %v", i+1, err)
			}
			return i
		}
	}
	return limit
}

func budgetBalance(t *testing.T, s llm.BudgetStore, key string) llm.BudgetBalance {
	t.Helper()
	b, err := s.Balance(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func budgetReport(t *testing.T, s llm.SpendStore, by ...llm.SpendDimension) []llm.SpendTotal {
	t.Helper()
	now := time.Now().UTC()
	got, err := llm.SpendReport(t.Context(), s, now.AddDate(0, 0, -40), now.AddDate(0, 0, 1), by...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBudgetPricesEveryResponse(t *testing.T) {
	usage := llm.Usage{InputTokens: 10_000, CachedInputTokens: 8_000, OutputTokens: 600, ReasoningTokens: 400}
	want, _ := llm.DefaultPrices().Cost("gpt-4o-mini", usage)
	fake := llmtest.NewModel(
		llmtest.Response(&llm.Response{Message: llm.AssistantText("Your parcel is on its way."), Usage: usage, Model: "gpt-4o-mini-2024-07-18"}).Times(2))
	m := llm.Chain(fake, llm.Budget(llm.BudgetOptions{})) // default prices, no limits
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{llm.UserText("where is my parcel?")}}

	resp, err := m.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Cost != want || resp.CostEstimated {
		t.Fatalf("Generate: Cost %v (estimated %v), want %v", resp.Cost, resp.CostEstimated, want)
	}

	var usageEvents int
	var acc llm.Accumulator
	for ev, err := range m.Stream(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == llm.EventUsage {
			usageEvents++
			if ev.Cost != want || ev.CostEstimated {
				t.Fatalf("usage event: Cost %v (estimated %v), want %v", ev.Cost, ev.CostEstimated, want)
			}
		}
		acc.Add(ev)
	}
	if usageEvents != 1 || acc.Response().Cost != want {
		t.Fatalf("stream: %d usage events, collected Cost %v", usageEvents, acc.Response().Cost)
	}
}

func TestBudgetHardLimitRefusesBeforeTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := budgetAnswer(100, 50)
		store := llm.NewMemoryBudgetStore()
		m := llm.Chain(fake, llm.Budget(budgetOpts(store, budgetTenantDaily(3*budgetCall, 0))))
		time.Sleep(time.Hour) // 01:00 UTC on the bubble's first day

		if got := budgetCountAdmitted(t, m, budgetReq("acme", ""), 10); got != 3 {
			t.Fatalf("admitted %d calls, want 3", got)
		}
		if fake.Calls() != 3 {
			t.Fatalf("the provider saw %d calls, want 3: a refused call must not be sent", fake.Calls())
		}
		_, err := m.Generate(t.Context(), budgetReq("acme", ""))
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindBudgetExceeded || llm.Retryable(err) {
			t.Fatalf("err = %v, want a non-retryable budget_exceeded", err)
		}
		if e.RetryAfter != 23*time.Hour {
			t.Errorf("RetryAfter = %v, want 23h (until midnight UTC)", e.RetryAfter)
		}
		for _, s := range []string{`daily budget of tenant "acme"`, "limit $0.0006", "spent $0.0006", "may cost up to $0.0002", "resets at 2000-01-02T00:00:00Z"} {
			if !strings.Contains(e.Message, s) {
				t.Errorf("message %q does not say %q", e.Message, s)
			}
		}
		// A refused stream yields the error alone, and sends nothing.
		var pairs int
		for _, err := range m.Stream(t.Context(), budgetReq("acme", "")) {
			pairs++
			if !errors.Is(err, llm.KindBudgetExceeded) {
				t.Fatalf("stream: %v", err)
			}
		}
		if pairs != 1 || fake.Calls() != 3 {
			t.Fatalf("refused stream: %d pairs, %d provider calls", pairs, fake.Calls())
		}
		// Other tenants have their own counter.
		if got := budgetCountAdmitted(t, m, budgetReq("globex", ""), 10); got != 3 {
			t.Fatalf("globex admitted %d, want 3", got)
		}
		if b := budgetBalance(t, store, "t:acme:d:2000-01-01"); b != (llm.BudgetBalance{Spent: 3 * budgetCall}) {
			t.Fatalf("acme's counter: %+v", b)
		}
	})
}

func TestBudgetSoftLimitCallsBackOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var alerts []llm.BudgetAlert
		opts := budgetOpts(nil, llm.BudgetLimit{Name: "warn", Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily,
			Soft: (2*budgetCall + 1).Dollars()})
		opts.OnSoftLimit = func(_ context.Context, a llm.BudgetAlert) {
			mu.Lock()
			alerts = append(alerts, a)
			mu.Unlock()
		}
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
		run := func(calls int) {
			var wg sync.WaitGroup
			for range calls {
				wg.Go(func() {
					if _, err := m.Generate(context.Background(), budgetReq("acme", "chat")); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		run(20) // concurrently, crossing once
		mu.Lock()
		if len(alerts) != 1 {
			t.Fatalf("%d alerts, want 1", len(alerts))
		}
		a := alerts[0]
		mu.Unlock()
		day := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		if a.Limit.Name != "warn" || a.Tenant != "acme" || a.Feature != "" || a.Spent != 3*budgetCall ||
			!a.PeriodStart.Equal(day) || !a.PeriodEnd.Equal(day.AddDate(0, 0, 1)) {
			t.Fatalf("alert %+v", a)
		}
		run(5)
		time.Sleep(24 * time.Hour) // the next day crosses again
		run(3)
		mu.Lock()
		defer mu.Unlock()
		if len(alerts) != 2 || !alerts[1].PeriodStart.Equal(day.AddDate(0, 0, 1)) {
			t.Fatalf("alerts after the next day: %+v", alerts)
		}
	})
}

func TestBudgetPeriodRollover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loc := time.FixedZone("UTC+2", 2*3600)
		opts := budgetOpts(nil,
			budgetTenantDaily(2*budgetCall, 0),
			llm.BudgetLimit{Scope: llm.BudgetPerTenant, Period: llm.BudgetMonthly, Hard: (5 * budgetCall).Dollars()})
		opts.Location = loc
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
		req := budgetReq("acme", "")
		retryAfter := func() time.Duration {
			t.Helper()
			_, err := m.Generate(t.Context(), req)
			if !errors.Is(err, llm.KindBudgetExceeded) {
				t.Fatalf("err = %v, want budget_exceeded", err)
			}
			return llm.RetryAfterOf(err)
		}
		// The bubble starts at 2000-01-01 00:00 UTC, 02:00 in UTC+2.
		if got := budgetCountAdmitted(t, m, req, 10); got != 2 {
			t.Fatalf("day 1: %d calls, want 2", got)
		}
		if got := retryAfter(); got != 22*time.Hour {
			t.Fatalf("day 1: retry after %v, want 22h (midnight in UTC+2)", got)
		}
		time.Sleep(22*time.Hour - time.Nanosecond)
		if got := budgetCountAdmitted(t, m, req, 10); got != 0 {
			t.Fatalf("a nanosecond before midnight: %d calls, want 0", got)
		}
		time.Sleep(time.Nanosecond)
		if got := budgetCountAdmitted(t, m, req, 10); got != 2 {
			t.Fatalf("day 2: %d calls, want 2", got)
		}
		time.Sleep(24 * time.Hour)
		if got := budgetCountAdmitted(t, m, req, 10); got != 1 {
			t.Fatalf("day 3: %d calls, want 1 (the monthly limit)", got)
		}
		_, err := m.Generate(t.Context(), req)
		if !strings.Contains(err.Error(), "monthly budget") {
			t.Fatalf("day 3: %v, want the monthly budget", err)
		}
		feb := time.Date(2000, 2, 1, 0, 0, 0, 0, loc)
		if got := llm.RetryAfterOf(err); got != time.Until(feb) {
			t.Fatalf("monthly retry after %v, want %v", got, time.Until(feb))
		}
		time.Sleep(time.Until(feb))
		if got := budgetCountAdmitted(t, m, req, 10); got != 2 {
			t.Fatalf("February: %d calls, want 2", got)
		}
	})
}

// budgetRace runs goroutines that call models (spread over them, as over
// replicas) with req until each is refused, and returns how many calls
// were admitted.
func budgetRace(t testing.TB, models []llm.Model, req *llm.Request, goroutines int) int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		m := models[g%len(models)]
		wg.Go(func() {
			for {
				_, err := m.Generate(context.Background(), req)
				if errors.Is(err, llm.KindBudgetExceeded) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// budgetSlowAnswer answers with usage in/out after a millisecond, so that calls
// overlap, and counts the calls in flight. Inside a synctest bubble the
// millisecond passes only once every caller is blocked: every caller that
// was admitted is in flight at once.
func budgetSlowAnswer(in, out int, inFlight, peak *atomic.Int64) llm.Model {
	return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: in, OutputTokens: out}}, nil
	}}
}

// Budgets are exact under concurrency: with reservations, goroutines
// spending against one budget never overspend it at all when calls cost
// what was reserved, and by no more than the calls in flight when they
// cost more.
func TestBudgetExactUnderConcurrency(t *testing.T) {
	const limit = 100 * budgetCall
	for _, tc := range []struct {
		name     string
		in, out  int // usage each call reports
		tokens   int // prompt tokens counted for the reservation
		wantCost llm.NanoUSD
	}{
		{"cost as reserved", 100, 50, 100, budgetCall},
		{"cost under the reservation", 100, 10, 100, 120_000},
		{"cost over the reservation", 150, 50, 100, 250_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := llm.NewMemoryBudgetStore()
				var inFlight, peak atomic.Int64
				opts := budgetOpts(store, budgetTenantDaily(limit, 0))
				opts.TokenCounter = func(*llm.Request) int { return tc.tokens }
				m := llm.Chain(budgetSlowAnswer(tc.in, tc.out, &inFlight, &peak), llm.Budget(opts))
				const goroutines = 32
				admitted := budgetRace(t, []llm.Model{m}, budgetReq("acme", ""), goroutines)
				spent := llm.NanoUSD(admitted) * tc.wantCost
				totals := budgetReport(t, store, llm.ByTenant)
				if len(totals) != 1 || totals[0].Cost != spent || totals[0].Calls != admitted {
					t.Fatalf("spend report %+v, want %d calls costing %v", totals, admitted, spent)
				}
				reserved := llm.NanoUSD(tc.tokens*1000 + 50*2000)
				excess := max(tc.wantCost-reserved, 0)
				switch {
				case excess == 0 && spent > limit:
					t.Fatalf("spent %v of a %v budget", spent, limit)
				case excess > 0 && spent > limit+llm.NanoUSD(peak.Load())*excess:
					t.Fatalf("spent %v of a %v budget with at most %d calls in flight, each %v over its reservation", spent, limit, peak.Load(), excess)
				case spent <= limit-reserved-llm.NanoUSD(goroutines)*reserved:
					t.Fatalf("spent only %v of a %v budget", spent, limit)
				}
				if tc.wantCost == reserved && admitted != int64(limit/budgetCall) {
					t.Fatalf("admitted %d calls, want exactly %d", admitted, limit/budgetCall)
				}
				t.Logf("%d calls admitted, spent %v of %v, at most %d in flight", admitted, spent, limit, peak.Load())
			})
		})
	}
}

func TestBudgetChargesFailedAttempts(t *testing.T) {
	noJitter := llm.RetryOptions{Rand: func() float64 { return 0 }}
	const estimate = 100_000 // 100 prompt tokens at $1 per million
	for _, tc := range []struct {
		name      string
		steps     []llmtest.Step
		mw        []llm.Middleware
		wantErr   llm.Kind
		wantCost  llm.NanoUSD
		estimated bool
	}{
		{"answer", []llmtest.Step{llmtest.Reply("ok").WithUsage(100, 50)}, nil, 0, budgetCall, false},
		{"answer after two failed attempts",
			[]llmtest.Step{llmtest.ServerError(503).Times(2), llmtest.Reply("ok").WithUsage(100, 50)},
			[]llm.Middleware{llm.Retry(noJitter)}, 0, budgetCall + 2*estimate, true},
		{"three failed attempts", []llmtest.Step{llmtest.ServerError(503).Times(3)},
			[]llm.Middleware{llm.Retry(noJitter)}, llm.KindUnavailable, 3 * estimate, true},
		{"one failure, no retry", []llmtest.Step{llmtest.Timeout(time.Second)}, nil, llm.KindTimeout, estimate, true},
		{"a 429 is not billed", []llmtest.Step{llmtest.RateLimited()}, nil, llm.KindRateLimited, 0, false},
		{"two failures then a 429", []llmtest.Step{llmtest.ServerError(502).Times(2), llmtest.RateLimited()},
			[]llm.Middleware{llm.Retry(noJitter)}, llm.KindRateLimited, 2 * estimate, true},
		{"an invalid request is not billed", []llmtest.Step{llmtest.HTTPFailure(400, "", "bad")}, nil, llm.KindInvalidRequest, 0, false},
		{"a local refusal sends nothing", nil, []llm.Middleware{llm.Check(func(context.Context, *llm.Request) error {
			return &llm.Error{Kind: llm.KindPolicyDenied}
		})}, llm.KindPolicyDenied, 0, false},
		{"a hedged loser", []llmtest.Step{llmtest.Respond(func(context.Context, *llm.Request) (*llm.Response, error) {
			return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: 100, OutputTokens: 50}, Attempts: 2}, nil
		})}, nil, 0, budgetCall + estimate, true},
		{"an answer without usage", []llmtest.Step{llmtest.Response(&llm.Response{Message: llm.AssistantText("abcd")})},
			nil, 0, estimate + 4*2000, true},
		{"a cache hit", []llmtest.Step{llmtest.Response(&llm.Response{Message: llm.AssistantText("ok"), CacheHit: true})},
			nil, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := llm.NewMemoryBudgetStore()
				fake := llmtest.NewModel(tc.steps...)
				mws := append([]llm.Middleware{llm.Budget(budgetOpts(store, budgetTenantDaily(llm.USD(1), 0)))}, tc.mw...)
				m := llm.Chain(fake, mws...)
				resp, err := m.Generate(t.Context(), budgetReq("acme", "chat"))
				switch {
				case tc.wantErr == 0 && err != nil:
					t.Fatal(err)
				case tc.wantErr != 0 && !errors.Is(err, tc.wantErr):
					t.Fatalf("err = %v, want kind %v", err, tc.wantErr)
				case err == nil && (resp.Cost != tc.wantCost.Dollars() || resp.CostEstimated != tc.estimated):
					t.Fatalf("Cost %v (estimated %v), want %v (%v)", resp.Cost, resp.CostEstimated, tc.wantCost.Dollars(), tc.estimated)
				}
				if b := budgetBalance(t, store, "t:acme:d:2000-01-01"); b != (llm.BudgetBalance{Spent: tc.wantCost}) {
					t.Fatalf("counter %+v, want spent %v and nothing held", b, tc.wantCost)
				}
				totals := budgetReport(t, store)
				switch {
				case tc.wantCost == 0 && err != nil:
					if len(totals) != 0 {
						t.Fatalf("a call that cost nothing was recorded: %+v", totals)
					}
				case len(totals) != 1 || totals[0].Cost != tc.wantCost || totals[0].Calls != 1 ||
					(totals[0].EstimatedCalls == 1) != tc.estimated:
					t.Fatalf("spend %+v, want one call costing %v (estimated %v)", totals, tc.wantCost, tc.estimated)
				}
			})
		})
	}
}

func TestBudgetChargesStreams(t *testing.T) {
	const estimate = 100_000
	for _, tc := range []struct {
		name      string
		step      llmtest.Step
		stopAfter int // the caller breaks after this many text events; 0 never
		wantErr   llm.Kind
		// cost returns the expected cost from the bytes of text received.
		cost      func(textBytes int) llm.NanoUSD
		estimated bool
	}{
		{"complete", llmtest.Reply("hello world").WithUsage(100, 50), 0, 0,
			func(int) llm.NanoUSD { return budgetCall }, false},
		{"cut off before usage", llmtest.Reply("hello world").WithUsage(100, 50).CutOffAfter(3), 0, llm.KindUnavailable,
			func(n int) llm.NanoUSD { return estimate + llm.NanoUSD(n)*2000 }, true},
		{"abandoned by the caller", llmtest.Reply("hello world, and more").WithUsage(100, 50), 1, 0,
			func(n int) llm.NanoUSD { return estimate + llm.NanoUSD(n)*2000 }, true},
		{"failed before the first event", llmtest.ServerError(503), 0, llm.KindUnavailable,
			func(int) llm.NanoUSD { return estimate }, true},
		{"no usage event", llmtest.Events(
			llm.Event{Kind: llm.EventStart, Model: "m"},
			llm.Event{Kind: llm.EventTextDelta, Text: "abc"},
			llm.Event{Kind: llm.EventFinish, FinishReason: llm.FinishStop}), 0, 0,
			func(n int) llm.NanoUSD { return estimate + llm.NanoUSD(n)*2000 }, true},
		{"usage, then cut off", llmtest.Events(
			llm.Event{Kind: llm.EventTextDelta, Text: "abc"},
			llm.Event{Kind: llm.EventUsage, Usage: llm.Usage{InputTokens: 100, OutputTokens: 50}}).CutOffAfter(2), 0, llm.KindUnavailable,
			func(int) llm.NanoUSD { return budgetCall }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := llm.NewMemoryBudgetStore()
				m := llm.Chain(llmtest.NewModel(tc.step), llm.Budget(budgetOpts(store, budgetTenantDaily(llm.USD(1), 0))))
				textBytes, texts := 0, 0
				var streamErr error
				var usageCost float64
				for ev, err := range m.Stream(t.Context(), budgetReq("acme", "")) {
					if err != nil {
						streamErr = err
						break
					}
					if ev.Kind == llm.EventTextDelta {
						textBytes += len(ev.Text)
						texts++
					}
					if ev.Kind == llm.EventUsage {
						usageCost = ev.Cost
					}
					if tc.stopAfter > 0 && texts == tc.stopAfter {
						break
					}
				}
				if (tc.wantErr == 0) != (streamErr == nil) || tc.wantErr != 0 && !errors.Is(streamErr, tc.wantErr) {
					t.Fatalf("stream error %v, want kind %v", streamErr, tc.wantErr)
				}
				want := tc.cost(textBytes)
				if b := budgetBalance(t, store, "t:acme:d:2000-01-01"); b != (llm.BudgetBalance{Spent: want}) {
					t.Fatalf("counter %+v after %d text bytes, want spent %v", b, textBytes, want)
				}
				totals := budgetReport(t, store)
				if len(totals) != 1 || totals[0].Cost != want || (totals[0].EstimatedCalls == 1) != tc.estimated {
					t.Fatalf("spend %+v, want %v (estimated %v)", totals, want, tc.estimated)
				}
				if usageCost != 0 && usageCost != want.Dollars() {
					t.Fatalf("usage event cost %v, want %v", usageCost, want.Dollars())
				}
			})
		})
	}
}

func TestBudgetUnpricedModels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var unpriced []string
		store := llm.NewMemoryBudgetStore()
		opts := budgetOpts(store, budgetTenantDaily(budgetCall, 0))
		opts.OnUnpricedModel = func(_ context.Context, model string) { unpriced = append(unpriced, model) }
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
		req := budgetReq("acme", "")
		req.Model = "mystery"
		resp, err := m.Generate(t.Context(), req)
		if err != nil || resp.Cost != 0 || resp.CostEstimated {
			t.Fatalf("unpriced: %+v, %v; want cost 0, not estimated", resp, err)
		}
		if len(unpriced) != 1 || unpriced[0] != "mystery" {
			t.Fatalf("OnUnpricedModel heard %v", unpriced)
		}
		// Priced calls exhaust the budget; an unpriced call, reserving one
		// nano-dollar, is refused too.
		if _, err := m.Generate(t.Context(), budgetReq("acme", "")); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Generate(t.Context(), req); !errors.Is(err, llm.KindBudgetExceeded) {
			t.Fatalf("unpriced call on an exhausted budget: %v", err)
		}

		// With a DefaultPrice, unknown models are priced at it, estimated;
		// an alias answered by a known model is priced as that model.
		opts = budgetOpts(llm.NewMemoryBudgetStore())
		opts.DefaultPrice = llm.Price{Input: llm.PerMillion(3), Output: llm.PerMillion(3)}
		fake := llmtest.NewModel(
			llmtest.Response(&llm.Response{Usage: llm.Usage{InputTokens: 100, OutputTokens: 50}}),
			llmtest.Response(&llm.Response{Usage: llm.Usage{InputTokens: 100, OutputTokens: 50}, Model: "m"}))
		m = llm.Chain(fake, llm.Budget(opts))
		resp, err = m.Generate(t.Context(), req)
		if err != nil || resp.Cost != llm.NanoUSD(150*3000).Dollars() || !resp.CostEstimated {
			t.Fatalf("default price: %+v, %v", resp, err)
		}
		resp, err = m.Generate(t.Context(), req)
		if err != nil || resp.Cost != budgetCall.Dollars() || resp.CostEstimated {
			t.Fatalf("alias answered by m: cost %v estimated %v, %v", resp.Cost, resp.CostEstimated, err)
		}
	})
}

func TestBudgetRequiresATenant(t *testing.T) {
	fake := budgetAnswer(100, 50)
	for _, tc := range []struct {
		name  string
		limit llm.BudgetLimit
		ok    bool
	}{
		{"per tenant", budgetTenantDaily(llm.USD(1), 0), false},
		{"per tenant and feature", llm.BudgetLimit{Scope: llm.BudgetPerTenantFeature, Period: llm.BudgetDaily, Hard: 1}, false},
		{"per feature", llm.BudgetLimit{Scope: llm.BudgetPerFeature, Period: llm.BudgetDaily, Hard: 1}, true},
		{"one named tenant", llm.BudgetLimit{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Tenant: "acme", Hard: 1}, true},
	} {
		m := llm.Chain(fake, llm.Budget(budgetOpts(nil, tc.limit)))
		calls := fake.Calls()
		_, err := m.Generate(t.Context(), budgetReq("", "chat"))
		if tc.ok != (err == nil) || !tc.ok && (!errors.Is(err, llm.KindInvalidRequest) || fake.Calls() != calls) {
			t.Errorf("%s: a request without a tenant got %v (provider calls %d → %d)", tc.name, err, calls, fake.Calls())
		}
	}
}

// For each scope and period the most specific limit applies; limits of
// different scopes all apply.
func TestBudgetLimitResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := llm.NewMemoryBudgetStore()
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(budgetOpts(store,
			budgetTenantDaily(2*budgetCall, 0), // every tenant: 2 calls a day...
			llm.BudgetLimit{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Tenant: "big", Hard: (20 * budgetCall).Dollars()}, // ...but big: 20
			llm.BudgetLimit{Scope: llm.BudgetPerFeature, Period: llm.BudgetDaily, Feature: "search", Hard: (5 * budgetCall).Dollars()},
			llm.BudgetLimit{Scope: llm.BudgetPerTenantFeature, Period: llm.BudgetDaily, Hard: (9 * budgetCall).Dollars()},
			llm.BudgetLimit{Scope: llm.BudgetPerTenantFeature, Period: llm.BudgetDaily, Tenant: "big", Hard: (3 * budgetCall).Dollars()},
			llm.BudgetLimit{Scope: llm.BudgetPerTenantFeature, Period: llm.BudgetDaily, Tenant: "big", Feature: "vip", Hard: (7 * budgetCall).Dollars()},
		)))
		for _, tc := range []struct {
			tenant, feature string
			want            int
		}{
			{"acme", "chat", 2},   // the tenant default
			{"acme", "search", 0}, // acme's 2 are spent
			{"big", "chat", 3},    // big's per-feature share
			{"big", "search", 3},  // big's per-feature share again
			{"big", "vip", 7},     // the tenant+feature override
			{"globex", "search", 2},
			{"initech", "search", 0}, // search's 5 are spent (3 by big, 2 by globex)
			{"initech", "chat", 2},
		} {
			if got := budgetCountAdmitted(t, m, budgetReq(tc.tenant, tc.feature), 30); got != tc.want {
				t.Errorf("%s/%s: %d calls, want %d", tc.tenant, tc.feature, got, tc.want)
			}
		}
		if b := budgetBalance(t, store, "tf:big|vip:d:2000-01-01"); b.Spent != 7*budgetCall {
			t.Errorf("big/vip counter %+v", b)
		}
		if b := budgetBalance(t, store, "f:search:d:2000-01-01"); b.Spent != 5*budgetCall {
			t.Errorf("search counter %+v", b)
		}
	})
}

func TestBudgetSafeModeTightensHardLimits(t *testing.T) {
	synctest.Test(t, testBudgetSafeMode)
}

func testBudgetSafeMode(t *testing.T) {
	safe := llm.NewSafeMode()
	opts := budgetOpts(nil, budgetTenantDaily(4*budgetCall, 0))
	opts.SafeMode = safe
	m := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
	safe.Enable("cost incident")
	if got := budgetCountAdmitted(t, m, budgetReq("acme", ""), 10); got != 2 {
		t.Fatalf("in safe mode: %d calls, want 2 (half the limit)", got)
	}
	safe.Disable()
	if got := budgetCountAdmitted(t, m, budgetReq("acme", ""), 10); got != 2 {
		t.Fatalf("after safe mode: %d more calls, want 2", got)
	}
}

func TestBudgetSpendReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := llm.NewMemoryBudgetStore()
		m := llm.Chain(budgetAnswer(100, 50), llm.Budget(budgetOpts(store)))
		call := func(tenant, feature, model string, n int) {
			for range n {
				req := budgetReq(tenant, feature)
				req.Model = model
				if _, err := m.Generate(t.Context(), req); err != nil {
					t.Fatal(err)
				}
			}
		}
		call("acme", "chat", "m", 3)
		call("acme", "search", "m2", 1)
		call("globex", "chat", "m", 2)
		time.Sleep(49 * time.Hour)
		call("acme", "chat", "m", 1) // at 01:00 on January 3rd: reported up to now

		const m2Call = 10 * budgetCall
		usage := func(calls int) llm.Usage { return llm.Usage{InputTokens: 100 * calls, OutputTokens: 50 * calls} }
		for _, tc := range []struct {
			by   []llm.SpendDimension
			want []llm.SpendTotal
		}{
			{[]llm.SpendDimension{llm.ByTenant}, []llm.SpendTotal{
				{Tenant: "acme", Cost: 4*budgetCall + m2Call, Calls: 5, Usage: usage(5)},
				{Tenant: "globex", Cost: 2 * budgetCall, Calls: 2, Usage: usage(2)},
			}},
			{[]llm.SpendDimension{llm.ByFeature}, []llm.SpendTotal{
				{Feature: "chat", Cost: 6 * budgetCall, Calls: 6, Usage: usage(6)},
				{Feature: "search", Cost: m2Call, Calls: 1, Usage: usage(1)},
			}},
			{[]llm.SpendDimension{llm.ByModel, llm.ByTenant}, []llm.SpendTotal{
				{Tenant: "acme", Model: "m", Cost: 4 * budgetCall, Calls: 4, Usage: usage(4)},
				{Tenant: "acme", Model: "m2", Cost: m2Call, Calls: 1, Usage: usage(1)},
				{Tenant: "globex", Model: "m", Cost: 2 * budgetCall, Calls: 2, Usage: usage(2)},
			}},
		} {
			got, err := llm.SpendReport(t.Context(), store, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now(), tc.by...)
			if err != nil {
				t.Fatal(err)
			}
			if !budgetEqualTotals(got, tc.want) {
				t.Errorf("by %v:\n got %+v\nwant %+v", tc.by, got, tc.want)
			}
		}
		// The first day alone.
		got, _ := llm.SpendReport(t.Context(), store, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC))
		if len(got) != 1 || got[0].Cost != 5*budgetCall+m2Call || got[0].Calls != 6 {
			t.Errorf("first day: %+v", got)
		}
	})
}

func budgetEqualTotals(a, b []llm.SpendTotal) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBudgetEmbedder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := llm.NewMemoryBudgetStore()
		opts := budgetOpts(store, budgetTenantDaily(budgetCall+5_000, 0))
		chat := llm.Chain(budgetAnswer(100, 50), llm.Budget(opts))
		emb := llm.ChainEmbedder(llmtest.NewEmbedder(), llm.BudgetEmbedder(opts))
		ereq := &llm.EmbedRequest{Model: "e", Inputs: []string{"refund policy", "shipping times"}, Principal: llm.Principal{Tenant: "acme"}, Feature: "ingest"}
		resp, err := emb.Embed(t.Context(), ereq)
		if err != nil {
			t.Fatal(err)
		}
		want := llm.NanoUSD(resp.Usage.InputTokens * 500) // $0.50 per million
		totals := budgetReport(t, store, llm.ByFeature)
		if len(totals) != 1 || totals[0].Cost != want || totals[0].Feature != "ingest" || totals[0].EstimatedCalls != 0 {
			t.Fatalf("embedding spend %+v, want %v", totals, want)
		}
		// Chat and embeddings spend from one budget: the chat call fits,
		// then the embedding (reserving 27 bytes × 500) does not.
		if _, err := chat.Generate(t.Context(), budgetReq("acme", "")); err != nil {
			t.Fatal(err)
		}
		if _, err := emb.Embed(t.Context(), ereq); !errors.Is(err, llm.KindBudgetExceeded) {
			t.Fatalf("embedding over the shared budget: %v", err)
		}
	})
}

func TestBudgetStreamStopsCleanly(t *testing.T) {
	var yieldedAfterFalse, released atomic.Bool
	inner := llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream {
		return func(yield func(llm.Event, error) bool) {
			defer released.Store(true)
			if !yield(llm.Event{Kind: llm.EventTextDelta, Text: "one"}, nil) {
				// A misbehaving iterator that keeps going.
				if yield(llm.Event{Kind: llm.EventTextDelta, Text: "two"}, nil) {
					yieldedAfterFalse.Store(true)
				}
				return
			}
			t.Error("the stream went on after the caller stopped")
		}
	}}
	m := llm.Chain(inner, llm.Budget(budgetOpts(nil, budgetTenantDaily(llm.USD(1), 0))))
	for range m.Stream(t.Context(), budgetReq("acme", "")) {
		break
	}
	if !released.Load() || yieldedAfterFalse.Load() {
		t.Fatalf("released %v, yielded after false %v", released.Load(), yieldedAfterFalse.Load())
	}
}

func TestBudgetInvalidLimitsPanic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits []llm.BudgetLimit
	}{
		{"no scope", []llm.BudgetLimit{{Period: llm.BudgetDaily, Hard: 1}}},
		{"no period", []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Hard: 1}}},
		{"no amount", []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily}}},
		{"negative", []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Hard: -1}}},
		{"tenant on a feature limit", []llm.BudgetLimit{{Scope: llm.BudgetPerFeature, Period: llm.BudgetDaily, Tenant: "a", Hard: 1}}},
		{"feature on a tenant limit", []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Feature: "f", Hard: 1}}},
		{"duplicate", []llm.BudgetLimit{
			{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Tenant: "a", Hard: 1},
			{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Tenant: "a", Soft: 1}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Budget did not panic", tc.name)
				}
			}()
			llm.Budget(llm.BudgetOptions{Limits: tc.limits})
		}()
	}
}
