package llm

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Target is one Model of a fallback list (Fallback) or of a hedged pair
// (Hedge).
type Target struct {
	// Name identifies the target in Response.Target, Event.Target and
	// errors; "target0", "target1"... by position when empty.
	Name string
	// Model serves the target's calls, usually a provider wrapped in its
	// own retry, rate-limit and timeout middlewares.
	Model Model
	// Breaker protects the target. When nil, the target gets a breaker of
	// its own built from the options' Breaker field, named after it.
	Breaker *Breaker
}

// FallbackOptions configures Fallback.
type FallbackOptions struct {
	// AlsoOn lists kinds that move on to the next target in addition to
	// those whose Kind.Handling().Fallback is true; for example
	// KindContextLength when a later target has a longer context window.
	// KindCanceled never moves on.
	AlsoOn []Kind
	// SafeMode, when active, forces the fallback route: the first target
	// (the primary) is skipped and calls go straight to the others. A
	// list of one target keeps using it. Nil is never active.
	SafeMode *SafeMode
	// Breaker configures the breakers of targets that have none; Name is
	// replaced by the target's name. OnStateChange, when set, therefore
	// sees every default breaker's transitions.
	Breaker BreakerOptions
}

// TargetError is one failed attempt of a fallback list.
type TargetError struct {
	// Target is the target's name.
	Target string
	// Err is what the target returned, or the KindCircuitOpen *Error of
	// its breaker when it was skipped.
	Err error
}

// FallbackError lists every failed attempt of a fallback list (or hedged
// pair), in the order they failed. It is the cause (Err) of the *Error a
// Fallback or Hedge Model returns when no target answered; reach it with
// errors.As. Its message repeats the targets' errors, which carry no
// secrets.
type FallbackError struct {
	Attempts []TargetError
}

// Error lists the attempts: "fallback: a: <error>; b: <error>".
func (e *FallbackError) Error() string {
	var b strings.Builder
	b.WriteString("fallback: ")
	for i, a := range e.Attempts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(a.Target)
		b.WriteString(": ")
		if a.Err != nil {
			b.WriteString(a.Err.Error())
		} else {
			b.WriteString("<nil>")
		}
	}
	return b.String()
}

// Unwrap returns the attempts' errors, so that errors.Is and errors.As
// look into each of them.
func (e *FallbackError) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts))
	for _, a := range e.Attempts {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return errs
}

// Fallback returns a Model that tries targets in order, each behind its
// circuit breaker, until one answers. It moves on to the next target when
// an attempt fails with a kind whose Kind.Handling().Fallback is true
// (unavailable, timeout, rate limited, quota, auth, not found, an open
// circuit...) or that opts.AlsoOn lists; it stops at once on any other
// kind (an invalid request would fail everywhere), on KindCanceled, and
// when the caller's context is done. A target whose breaker is open costs
// nothing: it is skipped without a call.
//
// The Response (or, for a stream, the first event) names the target that
// answered in Target, and counts in Attempts every upstream call the
// answer cost: the attempts an inner retry middleware reports in
// Error.Attempts and Response.Attempts, otherwise one per failed target
// (none for a skipped one). When no target answers, the error is an
// *Error with the last attempt's Kind, RetryAfter and ShouldRetry, the
// summed Attempts, and a *FallbackError listing every attempt as its Err.
//
// A stream falls back only until its first content event (text,
// reasoning, refusal or tool-call delta) has reached the caller: the
// events before it, such as EventStart, are held back and passed on with
// it (or at the end of a stream that has no content), so that a target
// that fails or times out after EventStart still falls back, its held-back
// events dropped. A failure after the first content event is passed on as
// it is.
//
// Fallback panics if targets is empty or a target has no Model.
func Fallback(opts FallbackOptions, targets ...Target) Model {
	if len(targets) == 0 {
		panic("llm: Fallback needs at least one target")
	}
	return &fallbackModel{
		targets: fallbackTargets(opts.Breaker, targets),
		kinds:   fallbackKindsOf(opts.AlsoOn),
		safe:    opts.SafeMode,
	}
}

// fallbackTarget is a Target with its name and breaker resolved.
type fallbackTarget struct {
	name    string
	model   Model
	breaker *Breaker
}

func fallbackTargets(bo BreakerOptions, targets []Target) []fallbackTarget {
	out := make([]fallbackTarget, len(targets))
	for i, t := range targets {
		if t.Model == nil {
			panic("llm: fallback target " + strconv.Itoa(i) + " has no Model")
		}
		name := t.Name
		if name == "" {
			name = "target" + strconv.Itoa(i)
		}
		b := t.Breaker
		if b == nil {
			o := bo
			o.Name = name
			b = NewBreaker(o)
		}
		out[i] = fallbackTarget{name: name, model: t.Model, breaker: b}
	}
	return out
}

// fallbackKinds says, per kind, whether a failure moves on to the next
// target.
type fallbackKinds [numKinds]bool

