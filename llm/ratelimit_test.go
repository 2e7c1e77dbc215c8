package llm_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tiktoken-go/tokenizer"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// call makes one call through m, by Generate or by collecting Stream.
func call(ctx context.Context, m llm.Model, req *llm.Request, stream bool) (*llm.Response, error) {
	if stream {
		return llm.Collect(m.Stream(ctx, req))
	}
	return m.Generate(ctx, req)
}

var modes = []struct {
	name   string
	stream bool
}{{"Generate", false}, {"Stream", true}}

// answering returns a fake that answers every call with the given usage.
func answering(in, out int) *llmtest.Model {
	return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: in, OutputTokens: out}}, nil
	})
}

func tenantReq(tenant string) *llm.Request {
	return &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}, Principal: llm.Principal{Tenant: tenant}}
}

// wantRefusal checks that err is a local rate-limit refusal with the given
// retry-after (exactly: the tests run on synctest's clock) whose message
// mentions what.
func wantRefusal(t *testing.T, err error, retryAfter time.Duration, what string) {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindLocalRateLimited {
		t.Fatalf("err = %v, want an *llm.Error of kind %v", err, llm.KindLocalRateLimited)
	}
	if e.RetryAfter != retryAfter {
		t.Fatalf("RetryAfter = %v, want %v (%v)", e.RetryAfter, retryAfter, err)
	}
	if !strings.Contains(e.Message, what) {
		t.Fatalf("message %q does not mention %q", e.Message, what)
	}
}

// admitted counts calls admitted before the first refusal (at most limit).
func admitted(t *testing.T, m llm.Model, req *llm.Request, stream bool, limit int) int {
	t.Helper()
	for i := range limit {
		if _, err := call(t.Context(), m, req, stream); errors.Is(err, llm.KindLocalRateLimited) {
			return i
		}
	}
	return limit
}

func TestRateLimitRequestsPerMinute(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := answering(10, 5)
				m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
					Name:   "primary",
					Limits: llm.RateLimits{RequestsPerMinute: 3},
				}))
				req := tenantReq("acme")
				for i := range 3 {
					if _, err := call(t.Context(), m, req, mode.stream); err != nil {
						t.Fatalf("call %d: %v", i+1, err)
					}
				}
				_, err := call(t.Context(), m, req, mode.stream)
				wantRefusal(t, err, 20*time.Second, `requests-per-minute limit on "primary"`)
				if fake.Calls() != 3 {
					t.Fatalf("the provider got %d calls, want 3 (a refusal never reaches it)", fake.Calls())
				}
				time.Sleep(20 * time.Second)
				if _, err := call(t.Context(), m, req, mode.stream); err != nil {
					t.Fatalf("after the retry-after: %v", err)
				}
				_, err = call(t.Context(), m, req, mode.stream)
				wantRefusal(t, err, 20*time.Second, "requests-per-minute")
			})
		})
	}
}

func TestRateLimitTokensPerMinute(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Each call reserves 100 prompt + 100 output tokens and uses
				// exactly that, so 5 fit in 1000 tokens per minute.
				m := llm.Chain(answering(100, 100), llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{TokensPerMinute: 1000},
					TokenCounter: func(*llm.Request) int { return 100 },
				}))
				req := tenantReq("acme")
				req.MaxOutputTokens = 100
				if got := admitted(t, m, req, mode.stream, 10); got != 5 {
					t.Fatalf("admitted %d, want 5", got)
				}
				_, err := call(t.Context(), m, req, mode.stream)
				wantRefusal(t, err, 12*time.Second, `tokens-per-minute limit on "primary"`) // 200 tokens at 60ms each
			})
		})
	}
}

