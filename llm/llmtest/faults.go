package llmtest

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/keel-go/keel/llm"
)

// Faults. Every wait below uses a time.Timer and gives up as soon as the
// context is done, so tests run inside a testing/synctest bubble take no
// real time, and a canceled caller is never left blocked.

// HTTPFailure returns a step that fails the way a provider's HTTP error
// response does: the *llm.Error is built by llm.HTTPError from status, the
// provider's error code and message, and real response headers given as
// name, value pairs, so the kind, retry-after, x-should-retry and request-id
// parsing is exercised exactly as for a provider. Headers are read when the
// call is served, against time.Now (the fake clock in a synctest bubble).
// It panics if header has an odd number of elements.
func HTTPFailure(status int, code, message string, header ...string) Step {
	h := headerPairs(header)
	return Step{fail: func(_ context.Context, req *llm.Request) error {
		return llm.HTTPError(Provider, req.Model, status, h.Clone(), code, message, time.Now())
	}}
}

// RateLimited returns a step that fails with HTTP 429 (kind
// llm.KindRateLimited) carrying the given response headers, as name, value
// pairs. Every retry-after form the provider may send works:
//
//	RateLimited("Retry-After", "2")                             // seconds
//	RateLimited("Retry-After", "1.5")                           // fractional seconds
//	RateLimited("Retry-After", "Sat, 01 Jan 2000 00:00:03 GMT") // HTTP date
//	RateLimited("Retry-After-Ms", "250")                        // milliseconds
//	RateLimited("X-Ratelimit-Reset-Requests", "6m0s",           // OpenAI's reset headers
//		"X-Ratelimit-Remaining-Requests", "0")
//
// With no headers the error has no retry-after.
func RateLimited(header ...string) Step {
	return HTTPFailure(http.StatusTooManyRequests, "rate_limit_exceeded",
		"Rate limit reached for requests. Please try again later.", header...)
}

// QuotaExhausted returns a step that fails like OpenAI's 429
// insufficient_quota: kind llm.KindQuotaExhausted, which is never retried.
func QuotaExhausted() Step {
	return Step{fail: func(_ context.Context, req *llm.Request) error {
		return llm.HTTPError(Provider, req.Model, http.StatusTooManyRequests, http.Header{}, "insufficient_quota",
			"You exceeded your current quota, please check your plan and billing details.", time.Now())
	}}
}

// ServerError returns a step that fails with a 5xx status (kind
// llm.KindUnavailable), with optional response headers as name, value
// pairs (for example "X-Should-Retry", "false").
func ServerError(status int, header ...string) Step {
	return HTTPFailure(status, "", http.StatusText(status), header...)
}

// Timeout returns a step that hangs: it blocks until d passes and then
// fails with kind llm.KindTimeout, or returns earlier when the context is
// done (kind llm.KindTimeout for a deadline, llm.KindCanceled for a
// cancellation). With d <= 0 it blocks until the context is done, so give
// the call a deadline.
func Timeout(d time.Duration) Step {
	return Step{fail: func(ctx context.Context, req *llm.Request) error {
		if d <= 0 {
			<-ctx.Done()
			return llm.TransportError(Provider, req.Model, ctx.Err())
		}
		if err := sleep(ctx, d, req); err != nil {
			return err
		}
		return &llm.Error{Kind: llm.KindTimeout, Provider: Provider, Model: req.Model,
			Message: fmt.Sprintf("llmtest: no response within %s", d)}
	}}
}

// Delay adds latency: the step waits d before answering or failing.
// Generate returns d later; Stream yields its first event d later, which
// makes Delay the slow-first-token fault too. A context that ends during
// the wait ends the call with kind llm.KindTimeout or llm.KindCanceled.
func (s Step) Delay(d time.Duration) Step {
	s.delay = d
	return s
}

// StallAfter makes a stream pause for d after its first n events (n is
// clamped to the last event), for testing idle timeouts. Generate waits d
// in addition to any Delay. A context that ends during the pause ends the
// stream with kind llm.KindTimeout or llm.KindCanceled.
func (s Step) StallAfter(n int, d time.Duration) Step {
	s.stallAt, s.stall = max(n, 0), d
	return s
}

// CutOffAfter makes a stream stop after its first n events with an error
// of kind llm.KindUnavailable wrapping io.ErrUnexpectedEOF, as when a
// connection drops mid-stream; llm.Collect then returns the partial
// response with the error. Generate returns the error alone.
func (s Step) CutOffAfter(n int) Step {
	s.cutOff, s.cutAt = true, max(n, 0)
	return s
}

// FailRandomly wraps m so that each call fails with probability p (clamped
// to [0,1]) with the error err returns, for storm tests. A nil err gives a
// 503 of kind llm.KindUnavailable; an err that returns nil lets the call
// through. Decisions come from a math/rand/v2 PCG source seeded with seed
// and guarded by a mutex: the sequence of decisions is the same on every
// run (which concurrent call receives which decision depends on
// scheduling). A Stream decides when it is ranged over and fails before
// its first event.
func FailRandomly(m llm.Model, p float64, seed int64, err func() error) llm.Model {
	if err == nil {
		err = func() error {
			return llm.HTTPError(Provider, "", http.StatusServiceUnavailable, nil, "",
				"llmtest: injected random failure", time.Now())
		}
	}
	return &randomFailer{
		next: m,
		p:    min(max(p, 0), 1),
		err:  err,
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
	}
}

type randomFailer struct {
	next llm.Model
	p    float64
	err  func() error

	mu  sync.Mutex
	rng *rand.Rand
}

// failure returns the injected error for this call, or nil.
func (f *randomFailer) failure() error {
	f.mu.Lock()
	fail := f.rng.Float64() < f.p
	f.mu.Unlock()
	if !fail {
		return nil
	}
	return f.err()
}

func (f *randomFailer) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if err := f.failure(); err != nil {
		return nil, err
	}
	return f.next.Generate(ctx, req)
}

func (f *randomFailer) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	return func(yield func(llm.Event, error) bool) {
		if err := f.failure(); err != nil {
			yield(llm.Event{}, err)
			return
		}
		for ev, err := range f.next.Stream(ctx, req) {
			if !yield(ev, err) {
				return
			}
		}
	}
}

// headerPairs builds a header from name, value pairs.
func headerPairs(kv []string) http.Header {
	if len(kv)%2 != 0 {
		panic("llmtest: header arguments must be name, value pairs")
	}
	h := make(http.Header, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
