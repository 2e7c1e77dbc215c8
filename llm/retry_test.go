package llm_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// retryReq is the request the retry tests send.
var retryReq = &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}}

// retryConst returns a Rand that always gives f.
func retryConst(f float64) func() float64 { return func() float64 { return f } }

// retryRecorder records OnRetry calls.
type retryRecorder struct {
	mu       sync.Mutex
	attempts []int
	waits    []time.Duration
	kinds    []llm.Kind
}

func (r *retryRecorder) hook(_ context.Context, attempt int, err error, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, attempt)
	r.waits = append(r.waits, wait)
	r.kinds = append(r.kinds, llm.KindOf(err))
}

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		name      string
		opts      llm.RetryOptions
		steps     []llmtest.Step
		wantWaits []time.Duration
		wantCalls int
		wantErr   llm.Kind // 0 (unknown) means success
	}{
		{
			name:      "half jitter doubles",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxAttempts: 4, Rand: retryConst(0.5)},
			steps:     []llmtest.Step{llmtest.ServerError(503).Times(3), llmtest.Reply("ok")},
			wantWaits: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
			wantCalls: 4,
		},
		{
			name:      "capped at MaxDelay",
			opts:      llm.RetryOptions{BaseDelay: time.Second, MaxDelay: 3 * time.Second, MaxAttempts: 5, Rand: retryConst(1)},
			steps:     []llmtest.Step{llmtest.ServerError(500).Times(4), llmtest.Reply("ok")},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second},
			wantCalls: 5,
		},
		{
			name:      "defaults",
			opts:      llm.RetryOptions{Rand: retryConst(1)},
			steps:     []llmtest.Step{llmtest.ServerError(502).Times(3)},
			wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond},
			wantCalls: 3,
			wantErr:   llm.KindUnavailable,
		},
		{
			name:      "zero jitter retries at once",
			opts:      llm.RetryOptions{Rand: retryConst(0)},
			steps:     []llmtest.Step{llmtest.ServerError(503), llmtest.Reply("ok")},
			wantWaits: []time.Duration{0},
			wantCalls: 2,
		},
		{
			name:      "out of range jitter clamped",
			opts:      llm.RetryOptions{BaseDelay: time.Second, Rand: retryConst(7)},
			steps:     []llmtest.Step{llmtest.ServerError(503), llmtest.Reply("ok")},
			wantWaits: []time.Duration{time.Second},
			wantCalls: 2,
		},
		{
			name:      "retry-after longer than backoff",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, Rand: retryConst(0.5)},
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After", "2"), llmtest.Reply("ok")},
			wantWaits: []time.Duration{2 * time.Second},
			wantCalls: 2,
		},
		{
			name:      "retry-after in milliseconds",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, Rand: retryConst(0)},
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After-Ms", "1250"), llmtest.Reply("ok")},
			wantWaits: []time.Duration{1250 * time.Millisecond},
			wantCalls: 2,
		},
		{
			name:      "retry-after as HTTP date",
			opts:      llm.RetryOptions{Rand: retryConst(0)},
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After", "Sat, 01 Jan 2000 00:00:03 GMT"), llmtest.Reply("ok")},
			wantWaits: []time.Duration{3 * time.Second},
			wantCalls: 2,
		},
		{
			name:      "backoff longer than retry-after",
			opts:      llm.RetryOptions{BaseDelay: time.Second, Rand: retryConst(0.5)},
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After-Ms", "10"), llmtest.Reply("ok")},
			wantWaits: []time.Duration{500 * time.Millisecond},
			wantCalls: 2,
		},
		{
			name:      "retry-after above MaxDelay still honoured",
			opts:      llm.RetryOptions{MaxDelay: time.Second, Rand: retryConst(1)},
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After", "30"), llmtest.Reply("ok")},
			wantWaits: []time.Duration{30 * time.Second},
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name + "/generate"
			if stream {
				name = tt.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var rec retryRecorder
					opts := tt.opts
					opts.OnRetry = rec.hook
					fake := llmtest.NewModel(tt.steps...)
					m := llm.Retry(opts)(fake)
					start := time.Now()
					var resp *llm.Response
					var err error
					if stream {
						resp, err = llm.Collect(m.Stream(t.Context(), retryReq))
					} else {
						resp, err = m.Generate(t.Context(), retryReq)
					}
					elapsed := time.Since(start)

					if !slices.Equal(rec.waits, tt.wantWaits) {
						t.Errorf("waits = %v, want %v", rec.waits, tt.wantWaits)
					}
					var sum time.Duration
					for _, w := range tt.wantWaits {
						sum += w
					}
					if elapsed != sum {
						t.Errorf("elapsed %v, want exactly %v", elapsed, sum)
					}
					if got := fake.Calls(); got != tt.wantCalls {
						t.Errorf("calls = %d, want %d", got, tt.wantCalls)
					}
					wantAttempts := make([]int, len(tt.wantWaits))
					for i := range wantAttempts {
						wantAttempts[i] = i + 1
					}
					if !slices.Equal(rec.attempts, wantAttempts) {
						t.Errorf("OnRetry attempts = %v, want %v", rec.attempts, wantAttempts)
					}
					if tt.wantErr != llm.KindUnknown {
						var e *llm.Error
						if !errors.As(err, &e) || e.Kind != tt.wantErr || e.Attempts != tt.wantCalls {
							t.Fatalf("err = %#v, want kind %v with %d attempts", err, tt.wantErr, tt.wantCalls)
						}
						return
					}
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					if resp.Text() != "ok" || resp.Attempts != tt.wantCalls {
						t.Errorf("resp text %q attempts %d, want ok and %d", resp.Text(), resp.Attempts, tt.wantCalls)
					}
				})
			})
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	tests := []struct {
		name      string
		opts      llm.RetryOptions
		deadline  time.Duration // 0: none
		step      llmtest.Step
		wantKind  llm.Kind
		wantCalls int
	}{
		{name: "quota exhausted", step: llmtest.QuotaExhausted(), wantKind: llm.KindQuotaExhausted, wantCalls: 1},
		{name: "invalid request", step: llmtest.HTTPFailure(400, "invalid_value", "bad"), wantKind: llm.KindInvalidRequest, wantCalls: 1},
		{name: "auth", step: llmtest.HTTPFailure(401, "invalid_api_key", "no"), wantKind: llm.KindAuth, wantCalls: 1},
		{name: "context length", step: llmtest.HTTPFailure(400, "context_length_exceeded", "long"), wantKind: llm.KindContextLength, wantCalls: 1},
		{name: "x-should-retry false", step: llmtest.ServerError(503, "X-Should-Retry", "false"), wantKind: llm.KindUnavailable, wantCalls: 1},
		{name: "canceled by the model", step: llmtest.Fail(&llm.Error{Kind: llm.KindCanceled}), wantKind: llm.KindCanceled, wantCalls: 1},
		{
			name:      "retry-after past the deadline",
			deadline:  time.Second,
			step:      llmtest.RateLimited("Retry-After", "5"),
			wantKind:  llm.KindRateLimited,
			wantCalls: 1,
		},
		{
			name:      "backoff reaching the deadline",
			opts:      llm.RetryOptions{BaseDelay: 2 * time.Second, Rand: retryConst(0.5)},
			deadline:  time.Second,
			step:      llmtest.ServerError(503),
			wantKind:  llm.KindUnavailable,
			wantCalls: 1,
		},
		{
			name:      "retry-after above MaxRetryAfter",
			opts:      llm.RetryOptions{MaxRetryAfter: 10 * time.Second},
			step:      llmtest.RateLimited("Retry-After", "11"),
			wantKind:  llm.KindRateLimited,
			wantCalls: 1,
		},
		{
			name:      "retry-after above the default MaxRetryAfter",
			step:      llmtest.RateLimited("X-Ratelimit-Reset-Requests", "6m0s"),
			wantKind:  llm.KindRateLimited,
			wantCalls: 1,
		},
		{
			name:      "MaxAttempts 1",
			opts:      llm.RetryOptions{MaxAttempts: 1},
			step:      llmtest.ServerError(500),
			wantKind:  llm.KindUnavailable,
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name + "/generate"
			if stream {
				name = tt.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var rec retryRecorder
					opts := tt.opts
					opts.OnRetry = rec.hook
					fake := llmtest.NewModel(tt.step, llmtest.Reply("should not be reached"))
					m := llm.Retry(opts)(fake)
					ctx := t.Context()
					if tt.deadline > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, tt.deadline)
						defer cancel()
					}
					start := time.Now()
					var err error
					if stream {
						_, err = llm.Collect(m.Stream(ctx, retryReq))
					} else {
						_, err = m.Generate(ctx, retryReq)
					}
					if d := time.Since(start); d != 0 {
						t.Errorf("gave up after %v, want at once", d)
					}
					var e *llm.Error
					if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Attempts != tt.wantCalls {
						t.Fatalf("err = %#v, want kind %v with %d attempts", err, tt.wantKind, tt.wantCalls)
					}
					if got := fake.Calls(); got != tt.wantCalls {
						t.Errorf("calls = %d, want %d", got, tt.wantCalls)
					}
					if len(rec.attempts) != 0 {
						t.Errorf("OnRetry called %d times", len(rec.attempts))
					}
				})
			})
		}
	}
}

func TestRetryShouldRetryTrueOverridesTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.HTTPFailure(400, "", "flaky validator", "X-Should-Retry", "true"), llmtest.Reply("ok"))
		resp, err := llm.Retry(llm.RetryOptions{Rand: retryConst(0)})(fake).Generate(t.Context(), retryReq)
		if err != nil || resp.Attempts != 2 {
			t.Fatalf("resp %+v, err %v", resp, err)
		}
	})
}

func TestRetryAttemptLimitKeepsOriginalError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("connection reset by peer")
		orig := &llm.Error{Kind: llm.KindUnavailable, Provider: "p", Model: "m", RequestID: "req-1", Err: cause}
		fake := llmtest.NewModel(llmtest.Fail(orig).Times(10))
		m := llm.Retry(llm.RetryOptions{MaxAttempts: 4, Rand: retryConst(0)})(fake)
		_, err := m.Generate(t.Context(), retryReq)
		var e *llm.Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want *llm.Error", err)
		}
		if e == orig {
			t.Fatal("returned the original error, want a copy")
		}
		if e.Attempts != 4 || e.Kind != llm.KindUnavailable || e.RequestID != "req-1" || e.Provider != "p" {
			t.Errorf("err = %+v", e)
		}
		if orig.Attempts != 0 {
			t.Errorf("original error modified: Attempts = %d", orig.Attempts)
		}
		if !errors.Is(err, cause) {
			t.Error("cause chain lost")
		}
		if got := fake.Calls(); got != 4 {
			t.Errorf("calls = %d, want 4", got)
		}
	})
}

func TestRetryPlainErrorWrapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.Fail(io.ErrUnexpectedEOF).Times(3))
		_, err := llm.Retry(llm.RetryOptions{Rand: retryConst(0)})(fake).Generate(t.Context(), retryReq)
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindUnavailable || e.Attempts != 3 {
			t.Fatalf("err = %#v", err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Error("cause chain lost")
		}
	})
}

func TestRetryCountsNestedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// An inner Retry reports the calls it made; the outer one adds them up.
		fake := llmtest.NewModel(llmtest.ServerError(503).Times(3), llmtest.Reply("ok"))
		inner := llm.Retry(llm.RetryOptions{MaxAttempts: 2, Rand: retryConst(0)})
		outer := llm.Retry(llm.RetryOptions{MaxAttempts: 2, Rand: retryConst(0)})
		resp, err := llm.Chain(fake, outer, inner).Generate(t.Context(), retryReq)
		if err != nil || resp.Attempts != 4 {
			t.Fatalf("attempts = %v, err %v; want 4", resp, err)
		}
	})
}

func TestRetryCancelDuringBackoff(t *testing.T) {
	tests := []struct {
		name     string
		cancel   func(context.CancelCauseFunc)
		wantKind llm.Kind
		wantIs   error
	}{
		{"canceled", func(c context.CancelCauseFunc) { c(nil) }, llm.KindCanceled, context.Canceled},
		{"deadline cause", func(c context.CancelCauseFunc) { c(context.DeadlineExceeded) }, llm.KindTimeout, context.DeadlineExceeded},
		{"timeout error cause", func(c context.CancelCauseFunc) { c(&llm.Error{Kind: llm.KindTimeout, Message: "outer limit"}) }, llm.KindTimeout, llm.KindTimeout},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name + "/generate"
			if stream {
				name = tt.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := llmtest.NewModel(llmtest.RateLimited("Retry-After", "10"), llmtest.Reply("late"))
					m := llm.Retry(llm.RetryOptions{Rand: retryConst(0)})(fake)
					ctx, cancel := context.WithCancelCause(t.Context())
					defer cancel(nil)
					time.AfterFunc(time.Second, func() { tt.cancel(cancel) })
					start := time.Now()
					var err error
					if stream {
						_, err = llm.Collect(m.Stream(ctx, retryReq))
					} else {
						_, err = m.Generate(ctx, retryReq)
					}
					if d := time.Since(start); d != time.Second {
						t.Errorf("returned after %v, want 1s", d)
					}
					var e *llm.Error
					if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Attempts != 1 {
						t.Fatalf("err = %#v, want kind %v", err, tt.wantKind)
					}
					if !errors.Is(err, tt.wantIs) {
						t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
					}
					if errors.Is(err, llm.KindRateLimited) {
						t.Error("the context error should not match the provider's kind")
					}
					if fake.Calls() != 1 {
						t.Errorf("calls = %d, want 1", fake.Calls())
					}
				})
			})
		}
	}
}