// Without MaxOutputTokens the reservation adds DefaultMaxOutput, and the
// prompt comes from EstimateInputTokens unless a counter is set.
func TestRateLimitReservationSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := tenantReq("acme")
		est := llm.EstimateInputTokens(req)
		// A provider that reports no usage: the reservation stands.
		fake := llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
			return &llm.Response{Message: llm.AssistantText("ok")}, nil
		})
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:             "primary",
			Limits:           llm.RateLimits{TokensPerMinute: 6000},
			DefaultMaxOutput: 1000,
		}))
		// Each call holds est + 1000 tokens of the 6000: five fit, and
		// the sixth waits for the shortfall at 10ms a token.
		if got := admitted(t, m, req, false, 10); got != 5 {
			t.Fatalf("admitted %d, want 5 (estimate %d)", got, est)
		}
		_, err := m.Generate(t.Context(), req)
		short := 6*(est+1000) - 6000
		wantRefusal(t, err, time.Duration(short)*10*time.Millisecond, "tokens-per-minute")
	})
}

func TestRateLimitWaitsUpToMaxWait(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
					Name:    "primary",
					Limits:  llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
					MaxWait: 2 * time.Second,
				}))
				req := tenantReq("acme")
				start := time.Now()
				for i, want := range []time.Duration{0, time.Second, 2 * time.Second} {
					if _, err := call(t.Context(), m, req, mode.stream); err != nil {
						t.Fatalf("call %d: %v", i+1, err)
					}
					if got := time.Since(start); got != want {
						t.Fatalf("call %d admitted at +%v, want +%v", i+1, got, want)
					}
				}
				// Four calls at once: the one that would wait 3s is refused
				// at once, with the wait it would have needed.
				var wg sync.WaitGroup
				var mu sync.Mutex
				var waits []time.Duration
				var refusals []error
				t0 := time.Now()
				for range 4 {
					wg.Go(func() {
						_, err := call(t.Context(), m, req, mode.stream)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							refusals = append(refusals, err)
							return
						}
						waits = append(waits, time.Since(t0))
					})
				}
				wg.Wait()
				slices.Sort(waits)
				if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(waits, want) {
					t.Fatalf("admitted after %v, want %v", waits, want)
				}
				if len(refusals) != 2 {
					t.Fatalf("%d refusals, want 2", len(refusals))
				}
				for _, err := range refusals {
					if llm.RetryAfterOf(err) != 3*time.Second {
						t.Fatalf("refusal %v, want retry-after 3s", err)
					}
				}
			})
		})
	}
}

func TestRateLimitFailsFastByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
			Name:   "primary",
			Limits: llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
		}))
		req := tenantReq("acme")
		m.Generate(t.Context(), req)
		start := time.Now()
		_, err := m.Generate(t.Context(), req)
		wantRefusal(t, err, time.Second, "requests-per-minute")
		if time.Since(start) != 0 {
			t.Fatalf("fail-fast refusal took %v", time.Since(start))
		}
	})
}

// When the wait a call needs is longer than its context allows, it fails
// at once instead of waiting for a deadline it cannot meet, and reserves
// nothing.
func TestRateLimitDeadlineShorterThanWaitFailsAtOnce(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
					Name:    "primary",
					Limits:  llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
					MaxWait: time.Minute,
				}))
				req := tenantReq("acme")
				if _, err := call(t.Context(), m, req, mode.stream); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				start := time.Now()
				_, err := call(ctx, m, req, mode.stream)
				wantRefusal(t, err, time.Second, "requests-per-minute")
				if time.Since(start) != 0 {
					t.Fatalf("refusal took %v, want at once", time.Since(start))
				}
				// Nothing was reserved: the next call waits 1s, not 2s.
				start = time.Now()
				if _, err := call(t.Context(), m, req, mode.stream); err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != time.Second {
					t.Fatalf("next call waited %v, want 1s", got)
				}
			})
		})
	}
}

// A caller that gives up while waiting gets its context's error and its
// reservation back.
func TestRateLimitCanceledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := answering(1, 1)
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:    "primary",
			Limits:  llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
			MaxWait: time.Minute,
		}))
		req := tenantReq("acme")
		m.Generate(t.Context(), req)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err := m.Generate(ctx, req)
		if !errors.Is(err, llm.KindCanceled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want kind canceled wrapping context.Canceled", err)
		}
		start := time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 700*time.Millisecond {
			t.Fatalf("next call waited %v, want 700ms (the canceled reservation refunded)", got)
		}
		if fake.Calls() != 2 {
			t.Fatalf("provider calls = %d, want 2", fake.Calls())
		}
	})
}

