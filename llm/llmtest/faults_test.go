package llmtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// call serves one request in the given mode and returns the error.
func call(ctx context.Context, m llm.Model, mode string) (*llm.Response, error) {
	if mode == "stream" {
		return llm.Collect(m.Stream(ctx, userReq("x")))
	}
	return m.Generate(ctx, userReq("x"))
}

var modes = []string{"generate", "stream"}

func TestHTTPFaults(t *testing.T) {
	// Inside a synctest bubble time.Now is 2000-01-01 00:00:00 UTC, so an
	// HTTP date three seconds later is an exact retry-after.
	date := time.Date(2000, 1, 1, 0, 0, 3, 0, time.UTC).Format(http.TimeFormat)
	tests := []struct {
		name       string
		step       llmtest.Step
		wantKind   llm.Kind
		wantStatus int
		wantCode   string
		wantAfter  time.Duration
		wantRetry  bool
	}{
		{"429 no header", llmtest.RateLimited(), llm.KindRateLimited, 429, "rate_limit_exceeded", 0, true},
		{"429 retry-after seconds", llmtest.RateLimited("Retry-After", "2"), llm.KindRateLimited, 429, "rate_limit_exceeded", 2 * time.Second, true},
		{"429 retry-after fractional", llmtest.RateLimited("Retry-After", "1.5"), llm.KindRateLimited, 429, "rate_limit_exceeded", 1500 * time.Millisecond, true},
		{"429 retry-after HTTP date", llmtest.RateLimited("Retry-After", date), llm.KindRateLimited, 429, "rate_limit_exceeded", 3 * time.Second, true},
		{"429 retry-after-ms", llmtest.RateLimited("Retry-After-Ms", "250"), llm.KindRateLimited, 429, "rate_limit_exceeded", 250 * time.Millisecond, true},
		{"429 ms wins over seconds", llmtest.RateLimited("Retry-After", "9", "retry-after-ms", "20"), llm.KindRateLimited, 429, "rate_limit_exceeded", 20 * time.Millisecond, true},
		{"429 reset requests", llmtest.RateLimited("X-Ratelimit-Reset-Requests", "6m0s"), llm.KindRateLimited, 429, "rate_limit_exceeded", 6 * time.Minute, true},
		{"429 reset tokens", llmtest.RateLimited("X-Ratelimit-Reset-Tokens", "20ms"), llm.KindRateLimited, 429, "rate_limit_exceeded", 20 * time.Millisecond, true},
		{"429 reset exhausted limit", llmtest.RateLimited(
			"X-Ratelimit-Reset-Requests", "1s", "X-Ratelimit-Remaining-Requests", "10",
			"X-Ratelimit-Reset-Tokens", "500ms", "X-Ratelimit-Remaining-Tokens", "0"),
			llm.KindRateLimited, 429, "rate_limit_exceeded", 500 * time.Millisecond, true},
		{"429 x-should-retry false", llmtest.RateLimited("Retry-After", "1", "X-Should-Retry", "false"), llm.KindRateLimited, 429, "rate_limit_exceeded", time.Second, false},
		{"quota", llmtest.QuotaExhausted(), llm.KindQuotaExhausted, 429, "insufficient_quota", 0, false},
		{"500", llmtest.ServerError(500), llm.KindUnavailable, 500, "", 0, true},
		{"502", llmtest.ServerError(502), llm.KindUnavailable, 502, "", 0, true},
		{"503 with retry-after", llmtest.ServerError(503, "Retry-After", "4"), llm.KindUnavailable, 503, "", 4 * time.Second, true},
		{"400 context length", llmtest.HTTPFailure(400, "context_length_exceeded", "too long"), llm.KindContextLength, 400, "context_length_exceeded", 0, false},
		{"401", llmtest.HTTPFailure(401, "invalid_api_key", "Incorrect API key provided: sk-proj-abcdef123456"), llm.KindAuth, 401, "invalid_api_key", 0, false},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					m := llmtest.NewModel(tt.step, llmtest.Reply("recovered"))
					_, err := call(t.Context(), m, mode)
					var e *llm.Error
					if !errors.As(err, &e) {
						t.Fatalf("err = %v, want *llm.Error", err)
					}
					if e.Kind != tt.wantKind || e.Status != tt.wantStatus || e.Code != tt.wantCode {
						t.Errorf("kind, status, code = %v, %d, %q; want %v, %d, %q", e.Kind, e.Status, e.Code, tt.wantKind, tt.wantStatus, tt.wantCode)
					}
					if e.RetryAfter != tt.wantAfter {
						t.Errorf("retry after = %v, want %v", e.RetryAfter, tt.wantAfter)
					}
					if llm.Retryable(err) != tt.wantRetry {
						t.Errorf("Retryable = %v, want %v", llm.Retryable(err), tt.wantRetry)
					}
					if e.Provider != llmtest.Provider || e.Model != "fake-model" {
						t.Errorf("provider, model = %q, %q", e.Provider, e.Model)
					}
					if got := err.Error(); strings.Contains(got, "sk-proj-abcdef123456") {
						t.Errorf("error leaks the key: %s", got)
					}
					// The fault composes with the next step.
					resp, err := call(t.Context(), m, mode)
					if err != nil || resp.Text() != "recovered" {
						t.Errorf("next call = %v, %v; want the next step", resp, err)
					}
				})
			})
		}
	}
}

func TestHTTPFailureOddHeaderPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for an odd number of header arguments")
		}
	}()
	llmtest.RateLimited("Retry-After")
}

func TestWaits(t *testing.T) {
	type ctxKind int
	const (
		plain    ctxKind = iota // no deadline
		deadline                // 1s deadline
		canceled                // canceled after 1s
	)
	tests := []struct {
		name        string
		step        llmtest.Step
		ctx         ctxKind
		wantKind    llm.Kind // KindUnknown: success
		wantElapsed time.Duration
		wantCtxErr  error
	}{
		{name: "timeout elapses", step: llmtest.Timeout(30 * time.Second), wantKind: llm.KindTimeout, wantElapsed: 30 * time.Second},
		{name: "timeout cut by deadline", step: llmtest.Timeout(30 * time.Second), ctx: deadline,
			wantKind: llm.KindTimeout, wantElapsed: time.Second, wantCtxErr: context.DeadlineExceeded},
		{name: "timeout cut by cancel", step: llmtest.Timeout(30 * time.Second), ctx: canceled,
			wantKind: llm.KindCanceled, wantElapsed: time.Second, wantCtxErr: context.Canceled},
		{name: "hang until deadline", step: llmtest.Timeout(0), ctx: deadline,
			wantKind: llm.KindTimeout, wantElapsed: time.Second, wantCtxErr: context.DeadlineExceeded},
		{name: "delay", step: llmtest.Reply("slow").Delay(2 * time.Second), wantElapsed: 2 * time.Second},
		{name: "delay cut by deadline", step: llmtest.Reply("slow").Delay(2 * time.Second), ctx: deadline,
			wantKind: llm.KindTimeout, wantElapsed: time.Second, wantCtxErr: context.DeadlineExceeded},
		{name: "delay cut by cancel", step: llmtest.Reply("slow").Delay(2 * time.Second), ctx: canceled,
			wantKind: llm.KindCanceled, wantElapsed: time.Second, wantCtxErr: context.Canceled},
		{name: "delayed failure", step: llmtest.ServerError(503).Delay(500 * time.Millisecond),
			wantKind: llm.KindUnavailable, wantElapsed: 500 * time.Millisecond},
		{name: "stall", step: llmtest.Reply("hello world").StallAfter(3, 5*time.Second), wantElapsed: 5 * time.Second},
		{name: "stall cut by deadline", step: llmtest.Reply("hello world").StallAfter(3, 5*time.Second), ctx: deadline,
			wantKind: llm.KindTimeout, wantElapsed: time.Second, wantCtxErr: context.DeadlineExceeded},
		{name: "delay and stall add up", step: llmtest.Reply("hello world").Delay(time.Second).StallAfter(2, 2*time.Second),
			wantElapsed: 3 * time.Second},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := t.Context()
					switch tt.ctx {
					case deadline:
						c, cancel := context.WithTimeout(ctx, time.Second)
						defer cancel()
						ctx = c
					case canceled:
						c, cancel := context.WithCancel(ctx)
						defer cancel()
						time.AfterFunc(time.Second, cancel)
						ctx = c
					}
					start := time.Now()
					resp, err := call(ctx, llmtest.NewModel(tt.step), mode)
					if elapsed := time.Since(start); elapsed != tt.wantElapsed {
						t.Errorf("call took %v, want %v", elapsed, tt.wantElapsed)
					}
					if tt.wantKind == llm.KindUnknown {
						if err != nil {
							t.Fatal(err)
						}
						if resp.Text() == "" {
							t.Errorf("empty reply")
						}
						return
					}
					if llm.KindOf(err) != tt.wantKind {
						t.Errorf("err = %v, want kind %v", err, tt.wantKind)
					}
					if tt.wantCtxErr != nil && !errors.Is(err, tt.wantCtxErr) {
						t.Errorf("err = %v, want it to wrap %v", err, tt.wantCtxErr)
					}
				})
			})
		}
	}
}

func TestSlowFirstToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := llmtest.NewModel(llmtest.Reply("the answer").Delay(3*time.Second).StallAfter(2, time.Second))
		start := time.Now()
		var at []time.Duration
		for _, err := range m.Stream(t.Context(), userReq("x")) {
			if err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start))
		}
		if at[0] != 3*time.Second {
			t.Errorf("first event after %v, want 3s", at[0])
		}
		if at[1] != 3*time.Second || at[2] != 4*time.Second || at[len(at)-1] != 4*time.Second {
			t.Errorf("event times = %v, want a 1s stall before the third event", at)
		}
	})
}

