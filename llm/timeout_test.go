package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

var timeoutReq = &llm.Request{Model: "m", Messages: []llm.Message{llm.UserText("hi")}}

// timeoutCheck checks a result against an expected outcome: success (kind
// KindUnknown), a timeout whose message contains limit, or another kind.
func timeoutCheck(t *testing.T, err error, wantKind llm.Kind, limit string) {
	t.Helper()
	if wantKind == llm.KindUnknown {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != wantKind {
		t.Fatalf("err = %#v, want an *llm.Error of kind %v", err, wantKind)
	}
	if limit != "" && !strings.Contains(e.Message, limit) {
		t.Errorf("message %q does not name the %q limit", e.Message, limit)
	}
	if limit == "" && strings.Contains(e.Message, "time limit") {
		t.Errorf("message %q names a limit of this middleware", e.Message)
	}
	if wantKind == llm.KindTimeout && errors.Is(err, llm.KindCanceled) {
		t.Errorf("timeout error %v also matches KindCanceled", err)
	}
}

func TestTimeoutGenerate(t *testing.T) {
	tests := []struct {
		name      string
		opts      llm.TimeoutOptions
		step      llmtest.Step
		deadline  time.Duration // caller's deadline, 0: none
		cancelAt  time.Duration // caller cancels, 0: never
		wantKind  llm.Kind
		wantLimit string
		wantTime  time.Duration
	}{
		{name: "total fires", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.Reply("ok").Delay(5 * time.Second),
			wantKind: llm.KindTimeout, wantLimit: "total", wantTime: time.Second},
		{name: "hanging model", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.Timeout(0),
			wantKind: llm.KindTimeout, wantLimit: "total", wantTime: time.Second},
		{name: "in time", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.Reply("ok").Delay(999 * time.Millisecond),
			wantTime: 999 * time.Millisecond},
		{name: "caller deadline first", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.Timeout(0),
			deadline: 500 * time.Millisecond, wantKind: llm.KindTimeout, wantTime: 500 * time.Millisecond},
		{name: "caller cancels", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.Timeout(0),
			cancelAt: 300 * time.Millisecond, wantKind: llm.KindCanceled, wantTime: 300 * time.Millisecond},
		{name: "model error passed through", opts: llm.TimeoutOptions{Total: time.Second}, step: llmtest.ServerError(503).Delay(time.Millisecond),
			wantKind: llm.KindUnavailable, wantTime: time.Millisecond},
		{name: "stream limits do not apply", opts: llm.TimeoutOptions{FirstToken: time.Second, Idle: time.Second},
			step: llmtest.Reply("ok").Delay(5 * time.Second), wantTime: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				if tt.cancelAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					time.AfterFunc(tt.cancelAt, cancel)
				}
				m := llm.Timeout(tt.opts)(llmtest.NewModel(tt.step))
				start := time.Now()
				resp, err := m.Generate(ctx, timeoutReq)
				if d := time.Since(start); d != tt.wantTime {
					t.Errorf("returned after %v, want %v", d, tt.wantTime)
				}
				timeoutCheck(t, err, tt.wantKind, tt.wantLimit)
				if err == nil && resp.Text() != "ok" {
					t.Errorf("text = %q", resp.Text())
				}
				if tt.wantLimit != "" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%v does not wrap context.DeadlineExceeded", err)
				}
			})
		})
	}
}