func TestRateLimitPerTenant(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{RequestsPerMinute: 12},
					TenantLimits: llm.RateLimits{RequestsPerMinute: 2},
					Tenants:      map[string]llm.RateLimits{"big": {RequestsPerMinute: 5}},
				}))
				for _, tc := range []struct {
					tenant string
					want   int
				}{
					{"a", 2},   // the default share
					{"b", 2},   // not starved by a
					{"big", 5}, // an override
					{"", 2},    // requests without a tenant share one bucket
				} {
					if got := admitted(t, m, tenantReq(tc.tenant), mode.stream, 10); got != tc.want {
						t.Fatalf("tenant %q admitted %d, want %d", tc.tenant, got, tc.want)
					}
					_, err := call(t.Context(), m, tenantReq(tc.tenant), mode.stream)
					wantRefusal(t, err, time.Duration(60/tc.want)*time.Second, "tenant's requests-per-minute")
				}
				// 11 of the model's 12 are spent: one more tenant gets 1,
				// then the model-wide limit refuses everyone.
				if got := admitted(t, m, tenantReq("c"), mode.stream, 10); got != 1 {
					t.Fatalf("tenant c admitted %d, want 1 (model limit)", got)
				}
				_, err := call(t.Context(), m, tenantReq("d"), mode.stream)
				wantRefusal(t, err, 5*time.Second, `requests-per-minute limit on "primary"`)
				if strings.Contains(err.Error(), "tenant") {
					t.Fatalf("model-wide refusal blames the tenant: %v", err)
				}
			})
		})
	}
}

func TestRateLimitPerTenantTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llm.Chain(answering(100, 100), llm.RateLimit(llm.RateLimitOptions{
			Name:         "primary",
			TenantLimits: llm.RateLimits{TokensPerMinute: 400},
			Tenants:      map[string]llm.RateLimits{"big": {TokensPerMinute: 1000}, "free": {TokensPerMinute: math.Inf(1)}},
			TokenCounter: func(*llm.Request) int { return 100 },
		}))
		for _, tc := range []struct {
			tenant string
			want   int
		}{{"batch", 2}, {"interactive", 2}, {"big", 5}, {"free", 50}} {
			req := tenantReq(tc.tenant)
			req.MaxOutputTokens = 100
			if got := admitted(t, m, req, false, 50); got != tc.want {
				t.Fatalf("tenant %q admitted %d, want %d", tc.tenant, got, tc.want)
			}
		}
	})
}

// Token reservations are reconciled with the usage the provider reports:
// each call below reserves 100 prompt + 400 output tokens of a 1000-token
// minute.
func TestRateLimitReconciles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream bool
		step   llmtest.Step
		want   int // calls admitted before the first refusal
	}{
		// Used 150 of 500: each call costs 150, so the k-th needs
		// 150(k−1)+500 ≤ 1000: four calls.
		{"UsageGenerate", false, llmtest.Reply("ok").WithUsage(100, 50), 4},
		{"UsageStream", true, llmtest.Reply("ok").WithUsage(100, 50), 4},
		// Failed before any output: the output allowance comes back, each
		// call costs its 100 prompt tokens: six calls.
		{"FailedGenerate", false, llmtest.ServerError(503), 6},
		{"FailedStream", true, llmtest.ServerError(503), 6},
		// Cut off after some output and without usage: the reservation
		// stands, two calls.
		{"CutOffStream", true, llmtest.Reply("a long enough answer").CutOffAfter(2), 2},
		// No usage reported on success: the reservation stands.
		{"NoUsage", false, llmtest.Response(&llm.Response{Message: llm.AssistantText("ok")}), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := llmtest.NewModel(tc.step.Times(20))
				m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{TokensPerMinute: 1000},
					TokenCounter: func(*llm.Request) int { return 100 },
				}))
				req := tenantReq("acme")
				req.MaxOutputTokens = 400
				if got := admitted(t, m, req, tc.stream, 20); got != tc.want {
					t.Fatalf("admitted %d, want %d", got, tc.want)
				}
			})
		})
	}
}

