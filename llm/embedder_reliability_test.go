package llm_test

import (
	"context"
	"errors"
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

// faultyEmbedder is the failing embedder of these tests: each call takes
// the next scripted embedFault, and a call without one (or whose fault
// only delays it) is answered by an llmtest.Embedder.
type faultyEmbedder struct {
	inner *llmtest.Embedder
	// usage, when set, replaces the answer's Usage.InputTokens with its
	// result for the request's total input bytes: a provider whose count
	// differs from llmtest's estimate (or that reports none).
	usage func(bytes int) int

	mu     sync.Mutex
	faults []embedFault
	calls  int
}

// embedFault scripts one call: wait delay (or, with hang, until the
// context ends), then fail with err's error, or answer when err is nil.
type embedFault struct {
	delay time.Duration
	hang  bool
	err   func(req *llm.EmbedRequest) error
}

func newFaultyEmbedder(faults ...embedFault) *faultyEmbedder {
	return &faultyEmbedder{inner: llmtest.NewEmbedder(), faults: faults}
}

// Embed implements llm.Embedder.
func (f *faultyEmbedder) Embed(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	f.mu.Lock()
	f.calls++
	var fault embedFault
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if fault.hang || fault.delay > 0 {
		var wait <-chan time.Time
		if !fault.hang {
			t := time.NewTimer(fault.delay)
			defer t.Stop()
			wait = t.C
		}
		select {
		case <-ctx.Done():
			return nil, llm.TransportError("fake", req.Model, ctx.Err())
		case <-wait:
		}
	}
	if fault.err != nil {
		return nil, fault.err(req)
	}
	resp, err := f.inner.Embed(ctx, req)
	if err == nil && f.usage != nil {
		n := 0
		for _, in := range req.Inputs {
			n += len(in)
		}
		resp.Usage.InputTokens = f.usage(n)
	}
	return resp, err
}

// Calls returns the number of calls received, failed ones included.
func (f *faultyEmbedder) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// embedHTTP fails like a provider's HTTP error response with the given
// headers (name, value pairs), through llm.HTTPError.
func embedHTTP(status int, code string, header ...string) embedFault {
	return embedFault{err: func(req *llm.EmbedRequest) error {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Add(header[i], header[i+1])
		}
		return llm.HTTPError("fake", req.Model, status, h, code, http.StatusText(status), time.Now())
	}}
}

// embed429 is a 429 rate_limit_exceeded with the given headers.
func embed429(header ...string) embedFault {
	return embedHTTP(http.StatusTooManyRequests, "rate_limit_exceeded", header...)
}