func TestCutOffAfter(t *testing.T) {
	tests := []struct {
		name     string
		step     llmtest.Step
		wantEvs  int
		wantText string
	}{
		{name: "mid text", step: llmtest.Reply("one two three four").CutOffAfter(3), wantEvs: 3, wantText: "one two "},
		{name: "before anything", step: llmtest.Reply("hello").CutOffAfter(0), wantEvs: 0},
		{name: "mid tool call", step: llmtest.ToolCall("f", `{"query":"abc"}`).CutOffAfter(2), wantEvs: 2},
		{name: "after everything", step: llmtest.Reply("hey").CutOffAfter(100), wantEvs: 6, wantText: "hey"},
		{name: "explicit events", step: llmtest.Events(
			llm.Event{Kind: llm.EventTextDelta, Text: "a"},
			llm.Event{Kind: llm.EventTextDelta, Text: "b"},
			llm.Event{Kind: llm.EventTextDelta, Text: "c"}).CutOffAfter(2), wantEvs: 2, wantText: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := llmtest.NewModel(tt.step, tt.step)
			evs, err := streamAll(m.Stream(t.Context(), userReq("x")))
			if len(evs) != tt.wantEvs {
				t.Errorf("%d events before the error, want %d", len(evs), tt.wantEvs)
			}
			if !errors.Is(err, llm.KindUnavailable) || !errors.Is(err, io.ErrUnexpectedEOF) || !llm.Retryable(err) {
				t.Errorf("err = %v, want retryable unavailable wrapping io.ErrUnexpectedEOF", err)
			}
			partial, err := llm.Collect(m.Stream(t.Context(), userReq("x")))
			if err == nil || partial == nil || partial.Text() != tt.wantText {
				t.Errorf("Collect = %+v, %v; want partial text %q and an error", partial, err, tt.wantText)
			}
			m = llmtest.NewModel(tt.step)
			if resp, err := m.Generate(t.Context(), userReq("x")); resp != nil || !errors.Is(err, llm.KindUnavailable) {
				t.Errorf("Generate = %v, %v; want nil, unavailable", resp, err)
			}
		})
	}
}

func TestStreamHonoursCancelMidStream(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := llmtest.NewModel(llmtest.Reply("a fairly long answer to cancel midway"))
	n := 0
	var last error
	for _, err := range m.Stream(ctx, userReq("x")) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 3 {
			cancel()
		}
	}
	if n != 3 || !errors.Is(last, llm.KindCanceled) {
		t.Errorf("got %d events then %v; want 3 then a canceled error", n, last)
	}
}

func TestFailRandomly(t *testing.T) {
	pattern := func(p float64, seed int64, n int, mode string) []bool {
		m := llmtest.FailRandomly(llmtest.NewModel(llmtest.Reply("ok").Times(n)), p, seed, nil)
		out := make([]bool, n)
		for i := range out {
			_, err := call(t.Context(), m, mode)
			if err != nil && !errors.Is(err, llm.KindUnavailable) {
				t.Fatalf("unexpected error %v", err)
			}
			out[i] = err != nil
		}
		return out
	}
	count := func(b []bool) int {
		n := 0
		for _, x := range b {
			if x {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name     string
		p        float64
		min, max int // failures out of 200
	}{
		{"never", 0, 0, 0},
		{"negative clamps to never", -1, 0, 0},
		{"always", 1, 200, 200},
		{"above one clamps to always", 7, 200, 200},
		{"thirty percent", 0.3, 40, 80},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				a := pattern(tt.p, 42, 200, mode)
				if n := count(a); n < tt.min || n > tt.max {
					t.Errorf("%d failures, want %d..%d", n, tt.min, tt.max)
				}
				b := pattern(tt.p, 42, 200, mode)
				for i := range a {
					if a[i] != b[i] {
						t.Fatalf("same seed, different decision at call %d", i)
					}
				}
			})
		}
	}
	if a, b := pattern(0.5, 1, 64, "generate"), pattern(0.5, 2, 64, "generate"); slices.Equal(a, b) {
		t.Error("different seeds gave the same decisions")
	}
}

func TestFailRandomlyCustomErrorAndStorm(t *testing.T) {
	const n = 400
	inner := llmtest.NewModel(llmtest.Reply("ok").Times(n))
	m := llmtest.FailRandomly(inner, 0.25, 7, func() error {
		return &llm.Error{Kind: llm.KindTimeout, Message: "injected"}
	})
	var mu sync.Mutex
	failures := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			mode := modes[i%2]
			resp, err := call(context.Background(), m, mode)
			switch {
			case err == nil && resp.Text() == "ok":
			case errors.Is(err, llm.KindTimeout):
				mu.Lock()
				failures++
				mu.Unlock()
			default:
				t.Errorf("unexpected result %v, %v", resp, err)
			}
		})
	}
	wg.Wait()
	// The decisions are the same sequence whatever the scheduling, so the
	// number of failures is deterministic.
	seq := 0
	ref := llmtest.FailRandomly(llmtest.NewModel(llmtest.Reply("ok").Times(n)), 0.25, 7, nil)
	for range n {
		if _, err := ref.Generate(context.Background(), userReq("x")); err != nil {
			seq++
		}
	}
	if failures != seq {
		t.Errorf("%d failures under concurrency, %d sequentially; want equal", failures, seq)
	}
	if inner.Calls() != n-failures {
		t.Errorf("inner model got %d calls, want %d", inner.Calls(), n-failures)
	}
}
