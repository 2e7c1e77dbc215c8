package llm

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// HedgeOptions configures Hedge. The zero value gives the defaults
// documented on each field.
type HedgeOptions struct {
	// Percentile of the primary's recent latencies after which the hedge
	// starts, in (0, 1]; 0.95 (p95) when zero or out of range.
	Percentile float64
	// InitialDelay is the hedge delay used until MinSamples latencies
	// have been observed; 1s when zero.
	InitialDelay time.Duration
	// MinDelay and MaxDelay bound the delay computed from observed
	// latencies; zero means no bound.
	MinDelay time.Duration
	MaxDelay time.Duration
	// MinSamples is how many latencies must be observed before the
	// percentile replaces InitialDelay; 20 when zero.
	MinSamples int
	// Samples is how many recent latencies are kept; 100 when zero, and
	// never fewer than MinSamples.
	Samples int
	// AlsoOn lists kinds that let a failed first attempt move on to the
	// other target, in addition to those whose Kind.Handling().Fallback
	// is true (see FallbackOptions.AlsoOn).
	AlsoOn []Kind
	// SafeMode, when active, turns hedging off: calls go to the primary
	// alone and move on to the secondary only if it fails, as with
	// Fallback. Nil is never active.
	SafeMode *SafeMode
	// Breaker configures the breakers of targets that have none, as in
	// FallbackOptions.
	Breaker BreakerOptions
}

// Hedge returns a Model that sends each call to primary and, when no answer
// has come (Generate) or no first content event (Stream) after a delay, sends it to
// secondary as well; the first to answer wins and the other is canceled
// (its context is canceled and its stream released). The delay is the
// Percentile (p95 by default) of the primary's recent time to first token,
// measured separately for Generate (time to the response) and Stream (time
// to the first content event); a primary canceled because it lost counts with the
// time it had taken by then. Until MinSamples latencies are known the
// delay is InitialDelay.
//
// If the primary fails before the hedge starts, the secondary is called at
// once when the error's kind allows fallback (as in Fallback); once both
// run, a failure of one waits for the other. Each target is behind its own
// circuit breaker, and a target whose breaker is open is not called: the
// other one serves alone. A stream is decided by its first content event
// (text, reasoning, refusal or tool-call delta): the events before it,
// such as EventStart, are held back and passed on with it, so a primary
// that sends EventStart and then stalls does not win the race. After that
// the stream is the winner's alone, and a later failure is passed on. A
// stream that ends without content is decided by its end.
//
// The Models run on goroutines Hedge starts (a stream's, until its first
// content event); a panic there is recovered and becomes that attempt's
// failure, an *Error of KindUnknown whose message starts with "panic: ".
//
// The Response (or a stream's first event) names the winner in Target and
// counts in Attempts every upstream call, the loser's included. When
// neither answers, the error is built as for Fallback: an *Error with the
// last failure's Kind and a *FallbackError listing both attempts.
//
// Hedging costs extra calls; it pays off when a provider's latency has a
// long tail. No goroutine it starts outlives the losing call's
// cancellation.
func Hedge(opts HedgeOptions, primary, secondary Target) Model {
	ts := fallbackTargets(opts.Breaker, []Target{primary, secondary})
	h := &hedgeModel{
		targets: [2]fallbackTarget{ts[0], ts[1]},
		kinds:   fallbackKindsOf(opts.AlsoOn),
		safe:    opts.SafeMode,
	}
	h.seq = fallbackModel{targets: ts, kinds: h.kinds}
	h.genLat.init(opts)
	h.streamLat.init(opts)
	return h
}

// errHedgeLost is the cancellation cause of an attempt that lost the race.
var errHedgeLost = errors.New("llm: hedged attempt lost the race")

type hedgeModel struct {
	targets [2]fallbackTarget
	kinds   fallbackKinds
	safe    *SafeMode
	seq     fallbackModel // the same targets without hedging, for safe mode

	genLat, streamLat hedgeLatency
}

// hedgeLatency keeps recent latencies of the primary in a ring and the
// delay computed from them.
type hedgeLatency struct {
	samples    []atomic.Int64
	n          atomic.Uint64 // latencies observed so far
	delay      atomic.Int64  // the current delay; negative until computed
	pct        float64
	minSamples uint64
	every      uint64 // recompute the delay every this many samples
	initial    time.Duration
	lo, hi     time.Duration
}

// Default hedge options.
const (
	defaultHedgePercentile = 0.95
	defaultHedgeDelay      = time.Second
	defaultHedgeMinSamples = 20
	defaultHedgeSamples    = 100
)

func (l *hedgeLatency) init(opts HedgeOptions) {
	l.pct = opts.Percentile
	if l.pct <= 0 || l.pct > 1 {
		l.pct = defaultHedgePercentile
	}
	l.initial = opts.InitialDelay
	if l.initial <= 0 {
		l.initial = defaultHedgeDelay
	}
	minSamples := opts.MinSamples
	if minSamples <= 0 {
		minSamples = defaultHedgeMinSamples
	}
	size := opts.Samples
	if size <= 0 {
		size = defaultHedgeSamples
	}
	l.minSamples = uint64(minSamples)
	l.samples = make([]atomic.Int64, max(size, minSamples))
	l.every = uint64(max(len(l.samples)/20, 1))
	l.lo, l.hi = max(opts.MinDelay, 0), max(opts.MaxDelay, 0)
	l.delay.Store(-1)
}

