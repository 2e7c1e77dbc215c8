package llm

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Defaults of RetryOptions.
const (
	DefaultRetryMaxAttempts   = 3
	DefaultRetryBaseDelay     = 250 * time.Millisecond
	DefaultRetryMaxDelay      = 20 * time.Second
	DefaultRetryMaxRetryAfter = time.Minute
)

// RetryOptions configures Retry and RetryEmbedder. The zero value gives the
// defaults.
type RetryOptions struct {
	// MaxAttempts is the most upstream calls one call may make, the first
	// included: 3 (the default) is one call and up to two retries, 1
	// disables retries.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: before retry n the wait is
	// drawn uniformly from [0, min(MaxDelay, BaseDelay×2^(n-1))) ("full
	// jitter"). Defaults 250ms and 20s.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest retry-after Retry is willing to wait: when
	// the provider asks for more, the call gives up at once with the
	// provider's error (which carries the retry-after), so that a fallback
	// can take over. Default one minute; negative means no limit but the
	// context's deadline.
	MaxRetryAfter time.Duration
	// Budget, when set, caps retries as a share of traffic; it may be
	// shared by several Retry middlewares. Nil means no budget.
	Budget *RetryBudget
	// Rand returns the jitter factor, uniform in [0, 1); values outside
	// are clamped. It must be safe for concurrent use. Nil means a source
	// private to the middleware, seeded at random, that takes no lock.
	// Tests set it to make waits exact.
	Rand func() float64
	// OnRetry, when set, is called before each retry with the number of the
	// attempt that just failed (1 for the first call), its error and the
	// wait before the next attempt. It runs on the caller's goroutine and
	// should return quickly; use it for logs and telemetry.
	OnRetry func(ctx context.Context, attempt int, err error, wait time.Duration)
}

// Retry returns a middleware that calls the Model again after a failure
// that Retryable accepts (the error table, overridden by the provider's
// x-should-retry, and never for quota exhaustion or cancellation), with
// capped exponential backoff and full jitter.
//
// Before retrying it waits at least the error's retry-after (RetryAfterOf),
// never less. It gives up at once, returning the last error, when the wait
// would reach past the context's deadline, when the retry-after exceeds
// MaxRetryAfter, when MaxAttempts calls have been made, or when the shared
// Budget refuses the retry. A context that ends during a wait ends the call
// at once with an *Error of KindCanceled or KindTimeout.
//
// A stream is retried only while no content has reached the caller. Events
// that carry no content (EventStart, which a provider may send long before
// the first token, and anything else before the first text, reasoning,
// refusal or tool-call delta) are held back and passed on together with
// the first content event, or at the end of a stream that has none. A
// failure before the first content event is retried like a Generate
// failure, and the failed attempt's held-back events are dropped; a
// failure after it is passed through unchanged, since the caller has
// already seen part of the answer.
//
// On success Response.Attempts (for a stream, the first event's Attempts)
// is the number of upstream calls made; an attempt that reports its own
// count (a nested Retry or a hedge) counts for that many. On failure the
// error is an *Error with Attempts set: a copy of the last attempt's *Error
// (the original is not modified), or, when the last error is not an *Error,
// a new one of its Kind wrapping it.
//
// In the canonical stack Retry sits inside fallback and outside rate limits
// and Timeout, so each attempt gets its own time limit and spends from the
// rate limits.
func Retry(opts RetryOptions) Middleware {
	r := newRetrier(opts)
	return func(next Model) Model {
		return &retryModel{next: next, retrier: r}
	}
}

// retrier is the retry policy of one Retry or RetryEmbedder middleware:
// its options with the defaults applied.
type retrier struct {
	opts RetryOptions
}

// newRetrier applies the defaults of RetryOptions.
func newRetrier(opts RetryOptions) retrier {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultRetryMaxAttempts
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = DefaultRetryBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultRetryMaxDelay
	}
	if opts.MaxRetryAfter == 0 {
		opts.MaxRetryAfter = DefaultRetryMaxRetryAfter
	}
	if opts.Rand == nil {
		src := &splitMix64{}
		src.state.Store(rand.Uint64())
		opts.Rand = src.Float64
	}
	return retrier{opts: opts}
}