// A caller that leaves a stream before any output gets the output
// allowance back; one that leaves after output does not.
func TestRateLimitAbandonedStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events int // events read before breaking
		want   int
	}{{"BeforeOutput", 1, 6}, {"AfterOutput", 2, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := llmtest.NewModel(llmtest.Reply("a long enough answer").Times(20))
				m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{TokensPerMinute: 1000},
					TokenCounter: func(*llm.Request) int { return 100 },
				}))
				req := tenantReq("acme")
				req.MaxOutputTokens = 400
				n := 0
				for range 20 {
					read, refused := 0, false
					for _, err := range m.Stream(t.Context(), req) {
						if err != nil {
							refused = errors.Is(err, llm.KindLocalRateLimited)
							break
						}
						if read++; read == tc.events {
							break
						}
					}
					if refused {
						break
					}
					n++
				}
				if n != tc.want {
					t.Fatalf("admitted %d, want %d", n, tc.want)
				}
			})
		})
	}
}

// Usage above the reservation (a counter that under-counts, or a
// reservation capped at the burst) is charged after the call.
func TestRateLimitChargesUnderestimates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llm.Chain(answering(100, 900), llm.RateLimit(llm.RateLimitOptions{
			Name:         "primary",
			Limits:       llm.RateLimits{TokensPerMinute: 1000},
			TokenCounter: func(*llm.Request) int { return 100 },
		}))
		req := tenantReq("acme")
		req.MaxOutputTokens = 400
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		// 1000 used: the next 500 need 30s.
		_, err := m.Generate(t.Context(), req)
		wantRefusal(t, err, 30*time.Second, "tokens-per-minute")

		// A request larger than the burst is capped at it, not refused
		// forever.
		big := tenantReq("acme")
		big.MaxOutputTokens = 5000
		time.Sleep(time.Hour)
		if _, err := m.Generate(t.Context(), big); err != nil {
			t.Fatalf("oversized request: %v", err)
		}
	})
}

// A provider 429 halves the target's effective rate and the rate recovers
// step by step after quiet periods. The limit allows one call a second
// with a burst of one, so the spacing of back-to-back calls is the
// effective interval.
func TestRateLimitAdaptive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var admittedAt []time.Time
		var mu sync.Mutex
		var fail atomic.Int32
		fake := llmtest.NewModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
			mu.Lock()
			admittedAt = append(admittedAt, time.Now())
			mu.Unlock()
			if fail.Load() > 0 {
				fail.Add(-1)
				return nil, &llm.Error{Kind: llm.KindRateLimited, Status: 429}
			}
			return &llm.Response{Message: llm.AssistantText("ok")}, nil
		})
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:     "primary",
			Limits:   llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
			MaxWait:  time.Hour,
			Adaptive: llm.AdaptiveRate{QuietPeriod: time.Minute, Step: 0.25},
		}))
		req := tenantReq("acme")
		// spacing makes n back-to-back calls and returns the gaps between
		// their admissions.
		spacing := func(n int) []time.Duration {
			t.Helper()
			mu.Lock()
			admittedAt = nil
			mu.Unlock()
			for range n {
				m.Generate(t.Context(), req)
			}
			var gaps []time.Duration
			for i := 1; i < len(admittedAt); i++ {
				gaps = append(gaps, admittedAt[i].Sub(admittedAt[i-1]))
			}
			return gaps
		}
		near := func(got []time.Duration, want time.Duration) bool {
			for _, g := range got {
				if d := g - want; d < -time.Microsecond || d > time.Microsecond {
					return false
				}
			}
			return true
		}

		if got := spacing(3); !near(got, time.Second) {
			t.Fatalf("before any 429: gaps %v, want 1s", got)
		}
		fail.Store(1)
		if got := spacing(4); !near(got, 2*time.Second) {
			t.Fatalf("after a 429: gaps %v, want 2s (rate halved)", got)
		}
		time.Sleep(time.Minute) // one quiet period: factor 0.75
		if got := spacing(4)[1:]; !near(got, time.Second*4/3) {
			t.Fatalf("after one quiet period: gaps %v, want 1.333s", got)
		}
		time.Sleep(2 * time.Minute) // fully recovered, never above
		if got := spacing(4)[1:]; !near(got, time.Second) {
			t.Fatalf("after recovery: gaps %v, want 1s", got)
		}

		// Repeated 429s (each from a call admitted after the last
		// decrease) bottom out at the floor, 10% of the configured rate.
		fail.Store(6)
		spacing(6)
		if got := spacing(3); !near(got, 10*time.Second) {
			t.Fatalf("at the floor: gaps %v, want 10s", got)
		}
	})
}