// repeat returns n copies of f.
func repeat(n int, f embedFault) []embedFault {
	out := make([]embedFault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

var embedReq = &llm.EmbedRequest{
	Model:     "text-embedding-3-small",
	Inputs:    []string{"How do I reset my password?", "Refunds take five business days."},
	Principal: llm.Principal{Tenant: "acme"},
}

// wantVectors checks resp against what the llmtest.Embedder gives for req.
func wantVectors(t *testing.T, resp *llm.EmbedResponse, req *llm.EmbedRequest) {
	t.Helper()
	want, err := llmtest.NewEmbedder().Embed(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil || len(resp.Vectors) != len(want.Vectors) {
		t.Fatalf("resp = %+v, want %d vectors", resp, len(want.Vectors))
	}
	for i := range want.Vectors {
		if !slices.Equal(resp.Vectors[i], want.Vectors[i]) {
			t.Fatalf("vector %d differs from the inner embedder's", i)
		}
	}
}

func TestRetryEmbedder(t *testing.T) {
	tests := []struct {
		name      string
		opts      llm.RetryOptions
		faults    []embedFault
		deadline  time.Duration // caller's deadline, 0: none
		wantWaits []time.Duration
		wantCalls int
		wantKind  llm.Kind // KindUnknown: success
	}{
		{
			name:      "429 retry-after honoured",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, Rand: retryConst(0.5)},
			faults:    []embedFault{embed429("Retry-After", "2")},
			wantWaits: []time.Duration{2 * time.Second},
			wantCalls: 2,
		},
		{
			name:      "429 retry-after in milliseconds",
			opts:      llm.RetryOptions{Rand: retryConst(0)},
			faults:    []embedFault{embed429("Retry-After-Ms", "1250")},
			wantWaits: []time.Duration{1250 * time.Millisecond},
			wantCalls: 2,
		},
		{
			name:      "backoff longer than retry-after",
			opts:      llm.RetryOptions{BaseDelay: time.Second, Rand: retryConst(0.5)},
			faults:    []embedFault{embed429("Retry-After-Ms", "10")},
			wantWaits: []time.Duration{500 * time.Millisecond},
			wantCalls: 2,
		},
		{
			name:      "5xx backoff doubles",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, MaxAttempts: 4, Rand: retryConst(0.5)},
			faults:    repeat(3, embedHTTP(503, "")),
			wantWaits: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
			wantCalls: 4,
		},
		{
			name:      "attempt limit",
			opts:      llm.RetryOptions{BaseDelay: 100 * time.Millisecond, MaxAttempts: 3, Rand: retryConst(1)},
			faults:    repeat(5, embedHTTP(502, "")),
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
			wantCalls: 3,
			wantKind:  llm.KindUnavailable,
		},
		{
			name:      "default attempt limit",
			opts:      llm.RetryOptions{Rand: retryConst(0)},
			faults:    repeat(5, embed429()),
			wantWaits: []time.Duration{0, 0},
			wantCalls: 3,
			wantKind:  llm.KindRateLimited,
		},
		{
			name:      "invalid request not retried",
			faults:    []embedFault{embedHTTP(400, "invalid_value")},
			wantCalls: 1,
			wantKind:  llm.KindInvalidRequest,
		},
		{
			name:      "quota not retried",
			faults:    []embedFault{embedHTTP(429, "insufficient_quota")},
			wantCalls: 1,
			wantKind:  llm.KindQuotaExhausted,
		},
		{
			name:      "x-should-retry false",
			faults:    []embedFault{embedHTTP(503, "", "X-Should-Retry", "false")},
			wantCalls: 1,
			wantKind:  llm.KindUnavailable,
		},
		{
			name:      "retry-after above MaxRetryAfter",
			opts:      llm.RetryOptions{MaxRetryAfter: 10 * time.Second},
			faults:    []embedFault{embed429("Retry-After", "11")},
			wantCalls: 1,
			wantKind:  llm.KindRateLimited,
		},
		{
			name:      "retry-after past the deadline",
			deadline:  time.Second,
			faults:    []embedFault{embed429("Retry-After", "5")},
			wantCalls: 1,
			wantKind:  llm.KindRateLimited,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec retryRecorder
				opts := tt.opts
				opts.OnRetry = rec.hook
				fake := newFaultyEmbedder(tt.faults...)
				e := llm.ChainEmbedder(fake, llm.RetryEmbedder(opts))
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				start := time.Now()
				resp, err := e.Embed(ctx, embedReq)
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
				if tt.wantKind != llm.KindUnknown {
					var e *llm.Error
					if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Attempts != tt.wantCalls {
						t.Fatalf("err = %#v, want kind %v with %d attempts", err, tt.wantKind, tt.wantCalls)
					}
					if resp != nil {
						t.Errorf("resp = %+v with an error", resp)
					}
					return
				}
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				wantVectors(t, resp, embedReq)
			})
		})
	}
}

// A caller that gives up during a wait gets a cancellation at once, not
// the provider's error.
func TestRetryEmbedderCanceledDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFaultyEmbedder(embed429("Retry-After", "5"))
		e := llm.RetryEmbedder(llm.RetryOptions{})(fake)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		_, err := e.Embed(ctx, embedReq)
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v, want 1s", d)
		}
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind != llm.KindCanceled || le.Attempts != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %#v, want kind canceled with 1 attempt wrapping context.Canceled", err)
		}
		if errors.Is(err, llm.KindRateLimited) {
			t.Errorf("%v matches the provider's 429", err)
		}
	})
}