func TestTimeoutStream(t *testing.T) {
	tests := []struct {
		name       string
		opts       llm.TimeoutOptions
		step       llmtest.Step
		cancelAt   time.Duration
		deadline   time.Duration
		wantEvents int // events received; -1: all
		wantKind   llm.Kind
		wantLimit  string
		wantTime   time.Duration
	}{
		{
			name: "first token fires", opts: llm.TimeoutOptions{FirstToken: time.Second},
			step:       llmtest.Reply("hello world").Delay(3 * time.Second),
			wantEvents: 0, wantKind: llm.KindTimeout, wantLimit: "first-token", wantTime: time.Second,
		},
		{
			name: "start event is not a token", opts: llm.TimeoutOptions{FirstToken: 2 * time.Second},
			step:       llmtest.Reply("hello world").StallAfter(1, 5*time.Second),
			wantEvents: 1, wantKind: llm.KindTimeout, wantLimit: "first-token", wantTime: 2 * time.Second,
		},
		{
			name: "first token in time", opts: llm.TimeoutOptions{FirstToken: 2 * time.Second},
			step:       llmtest.Reply("hello world").StallAfter(1, 1999*time.Millisecond),
			wantEvents: -1, wantTime: 1999 * time.Millisecond,
		},
		{
			name: "later stalls are not first-token", opts: llm.TimeoutOptions{FirstToken: time.Second},
			step:       llmtest.Reply("hello world").StallAfter(3, 5*time.Second),
			wantEvents: -1, wantTime: 5 * time.Second,
		},
		{
			name: "idle fires", opts: llm.TimeoutOptions{Idle: time.Second},
			step:       llmtest.Reply("hello world").StallAfter(3, 5*time.Second),
			wantEvents: 3, wantKind: llm.KindTimeout, wantLimit: "idle", wantTime: time.Second,
		},
		{
			name: "idle gaps in time", opts: llm.TimeoutOptions{Idle: time.Second},
			step:       llmtest.Reply("hello world").Delay(999*time.Millisecond).StallAfter(3, 999*time.Millisecond),
			wantEvents: -1, wantTime: 1998 * time.Millisecond,
		},
		{
			name: "idle limits the first event without FirstToken", opts: llm.TimeoutOptions{Idle: time.Second},
			step:       llmtest.Reply("hello world").Delay(2 * time.Second),
			wantEvents: 0, wantKind: llm.KindTimeout, wantLimit: "idle", wantTime: time.Second,
		},
		{
			name: "FirstToken governs until content", opts: llm.TimeoutOptions{FirstToken: 3 * time.Second, Idle: time.Second},
			step:       llmtest.Reply("hello world").StallAfter(1, 2*time.Second),
			wantEvents: -1, wantTime: 2 * time.Second,
		},
		{
			name: "idle after first token", opts: llm.TimeoutOptions{FirstToken: 3 * time.Second, Idle: time.Second},
			step:       llmtest.Reply("hello world").StallAfter(3, 2*time.Second),
			wantEvents: 3, wantKind: llm.KindTimeout, wantLimit: "idle", wantTime: time.Second,
		},
		{
			name: "total fires mid-stream", opts: llm.TimeoutOptions{Total: 3 * time.Second, Idle: 10 * time.Second},
			step:       llmtest.Reply("hello world").Delay(time.Second).StallAfter(2, 5*time.Second),
			wantEvents: 2, wantKind: llm.KindTimeout, wantLimit: "total", wantTime: 3 * time.Second,
		},
		{
			name: "total before first token", opts: llm.TimeoutOptions{Total: 2 * time.Second, FirstToken: 5 * time.Second},
			step:       llmtest.Reply("hello world").Delay(3 * time.Second),
			wantEvents: 0, wantKind: llm.KindTimeout, wantLimit: "total", wantTime: 2 * time.Second,
		},
		{
			name: "total nearer than idle", opts: llm.TimeoutOptions{Total: 3 * time.Second, Idle: 2 * time.Second},
			step:       llmtest.Reply("hello world").Delay(1500*time.Millisecond).StallAfter(2, 1900*time.Millisecond),
			wantEvents: 2, wantKind: llm.KindTimeout, wantLimit: "total", wantTime: 3 * time.Second,
		},
		{
			name: "caller deadline before total", opts: llm.TimeoutOptions{Total: 10 * time.Second},
			step:       llmtest.Reply("hello world").StallAfter(2, time.Minute),
			wantEvents: 2, wantKind: llm.KindTimeout, wantTime: 5 * time.Second, deadline: 5 * time.Second,
		},
		{
			name: "caller cancels", opts: llm.TimeoutOptions{Total: 10 * time.Second, Idle: 10 * time.Second},
			step:     llmtest.Reply("hello world").StallAfter(2, 5*time.Second),
			cancelAt: time.Second, wantEvents: 2, wantKind: llm.KindCanceled, wantTime: time.Second,
		},
		{
			name: "model error passed through", opts: llm.TimeoutOptions{Total: time.Second, FirstToken: time.Second, Idle: time.Second},
			step:       llmtest.Reply("hello world").CutOffAfter(2),
			wantEvents: 2, wantKind: llm.KindUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.cancelAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					time.AfterFunc(tt.cancelAt, cancel)
				}
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				m := llm.Timeout(tt.opts)(llmtest.NewModel(tt.step))
				start := time.Now()
				var acc llm.Accumulator
				events, errs := 0, 0
				var err error
				for ev, e := range m.Stream(ctx, timeoutReq) {
					if e != nil {
						err = e
						errs++
						continue // a second pair after an error is a bug
					}
					if errs > 0 {
						t.Fatal("event after the error")
					}
					events++
					acc.Add(ev)
				}
				if d := time.Since(start); d != tt.wantTime {
					t.Errorf("ended after %v, want %v", d, tt.wantTime)
				}
				timeoutCheck(t, err, tt.wantKind, tt.wantLimit)
				if errs > 1 {
					t.Errorf("%d errors yielded", errs)
				}
				if tt.wantEvents >= 0 && events != tt.wantEvents {
					t.Errorf("received %d events, want %d", events, tt.wantEvents)
				}
				if tt.wantEvents < 0 && acc.Response().Text() != "hello world" {
					t.Errorf("text = %q", acc.Response().Text())
				}
			})
		})
	}
}

func TestTimeoutIdleExcludesCallerTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llm.Timeout(llm.TimeoutOptions{Idle: time.Second})(llmtest.NewModel(llmtest.Reply("hello world")))
		for _, err := range m.Stream(t.Context(), timeoutReq) {
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second) // a slow consumer is not an idle model
		}
	})
}

func TestTimeoutLimitPassesWhileCallerHoldsEvent(t *testing.T) {
	tests := []struct {
		name     string
		opts     llm.TimeoutOptions
		wantTime time.Duration
	}{
		// The total deadline is armed while the caller holds the event: it
		// fires then, and the next event is not delivered.
		{"total armed", llm.TimeoutOptions{Total: time.Second}, 2 * time.Second},
		{"total nearer than idle", llm.TimeoutOptions{Total: time.Second, Idle: 10 * time.Second}, 2 * time.Second},
		// The idle limit is armed, paused while the caller holds the
		// event; when the caller returns, the total deadline has passed.
		{"idle nearer than total", llm.TimeoutOptions{Total: 1500 * time.Millisecond, Idle: time.Second}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Timeout(tt.opts)(llmtest.NewModel(llmtest.Reply("hello world")))
				start := time.Now()
				events := 0
				var err error
				for _, e := range m.Stream(t.Context(), timeoutReq) {
					if e != nil {
						err = e
						break
					}
					events++
					time.Sleep(2 * time.Second)
				}
				if d := time.Since(start); d != tt.wantTime {
					t.Errorf("ended after %v, want %v", d, tt.wantTime)
				}
				if events != 1 {
					t.Errorf("received %d events, want 1", events)
				}
				timeoutCheck(t, err, llm.KindTimeout, "total")
			})
		})
	}
}

func TestTimeoutStreamBreakReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inner context.Context
		fake := llmtest.NewModel(llmtest.Reply("hello world").StallAfter(2, time.Hour))
		spy := llm.ModelFuncs{StreamFunc: func(ctx context.Context, req *llm.Request) llm.Stream {
			inner = ctx
			return fake.Stream(ctx, req)
		}}
		m := llm.Timeout(llm.TimeoutOptions{Total: time.Minute, FirstToken: time.Second, Idle: time.Second})(spy)
		for _, err := range m.Stream(t.Context(), timeoutReq) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if !errors.Is(context.Cause(inner), context.Canceled) {
			t.Errorf("inner context cause = %v, want released with context.Canceled", context.Cause(inner))
		}
		time.Sleep(2 * time.Minute) // stopped timers fire nothing
		if !errors.Is(context.Cause(inner), context.Canceled) {
			t.Errorf("inner context cause changed to %v", context.Cause(inner))
		}
	})
}

func TestTimeoutPerAttemptAndOverall(t *testing.T) {
	tests := []struct {
		name         string
		stack        func(llm.Model) llm.Model
		steps        []llmtest.Step
		stream       bool
		wantKind     llm.Kind
		wantLimit    string
		wantTime     time.Duration
		wantAttempts int
	}{
		{
			name: "per attempt: a hung attempt is retried",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Retry(llm.RetryOptions{Rand: retryConst(0)}), llm.Timeout(llm.TimeoutOptions{Total: time.Second}))
			},
			steps:    []llmtest.Step{llmtest.Timeout(0), llmtest.Reply("ok")},
			wantTime: time.Second, wantAttempts: 2,
		},
		{
			name: "per attempt: slow first token is retried",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Retry(llm.RetryOptions{Rand: retryConst(0)}), llm.Timeout(llm.TimeoutOptions{FirstToken: time.Second}))
			},
			steps:  []llmtest.Step{llmtest.Reply("ok").Delay(time.Minute), llmtest.Reply("ok")},
			stream: true, wantTime: time.Second, wantAttempts: 2,
		},
		{
			name: "per attempt: every attempt hangs",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Retry(llm.RetryOptions{Rand: retryConst(0)}), llm.Timeout(llm.TimeoutOptions{Total: time.Second}))
			},
			steps:    []llmtest.Step{llmtest.Timeout(0).Times(3)},
			wantKind: llm.KindTimeout, wantLimit: "total", wantTime: 3 * time.Second, wantAttempts: 3,
		},
		{
			name: "overall: no retry after the limit",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Timeout(llm.TimeoutOptions{Total: time.Second}), llm.Retry(llm.RetryOptions{Rand: retryConst(0)}))
			},
			steps:    []llmtest.Step{llmtest.Timeout(0).Times(3)},
			wantKind: llm.KindTimeout, wantLimit: "total", wantTime: time.Second, wantAttempts: 1,
		},
		{
			name: "overall: retry gives up before a wait past the limit",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Timeout(llm.TimeoutOptions{Total: 2 * time.Second}),
					llm.Retry(llm.RetryOptions{MaxAttempts: 10, BaseDelay: 200 * time.Millisecond, Rand: retryConst(1)}))
			},
			// Attempts end at 0.4s, 1.0s (after 0.2s wait) and 1.8s (after
			// 0.4s); the next wait, 0.8s, would end past 2s.
			steps:    []llmtest.Step{llmtest.ServerError(503).Delay(400 * time.Millisecond).Times(10)},
			wantKind: llm.KindUnavailable, wantTime: 1800 * time.Millisecond, wantAttempts: 3,
		},
		{
			name: "overall: stream retry gives up before a wait past the limit",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Timeout(llm.TimeoutOptions{Total: 2 * time.Second, FirstToken: 5 * time.Second}),
					llm.Retry(llm.RetryOptions{MaxAttempts: 10, BaseDelay: 200 * time.Millisecond, Rand: retryConst(1)}))
			},
			steps:  []llmtest.Step{llmtest.ServerError(503).Delay(400 * time.Millisecond).Times(10)},
			stream: true, wantKind: llm.KindUnavailable, wantTime: 1800 * time.Millisecond, wantAttempts: 3,
		},
		{
			name: "overall: stream retried within the limit",
			stack: func(m llm.Model) llm.Model {
				return llm.Chain(m, llm.Timeout(llm.TimeoutOptions{Total: 2 * time.Second}),
					llm.Retry(llm.RetryOptions{BaseDelay: 200 * time.Millisecond, Rand: retryConst(1)}))
			},
			steps:  []llmtest.Step{llmtest.ServerError(503).Delay(400 * time.Millisecond), llmtest.Reply("ok")},
			stream: true, wantTime: 600 * time.Millisecond, wantAttempts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := llmtest.NewModel(tt.steps...)
				m := tt.stack(fake)
				start := time.Now()
				var resp *llm.Response
				var err error
				if tt.stream {
					resp, err = llm.Collect(m.Stream(t.Context(), timeoutReq))
				} else {
					resp, err = m.Generate(t.Context(), timeoutReq)
				}
				if d := time.Since(start); d != tt.wantTime {
					t.Errorf("returned after %v, want %v", d, tt.wantTime)
				}
				timeoutCheck(t, err, tt.wantKind, tt.wantLimit)
				attempts := 0
				if err != nil {
					var e *llm.Error
					errors.As(err, &e)
					attempts = e.Attempts
				} else {
					attempts = resp.Attempts
					if resp.Text() != "ok" {
						t.Errorf("text = %q", resp.Text())
					}
				}
				if attempts != tt.wantAttempts || fake.Calls() != tt.wantAttempts {
					t.Errorf("attempts = %d, calls = %d; want %d", attempts, fake.Calls(), tt.wantAttempts)
				}
			})
		})
	}
}

