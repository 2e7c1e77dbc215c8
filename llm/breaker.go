package llm

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState uint8

// The circuit breaker states.
const (
	// BreakerClosed lets every call through and counts failures.
	BreakerClosed BreakerState = iota
	// BreakerOpen fails every call at once, until the cooldown has passed.
	BreakerOpen
	// BreakerHalfOpen lets a few probe calls through to test whether the
	// Model has recovered.
	BreakerHalfOpen
)

// String returns the state's snake_case name, for logs and telemetry.
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	default:
		return "breaker_state(" + strconv.Itoa(int(s)) + ")"
	}
}

// BreakerOptions configures a Breaker. The zero value gives the defaults
// documented on each field.
type BreakerOptions struct {
	// Name identifies the breaker in errors and state changes, usually the
	// name of the Model it protects.
	Name string

	// Window is the sliding window over which the failure rate is
	// measured; 10s when zero. It is kept in Buckets buckets (10 when
	// zero), so old results leave the window one bucket at a time.
	Window  time.Duration
	Buckets int
	// FailureRate opens the breaker when counted failures reach this share
	// of the requests in the window (0.5 when zero), provided the window
	// holds at least MinRequests results (20 when zero). A negative
	// FailureRate disables the rule.
	FailureRate float64
	MinRequests int
	// ConsecutiveFailures opens the breaker after this many counted
	// failures in a row, whatever the window says. 0 or negative disables
	// the rule; it is off by default because under concurrency the order
	// in which calls finish is not the order of the Model's health (calls
	// that failed, backed off and failed again finish together, in
	// bursts), so a modest random failure rate trips it.
	ConsecutiveFailures int

	// Cooldown is how long the breaker stays open before it lets probes
	// through; 30s when zero.
	Cooldown time.Duration
	// MaxCooldown, when larger than Cooldown, makes the cooldown double
	// each time a probe fails, up to MaxCooldown; it returns to Cooldown
	// once the breaker closes. Zero keeps the cooldown fixed.
	MaxCooldown time.Duration
	// MaxProbes is how many probe calls may be in flight at once while the
	// breaker is half-open; 1 when zero. Other calls fail at once.
	MaxProbes int

	// OnStateChange, when set, is called on every transition, for logs and
	// telemetry. It runs synchronously while the breaker holds its lock, so
	// that transitions are reported in order: it must return quickly and
	// must not call the Breaker's methods other than State.
	OnStateChange func(BreakerChange)
}

// BreakerChange describes one state transition of a Breaker.
type BreakerChange struct {
	// Name is the breaker's name (BreakerOptions.Name).
	Name string
	// From and To are the old and new states.
	From, To BreakerState
	// At is when the transition happened.
	At time.Time
	// Until is, when To is BreakerOpen, when the cooldown ends.
	Until time.Time
	// Reason says why the breaker opened, for example
	// "5 consecutive failures" or "probe failed"; empty otherwise.
	Reason string
	// Err is the failure that opened the breaker; nil otherwise. Like
	// every *Error, it carries no secrets.
	Err error
}

// Breaker is a circuit breaker for one Model. While closed it counts the
// failures that matter for a Model's health, the kinds whose
// Kind.Handling().Breaker is true; caller mistakes (invalid requests,
// context length), rate limits, cancellation and guard or policy blocks
// never count, nor does any failure of a call whose caller's context had
// ended (canceled or past its deadline) when it returned; a timeout of
// keel's Timeout middleware or of the provider, while the caller still
// waits, counts. It opens when, over a sliding window, counted failures
// reach FailureRate of at least MinRequests results, or, when
// ConsecutiveFailures is set, after that many counted failures in a row.
// While open, calls fail at once with an *Error of KindCircuitOpen that
// says until when (its RetryAfter is the time left), without reaching the
// Model. After the cooldown the first call
// moves it to half-open, where at most MaxProbes probe calls go through: a
// successful probe closes it, a failed one opens it again.
//
// Wrap a Model with Middleware, or use Allow and BreakerPermit.Done around
// any other call. Results of calls that started before a transition are
// ignored, so a slow call from before the breaker opened cannot close it.
// A Breaker is safe for concurrent use; in the closed state Allow is one
// atomic load and recording a success takes no lock.
type Breaker struct {
	name        string
	bucketWidth int64 // nanoseconds
	failureRate float64
	minRequests int64
	consecutive int64 // the ConsecutiveFailures threshold; 0 disables
	cooldown    time.Duration
	maxCooldown time.Duration
	maxProbes   int
	onChange    func(BreakerChange)
	base        time.Time // origin of the monotonic clock the breaker reads

	// word packs the state (low 2 bits) and a generation counter that
	// changes on every transition (the other bits). A permit remembers
	// the word it was granted under.
	word atomic.Uint64
	// open describes the current or last open period.
	open atomic.Pointer[breakerOpenInfo]
	// failStreak counts counted failures in a row while closed.
	failStreak atomic.Int64
	// buckets hold the sliding window, one packed word per bucket (see
	// breakerBucket*).
	buckets []atomic.Uint64

	mu         sync.Mutex // serialises transitions and the failure path
	probes     int        // probes in flight while half-open
	curCooling time.Duration
}