// One RetryBudget serves a Model's Retry and an Embedder's RetryEmbedder:
// a retry spent by either is gone for the other.
func TestRetryEmbedderSharesBudgetWithRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// No share of traffic, one retry per 10s window.
		budget := llm.NewRetryBudget(0, 10*time.Second, 0.1)
		opts := llm.RetryOptions{Budget: budget, Rand: retryConst(0)}
		model := llm.Retry(opts)(llmtest.NewModel(llmtest.ServerError(503), llmtest.Reply("ok"), llmtest.ServerError(503), llmtest.Reply("ok")))
		fake := newFaultyEmbedder(embedHTTP(503, ""), embedHTTP(503, ""), embedFault{})
		embedder := llm.RetryEmbedder(opts)(fake)

		// The chat call takes the window's retry...
		if resp, err := model.Generate(t.Context(), retryReq); err != nil || resp.Attempts != 2 {
			t.Fatalf("chat call: resp %+v, err %v; want success after a retry", resp, err)
		}
		// ...so the embedding call may not retry.
		_, err := embedder.Embed(t.Context(), embedReq)
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindUnavailable || e.Attempts != 1 {
			t.Fatalf("embed: err = %#v, want the 503 after 1 attempt (budget spent)", err)
		}
		if st := budget.Stats(); st != (llm.RetryBudgetStats{Requests: 2, Retries: 1, Denied: 1}) {
			t.Fatalf("budget stats %+v, want 2 requests, 1 retry, 1 denied", st)
		}

		// In the next window the embedder takes the retry, and the chat
		// call is refused one.
		time.Sleep(10 * time.Second)
		resp, err := embedder.Embed(t.Context(), embedReq)
		if err != nil {
			t.Fatalf("embed in a new window: %v", err)
		}
		wantVectors(t, resp, embedReq)
		if _, err := model.Generate(t.Context(), retryReq); !errors.Is(err, llm.KindUnavailable) {
			t.Fatalf("chat call: err = %v, want the 503 (budget spent by the embedder)", err)
		}
		if got := fake.Calls(); got != 3 {
			t.Errorf("embedder calls = %d, want 3", got)
		}
	})
}

func TestTimeoutEmbedder(t *testing.T) {
	tests := []struct {
		name      string
		total     time.Duration
		fault     embedFault
		deadline  time.Duration // caller's deadline, 0: none
		cancelAt  time.Duration // caller cancels, 0: never
		wantKind  llm.Kind
		wantLimit string
		wantTime  time.Duration
	}{
		{name: "hanging embedder", total: 2 * time.Second, fault: embedFault{hang: true},
			wantKind: llm.KindTimeout, wantLimit: "total time limit of 2s exceeded", wantTime: 2 * time.Second},
		{name: "slow answer", total: 2 * time.Second, fault: embedFault{delay: 5 * time.Second},
			wantKind: llm.KindTimeout, wantLimit: "total time limit of 2s exceeded", wantTime: 2 * time.Second},
		{name: "in time", total: 2 * time.Second, fault: embedFault{delay: 1999 * time.Millisecond},
			wantTime: 1999 * time.Millisecond},
		{name: "caller deadline first", total: 2 * time.Second, fault: embedFault{hang: true}, deadline: 500 * time.Millisecond,
			wantKind: llm.KindTimeout, wantTime: 500 * time.Millisecond},
		{name: "caller cancels", total: 2 * time.Second, fault: embedFault{hang: true}, cancelAt: 300 * time.Millisecond,
			wantKind: llm.KindCanceled, wantTime: 300 * time.Millisecond},
		{name: "embedder error passed through", total: 2 * time.Second, fault: func() embedFault {
			f := embedHTTP(503, "")
			f.delay = time.Millisecond
			return f
		}(), wantKind: llm.KindUnavailable, wantTime: time.Millisecond},
		{name: "zero total never fires", fault: embedFault{delay: time.Hour}, wantTime: time.Hour},
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
				e := llm.TimeoutEmbedder(tt.total)(newFaultyEmbedder(tt.fault))
				start := time.Now()
				resp, err := e.Embed(ctx, embedReq)
				if d := time.Since(start); d != tt.wantTime {
					t.Errorf("returned after %v, want %v", d, tt.wantTime)
				}
				timeoutCheck(t, err, tt.wantKind, tt.wantLimit)
				if err == nil {
					wantVectors(t, resp, embedReq)
				}
				if tt.wantLimit != "" {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%v does not wrap context.DeadlineExceeded", err)
					}
					if le := (*llm.Error)(nil); errors.As(err, &le) && le.Model != embedReq.Model {
						t.Errorf("timeout error names model %q, want %q", le.Model, embedReq.Model)
					}
				}
			})
		})
	}
}