func TestRetryStream(t *testing.T) {
	tests := []struct {
		name       string
		steps      []llmtest.Step
		wantText   string
		wantErr    llm.Kind
		wantEvents int // events received before the error (error cases)
		wantCalls  int
	}{
		{
			name:      "failure before first event retried",
			steps:     []llmtest.Step{llmtest.ServerError(503), llmtest.Reply("hello world")},
			wantText:  "hello world",
			wantCalls: 2,
		},
		{
			name:      "cut off before first event retried",
			steps:     []llmtest.Step{llmtest.Reply("broken").CutOffAfter(0), llmtest.Reply("hello world")},
			wantText:  "hello world",
			wantCalls: 2,
		},
		{
			name:      "slow first attempt retried",
			steps:     []llmtest.Step{llmtest.RateLimited("Retry-After", "1").Delay(time.Second), llmtest.Reply("hello world")},
			wantText:  "hello world",
			wantCalls: 2,
		},
		{
			name:       "cut off after first content event passed through",
			steps:      []llmtest.Step{llmtest.Reply("hello world").CutOffAfter(2), llmtest.Reply("second")},
			wantErr:    llm.KindUnavailable,
			wantEvents: 2,
			wantCalls:  1,
		},
		{
			// The start event carries no content: it was held back, so
			// the caller has seen nothing and the call is retried.
			name:      "cut off after start event retried",
			steps:     []llmtest.Step{llmtest.Reply("broken").CutOffAfter(1), llmtest.Reply("hello world")},
			wantText:  "hello world",
			wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := llmtest.NewModel(tt.steps...)
				m := llm.Retry(llm.RetryOptions{Rand: retryConst(0)})(fake)
				var acc llm.Accumulator
				var events []llm.Event
				var err error
				for ev, e := range m.Stream(t.Context(), retryReq) {
					if e != nil {
						err = e
						break
					}
					events = append(events, ev)
					acc.Add(ev)
				}
				if got := fake.Calls(); got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				if tt.wantErr != llm.KindUnknown {
					if llm.KindOf(err) != tt.wantErr || len(events) != tt.wantEvents {
						t.Fatalf("got %d events and %v, want %d events and kind %v", len(events), err, tt.wantEvents, tt.wantErr)
					}
					var e *llm.Error
					if errors.As(err, &e) && e.Attempts != 0 {
						t.Errorf("mid-stream error modified: Attempts = %d", e.Attempts)
					}
					if events[0].Attempts != 1 {
						t.Errorf("first event Attempts = %d, want 1", events[0].Attempts)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := acc.Response().Text(); got != tt.wantText {
					t.Errorf("text = %q, want %q", got, tt.wantText)
				}
				if events[0].Attempts != tt.wantCalls {
					t.Errorf("first event Attempts = %d, want %d", events[0].Attempts, tt.wantCalls)
				}
				for _, ev := range events[1:] {
					if ev.Attempts != 0 {
						t.Errorf("later event %v has Attempts %d", ev.Kind, ev.Attempts)
					}
				}
			})
		})
	}
}

func TestRetryStreamLazyAndBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(llmtest.ServerError(503), llmtest.Reply("hello world, this is long"), llmtest.Reply("unused"))
		s := llm.Retry(llm.RetryOptions{Rand: retryConst(0)})(fake).Stream(t.Context(), retryReq)
		if fake.Calls() != 0 {
			t.Fatal("Stream called the model before ranging")
		}
		n := 0
		for _, err := range s {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if fake.Calls() != 2 || fake.Pending() != 1 {
			t.Errorf("calls = %d, pending = %d; want 2 and 1", fake.Calls(), fake.Pending())
		}
	})
}

func TestRetryGenerateFirstTrySuccess(t *testing.T) {
	fake := llmtest.NewModel(llmtest.Reply("ok"))
	resp, err := llm.Retry(llm.RetryOptions{})(fake).Generate(context.Background(), retryReq)
	if err != nil || resp.Attempts != 1 {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
}

func TestRetryBudgetLimitsStorm(t *testing.T) {
	const (
		calls = 200
		ratio = 0.1
	)
	for _, stream := range []bool{false, true} {
		name := "generate"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				budget := llm.NewRetryBudget(ratio, 10*time.Second, 1) // floor: 10 retries per window
				// Two providers, each behind its own Retry, share the budget.
				down := func() *llmtest.Model {
					return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
						return nil, &llm.Error{Kind: llm.KindUnavailable, Status: 503}
					})
				}
				a, b := down(), down()
				opts := llm.RetryOptions{MaxAttempts: 5, BaseDelay: 10 * time.Millisecond, Budget: budget}
				ma, mb := llm.Retry(opts)(a), llm.Retry(opts)(b)
				var wg sync.WaitGroup
				for i := range calls {
					m := ma
					if i%2 == 1 {
						m = mb
					}
					wg.Go(func() {
						var err error
						if stream {
							_, err = llm.Collect(m.Stream(t.Context(), retryReq))
						} else {
							_, err = m.Generate(t.Context(), retryReq)
						}
						if llm.KindOf(err) != llm.KindUnavailable {
							t.Errorf("err = %v", err)
						}
					})
				}
				wg.Wait()
				retries := a.Calls() + b.Calls() - calls
				limit := int(ratio*calls) + 10
				if retries > limit {
					t.Errorf("%d retries, want at most %d", retries, limit)
				}
				if retries < limit {
					t.Errorf("%d retries, want the budget (%d) used up", retries, limit)
				}
				st := budget.Stats()
				if st.Requests != calls || st.Retries != int64(retries) || st.Denied == 0 {
					t.Errorf("stats = %+v, want %d requests, %d retries, some denied", st, calls, retries)
				}
			})
		})
	}
}

// BenchmarkRetrySuccess measures Retry alone over a Model that answers at
// once: the cost every successful call pays.
func BenchmarkRetrySuccess(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	for _, bc := range []struct {
		name   string
		budget *llm.RetryBudget
	}{
		{"NoBudget", nil},
		{"Budget", llm.NewRetryBudget(0.1, 10*time.Second, 1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := llm.Retry(llm.RetryOptions{Budget: bc.budget})(fake)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Generate(ctx, retryReq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRetryStream measures Retry alone over a stream of a start, one
// text delta, a finish and a usage event.
func BenchmarkRetryStream(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	fake := llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream { return llm.StreamResponse(resp) }}
	m := llm.Retry(llm.RetryOptions{})(fake)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range m.Stream(ctx, retryReq) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