// retry is the retry loop that Generate, Stream (before the first content event)
// and Embed share. Each of them starts a call the same way: it counts the
// call with Budget.RecordRequest and makes the first attempt itself, and
// enters retry only when that attempt failed, with its error. Keeping the
// first attempt out of the loop means a call that succeeds at once costs
// no more than the upstream call: no closure is built and no extra frame
// is entered (a shared loop around the first attempt measured about 15ns
// more per call in BenchmarkRetrySuccess).
//
// retry decides with backoff whether to try again, waits, and calls
// attempt, until an attempt succeeds or backoff gives up. attempt makes
// one upstream call; prior is the number of upstream calls this call has
// made so far. It returns the number of upstream calls it reports for
// itself when it succeeds (the Response.Attempts of a nested Retry or a
// hedge; 0 counts as one) and its error. The count of a failed attempt is
// read from its error (Error.Attempts; 0 counts as one).
//
// retry returns the number of upstream calls made, the successful one
// included, and nil; or the error to give the caller, an *Error with
// Attempts set. attempt runs on the caller's goroutine and does not
// escape, so a closure passed as attempt stays on the caller's stack.
func (r *retrier) retry(ctx context.Context, err error, attempt func(ctx context.Context, prior int) (n int, err error)) (int, error) {
	attempts := max(attemptsOf(err), 1)
	for i := 1; ; i++ {
		if err := r.backoff(ctx, i, attempts, err); err != nil {
			return attempts, err
		}
		var n int
		n, err = attempt(ctx, attempts)
		if err == nil {
			return attempts + max(n, 1), nil
		}
		attempts += max(attemptsOf(err), 1)
	}
}

type retryModel struct {
	next Model
	retrier
}

// Generate implements Model.
func (m *retryModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	m.opts.Budget.RecordRequest()
	resp, err := m.next.Generate(ctx, req)
	if err != nil {
		var attempts int
		attempts, err = m.retry(ctx, err, func(ctx context.Context, _ int) (int, error) {
			var err error
			if resp, err = m.next.Generate(ctx, req); err != nil || resp == nil {
				return 0, err
			}
			return resp.Attempts, nil
		})
		if err != nil {
			return nil, err
		}
		if resp != nil && resp.Attempts != attempts { // no write when unchanged: a shared response stays unwritten
			resp.Attempts = attempts
		}
		return resp, nil
	}
	if resp != nil && resp.Attempts < 1 { // one attempt, unless the Model below counted more
		resp.Attempts = 1
	}
	return resp, nil
}

// Stream implements Model.
func (m *retryModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		m.opts.Budget.RecordRequest()
		s := &retryStream{yield: yield}
		// push is the yield function of each attempt's stream; a method
		// value rather than a range loop, so that the state of a call is
		// the one retryStream allocation.
		s.push = s.each
		attempt := func(ctx context.Context, prior int) (int, error) {
			return 0, s.attempt(ctx, m.next, req, prior)
		}
		if _, err := attempt(ctx, 0); err != nil {
			if _, err = m.retry(ctx, err, attempt); err != nil {
				yield(Event{}, err)
			}
		}
	}
}

// retryStream is the state of one range over a stream under Retry.
type retryStream struct {
	yield   func(Event, error) bool
	push    func(Event, error) bool // s.each, bound once per call
	prior   int                     // upstream calls before the current attempt
	failed  error                   // the current attempt failed before its first content event
	gate    contentGate             // the current attempt's events before its first content event
	started bool                    // the current attempt has passed an event to the caller
	done    bool                    // the caller has its answer or its error, or stopped
}

// attempt makes one upstream stream, the first or one for retry; prior is
// the number of upstream calls made before it. It returns the failure of
// an attempt that failed before its first content event, to be retried
// (the events it held back are dropped); anything else (the answer, a
// failure after the first content event, the caller stopping) ends the
// call, and attempt returns nil.
func (s *retryStream) attempt(ctx context.Context, next Model, req *Request, prior int) error {
	s.prior, s.started, s.failed = prior, false, nil
	s.gate.reset()
	next.Stream(ctx, req)(s.push)
	if s.done {
		return nil
	}
	if s.failed != nil {
		s.gate.reset()
		return s.failed
	}
	// The stream ended without content (an empty answer): what it held
	// back is the answer.
	s.start(nil)
	return nil
}

// start passes the held-back events on to the caller, the first of them
// (or ev, when none is held) annotated with the attempts made. It reports
// false when the caller stopped.
func (s *retryStream) start(ev *Event) bool {
	s.started = true
	if h := s.gate.head(ev); h != nil {
		h.Attempts = s.prior + max(h.Attempts, 1)
	}
	if !s.gate.release(s.yield) {
		s.done = true
		return false
	}
	return true
}