// current returns the hedge delay.
func (l *hedgeLatency) current() time.Duration {
	if d := l.delay.Load(); d >= 0 {
		return time.Duration(d)
	}
	return l.initial
}

// add records one latency and, once enough are known, recomputes the
// delay: at MinSamples, then every twentieth of the ring. Writers do not
// lock: a recomputation racing with another add may read a slot that is
// not written yet, which only nudges one estimate.
func (l *hedgeLatency) add(d time.Duration) {
	n := l.n.Add(1)
	size := uint64(len(l.samples))
	l.samples[(n-1)%size].Store(int64(d))
	if n < l.minSamples || (n != l.minSamples && n%l.every != 0) {
		return
	}
	vals := make([]int64, min(n, size))
	for i := range vals {
		vals[i] = l.samples[i].Load()
	}
	slices.Sort(vals)
	k := int(math.Ceil(l.pct*float64(len(vals)))) - 1 // nearest rank
	v := time.Duration(vals[min(max(k, 0), len(vals)-1)])
	v = max(v, l.lo)
	if l.hi > 0 {
		v = min(v, l.hi)
	}
	l.delay.Store(int64(v))
}

// hedgeResult is the outcome of one hedged Generate attempt.
type hedgeResult struct {
	idx  int
	resp *Response
	err  error
}

func (h *hedgeModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	if h.safe.Active() {
		return h.seq.Generate(ctx, req)
	}
	results := make(chan hedgeResult, 2) // buffered: a loser sends and exits
	var cancels [2]context.CancelCauseFunc
	defer func() {
		for _, cancel := range cancels {
			if cancel != nil {
				cancel(errHedgeLost)
			}
		}
	}()
	var failed fallbackFailures
	running := 0
	launch := func(i int) {
		t := &h.targets[i]
		p, err := t.breaker.Allow()
		if err != nil {
			failed.add(t.name, err)
			return
		}
		actx, cancel := context.WithCancelCause(ctx)
		cancels[i] = cancel
		running++
		go h.generateAttempt(actx, i, p, req, results)
	}

	var timer <-chan time.Time // fires when the hedge is due
	if launch(0); running == 0 {
		if h.kinds.allows(ctx, failed.list[0].Err) {
			launch(1) // the primary's breaker is open
		}
	} else {
		tm := time.NewTimer(h.genLat.current())
		defer tm.Stop()
		timer = tm.C
	}
	for running > 0 {
		select {
		case r := <-results:
			running--
			t := &h.targets[r.idx]
			if r.err == nil {
				r.resp.Target = t.name
				r.resp.Attempts = failed.attempts + max(r.resp.Attempts, 1) + running
				return r.resp, nil
			}
			failed.add(t.name, r.err)
			if timer != nil { // the primary failed before the hedge started
				timer = nil
				if h.kinds.allows(ctx, r.err) {
					launch(1)
				}
			}
		case <-timer:
			timer = nil
			if ctx.Err() == nil {
				launch(1)
			}
		}
	}
	return nil, failed.err()
}

// generateAttempt runs one attempt through its breaker and reports it. A
// panic of the Model is the attempt's failure (hedgePanic), since it runs
// on a goroutine of Hedge's, where it would crash the process.
func (h *hedgeModel) generateAttempt(ctx context.Context, i int, p BreakerPermit, req *Request, out chan<- hedgeResult) {
	c := breakerCall{p: p}
	defer c.end(breakerNeutral, nil)
	start := time.Now()
	resp, err := h.generateOne(ctx, i, req)
	c.end(breakerOutcomeCtx(ctx, err), err)
	if i == 0 && (err == nil || context.Cause(ctx) == errHedgeLost) {
		h.genLat.add(time.Since(start))
	}
	out <- hedgeResult{idx: i, resp: resp, err: err}
}

// generateOne calls target i's Generate, turning a panic into an error.
func (h *hedgeModel) generateOne(ctx context.Context, i int, req *Request) (resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, hedgePanic(v)
		}
	}()
	return h.targets[i].model.Generate(ctx, req)
}

// hedgePanic is the error of an attempt whose Model panicked on a
// goroutine Hedge started.
func hedgePanic(v any) *Error {
	return &Error{Kind: KindUnknown, Message: fmt.Sprintf("panic: %v", v)}
}

// hedgeStream is one hedged Stream attempt. Its goroutine pulls events up
// to the first content event (holding back those before it), then hands the attempt over to the caller's goroutine or, if the
// race is already decided, releases it.
type hedgeStream struct {
	idx    int
	ctx    context.Context
	cancel context.CancelCauseFunc
	call   breakerCall
	start  time.Time
	next   func() (Event, error, bool)
	stop   func()
	gate   contentGate // the events before the first content event
}

