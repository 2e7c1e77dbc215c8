package llm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// brkModes are the two ways a Model is called.
var brkModes = []string{"generate", "stream"}

func brkReq() *llm.Request {
	return &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}}
}

// brkCall serves one request in mode and returns the result.
func brkCall(ctx context.Context, m llm.Model, mode string) (*llm.Response, error) {
	if mode == "stream" {
		return llm.Collect(m.Stream(ctx, brkReq()))
	}
	return m.Generate(ctx, brkReq())
}

// brkRecorder collects state changes.
type brkRecorder struct {
	mu      sync.Mutex
	changes []llm.BreakerChange
}

func (r *brkRecorder) record(c llm.BreakerChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *brkRecorder) transitions() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, c := range r.changes {
		parts = append(parts, c.From.String()+">"+c.To.String())
	}
	return strings.Join(parts, " ")
}

func brkWantKind(t *testing.T, err error, want llm.Kind) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *llm.Error of kind %v", err, want)
	}
	if e.Kind != want {
		t.Fatalf("kind = %v (%v), want %v", e.Kind, err, want)
	}
	return e
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec brkRecorder
				b := llm.NewBreaker(llm.BreakerOptions{
					Name: "primary", ConsecutiveFailures: 3, FailureRate: -1,
					Cooldown: 30 * time.Second, OnStateChange: rec.record,
				})
				fake := llmtest.NewModel(llmtest.ServerError(503).Times(3), llmtest.Reply("never"))
				m := llm.Chain(fake, b.Middleware())
				for i := range 3 {
					if got := b.State(); got != llm.BreakerClosed {
						t.Fatalf("before failure %d: state = %v, want closed", i+1, got)
					}
					_, err := brkCall(t.Context(), m, mode)
					brkWantKind(t, err, llm.KindUnavailable)
				}
				if got := b.State(); got != llm.BreakerOpen {
					t.Fatalf("state = %v, want open", got)
				}

				time.Sleep(10 * time.Second)
				_, err := brkCall(t.Context(), m, mode)
				e := brkWantKind(t, err, llm.KindCircuitOpen)
				if fake.Calls() != 3 {
					t.Errorf("model calls = %d, want 3: an open breaker must not call the model", fake.Calls())
				}
				if e.RetryAfter != 20*time.Second {
					t.Errorf("retry after = %v, want 20s", e.RetryAfter)
				}
				// time.Now in a bubble starts at 2000-01-01 00:00:00 UTC.
				for _, want := range []string{`"primary"`, "open until 2000-01-01T00:00:30.000Z", "3 consecutive failures"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if llm.Retryable(err) || !llm.KindCircuitOpen.Handling().Fallback {
					t.Errorf("circuit open: Retryable = %v, want false", llm.Retryable(err))
				}

				if got := rec.transitions(); got != "closed>open" {
					t.Fatalf("transitions = %q, want closed>open", got)
				}
				c := rec.changes[0]
				if c.Name != "primary" || c.Reason != "3 consecutive failures" || llm.KindOf(c.Err) != llm.KindUnavailable {
					t.Errorf("change = %+v", c)
				}
				if want := time.Date(2000, 1, 1, 0, 0, 30, 0, time.UTC); !c.Until.Equal(want) {
					t.Errorf("until = %v, want %v", c.Until, want)
				}
			})
		})
	}
}