func TestTimeoutEmbedderZeroIsIdentity(t *testing.T) {
	inner := llmtest.NewEmbedder()
	for _, d := range []time.Duration{0, -time.Second} {
		if e := llm.TimeoutEmbedder(d)(inner); e != llm.Embedder(inner) {
			t.Errorf("TimeoutEmbedder(%v) wrapped the embedder: %T", d, e)
		}
	}
}

// Inside RetryEmbedder the timeout limits each attempt, and a timed-out
// attempt is retried.
func TestTimeoutEmbedderPerAttemptUnderRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec retryRecorder
		fake := newFaultyEmbedder(embedFault{hang: true}, embedFault{delay: 500 * time.Millisecond})
		e := llm.ChainEmbedder(fake,
			llm.RetryEmbedder(llm.RetryOptions{Rand: retryConst(0), OnRetry: rec.hook}),
			llm.TimeoutEmbedder(time.Second),
		)
		start := time.Now()
		resp, err := e.Embed(t.Context(), embedReq)
		if err != nil {
			t.Fatal(err)
		}
		wantVectors(t, resp, embedReq)
		if d := time.Since(start); d != 1500*time.Millisecond {
			t.Errorf("took %v, want 1.5s (a 1s timed-out attempt, then a 0.5s one)", d)
		}
		if !slices.Equal(rec.kinds, []llm.Kind{llm.KindTimeout}) || fake.Calls() != 2 {
			t.Errorf("retried after %v, calls %d; want one timeout and 2 calls", rec.kinds, fake.Calls())
		}
	})
}

// embedCall is one call of a rate-limit scenario.
type embedCall struct {
	sleep  time.Duration // before the call
	tenant string
	bytes  int // the request's single input has this many bytes; 0: no inputs

	wantKind   llm.Kind      // KindUnknown: success
	refusal    string        // for KindLocalRateLimited: part of the message
	retryAfter time.Duration // for KindLocalRateLimited: exact
	took       time.Duration // exact, or within a microsecond of it
}

func embedCallReq(c embedCall) *llm.EmbedRequest {
	req := &llm.EmbedRequest{Model: "text-embedding-3-small", Principal: llm.Principal{Tenant: c.tenant}}
	if c.bytes > 0 {
		req.Inputs = []string{strings.Repeat("x", c.bytes)}
	}
	return req
}

