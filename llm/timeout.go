package llm

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// TimeoutOptions configures Timeout. A zero duration disables that limit.
type TimeoutOptions struct {
	// Total limits each call made through this middleware, from the call
	// (for a stream, from the start of ranging) to the end of the answer.
	// It is the only limit that applies to Generate.
	Total time.Duration
	// FirstToken limits, for streams, the time from the start of ranging
	// to the first content event: a text, reasoning, refusal or tool-call
	// delta. An EventStart does not count: providers send it as soon as
	// the request is accepted, before the model has produced anything,
	// and the limit is meant to catch a model that is accepted but stuck.
	FirstToken time.Duration
	// Idle limits, for streams, the gap between events: the time the
	// model takes to send the next event once the caller has handled the
	// previous one (the time the caller spends in its loop body is not
	// counted). When FirstToken is set, Idle applies from the first content
	// event on; otherwise it also limits the wait for the first event.
	Idle time.Duration
}

// Timeout returns a middleware that bounds the time of calls and, for
// streams, the time to the first token and between events.
//
// Where it sits in the stack decides what Total limits. Placed innermost,
// inside Retry (the canonical position), it limits each attempt, and a
// timed-out attempt is retried (KindTimeout is retryable). Placed outermost,
// it limits the whole call, retries and backoff waits included; Retry then
// sees the deadline and gives up rather than start a wait that cannot end
// in time. Both may be used in one stack:
//
//	llm.Chain(provider,
//		llm.Timeout(llm.TimeoutOptions{Total: 60 * time.Second}),      // overall
//		llm.Retry(llm.RetryOptions{}),
//		llm.Timeout(llm.TimeoutOptions{Total: 20 * time.Second,       // per attempt
//			FirstToken: 10 * time.Second, Idle: 5 * time.Second}))
//
// When a limit fires, the call fails with an *Error of KindTimeout whose
// message names the limit ("total", "first-token" or "idle"). The Model
// below sees its context end (for a stream, canceled, with the limit's
// error as context.Cause), and whatever it returns is replaced by that
// error; the error wraps the Model's own error when that is a timeout, and
// context.DeadlineExceeded otherwise, so errors.Is(err, KindCanceled) is
// false. A cancellation or deadline of the caller's context is passed
// through as the Model reported it (KindCanceled for a cancellation). An
// event that arrives after its limit fired is dropped in favour of the
// timeout error.
//
// The Model below must honour its context, as providers and llmtest fakes
// do: Timeout cancels the context and waits for the Model to return; it
// starts no goroutine of its own and stops its timers when a call ends.
// Generate costs one context.WithDeadline (none when the caller's deadline
// comes first); a stream costs one context.WithCancelCause and one timer,
// shared by its three limits.
func Timeout(opts TimeoutOptions) Middleware {
	if opts.Total <= 0 && opts.FirstToken <= 0 && opts.Idle <= 0 {
		return func(next Model) Model { return next }
	}
	t := newTimeoutLimits(opts)
	return func(next Model) Model {
		return &timeoutModel{next: next, limits: t}
	}
}

// newTimeoutLimits builds the limits of opts and their errors.
func newTimeoutLimits(opts TimeoutOptions) *timeoutLimits {
	t := &timeoutLimits{opts: opts}
	if opts.Total > 0 {
		t.total = &Error{Kind: KindTimeout, Message: "total time limit of " + opts.Total.String() + " exceeded",
			Err: context.DeadlineExceeded}
	}
	if opts.FirstToken > 0 {
		t.firstToken = &Error{Kind: KindTimeout, Message: "first-token time limit of " + opts.FirstToken.String() + " exceeded",
			Err: context.DeadlineExceeded}
	}
	if opts.Idle > 0 {
		t.idle = &Error{Kind: KindTimeout, Message: "idle time limit of " + opts.Idle.String() + " between events exceeded",
			Err: context.DeadlineExceeded}
	}
	return t
}