// each receives an attempt's events and passes them on to the caller. The
// events before the first content event are held back (contentGate); a
// failure before it is kept for a retry, a failure after it goes to the
// caller unchanged.
func (s *retryStream) each(ev Event, err error) bool {
	if s.done || s.failed != nil {
		return false
	}
	if err != nil {
		if !s.started {
			s.failed = err
			return false
		}
		s.done = true
		s.yield(Event{}, err)
		return false
	}
	if s.gate.hold(ev) {
		return true
	}
	if !s.started && !s.start(&ev) {
		return false
	}
	if !s.yield(ev, nil) {
		s.done = true
		return false
	}
	return true
}

// backoff decides whether attempt number attempt, which failed with err,
// is retried, and waits before the retry. It returns nil when the caller
// should try again, and otherwise the error to return. attempts is the
// number of upstream calls so far.
func (r *retrier) backoff(ctx context.Context, attempt, attempts int, err error) error {
	if attempt >= r.opts.MaxAttempts || !Retryable(err) {
		return withAttempts(err, attempts)
	}
	if ctx.Err() != nil {
		if k := KindOf(err); k == KindCanceled || k == KindTimeout {
			return withAttempts(err, attempts)
		}
		return retryContextError(ctx, err, attempts)
	}
	ra := RetryAfterOf(err)
	if r.opts.MaxRetryAfter > 0 && ra > r.opts.MaxRetryAfter {
		return withAttempts(err, attempts)
	}
	wait := max(r.jitter(attempt), ra)
	if dl, ok := ctx.Deadline(); ok && wait >= time.Until(dl) {
		return withAttempts(err, attempts)
	}
	if !r.opts.Budget.AllowRetry() {
		return withAttempts(err, attempts)
	}
	if r.opts.OnRetry != nil {
		r.opts.OnRetry(ctx, attempt, err, wait)
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return retryContextError(ctx, err, attempts)
		case <-t.C:
		}
	}
	return nil
}

// jitter returns the full-jitter backoff before retry number attempt:
// uniform in [0, min(MaxDelay, BaseDelay×2^(attempt-1))).
func (r *retrier) jitter(attempt int) time.Duration {
	ceil := r.opts.MaxDelay
	if shift := attempt - 1; shift < 62 && r.opts.BaseDelay <= r.opts.MaxDelay>>shift {
		ceil = r.opts.BaseDelay << shift
	}
	f := min(max(r.opts.Rand(), 0), 1)
	return time.Duration(f * float64(ceil))
}

// attemptsOf returns the Attempts of the first *Error in err's chain.
func attemptsOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Attempts
	}
	return 0
}

// withAttempts returns err as an *Error with Attempts set to n: a copy when
// err is an *Error, so the original is not modified, and otherwise a new
// Error of err's kind wrapping it.
func withAttempts(err error, n int) *Error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Attempts = n
		return &c
	}
	return &Error{Kind: KindOf(err), RetryAfter: RetryAfterOf(err), Attempts: n, Err: err}
}

// retryContextError is the error for a context that ended while a retry was
// pending: KindTimeout for a deadline (or a cause of that kind), otherwise
// KindCanceled. It wraps the context's cause and names the last error in
// its message, without wrapping it, so that errors.Is sees a cancellation
// rather than the provider's failure.
func retryContextError(ctx context.Context, last error, attempts int) *Error {
	cause := context.Cause(ctx)
	kind := KindOf(cause)
	if kind != KindCanceled && kind != KindTimeout {
		kind = classifyCause(ctx.Err())
	}
	e := &Error{Kind: kind, Attempts: attempts, Err: cause}
	var le *Error
	if errors.As(last, &le) {
		e.Provider, e.Model = le.Provider, le.Model
	}
	e.Message = "context ended before the retry; last error: " + last.Error()
	return e
}

// splitMix64 is a math/rand/v2 Source whose state is one atomic word, so
// concurrent callers share it without a lock. Jitter needs spread, not
// cryptographic quality.
type splitMix64 struct {
	state atomic.Uint64
}

var _ rand.Source = (*splitMix64)(nil)

// Uint64 returns the next value of the SplitMix64 sequence.
func (s *splitMix64) Uint64() uint64 {
	z := s.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Float64 returns a value uniform in [0, 1).
func (s *splitMix64) Float64() float64 {
	return float64(s.Uint64()>>11) / (1 << 53)
}