// A volley of 429s from calls admitted together counts once.
func TestRateLimitAdaptiveVolleyCountsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Four calls in flight at once, all answered with a 429 a second
		// later.
		fake := llmtest.NewModel(llmtest.RateLimited().Delay(time.Second).Times(4), llmtest.Reply("ok"))
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:    "primary",
			Limits:  llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 4},
			MaxWait: time.Hour,
		}))
		req := tenantReq("acme")
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { m.Generate(t.Context(), req) })
		}
		wg.Wait()
		// At factor 0.5 the interval is 2s and the tolerance still 4s;
		// 4 units were spent at 0s, so at 1s the next call waits
		// 4s + 2s − 4s − 1s = 1s. Four decreases (factor 0.1) would make
		// it wait 4s + 10s − 4s − 1s = 9s.
		start := time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("waited %v, want 1s (one decrease, not four)", got)
		}
	})
}

// A 429's retry-after pauses admissions until it has passed.
func TestRateLimitHonoursProviderRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.RateLimited("Retry-After", "30"), llmtest.Reply("ok"))
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:     "primary",
			Limits:   llm.RateLimits{RequestsPerMinute: 1000},
			Adaptive: llm.AdaptiveRate{Disabled: true, MaxPause: time.Minute}, // above the default cap of 10s
		}))
		req := tenantReq("acme")
		if _, err := m.Generate(t.Context(), req); !errors.Is(err, llm.KindRateLimited) {
			t.Fatalf("first call: %v, want the provider's 429", err)
		}
		time.Sleep(10 * time.Second)
		_, err := m.Generate(t.Context(), req)
		wantRefusal(t, err, 20*time.Second, "paused after the provider's 429")

		// A caller allowed to wait waits out the pause (which applies even
		// without configured limits).
		fake = llmtest.NewModel(llmtest.RateLimited("Retry-After-Ms", "1500"), llmtest.Reply("ok"))
		m = llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{MaxWait: time.Minute}))
		m.Generate(t.Context(), req)
		start := time.Now()
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 1500*time.Millisecond {
			t.Fatalf("waited %v, want the 1.5s retry-after", got)
		}
	})
}

func TestRateLimitSafeMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		safe := llm.NewSafeMode()
		rl := llm.RateLimit(llm.RateLimitOptions{
			Name:         "primary",
			Limits:       llm.RateLimits{RequestsPerMinute: 8},
			TenantLimits: llm.RateLimits{RequestsPerMinute: 4},
			SafeMode:     safe,
		})
		m := rl(answering(1, 1))
		safe.Enable("incident 42")
		if got := admitted(t, m, tenantReq("a"), false, 10); got != 2 {
			t.Fatalf("tenant a admitted %d in safe mode, want 2 (half of 4)", got)
		}
		if got := admitted(t, m, tenantReq("b"), false, 10); got != 2 {
			t.Fatalf("tenant b admitted %d in safe mode, want 2 (model limit: half of 8)", got)
		}
		if got := admitted(t, m, tenantReq("c"), false, 10); got != 0 {
			t.Fatalf("tenant c admitted %d in safe mode, want 0", got)
		}
		safe.Disable()
		time.Sleep(time.Minute)
		if got := admitted(t, m, tenantReq("c"), false, 10); got != 4 {
			t.Fatalf("tenant c admitted %d after safe mode, want 4", got)
		}

		// A custom factor.
		safe.Enable("drill")
		m = llm.RateLimit(llm.RateLimitOptions{
			Name: "x", Limits: llm.RateLimits{RequestsPerMinute: 10}, SafeMode: safe, SafeFactor: 0.2,
		})(answering(1, 1))
		if got := admitted(t, m, tenantReq("a"), false, 20); got != 2 {
			t.Fatalf("admitted %d with safe factor 0.2, want 2", got)
		}
	})
}