// timeoutLimits holds the options and, per limit, the error used as the
// context's cancellation cause when it fires. They are built once per
// middleware, so a call allocates no message, and compared by identity to
// tell which limit fired.
type timeoutLimits struct {
	opts                    TimeoutOptions
	total, firstToken, idle *Error
}

type timeoutModel struct {
	next   Model
	limits *timeoutLimits
}

// Generate implements Model.
func (m *timeoutModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	return callWithin(ctx, m.limits, req, m.next.Generate)
}

// callWithin makes one call that has a single answer (Generate, Embed)
// under the Total limit of l; it is the code Timeout and TimeoutEmbedder
// share. Without a Total limit, or when the caller's deadline comes first,
// the call is made with ctx as is. Otherwise the call gets a context with
// the Total deadline, whose cause is l.total, and an error after that
// deadline fired is replaced by timeoutError.
func callWithin[Req, Resp any](ctx context.Context, l *timeoutLimits, req *Req, call func(context.Context, *Req) (*Resp, error)) (*Resp, error) {
	if l.total == nil {
		return call(ctx, req)
	}
	d := time.Now().Add(l.opts.Total)
	if dl, ok := ctx.Deadline(); ok && !dl.After(d) {
		// The caller's deadline comes first: it is the limit, and its
		// expiry is the caller's to report.
		return call(ctx, req)
	}
	tctx, cancel := context.WithDeadlineCause(ctx, d, l.total)
	defer cancel()
	resp, err := call(tctx, req)
	if err != nil {
		if cause := l.firedCause(tctx); cause != nil {
			return nil, timeoutError(cause, err)
		}
	}
	return resp, err
}

// Stream implements Model.
func (m *timeoutModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		s := newTimeoutStream(ctx, m.limits, yield)
		defer s.close()
		if cause := s.arm(); cause != nil {
			s.expire(cause)
			return
		}
		// push is the yield function of the Model's stream; a method value
		// rather than a range loop, so that the whole state of a call is
		// the one timeoutStream allocation.
		m.next.Stream(s, req)(s.push)
	}
}

// timeoutStream is the state of one range over a stream under Timeout.
// It is also the context the Model below sees: a cancelable copy of the
// caller's context (its cause tells which limit fired) that reports the
// Total deadline. One timer enforces whichever limit is in force: the
// first-token or total deadline, which are absolute and keep running while
// the caller holds an event, or the idle limit, which is stopped while the
// caller holds an event and re-armed when it returns. The timer is only
// re-armed after a successful Stop, so its callback never sees the cause
// change under it.
type timeoutStream struct {
	context.Context // the cancelable copy of the caller's context

	cancel   context.CancelCauseFunc
	l        *timeoutLimits
	yield    func(Event, error) bool
	deadline time.Time // the Total deadline, zero when the caller's comes first
	firstBy  time.Time // the FirstToken deadline

	timer *time.Timer
	cause atomic.Pointer[Error] // the limit the armed timer enforces

	armed     bool // the timer is running
	relative  bool // the armed limit is Idle, paused while the caller holds an event
	waitFirst bool // FirstToken is set and no content event has arrived
	done      bool // the caller's yield must not be called again
}

func newTimeoutStream(ctx context.Context, l *timeoutLimits, yield func(Event, error) bool) *timeoutStream {
	s := &timeoutStream{l: l, yield: yield}
	s.Context, s.cancel = context.WithCancelCause(ctx)
	if l.total == nil && l.firstToken == nil {
		return s
	}
	now := time.Now()
	if l.total != nil {
		d := now.Add(l.opts.Total)
		if dl, ok := ctx.Deadline(); !ok || d.Before(dl) {
			s.deadline = d
		}
	}
	if l.firstToken != nil {
		s.firstBy, s.waitFirst = now.Add(l.opts.FirstToken), true
	}
	return s
}

// Deadline implements context.Context: the Total deadline, or the caller's
// when that comes first, so that a Retry below does not start a wait that
// cannot end in time.
func (s *timeoutStream) Deadline() (time.Time, bool) {
	if !s.deadline.IsZero() {
		return s.deadline, true
	}
	return s.Context.Deadline()
}