func TestTimeoutStreamDeadline(t *testing.T) {
	tests := []struct {
		name   string
		opts   llm.TimeoutOptions
		caller time.Duration // the caller's deadline, 0: none
		want   time.Duration // the deadline the Model sees, 0: none
	}{
		{"total", llm.TimeoutOptions{Total: 3 * time.Second}, 0, 3 * time.Second},
		{"total before caller", llm.TimeoutOptions{Total: 3 * time.Second, Idle: time.Second}, 5 * time.Second, 3 * time.Second},
		{"caller before total", llm.TimeoutOptions{Total: 3 * time.Second}, 2 * time.Second, 2 * time.Second},
		{"no total", llm.TimeoutOptions{FirstToken: time.Second}, 0, 0},
		{"no total, caller's", llm.TimeoutOptions{Idle: time.Second}, 2 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				if tt.caller > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.caller)
					defer cancel()
				}
				start := time.Now()
				var got time.Duration
				spy := llm.ModelFuncs{StreamFunc: func(ctx context.Context, req *llm.Request) llm.Stream {
					if dl, ok := ctx.Deadline(); ok {
						got = dl.Sub(start)
					}
					return llmtest.NewModel(llmtest.Reply("ok")).Stream(ctx, req)
				}}
				if _, err := llm.Collect(llm.Timeout(tt.opts)(spy).Stream(ctx, timeoutReq)); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("the Model saw a deadline %v after the start, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestTimeoutZeroOptionsIsIdentity(t *testing.T) {
	fake := llmtest.NewModel()
	if m := llm.Timeout(llm.TimeoutOptions{})(fake); m != llm.Model(fake) {
		t.Errorf("Timeout with no limits wrapped the model: %T", m)
	}
}

// BenchmarkTimeoutGenerate measures Timeout alone over a Model that answers
// at once, under a background context and under a cancelable one (as a
// server request's context is).
func BenchmarkTimeoutGenerate(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	m := llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second})(fake)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"Background", context.Background()},
		{"CancelableParent", parent},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Generate(bc.ctx, timeoutReq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTimeoutStream measures Timeout with all three limits over a
// stream of a start, one text delta, a finish and a usage event.
func BenchmarkTimeoutStream(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	fake := llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream { return llm.StreamResponse(resp) }}
	m := llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second, FirstToken: 10 * time.Second, Idle: 5 * time.Second})(fake)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range m.Stream(ctx, timeoutReq) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