func TestBreakerFailureRate(t *testing.T) {
	ok, fail := llmtest.Reply("ok"), llmtest.ServerError(502)
	tests := []struct {
		name  string
		steps []llmtest.Step
		want  llm.BreakerState
	}{
		{"half of ten fail", []llmtest.Step{ok, fail, ok, fail, ok, fail, ok, fail, ok, fail}, llm.BreakerOpen},
		{"four of ten fail", []llmtest.Step{ok, fail, ok, fail, ok, fail, ok, fail, ok, ok}, llm.BreakerClosed},
		{"below minimum requests", []llmtest.Step{fail, fail, fail, fail, fail, fail, fail, fail, fail}, llm.BreakerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := llm.NewBreaker(llm.BreakerOptions{MinRequests: 10, FailureRate: 0.5, ConsecutiveFailures: -1})
				m := llm.Chain(llmtest.NewModel(tt.steps...), b.Middleware())
				for range tt.steps {
					_, _ = m.Generate(t.Context(), brkReq())
				}
				if got := b.State(); got != tt.want {
					t.Errorf("state = %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec brkRecorder
		b := llm.NewBreaker(llm.BreakerOptions{
			Window: 10 * time.Second, Buckets: 10, MinRequests: 4, FailureRate: 0.5,
			ConsecutiveFailures: -1, OnStateChange: rec.record,
		})
		fail := llmtest.ServerError(503)
		m := llm.Chain(llmtest.NewModel(fail, fail, fail, llmtest.Reply("ok"), fail, fail, fail), b.Middleware())
		for range 3 {
			_, _ = m.Generate(t.Context(), brkReq())
		}
		// 3 of 3 failed, but the window needs 4 results.
		time.Sleep(11 * time.Second) // the three failures leave the window
		_, _ = m.Generate(t.Context(), brkReq())
		_, _ = m.Generate(t.Context(), brkReq())
		if got := b.State(); got != llm.BreakerClosed {
			t.Fatalf("after old failures left the window: state = %v, want closed", got)
		}
		_, _ = m.Generate(t.Context(), brkReq())
		if got := b.State(); got != llm.BreakerClosed {
			t.Fatalf("2 of 3: state = %v, want closed", got)
		}
		_, _ = m.Generate(t.Context(), brkReq())
		if got := b.State(); got != llm.BreakerOpen {
			t.Fatalf("3 of 4 failed: state = %v, want open", got)
		}
		if c := rec.changes[0]; c.Reason != "3 of 4 requests failed in 10s" {
			t.Errorf("reason = %q", c.Reason)
		}
	})
}

func TestBreakerIgnoresNonCountingKinds(t *testing.T) {
	canceledAfter := llm.ModelFuncs{GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		// A provider that, once the caller cancels, reports the broken
		// connection rather than the cancellation.
		<-ctx.Done()
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "connection reset"}
	}}
	tests := []struct {
		name   string
		step   llmtest.Step
		model  llm.Model // instead of step, when set
		cancel bool      // the caller cancels after a second
		want   llm.Kind
	}{
		{name: "invalid request 400", step: llmtest.HTTPFailure(400, "invalid_value", "bad"), want: llm.KindInvalidRequest},
		{name: "context length", step: llmtest.HTTPFailure(400, "context_length_exceeded", "too long"), want: llm.KindContextLength},
		{name: "rate limited 429", step: llmtest.RateLimited(), want: llm.KindRateLimited},
		{name: "auth 401", step: llmtest.HTTPFailure(401, "invalid_api_key", "no"), want: llm.KindAuth},
		{name: "not found 404", step: llmtest.HTTPFailure(404, "model_not_found", "no"), want: llm.KindNotFound},
		{name: "content filtered", step: llmtest.Fail(&llm.Error{Kind: llm.KindContentFiltered}), want: llm.KindContentFiltered},
		{name: "guard blocked", step: llmtest.Fail(&llm.Error{Kind: llm.KindGuardBlocked}), want: llm.KindGuardBlocked},
		{name: "policy denied", step: llmtest.Fail(&llm.Error{Kind: llm.KindPolicyDenied}), want: llm.KindPolicyDenied},
		{name: "canceled by caller", step: llmtest.Timeout(0), cancel: true, want: llm.KindCanceled},
		{name: "unavailable after caller canceled", model: canceledAfter, cancel: true, want: llm.KindUnavailable},
	}
	for _, tt := range tests {
		for _, mode := range brkModes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1, MinRequests: 1, FailureRate: 0.01})
					model := tt.model
					if model == nil {
						model = llmtest.NewModel(tt.step.Times(5))
					}
					m := llm.Chain(model, b.Middleware())
					for range 5 {
						ctx, cancel := context.WithCancel(t.Context())
						if tt.cancel {
							time.AfterFunc(time.Second, cancel)
						}
						_, err := brkCall(ctx, m, mode)
						cancel()
						brkWantKind(t, err, tt.want)
					}
					if got := b.State(); got != llm.BreakerClosed {
						t.Errorf("state = %v, want closed", got)
					}
				})
			})
		}
	}
}

func TestBreakerHalfOpenLimitsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec brkRecorder
		b := llm.NewBreaker(llm.BreakerOptions{
			ConsecutiveFailures: 1, Cooldown: 10 * time.Second, MaxProbes: 2, OnStateChange: rec.record,
		})
		fake := llmtest.NewModel(llmtest.ServerError(500), llmtest.Reply("probe").Delay(time.Second).Times(5))
		m := llm.Chain(fake, b.Middleware())
		_, _ = m.Generate(t.Context(), brkReq())
		time.Sleep(10 * time.Second)

		const callers = 6
		errs := make(chan error, callers)
		for i := range callers {
			mode := brkModes[i%2]
			go func() {
				_, err := brkCall(t.Context(), m, mode)
				errs <- err
			}()
		}
		synctest.Wait() // every caller has either been refused or is probing
		if got := fake.Calls(); got != 1+2 {
			t.Errorf("model calls = %d, want 3 (one failure, then two probes)", got)
		}
		if got := b.State(); got != llm.BreakerHalfOpen {
			t.Errorf("state = %v, want half_open", got)
		}
		refused := 0
		for range callers {
			err := <-errs
			if err == nil {
				continue
			}
			refused++
			e := brkWantKind(t, err, llm.KindCircuitOpen)
			if !strings.Contains(e.Message, "half-open") {
				t.Errorf("message = %q, want it to say half-open", e.Message)
			}
		}
		if refused != callers-2 {
			t.Errorf("refused = %d, want %d", refused, callers-2)
		}
		if got := b.State(); got != llm.BreakerClosed {
			t.Errorf("after good probes: state = %v, want closed", got)
		}
		if got := rec.transitions(); got != "closed>open open>half_open half_open>closed" {
			t.Errorf("transitions = %q", got)
		}
	})
}

func TestBreakerClosesAfterGoodProbe(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec brkRecorder
				b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1, Cooldown: 10 * time.Second, OnStateChange: rec.record})
				m := llm.Chain(llmtest.NewModel(llmtest.ServerError(500), llmtest.Reply("back")), b.Middleware())
				start := time.Now()
				_, _ = brkCall(t.Context(), m, mode)
				time.Sleep(9 * time.Second)
				if _, err := brkCall(t.Context(), m, mode); llm.KindOf(err) != llm.KindCircuitOpen {
					t.Fatalf("before cooldown: err = %v, want circuit open", err)
				}
				time.Sleep(time.Second)
				resp, err := brkCall(t.Context(), m, mode)
				if err != nil || resp.Text() != "back" {
					t.Fatalf("probe: %v, %v", resp, err)
				}
				if got := b.State(); got != llm.BreakerClosed {
					t.Fatalf("state = %v, want closed", got)
				}
				if got := rec.transitions(); got != "closed>open open>half_open half_open>closed" {
					t.Fatalf("transitions = %q", got)
				}
				for i, want := range []time.Duration{0, 10 * time.Second, 10 * time.Second} {
					if got := rec.changes[i].At.Sub(start); got != want {
						t.Errorf("transition %d at %v, want %v", i, got, want)
					}
				}
			})
		})
	}
}

func TestBreakerReopensAfterBadProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec brkRecorder
		b := llm.NewBreaker(llm.BreakerOptions{
			ConsecutiveFailures: 1, Cooldown: 10 * time.Second, MaxCooldown: 25 * time.Second, OnStateChange: rec.record,
		})
		fail := llmtest.ServerError(503)
		m := llm.Chain(llmtest.NewModel(fail, fail, fail, llmtest.Reply("ok"), fail), b.Middleware())
		retryAfter := func() time.Duration {
			t.Helper()
			_, err := m.Generate(t.Context(), brkReq())
			return brkWantKind(t, err, llm.KindCircuitOpen).RetryAfter
		}
		_, _ = m.Generate(t.Context(), brkReq())
		cooldown := retryAfter()
		if cooldown != 10*time.Second {
			t.Fatalf("first cooldown = %v, want 10s", cooldown)
		}
		// Each failed probe doubles the cooldown, up to MaxCooldown.
		for _, want := range []time.Duration{20 * time.Second, 25 * time.Second} {
			time.Sleep(cooldown)
			_, err := m.Generate(t.Context(), brkReq())
			brkWantKind(t, err, llm.KindUnavailable)
			if got := b.State(); got != llm.BreakerOpen {
				t.Fatalf("after bad probe: state = %v, want open", got)
			}
			if cooldown = retryAfter(); cooldown != want {
				t.Fatalf("cooldown = %v, want %v", cooldown, want)
			}
		}
		time.Sleep(25 * time.Second)
		if _, err := m.Generate(t.Context(), brkReq()); err != nil {
			t.Fatalf("good probe: %v", err)
		}
		// Closing resets the cooldown.
		_, _ = m.Generate(t.Context(), brkReq())
		if got := retryAfter(); got != 10*time.Second {
			t.Fatalf("cooldown after closing = %v, want 10s", got)
		}
		want := "closed>open open>half_open half_open>open open>half_open half_open>open open>half_open half_open>closed closed>open"
		if got := rec.transitions(); got != want {
			t.Errorf("transitions = %q, want %q", got, want)
		}
		if c := rec.changes[2]; c.Reason != "probe failed" || llm.KindOf(c.Err) != llm.KindUnavailable {
			t.Errorf("reopen change = %+v", c)
		}
	})
}

// The options of TestBreakerIgnoresNonCountingKinds do trip on a failure
// that counts.
func TestBreakerCountsProviderFailures(t *testing.T) {
	tests := []struct {
		name string
		step llmtest.Step
	}{
		{"unavailable 503", llmtest.ServerError(503)},
		{"quota exhausted", llmtest.QuotaExhausted()},
		{"timeout", llmtest.Timeout(time.Second)},
		{"bad response", llmtest.Fail(&llm.Error{Kind: llm.KindBadResponse})},
		{"unclassified error", llmtest.Fail(errors.New("boom"))},
		{"stream cut off", llmtest.Reply("hello there").CutOffAfter(0)},
	}
	for _, tt := range tests {
		for _, mode := range brkModes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1, MinRequests: 1, FailureRate: 0.01})
					m := llm.Chain(llmtest.NewModel(tt.step), b.Middleware())
					if _, err := brkCall(t.Context(), m, mode); err == nil {
						t.Fatal("call succeeded, want an error")
					}
					if got := b.State(); got != llm.BreakerOpen {
						t.Errorf("state = %v, want open", got)
					}
				})
			})
		}
	}
}

func TestBreakerStreams(t *testing.T) {
	tests := []struct {
		name      string
		step      llmtest.Step
		breakAt   int // stop ranging after this many events; 0 ranges to the end
		wantState llm.BreakerState
	}{
		{"success", llmtest.Reply("hello there"), 0, llm.BreakerClosed},
		{"error before the first event", llmtest.Reply("hello there").CutOffAfter(0), 0, llm.BreakerOpen},
		{"error after content", llmtest.Reply("hello there").CutOffAfter(3), 0, llm.BreakerOpen},
		{"caller stops early", llmtest.Reply("hello there"), 2, llm.BreakerHalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The stream under test is the half-open probe, so that
				// a success closes, a failure reopens and a neutral
				// result leaves the breaker half-open.
				b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Second})
				fake := llmtest.NewModel(llmtest.ServerError(500), tt.step, llmtest.Reply("next"))
				m := llm.Chain(fake, b.Middleware())
				_, _ = m.Generate(t.Context(), brkReq())
				time.Sleep(time.Second)
				n := 0
				for _, err := range m.Stream(t.Context(), brkReq()) {
					if err != nil {
						break
					}
					if n++; n == tt.breakAt {
						break
					}
				}
				if got := b.State(); got != tt.wantState {
					t.Fatalf("state = %v, want %v", got, tt.wantState)
				}
				if tt.wantState == llm.BreakerHalfOpen {
					// The probe slot was released: the next call probes.
					if _, err := m.Generate(t.Context(), brkReq()); err != nil {
						t.Fatalf("next probe: %v", err)
					}
					if got := b.State(); got != llm.BreakerClosed {
						t.Errorf("after next probe: state = %v, want closed", got)
					}
				}
			})
		})
	}
}