// arm starts the timer for the limit in force. It returns that limit's
// error when the limit has already passed, and nil otherwise.
func (s *timeoutStream) arm() *Error {
	var cause *Error
	var d time.Duration
	var now time.Time
	if s.waitFirst || !s.deadline.IsZero() {
		now = time.Now()
	}
	if s.waitFirst {
		cause, d = s.l.firstToken, s.firstBy.Sub(now)
	} else if s.l.idle != nil {
		cause, d = s.l.idle, s.l.opts.Idle
	}
	if !s.deadline.IsZero() {
		if rem := s.deadline.Sub(now); cause == nil || rem < d {
			cause, d = s.l.total, rem
		}
	}
	if cause == nil {
		return nil
	}
	if d <= 0 {
		return cause
	}
	s.cause.Store(cause)
	s.armed, s.relative = true, cause == s.l.idle
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
	return nil
}

// fire runs on the timer's goroutine: it cancels the stream's context with
// the armed limit as the cause.
func (s *timeoutStream) fire() { s.cancel(s.cause.Load()) }

// push receives the Model's events and passes them on to the caller.
func (s *timeoutStream) push(ev Event, err error) bool {
	if s.done {
		return false
	}
	if err != nil {
		s.done = true
		if cause := s.l.firedCause(s.Context); cause != nil {
			err = timeoutError(cause, err)
		}
		s.yield(Event{}, err)
		return false
	}
	// The Model has answered: the idle limit pauses while the caller holds
	// the event, and content ends the wait for the first token. Stop
	// returning false means the timer fired: the event came too late.
	rearm := false
	if (s.waitFirst && isContentEvent(ev.Kind)) || (s.armed && s.relative) {
		if s.armed && !s.timer.Stop() {
			return s.expire(s.cause.Load())
		}
		s.armed, s.waitFirst, rearm = false, false, true
	}
	if cause := s.l.firedCause(s.Context); cause != nil {
		return s.expire(cause)
	}
	if !s.yield(ev, nil) {
		s.done = true
		return false
	}
	if rearm {
		if cause := s.arm(); cause != nil {
			return s.expire(cause)
		}
	}
	return true
}

// expire ends the stream with the timeout error of limit. It returns false,
// for push to hand back to the Model.
func (s *timeoutStream) expire(limit *Error) bool {
	s.done = true
	s.cancel(limit)
	s.yield(Event{}, timeoutError(limit, nil))
	return false
}

// close releases the timer and the context when the range ends.
func (s *timeoutStream) close() {
	s.done = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel(nil)
}

// firedCause returns the error of the limit that ended ctx, or nil when ctx
// is not done or was ended by the caller's context.
func (l *timeoutLimits) firedCause(ctx context.Context) *Error {
	if ctx.Err() == nil {
		return nil
	}
	switch c := context.Cause(ctx); {
	case l.total != nil && c == error(l.total):
		return l.total
	case l.firstToken != nil && c == error(l.firstToken):
		return l.firstToken
	case l.idle != nil && c == error(l.idle):
		return l.idle
	}
	return nil
}

// timeoutError returns a copy of the limit's error for one call, with the
// provider, model, request id and attempts of inner when known. inner is wrapped when it reports
// a timeout itself; a cancellation, which is how the Model below saw the
// limit fire, is not, so that errors.Is(err, KindCanceled) stays false.
func timeoutError(limit *Error, inner error) *Error {
	e := *limit
	if inner == nil {
		return &e
	}
	var ie *Error
	if errors.As(inner, &ie) {
		e.Provider, e.Model, e.RequestID, e.Attempts = ie.Provider, ie.Model, ie.RequestID, ie.Attempts
	}
	if KindOf(inner) == KindTimeout {
		e.Err = inner
	}
	return &e
}

// isContentEvent reports whether an event carries content produced by the
// model, which ends the wait for the first token.
func isContentEvent(k EventKind) bool {
	switch k {
	case EventTextDelta, EventReasoningDelta, EventRefusalDelta, EventToolCallDelta:
		return true
	}
	return false
}