func fallbackKindsOf(also []Kind) fallbackKinds {
	var ks fallbackKinds
	for k := range ks {
		ks[k] = Kind(k).Handling().Fallback
	}
	for _, k := range also {
		if k < numKinds {
			ks[k] = true
		}
	}
	ks[KindCanceled] = false
	return ks
}

// allows reports whether a failure with err may move on to another target
// for a caller whose context is ctx.
func (ks *fallbackKinds) allows(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	k := KindOf(err)
	return k < numKinds && ks[k]
}

// fallbackAttempts returns how many upstream calls a failed attempt cost:
// the count an inner middleware reported, none when a local limit refused
// the call before it was sent, otherwise one.
func fallbackAttempts(err error) int {
	var e *Error
	if errors.As(err, &e) {
		if e.Attempts > 0 {
			return e.Attempts
		}
		if e.Kind == KindCircuitOpen || e.Kind == KindLocalRateLimited {
			return 0
		}
	}
	return 1
}

// fallbackFailures accumulates the failed attempts of one call.
type fallbackFailures struct {
	list     []TargetError
	attempts int
}

func (f *fallbackFailures) add(target string, err error) {
	f.list = append(f.list, TargetError{Target: target, Err: err})
	f.attempts += fallbackAttempts(err)
}

// err builds the error of a call on which every attempt failed.
func (f *fallbackFailures) err() error {
	last := f.list[len(f.list)-1].Err
	e := &Error{Kind: KindOf(last), Attempts: f.attempts, Err: &FallbackError{Attempts: f.list}}
	var le *Error
	if errors.As(last, &le) {
		e.RetryAfter = le.RetryAfter
		e.ShouldRetry = le.ShouldRetry
	}
	return e
}

type fallbackModel struct {
	targets []fallbackTarget
	kinds   fallbackKinds
	safe    *SafeMode
}

// first returns the index of the first target to try.
func (f *fallbackModel) first() int {
	if len(f.targets) > 1 && f.safe.Active() {
		return 1
	}
	return 0
}

func (f *fallbackModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	var failed fallbackFailures
	for i := f.first(); i < len(f.targets); i++ {
		t := &f.targets[i]
		resp, err := t.generate(ctx, req)
		if err == nil {
			resp.Target = t.name
			resp.Attempts = failed.attempts + max(resp.Attempts, 1)
			return resp, nil
		}
		failed.add(t.name, err)
		if !f.kinds.allows(ctx, err) {
			break
		}
	}
	return nil, failed.err()
}

// generate calls the target through its breaker.
func (t *fallbackTarget) generate(ctx context.Context, req *Request) (*Response, error) {
	p, err := t.breaker.Allow()
	if err != nil {
		return nil, err
	}
	c := breakerCall{p: p}
	defer c.end(breakerNeutral, nil)
	resp, err := t.model.Generate(ctx, req)
	c.end(breakerOutcomeCtx(ctx, err), err)
	return resp, err
}

func (f *fallbackModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		var failed fallbackFailures
		for i := f.first(); i < len(f.targets); i++ {
			t := &f.targets[i]
			err := t.stream(ctx, req, failed.attempts, yield)
			if err == nil {
				return
			}
			failed.add(t.name, err)
			if !f.kinds.allows(ctx, err) {
				break
			}
		}
		yield(Event{}, failed.err())
	}
}

// stream serves the caller from the target, through its breaker, and
// returns the error to fall back on: one that came before any content
// event (the events the target held back until then are dropped; see
// contentGate). It returns nil once the stream is over for the caller: it
// ended, failed after its first content event (the error was yielded), or
// the caller stopped. prior is the attempts already spent, for the first
// event's Attempts.
func (t *fallbackTarget) stream(ctx context.Context, req *Request, prior int, yield func(Event, error) bool) error {
	p, err := t.breaker.Allow()
	if err != nil {
		return err
	}
	// One struct holds the state the loop body shares, and the body
	// returns nothing, so that the loop costs few allocations.
	st := struct {
		c       breakerCall
		gate    contentGate
		started bool
		stopped bool  // the loop ended early
		err     error // the error to fall back on
	}{c: breakerCall{p: p}}
	defer st.c.end(breakerNeutral, nil)
	for ev, err := range t.model.Stream(ctx, req) {
		if err != nil {
			st.c.end(breakerOutcomeCtx(ctx, err), err)
			if st.started {
				yield(Event{}, err)
			} else {
				st.err = err
			}
			st.stopped = true
			break
		}
		if st.gate.hold(ev) {
			continue
		}
		if !st.started {
			st.started = true
			h := st.gate.head(&ev)
			h.Target = t.name
			h.Attempts = prior + max(h.Attempts, 1)
			if !st.gate.release(yield) {
				st.stopped = true
				break
			}
		}
		if !yield(ev, nil) {
			st.stopped = true
			break
		}
	}
	if !st.stopped {
		st.c.end(breakerSuccess, nil)
		if !st.started && st.gate.n > 0 { // an answer without content
			st.gate.first.Target = t.name
			st.gate.first.Attempts = prior + max(st.gate.first.Attempts, 1)
			st.gate.release(yield)
		}
	}
	return st.err
}