func TestRateLimitEmbedder(t *testing.T) {
	ok := func(tenant string, bytes int) embedCall { return embedCall{tenant: tenant, bytes: bytes} }
	refused := func(tenant string, bytes int, msg string, retryAfter time.Duration) embedCall {
		return embedCall{tenant: tenant, bytes: bytes, wantKind: llm.KindLocalRateLimited, refusal: msg, retryAfter: retryAfter}
	}
	after := func(d time.Duration, c embedCall) embedCall { c.sleep = d; return c }
	took := func(d time.Duration, c embedCall) embedCall { c.took = d; return c }
	noUsage := func(int) int { return 0 }
	storeDown := errors.New("store down")

	tests := []struct {
		name   string
		opts   llm.RateLimitOptions // Name is set to "emb"
		safe   bool
		usage  func(bytes int) int // nil: llmtest's estimate, (bytes+3)/4
		faults []embedFault        // served to the calls that reach the provider
		calls  []embedCall
	}{
		{
			name: "requests per minute",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 3}},
			calls: []embedCall{ok("acme", 10), ok("acme", 10), ok("globex", 10),
				refused("acme", 10, `requests-per-minute limit on "emb"`, 20*time.Second),
				after(20*time.Second, ok("acme", 10)),
				refused("acme", 10, "requests-per-minute", 20*time.Second)},
		},
		{
			// Each call reserves its 200 input bytes, and the provider
			// reports no usage, so the reservations stand: exactly five
			// fit in 1000 tokens, and the sixth waits for 200 tokens at
			// 60ms each.
			name:  "tokens per minute reserve input bytes",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{TokensPerMinute: 1000}},
			usage: noUsage,
			calls: []embedCall{ok("acme", 200), ok("acme", 200), ok("acme", 200), ok("acme", 200), ok("acme", 200),
				refused("acme", 200, `tokens-per-minute limit on "emb"`, 12*time.Second)},
		},
		{
			// Each call reserves 600 bytes and uses 150 tokens: the refund
			// lets three in where the reservations alone would admit one.
			// The fourth finds 450 used and needs 600: it waits for 50
			// tokens.
			name: "refund after usage",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{TokensPerMinute: 1000}},
			calls: []embedCall{ok("acme", 600), ok("acme", 600), ok("acme", 600),
				refused("acme", 600, "tokens-per-minute", 3*time.Second)},
		},
		{
			// The provider counts twice the bytes: the 500 reserved grow to
			// 1000, so the next 10-byte call waits for 10 tokens.
			name:  "under-estimate charged",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{TokensPerMinute: 1000}},
			usage: func(b int) int { return 2 * b },
			calls: []embedCall{ok("acme", 500), refused("acme", 10, "tokens-per-minute", 600*time.Millisecond)},
		},
		{
			name: "per tenant requests",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 100}, TenantLimits: llm.RateLimits{RequestsPerMinute: 2}},
			calls: []embedCall{ok("acme", 10), ok("acme", 10),
				refused("acme", 10, `tenant's requests-per-minute limit on "emb"`, 30*time.Second),
				ok("globex", 10), ok("", 10)},
		},
		{
			name:  "per tenant tokens",
			opts:  llm.RateLimitOptions{TenantLimits: llm.RateLimits{TokensPerMinute: 500}},
			usage: noUsage,
			calls: []embedCall{ok("acme", 250), ok("acme", 250),
				refused("acme", 250, "tenant's tokens-per-minute", 30*time.Second),
				ok("globex", 250)},
		},
		{
			name: "safe mode halves the limits",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 4}},
			safe: true,
			calls: []embedCall{ok("acme", 10), ok("acme", 10),
				refused("acme", 10, "requests-per-minute", 30*time.Second)},
		},
		{
			name:  "a request without inputs spends nothing",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 1}},
			calls: []embedCall{ok("acme", 0), ok("acme", 10), ok("acme", 0), refused("acme", 10, "requests-per-minute", time.Minute)},
		},
		{
			name:  "waits up to MaxWait",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1}, MaxWait: time.Second},
			calls: []embedCall{ok("acme", 10), took(time.Second, ok("acme", 10))},
		},
		{
			name:  "refused beyond MaxWait",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1}, MaxWait: 999 * time.Millisecond},
			calls: []embedCall{ok("acme", 10), refused("acme", 10, "requests-per-minute", time.Second)},
		},
		{
			// A 429 pauses admissions for its retry-after.
			name:   "provider 429 pauses",
			opts:   llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 1000}, Adaptive: llm.AdaptiveRate{Disabled: true, MaxPause: time.Minute}},
			faults: []embedFault{embed429("Retry-After", "30")},
			calls: []embedCall{{tenant: "acme", bytes: 10, wantKind: llm.KindRateLimited},
				after(10*time.Second, refused("acme", 10, "paused after the provider's 429", 20*time.Second)),
				after(20*time.Second, ok("acme", 10))},
		},
		{
			// One call a second; back-to-back calls wait 1s each.
			name:  "spacing without a 429",
			opts:  llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1}, MaxWait: time.Hour},
			calls: []embedCall{ok("acme", 10), took(time.Second, ok("acme", 10)), took(time.Second, ok("acme", 10))},
		},
		{
			// A 429 halves the rate: the calls after it wait 2s each.
			name:   "adaptive on 429",
			opts:   llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1}, MaxWait: time.Hour},
			faults: []embedFault{embed429()},
			calls: []embedCall{{tenant: "acme", bytes: 10, wantKind: llm.KindRateLimited},
				took(2*time.Second, ok("acme", 10)), took(2*time.Second, ok("acme", 10))},
		},
		{
			name: "store error fails closed",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 4}, OnStoreError: llm.FailClosed,
				Store: &fakeStore{LimitStore: llm.NewMemoryLimitStore(), err: storeDown}},
			calls: []embedCall{refused("acme", 10, `rate limit store unavailable for "emb"`, 0)},
		},
		{
			name: "store error fails open to a local limiter",
			opts: llm.RateLimitOptions{Limits: llm.RateLimits{RequestsPerMinute: 4}, LocalShare: 0.5,
				Store: &fakeStore{LimitStore: llm.NewMemoryLimitStore(), err: storeDown}},
			calls: []embedCall{ok("acme", 10), ok("acme", 10), refused("acme", 10, "requests-per-minute", 30*time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := tt.opts
				opts.Name = "emb"
				if tt.safe {
					opts.SafeMode = llm.NewSafeMode()
					opts.SafeMode.Enable("incident")
				}
				fake := newFaultyEmbedder(tt.faults...)
				fake.usage = tt.usage
				e := llm.ChainEmbedder(fake, llm.RateLimitEmbedder(opts))
				provider := 0
				for i, c := range tt.calls {
					time.Sleep(c.sleep)
					req := embedCallReq(c)
					start := time.Now()
					resp, err := e.Embed(t.Context(), req)
					if d := time.Since(start) - c.took; d < -time.Microsecond || d > time.Microsecond {
						t.Errorf("call %d took %v, want %v", i+1, time.Since(start), c.took)
					}
					switch c.wantKind {
					case llm.KindUnknown:
						if err != nil {
							t.Fatalf("call %d: %v", i+1, err)
						}
						if len(resp.Vectors) != len(req.Inputs) {
							t.Fatalf("call %d: %d vectors for %d inputs", i+1, len(resp.Vectors), len(req.Inputs))
						}
					case llm.KindLocalRateLimited:
						wantRefusal(t, err, c.retryAfter, c.refusal)
						if le := (*llm.Error)(nil); errors.As(err, &le) && le.Model != req.Model {
							t.Errorf("call %d: refusal names model %q, want %q", i+1, le.Model, req.Model)
						}
						if errors.Is(err, storeDown) != (tt.opts.OnStoreError == llm.FailClosed && tt.opts.Store != nil) {
							t.Errorf("call %d: refusal %v: wraps the store error %v", i+1, err, errors.Is(err, storeDown))
						}
						continue
					default:
						if llm.KindOf(err) != c.wantKind {
							t.Fatalf("call %d: err = %v, want kind %v", i+1, err, c.wantKind)
						}
					}
					if c.bytes > 0 {
						provider++
					}
				}
				// A refusal never reaches the provider; a request without
				// inputs does, unlimited.
				if got, want := fake.Calls(), provider+countEmpty(tt.calls); got != want {
					t.Errorf("provider calls = %d, want %d", got, want)
				}
			})
		})
	}
}