func TestBreakerStreamIsLazy(t *testing.T) {
	b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1})
	fake := llmtest.NewModel(llmtest.ServerError(500))
	m := llm.Chain(fake, b.Middleware())
	_ = m.Stream(t.Context(), brkReq()) // never ranged
	if fake.Calls() != 0 || b.State() != llm.BreakerClosed {
		t.Errorf("calls = %d, state = %v; want 0, closed", fake.Calls(), b.State())
	}
}

// A call that started before the breaker opened cannot close it by
// succeeding late, nor take a probe's place.
func TestBreakerIgnoresStaleResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1, Cooldown: 10 * time.Second})
		slow := llm.Chain(llmtest.NewModel(llmtest.Reply("late").Delay(15*time.Second)), b.Middleware())
		fake := llmtest.NewModel(llmtest.ServerError(500), llmtest.ServerError(500).Delay(10*time.Second))
		m := llm.Chain(fake, b.Middleware())

		done := make(chan error, 1)
		go func() {
			_, err := slow.Generate(t.Context(), brkReq()) // allowed while closed
			done <- err
		}()
		synctest.Wait()
		_, _ = m.Generate(t.Context(), brkReq()) // opens the breaker at 0s
		time.Sleep(10 * time.Second)
		probe := make(chan error, 1)
		go func() {
			_, err := m.Generate(t.Context(), brkReq()) // the probe, failing at 20s
			probe <- err
		}()
		if err := <-done; err != nil { // at 15s
			t.Fatalf("slow call: %v", err)
		}
		if got := b.State(); got != llm.BreakerHalfOpen {
			t.Fatalf("after a stale success: state = %v, want half_open", got)
		}
		brkWantKind(t, <-probe, llm.KindUnavailable)
		if got := b.State(); got != llm.BreakerOpen {
			t.Fatalf("after the bad probe: state = %v, want open", got)
		}
	})
}

// Many callers against a flaky model: the race detector checks the
// breaker's synchronisation, and the half-open probe limit holds.
func TestBreakerConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxProbes = 2
		b := llm.NewBreaker(llm.BreakerOptions{
			ConsecutiveFailures: 3, MinRequests: 20, Cooldown: 50 * time.Millisecond, MaxProbes: maxProbes,
			Window: time.Second, Buckets: 4,
		})
		var mu sync.Mutex
		inFlight, maxInFlight := 0, 0
		base := llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
			return &llm.Response{Message: llm.AssistantText("ok")}, nil
		})
		flaky := llmtest.FailRandomly(base, 0.4, 7, nil)
		probeCounter := llm.ModelFuncs{GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
			halfOpen := b.State() == llm.BreakerHalfOpen
			if halfOpen {
				mu.Lock()
				inFlight++
				maxInFlight = max(maxInFlight, inFlight)
				mu.Unlock()
				defer func() {
					mu.Lock()
					inFlight--
					mu.Unlock()
				}()
			}
			time.Sleep(10 * time.Millisecond)
			return flaky.Generate(ctx, req)
		}}
		m := llm.Chain(probeCounter, b.Middleware())
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					_, _ = brkCall(t.Context(), m, brkModes[(g+i)%2])
					time.Sleep(time.Duration(g+1) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		t.Logf("max in flight half-open: %d", maxInFlight)
		if maxInFlight > maxProbes {
			t.Errorf("%d calls in flight while half-open, want at most %d", maxInFlight, maxProbes)
		}
	})
}