// breakerOpenInfo describes an open period. It is immutable once stored.
type breakerOpenInfo struct {
	until int64 // monotonic nanoseconds since Breaker.base
	msg   string
}

// A window bucket is one uint64: the bucket's epoch (its index in time
// since Breaker.base, modulo 2^24) in the top 24 bits, then 20 bits of
// counted failures and 20 bits of results. Packing them lets a bucket be
// moved to a new epoch and counted in one compare-and-swap, with no lock.
// Counts saturate at about a million per bucket; an epoch is reused after
// 2^24 buckets (194 days with the default one-second buckets), far longer
// than any window.
const (
	breakerCountBits  = 20
	breakerCountMask  = 1<<breakerCountBits - 1
	breakerEpochShift = 2 * breakerCountBits
	breakerEpochMask  = 1<<(64-breakerEpochShift) - 1
	breakerStateMask  = 3
)

// Default breaker options.
const (
	defaultBreakerWindow      = 10 * time.Second
	defaultBreakerBuckets     = 10
	defaultBreakerRate        = 0.5
	defaultBreakerMinRequests = 20
	defaultBreakerCooldown    = 30 * time.Second
)

// NewBreaker returns a closed Breaker configured by opts.
func NewBreaker(opts BreakerOptions) *Breaker {
	window := opts.Window
	if window <= 0 {
		window = defaultBreakerWindow
	}
	n := opts.Buckets
	if n <= 0 {
		n = defaultBreakerBuckets
	}
	width := int64(window) / int64(n)
	if width <= 0 {
		width = 1
	}
	rate := opts.FailureRate
	if rate == 0 {
		rate = defaultBreakerRate
	}
	minReq := opts.MinRequests
	if minReq <= 0 {
		minReq = defaultBreakerMinRequests
	}
	consecutive := max(opts.ConsecutiveFailures, 0)
	cooldown := opts.Cooldown
	if cooldown <= 0 {
		cooldown = defaultBreakerCooldown
	}
	probes := opts.MaxProbes
	if probes <= 0 {
		probes = 1
	}
	b := &Breaker{
		name:        opts.Name,
		bucketWidth: width,
		failureRate: rate,
		minRequests: int64(minReq),
		consecutive: int64(consecutive),
		cooldown:    cooldown,
		maxCooldown: max(opts.MaxCooldown, cooldown),
		maxProbes:   probes,
		onChange:    opts.OnStateChange,
		base:        time.Now(),
		buckets:     make([]atomic.Uint64, n),
		curCooling:  cooldown,
	}
	b.resetBuckets()
	return b
}

// State returns the current state. An open breaker whose cooldown has
// passed reports BreakerOpen until the next call moves it to half-open.
func (b *Breaker) State() BreakerState {
	return BreakerState(b.word.Load() & breakerStateMask)
}

// BreakerPermit is the permission Allow grants for one call. Report the
// call's result with Done exactly once. The zero BreakerPermit, returned
// with an error, does nothing.
type BreakerPermit struct {
	b     *Breaker
	word  uint64
	probe bool
}

// Done records the result of the permitted call: nil is a success, an
// error whose kind counts against breakers (Kind.Handling().Breaker) is a
// failure, and any other error (a caller mistake, a cancellation, a guard
// block) leaves the breaker as it was.
func (p BreakerPermit) Done(err error) {
	if p.b != nil {
		p.b.finish(p, breakerOutcomeOf(err), err)
	}
}

// Allow asks to make one call. It returns a permit when the breaker is
// closed, or half-open with a probe slot free; otherwise it returns an
// *Error of KindCircuitOpen saying until when the breaker stays open.
func (b *Breaker) Allow() (BreakerPermit, error) {
	w := b.word.Load()
	if w&breakerStateMask == uint64(BreakerClosed) {
		return BreakerPermit{b: b, word: w}, nil
	}
	return b.allowSlow(w)
}