// fakeStore is a LimitStore whose calls can fail or hang.
type fakeStore struct {
	llm.LimitStore
	err   error
	hang  bool
	calls atomic.Int32
}

func (s *fakeStore) Reserve(ctx context.Context, key string, n float64, lim llm.Limit, now time.Time, maxWait time.Duration) (time.Duration, bool, error) {
	s.calls.Add(1)
	if s.hang {
		<-ctx.Done()
		return 0, false, ctx.Err()
	}
	if s.err != nil {
		return 0, false, s.err
	}
	return s.LimitStore.Reserve(ctx, key, n, lim, now, maxWait)
}

func (s *fakeStore) Refund(ctx context.Context, key string, n float64, lim llm.Limit, now time.Time) error {
	s.calls.Add(1)
	if s.err != nil {
		return s.err
	}
	return s.LimitStore.Refund(ctx, key, n, lim, now)
}

func TestRateLimitStoreErrors(t *testing.T) {
	storeDown := errors.New("store down")
	for _, tc := range []struct {
		name     string
		policy   llm.StoreErrorPolicy
		share    float64
		admitted int
	}{
		{"FailClosed", llm.FailClosed, 0, 0},
		{"FailOpen", llm.FailOpen, 0, 4},         // the local limiter's 4 per minute
		{"FailOpenShared", llm.FailOpen, 0.5, 2}, // half of them on this replica
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &fakeStore{LimitStore: llm.NewMemoryLimitStore(), err: storeDown}
				fake := answering(1, 1)
				m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{RequestsPerMinute: 4},
					Store:        store,
					OnStoreError: tc.policy,
					LocalShare:   tc.share,
				}))
				req := tenantReq("acme")
				n := 0
				for range 10 {
					_, err := m.Generate(t.Context(), req)
					if err == nil {
						n++
						continue
					}
					if !errors.Is(err, llm.KindLocalRateLimited) {
						t.Fatalf("err = %v, want kind %v", err, llm.KindLocalRateLimited)
					}
					if tc.policy == llm.FailClosed && !errors.Is(err, storeDown) {
						t.Fatalf("fail-closed refusal %v does not wrap the store's error", err)
					}
				}
				if n != tc.admitted || fake.Calls() != tc.admitted {
					t.Fatalf("admitted %d (provider calls %d), want %d", n, fake.Calls(), tc.admitted)
				}
				// The failing store was called once, then left alone for
				// a second.
				if got := store.calls.Load(); got != 1 {
					t.Fatalf("store calls = %d, want 1", got)
				}
				time.Sleep(time.Second)
				store.err = nil
				if _, err := m.Generate(t.Context(), req); err != nil {
					t.Fatalf("after the store recovered: %v", err)
				}
				if got := store.calls.Load(); got != 2 {
					t.Fatalf("store calls = %d, want 2 (used again after the cool-down)", got)
				}
			})
		})
	}
}

func TestRateLimitStoreTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{{"Default", 0, 50 * time.Millisecond}, {"Set", 10 * time.Millisecond, 10 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &fakeStore{LimitStore: llm.NewMemoryLimitStore(), hang: true}
				m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
					Name:         "primary",
					Limits:       llm.RateLimits{RequestsPerMinute: 4},
					Store:        store,
					StoreTimeout: tc.timeout,
				}))
				start := time.Now()
				if _, err := m.Generate(t.Context(), tenantReq("acme")); err != nil {
					t.Fatalf("fail-open call: %v", err)
				}
				if got := time.Since(start); got != tc.want {
					t.Fatalf("call took %v, want the store timeout %v", got, tc.want)
				}
			})
		})
	}
}