func countEmpty(calls []embedCall) int {
	n := 0
	for _, c := range calls {
		if c.bytes == 0 {
			n++
		}
	}
	return n
}

// A call whose context ends while it waits for capacity gets a
// cancellation, and its reservation is refunded.
func TestRateLimitEmbedderCanceledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFaultyEmbedder()
		e := llm.RateLimitEmbedder(llm.RateLimitOptions{
			Name:    "emb",
			Limits:  llm.RateLimits{RequestsPerMinute: 60, RequestBurst: 1},
			MaxWait: time.Minute,
		})(fake)
		req := embedCallReq(embedCall{tenant: "acme", bytes: 10})
		if _, err := e.Embed(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		start := time.Now()
		_, err := e.Embed(ctx, req)
		if !errors.Is(err, llm.KindCanceled) || time.Since(start) != 500*time.Millisecond {
			t.Fatalf("err = %v after %v, want a cancellation after 500ms", err, time.Since(start))
		}
		// The canceled call's reservation was refunded: the next call
		// waits only for the first call's second.
		start = time.Now()
		if _, err := e.Embed(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 500*time.Millisecond-time.Microsecond || d > 500*time.Millisecond+time.Microsecond {
			t.Fatalf("waited %v, want 500ms", d)
		}
		if fake.Calls() != 2 {
			t.Fatalf("provider calls = %d, want 2", fake.Calls())
		}
	})
}