func TestBreakerPermit(t *testing.T) {
	var zero llm.BreakerPermit
	zero.Done(errors.New("ignored")) // the zero permit does nothing

	b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 2})
	for range 2 {
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Done(&llm.Error{Kind: llm.KindTimeout})
	}
	if _, err := b.Allow(); llm.KindOf(err) != llm.KindCircuitOpen {
		t.Fatalf("Allow after 2 failures: %v, want circuit open", err)
	}
	if got := llm.BreakerState(9).String(); got != "breaker_state(9)" {
		t.Errorf("String = %q", got)
	}
}

func BenchmarkBreakerAllow(b *testing.B) {
	br := llm.NewBreaker(llm.BreakerOptions{})
	b.ReportAllocs()
	for b.Loop() {
		p, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}

func BenchmarkBreakerAllowParallel(b *testing.B) {
	br := llm.NewBreaker(llm.BreakerOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			p.Done(nil)
		}
	})
}

func BenchmarkBreakerMiddleware(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	m := llm.Chain(fake, llm.NewBreaker(llm.BreakerOptions{}).Middleware())
	ctx, req := context.Background(), brkReq()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBreakerDefaults checks the zero options: no consecutive-failure rule
// (19 failures in a row, below MinRequests, leave it closed) and a failure
// rate rule that needs 20 results.
func TestBreakerDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := llm.NewBreaker(llm.BreakerOptions{})
		m := llm.Chain(llmtest.NewModel(llmtest.ServerError(503).Times(20)), b.Middleware())
		for range 19 {
			_, _ = m.Generate(t.Context(), brkReq())
		}
		if got := b.State(); got != llm.BreakerClosed {
			t.Fatalf("state after 19 failures in a row = %v, want closed (no consecutive rule, MinRequests 20)", got)
		}
		_, _ = m.Generate(t.Context(), brkReq())
		if got := b.State(); got != llm.BreakerOpen {
			t.Fatalf("state after 20 failures = %v, want open (failure rate)", got)
		}
	})
}

// TestBreakerCallerDeadlineNeutral: a call whose caller's deadline expired
// says nothing about the Model's health, while a timeout raised below the
// breaker (keel's Timeout middleware, or the provider) while the caller
// still waits counts.
func TestBreakerCallerDeadlineNeutral(t *testing.T) {
	tests := []struct {
		name     string
		step     llmtest.Step
		timeout  bool          // keel's Timeout middleware (1s) below the breaker
		deadline time.Duration // the caller's deadline; 0 for none
		want     llm.BreakerState
	}{
		{"caller deadline expired", llmtest.Timeout(0), false, time.Second, llm.BreakerClosed},
		{"caller canceled", llmtest.Timeout(0), false, -1, llm.BreakerClosed},
		{"Timeout middleware below the breaker", llmtest.Timeout(0), true, 0, llm.BreakerOpen},
		{"Timeout middleware, caller deadline later", llmtest.Timeout(0), true, time.Minute, llm.BreakerOpen},
		{"provider timeout", llmtest.Timeout(2 * time.Second), false, 0, llm.BreakerOpen},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1})
					var m llm.Model = llmtest.NewModel(tt.step)
					if tt.timeout {
						m = llm.Timeout(llm.TimeoutOptions{Total: time.Second})(m)
					}
					m = b.Middleware()(m)
					ctx := t.Context()
					switch {
					case tt.deadline > 0:
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, tt.deadline)
						defer cancel()
					case tt.deadline < 0:
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						time.AfterFunc(time.Second, cancel)
					}
					var err error
					if stream {
						_, err = llm.Collect(m.Stream(ctx, brkReq()))
					} else {
						_, err = m.Generate(ctx, brkReq())
					}
					if err == nil {
						t.Fatal("call succeeded")
					}
					if got := b.State(); got != tt.want {
						t.Errorf("state = %v after %v, want %v", got, err, tt.want)
					}
				})
			})
		}
	}
}