// A caller whose context ends during a store call gets its context's
// error, not the store-error policy.
func TestRateLimitCallerCanceledDuringStoreCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &fakeStore{LimitStore: llm.NewMemoryLimitStore(), hang: true}
		fake := answering(1, 1)
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:   "primary",
			Limits: llm.RateLimits{RequestsPerMinute: 4},
			Store:  store,
		}))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		_, err := m.Generate(ctx, tenantReq("acme"))
		if !errors.Is(err, llm.KindTimeout) || !errors.Is(err, context.DeadlineExceeded) || fake.Calls() != 0 {
			t.Fatalf("err = %v (provider calls %d), want kind timeout wrapping the deadline", err, fake.Calls())
		}
	})
}

func TestRateLimitStreamIsLazy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := answering(1, 1)
		m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
			Name:   "primary",
			Limits: llm.RateLimits{RequestsPerMinute: 1},
		}))
		req := tenantReq("acme")
		s := m.Stream(t.Context(), req) // not ranged: nothing reserved
		_ = s
		if _, err := m.Generate(t.Context(), req); err != nil {
			t.Fatalf("a stream that was never ranged spent the limit: %v", err)
		}
		pairs := 0
		for _, err := range m.Stream(t.Context(), req) {
			pairs++
			wantRefusal(t, err, time.Minute, "requests-per-minute")
		}
		if pairs != 1 || fake.Calls() != 1 {
			t.Fatalf("refused stream yielded %d pairs (provider calls %d), want 1 (1)", pairs, fake.Calls())
		}
	})
}

func TestRateLimitRequiresNameWithSharedStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a shared store without a Name")
		}
	}()
	llm.RateLimit(llm.RateLimitOptions{Store: llm.NewMemoryLimitStore()})
}

func TestRateLimitUnlimitedPassesThrough(t *testing.T) {
	fake := answering(1, 1)
	m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{}))
	for range 1000 {
		if _, err := m.Generate(t.Context(), tenantReq("acme")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRateLimitErrorMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llm.Chain(answering(1, 1), llm.RateLimit(llm.RateLimitOptions{
			Name:   "openai/gpt-4o-mini",
			Limits: llm.RateLimits{RequestsPerMinute: 1},
		}))
		req := &llm.Request{Model: "gpt-4o-mini"}
		m.Generate(t.Context(), req)
		_, err := m.Generate(t.Context(), req)
		want := `llm gpt-4o-mini: rate_limited_locally: requests-per-minute limit on "openai/gpt-4o-mini" [retry after 1m0s]`
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if h := llm.KindOf(err).Handling(); h.Retry || !h.Fallback || h.Breaker {
			t.Fatalf("handling %+v: a local refusal moves to the fallback, is not retried and never trips a breaker", h)
		}
	})
}

func TestStoreErrorPolicyString(t *testing.T) {
	for p, want := range map[llm.StoreErrorPolicy]string{llm.FailOpen: "fail_open", llm.FailClosed: "fail_closed", 7: "store_error_policy(7)"} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", p, got, want)
		}
	}
}

func TestExactTokenCounter(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{
		llm.SystemMessage("You are a terse assistant."),
		llm.UserText("What is the capital of France? Answer in one word."),
	}}
	for _, enc := range []string{"o200k_base", "cl100k_base"} {
		t.Run(enc, func(t *testing.T) {
			count, err := llm.ExactTokenCounter(enc)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tokenizer.Get(tokenizer.Encoding(enc))
			if err != nil {
				t.Fatal(err)
			}
			want := 3 // priming
			for _, m := range req.Messages {
				role, _ := c.Count(string(m.Role))
				text, _ := c.Count(m.Text())
				want += 3 + role + text
			}
			if got := count(req); got != want {
				t.Fatalf("count = %d, want %d", got, want)
			}
			if est := llm.EstimateInputTokens(req); count(req) > est {
				t.Fatalf("exact count %d above the upper bound %d", count(req), est)
			}
			if count(nil) != 0 {
				t.Fatal("nil request counted")
			}
		})
	}
	if _, err := llm.ExactTokenCounter("p51k"); !errors.Is(err, llm.KindInvalidRequest) {
		t.Fatalf("unknown encoding: err = %v, want kind invalid_request", err)
	}
}