// The embedder path of the limiter allocates nothing on the in-memory
// store, like the Model path (BenchmarkRateLimitAdmit).
func TestRateLimitEmbedderAdmitAllocs(t *testing.T) {
	resp := &llm.EmbedResponse{Vectors: [][]float32{{1}}, Usage: llm.Usage{InputTokens: 10}}
	inner := llm.EmbedderFunc(func(context.Context, *llm.EmbedRequest) (*llm.EmbedResponse, error) { return resp, nil })
	e := llm.RateLimitEmbedder(llm.RateLimitOptions{
		Name:         "emb",
		Limits:       llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
		TenantLimits: llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
		SafeMode:     llm.NewSafeMode(),
	})(inner)
	ctx := context.Background()
	if _, err := e.Embed(ctx, embedReq); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { e.Embed(ctx, embedReq) }); n != 0 {
		t.Fatalf("Embed allocates %v times per call, want 0", n)
	}
}

// BenchmarkEmbedderReliability measures RetryEmbedder, RateLimitEmbedder
// and TimeoutEmbedder together over an Embedder that answers at once with
// a batch of 16 chunks of about 1 KB.
func BenchmarkEmbedderReliability(b *testing.B) {
	inputs := make([]string, 16)
	for i := range inputs {
		inputs[i] = strings.Repeat("Refunds are issued to the original payment method. ", 20)
	}
	req := &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: inputs, Principal: llm.Principal{Tenant: "acme"}}
	resp := &llm.EmbedResponse{Vectors: make([][]float32, len(inputs)), Usage: llm.Usage{InputTokens: 16 * 200}}
	inner := llm.EmbedderFunc(func(context.Context, *llm.EmbedRequest) (*llm.EmbedResponse, error) { return resp, nil })
	rl := llm.RateLimitEmbedder(llm.RateLimitOptions{
		Name:         "openai/text-embedding-3-small",
		Limits:       llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
		TenantLimits: llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
	})
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		e    llm.Embedder
	}{
		{"Retry", llm.RetryEmbedder(llm.RetryOptions{Budget: llm.NewRetryBudget(0.1, 10*time.Second, 1)})(inner)},
		{"RateLimit", rl(inner)},
		{"Timeout", llm.TimeoutEmbedder(30 * time.Second)(inner)},
		{"Stack", llm.ChainEmbedder(inner,
			llm.RetryEmbedder(llm.RetryOptions{Budget: llm.NewRetryBudget(0.1, 10*time.Second, 1)}),
			rl,
			llm.TimeoutEmbedder(30*time.Second))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.e.Embed(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