func (b *Breaker) allowSlow(w uint64) (BreakerPermit, error) {
	now := b.now()
	if BreakerState(w&breakerStateMask) == BreakerOpen {
		if info := b.open.Load(); now < info.until {
			return BreakerPermit{}, b.openError(info, now)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w = b.word.Load()
	switch BreakerState(w & breakerStateMask) {
	case BreakerClosed:
		return BreakerPermit{b: b, word: w}, nil
	case BreakerOpen:
		if info := b.open.Load(); now < info.until {
			return BreakerPermit{}, b.openError(info, now)
		}
		w = b.transition(BreakerHalfOpen, "", nil, time.Time{})
	}
	if b.probes >= b.maxProbes {
		return BreakerPermit{}, &Error{Kind: KindCircuitOpen, Message: b.label() + " half-open, probe in flight"}
	}
	b.probes++
	return BreakerPermit{b: b, word: w, probe: true}, nil
}

// breakerOutcome is what a call's result means to a breaker.
type breakerOutcome uint8

const (
	breakerNeutral breakerOutcome = iota
	breakerSuccess
	breakerFailure
)

func breakerOutcomeOf(err error) breakerOutcome {
	switch {
	case err == nil:
		return breakerSuccess
	case KindOf(err).Handling().Breaker:
		return breakerFailure
	default:
		return breakerNeutral
	}
}

// breakerOutcomeCtx is breakerOutcomeOf for a call made with ctx: once the
// caller's ctx has ended, canceled or past its deadline, whatever error the
// Model returned says nothing about its health (a healthy Model that is
// slower than one impatient caller's deadline must not be tripped by it).
// A timeout raised below the breaker while ctx is still alive (keel's
// Timeout middleware, whose own context expired, or the provider's) does
// count.
func breakerOutcomeCtx(ctx context.Context, err error) breakerOutcome {
	if err != nil && ctx.Err() != nil {
		return breakerNeutral
	}
	return breakerOutcomeOf(err)
}

// finish records the outcome of a permitted call; err is the call's error,
// reported to OnStateChange when it opens the breaker.
func (b *Breaker) finish(p BreakerPermit, o breakerOutcome, err error) {
	if !p.probe {
		switch o {
		case breakerSuccess:
			if b.word.Load() != p.word {
				return // the breaker moved on since the call started
			}
			b.count(b.now(), false)
			if b.failStreak.Load() != 0 {
				b.failStreak.Store(0)
			}
		case breakerFailure:
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.word.Load() != p.word {
				return
			}
			now := b.now()
			b.count(now, true)
			streak := b.failStreak.Add(1)
			if b.consecutive > 0 && streak >= b.consecutive {
				b.trip(now, strconv.FormatInt(streak, 10)+" consecutive failures", err)
				return
			}
			if b.failureRate < 0 {
				return
			}
			total, failed := b.windowCounts(now)
			if total >= b.minRequests && float64(failed) >= b.failureRate*float64(total) {
				reason := fmt.Sprintf("%d of %d requests failed in %s", failed, total,
					time.Duration(b.bucketWidth*int64(len(b.buckets))))
				b.trip(now, reason, err)
			}
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.word.Load() != p.word {
		return // another probe already decided
	}
	b.probes--
	switch o {
	case breakerSuccess:
		b.transition(BreakerClosed, "", nil, time.Time{})
	case breakerFailure:
		b.curCooling = min(2*b.curCooling, b.maxCooldown)
		b.trip(b.now(), "probe failed", err)
	}
}

// trip opens the breaker for the current cooldown. b.mu is held.
func (b *Breaker) trip(now int64, reason string, cause error) {
	cooling := b.curCooling
	until := time.Now().Add(cooling)
	msg := b.label() + " open until " + until.UTC().Format("2006-01-02T15:04:05.000Z07:00") + " (" + reason + ")"
	b.open.Store(&breakerOpenInfo{until: now + int64(cooling), msg: msg})
	b.transition(BreakerOpen, reason, cause, until)
}

// transition moves to state to with a new generation and reports it.
// b.mu is held. It returns the new state word.
func (b *Breaker) transition(to BreakerState, reason string, cause error, until time.Time) uint64 {
	old := b.word.Load()
	w := (old&^breakerStateMask + breakerStateMask + 1) | uint64(to)
	switch to {
	case BreakerClosed:
		b.resetBuckets()
		b.failStreak.Store(0)
		b.curCooling = b.cooldown
	case BreakerHalfOpen, BreakerOpen:
		b.probes = 0
	}
	b.word.Store(w)
	if b.onChange != nil {
		b.onChange(BreakerChange{
			Name: b.name, From: BreakerState(old & breakerStateMask), To: to,
			At: time.Now(), Until: until, Reason: reason, Err: cause,
		})
	}
	return w
}

// openError is the error for a call refused while open.
func (b *Breaker) openError(info *breakerOpenInfo, now int64) *Error {
	return &Error{Kind: KindCircuitOpen, Message: info.msg, RetryAfter: time.Duration(info.until - now)}
}

// label names the breaker in messages.
func (b *Breaker) label() string {
	if b.name == "" {
		return "circuit breaker"
	}
	return "circuit breaker " + strconv.Quote(b.name)
}

// now reads the monotonic clock, as nanoseconds since b.base (never
// negative, so that bucket indexes are not either).
func (b *Breaker) now() int64 { return max(int64(time.Since(b.base)), 0) }

// count adds one result to the bucket of now.
func (b *Breaker) count(now int64, failed bool) {
	idx := now / b.bucketWidth
	epoch := uint64(idx) & breakerEpochMask
	slot := &b.buckets[idx%int64(len(b.buckets))]
	for {
		old := slot.Load()
		var total, fails uint64
		if old>>breakerEpochShift == epoch {
			total, fails = old&breakerCountMask, old>>breakerCountBits&breakerCountMask
		}
		if total < breakerCountMask {
			total++
		}
		if failed && fails < breakerCountMask {
			fails++
		}
		w := epoch<<breakerEpochShift | fails<<breakerCountBits | total
		if w == old || slot.CompareAndSwap(old, w) {
			return
		}
	}
}

// windowCounts sums the buckets that are inside the window ending now.
func (b *Breaker) windowCounts(now int64) (total, failed int64) {
	cur := uint64(now / b.bucketWidth)
	n := uint64(len(b.buckets))
	for i := range b.buckets {
		w := b.buckets[i].Load()
		if age := (cur - w>>breakerEpochShift) & breakerEpochMask; age < n {
			total += int64(w & breakerCountMask)
			failed += int64(w >> breakerCountBits & breakerCountMask)
		}
	}
	return total, failed
}

// resetBuckets empties the window: every bucket gets an epoch that is
// outside any window reachable before it is overwritten.
func (b *Breaker) resetBuckets() {
	stale := uint64(b.now()/b.bucketWidth-int64(len(b.buckets))) & breakerEpochMask
	for i := range b.buckets {
		b.buckets[i].Store(stale << breakerEpochShift)
	}
}

// Middleware returns a Middleware that puts the wrapped Model behind b.
// Generate counts as a success when it returns no error. A stream counts
// as a success once it ends without error, and as a failure when it fails,
// before its first event or after content has flowed (a connection cut
// mid-answer is as much a sign of trouble as one refused); a caller that
// stops ranging early leaves the breaker as it was. Once the caller has
// canceled the context, the call does not count whatever the Model
// returned; a call that ran out of the caller's deadline counts as the
// timeout it is. Calls refused by the
// breaker fail (Generate) or yield their only pair (Stream) with an *Error
// of KindCircuitOpen, without reaching the Model.
func (b *Breaker) Middleware() Middleware {
	return func(next Model) Model { return &breakerModel{b: b, next: next} }
}

type breakerModel struct {
	b    *Breaker
	next Model
}

// breakerCall tracks one permitted call so that its result is recorded
// exactly once, as neutral if the call panics or the caller stops early.
type breakerCall struct {
	p    BreakerPermit
	done bool
}

func (c *breakerCall) end(o breakerOutcome, err error) {
	if !c.done {
		c.done = true
		c.p.b.finish(c.p, o, err)
	}
}

func (m *breakerModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	p, err := m.b.Allow()
	if err != nil {
		return nil, err
	}
	c := breakerCall{p: p}
	defer c.end(breakerNeutral, nil)
	resp, err := m.next.Generate(ctx, req)
	c.end(breakerOutcomeCtx(ctx, err), err)
	return resp, err
}

func (m *breakerModel) Stream(ctx context.Context, req *Request) Stream {
	return func(yield func(Event, error) bool) {
		p, err := m.b.Allow()
		if err != nil {
			yield(Event{}, err)
			return
		}
		c := breakerCall{p: p}
		defer c.end(breakerNeutral, nil)
		for ev, err := range m.next.Stream(ctx, req) {
			if err != nil {
				c.end(breakerOutcomeCtx(ctx, err), err)
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		c.end(breakerSuccess, nil)
	}
}