// With an exact counter the reservation is smaller than with the estimate,
// so more calls fit.
func TestRateLimitWithExactTokenCounter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		count, err := llm.ExactTokenCounter("o200k_base")
		if err != nil {
			t.Fatal(err)
		}
		req := tenantReq("acme")
		req.Messages = []llm.Message{llm.UserText(strings.Repeat("hello world ", 200))}
		req.MaxOutputTokens = 1
		exact, est := count(req), llm.EstimateInputTokens(req)
		limit := float64(10 * (exact + 1))
		fake := llmtest.NewModel(llmtest.Response(&llm.Response{Message: llm.AssistantText("ok")}).Times(100))
		for _, tc := range []struct {
			counter func(*llm.Request) int
			want    int
		}{{count, 10}, {nil, int(limit) / (est + 1)}} {
			m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
				Name:         fmt.Sprint(tc.want),
				Limits:       llm.RateLimits{TokensPerMinute: limit},
				TokenCounter: tc.counter,
			}))
			if got := admitted(t, m, req, false, 100); got != tc.want {
				t.Fatalf("admitted %d, want %d (exact %d, estimate %d tokens)", got, tc.want, exact, est)
			}
		}
	})
}

// realisticRequest is about 2 KB with three tool definitions.
func realisticRequest() *llm.Request {
	tool := func(name string) llm.ToolDef {
		return llm.ToolDef{Name: name, Description: "Looks up " + name + " for the customer's account.",
			Parameters: []byte(`{"type":"object","properties":{"account_id":{"type":"string"},"since":{"type":"string","format":"date"}},"required":["account_id"]}`)}
	}
	return &llm.Request{
		Model: "gpt-4o-mini",
		Messages: []llm.Message{
			llm.SystemMessage(strings.Repeat("You are a support assistant for an online store. Be brief and accurate. ", 12)),
			llm.UserText(strings.Repeat("My order has not arrived and the tracking page shows no updates. ", 8)),
		},
		Tools:           []llm.ToolDef{tool("orders"), tool("shipments"), tool("refunds")},
		MaxOutputTokens: 512,
		Principal:       llm.Principal{Tenant: "acme", User: "u-42"},
		Feature:         "support-answer",
	}
}

// BenchmarkRateLimitAdmit measures the middleware alone on the in-memory
// store with limits that are never hit: per-model and per-tenant request
// and token buckets, reservation and reconciliation.
func BenchmarkRateLimitAdmit(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), Usage: llm.Usage{InputTokens: 400, OutputTokens: 60}}
	inner := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	m := llm.Chain(inner, llm.RateLimit(llm.RateLimitOptions{
		Name:         "openai/gpt-4o-mini",
		Limits:       llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
		TenantLimits: llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
		SafeMode:     llm.NewSafeMode(),
	}))
	req := realisticRequest()
	benchMiddleware(b, m, inner, req)
}

// A 429 whose retry-after came from x-ratelimit-reset-* (the time until the
// bucket is full, here six minutes) pauses admissions for at most MaxPause
// (10s by default); the adaptive decrease handles the rest.
func TestRateLimitPauseCapped(t *testing.T) {
	for _, tt := range []struct {
		maxPause, want time.Duration
	}{{0, 10 * time.Second}, {3 * time.Second, 3 * time.Second}} {
		t.Run(tt.want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := llmtest.NewModel(
					llmtest.RateLimited("X-Ratelimit-Reset-Requests", "6m0s", "X-Ratelimit-Remaining-Requests", "0"),
					llmtest.Reply("ok"))
				m := llm.Chain(fake, llm.RateLimit(llm.RateLimitOptions{
					Name:     "primary",
					Limits:   llm.RateLimits{RequestsPerMinute: 6000},
					MaxWait:  time.Hour,
					Adaptive: llm.AdaptiveRate{MaxPause: tt.maxPause},
				}))
				req := tenantReq("acme")
				_, err := m.Generate(t.Context(), req)
				if ra := llm.RetryAfterOf(err); llm.KindOf(err) != llm.KindRateLimited || ra != 6*time.Minute {
					t.Fatalf("first call: %v (retry-after %v), want a 429 asking for 6m", err, ra)
				}
				start := time.Now()
				if _, err := m.Generate(t.Context(), req); err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("next call admitted after %v, want %v (the capped pause)", got, tt.want)
				}
			})
		})
	}
}