// hedgeFirst is what an attempt's pulls up to its first content event
// produced: that event, an error, or the end of the stream (ok false).
type hedgeFirst struct {
	a   *hedgeStream
	ev  Event
	err error
	ok  bool
}

func (h *hedgeModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		if h.safe.Active() {
			h.seq.Stream(ctx, req)(yield)
			return
		}
		firsts := make(chan hedgeFirst) // unbuffered: the hand-over
		abandon := make(chan struct{})  // closed once the race is decided
		var attempts [2]*hedgeStream
		var failed fallbackFailures
		running := 0
		launch := func(i int) {
			t := &h.targets[i]
			p, err := t.breaker.Allow()
			if err != nil {
				failed.add(t.name, err)
				return
			}
			actx, cancel := context.WithCancelCause(ctx)
			a := &hedgeStream{idx: i, ctx: actx, cancel: cancel, call: breakerCall{p: p}, start: time.Now()}
			attempts[i] = a
			running++
			go h.firstEvent(a, t.model.Stream(actx, req), firsts, abandon)
		}

		var timer <-chan time.Time // fires when the hedge is due
		if launch(0); running == 0 {
			if h.kinds.allows(ctx, failed.list[0].Err) {
				launch(1) // the primary's breaker is open
			}
		} else {
			tm := time.NewTimer(h.streamLat.current())
			defer tm.Stop()
			timer = tm.C
		}
		var win *hedgeFirst
	race:
		for running > 0 {
			select {
			case r := <-firsts:
				running--
				if r.err == nil {
					win = &r
					break race
				}
				r.a.stop()
				r.a.call.end(breakerOutcomeCtx(r.a.ctx, r.err), r.err)
				r.a.cancel(nil)
				failed.add(h.targets[r.a.idx].name, r.err)
				if timer != nil {
					timer = nil
					if h.kinds.allows(ctx, r.err) {
						launch(1)
					}
				}
			case <-timer:
				timer = nil
				if ctx.Err() == nil {
					launch(1)
				}
			}
		}
		close(abandon)
		for _, a := range attempts {
			if a != nil && (win == nil || a != win.a) {
				a.cancel(errHedgeLost)
			}
		}
		if win == nil {
			yield(Event{}, failed.err())
			return
		}
		if win.a.idx == 0 {
			h.streamLat.add(time.Since(win.a.start))
		}
		h.serve(win, failed.attempts+running, yield)
	}
}

// firstEvent pulls an attempt's stream up to its first content event, an
// error or its end, holding back the events before (see contentGate), and
// hands the attempt to the caller's goroutine, or releases it if the race
// has been decided without it. A panic of the stream is the attempt's
// failure.
func (h *hedgeModel) firstEvent(a *hedgeStream, s Stream, out chan<- hedgeFirst, abandon <-chan struct{}) {
	a.next, a.stop = iter.Pull2(iter.Seq2[Event, error](s))
	ev, err, ok := a.pullFirst()
	select {
	case out <- hedgeFirst{a: a, ev: ev, err: err, ok: ok}:
	case <-abandon:
		a.stop()
		o := breakerNeutral // abandoned mid-stream, like a caller that stops early
		if err != nil || !ok {
			o = breakerOutcomeCtx(a.ctx, err) // neutral too when canceled
		}
		a.call.end(o, err)
		if a.idx == 0 && (err == nil || context.Cause(a.ctx) == errHedgeLost) {
			h.streamLat.add(time.Since(a.start))
		}
	}
}

// pullFirst pulls events up to the first content event, an error or the
// end of the stream, holding back the events before the first content
// event. It turns a panic of the stream into an error.
func (a *hedgeStream) pullFirst() (ev Event, err error, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ev, err, ok = Event{}, hedgePanic(v), true
		}
	}()
	for {
		ev, err, ok = a.next()
		if err != nil || !ok || !a.gate.hold(ev) {
			return ev, err, ok
		}
	}
}

// serve passes the winning attempt's stream on to the caller. attempts is
// what the answer cost before the winner's own attempts.
func (h *hedgeModel) serve(w *hedgeFirst, attempts int, yield func(Event, error) bool) {
	a := w.a
	defer func() {
		a.stop()
		a.call.end(breakerNeutral, nil)
		a.cancel(nil)
	}()
	if !w.ok { // a stream without content
		a.call.end(breakerSuccess, nil)
		if a.gate.n > 0 {
			a.gate.first.Target = h.targets[a.idx].name
			a.gate.first.Attempts = attempts + max(a.gate.first.Attempts, 1)
			a.gate.release(yield)
		}
		return
	}
	ev := w.ev
	first := a.gate.head(&ev)
	first.Target = h.targets[a.idx].name
	first.Attempts = attempts + max(first.Attempts, 1)
	if !a.gate.release(yield) || !yield(ev, nil) {
		return
	}
	for {
		ev, err, ok := a.next()
		if !ok {
			a.call.end(breakerSuccess, nil)
			return
		}
		if err != nil {
			a.call.end(breakerOutcomeCtx(a.ctx, err), err)
			yield(Event{}, err)
			return
		}
		if !yield(ev, nil) {
			return
		}
	}
}
