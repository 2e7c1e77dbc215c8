package llm

import (
	"context"
	"iter"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Limit is a rate that a LimitStore enforces on one key.
type Limit struct {
	// PerMinute is the sustained rate in units (requests or tokens) per
	// minute. Zero, a negative value, NaN or +Inf means no limit: Reserve
	// admits at once and keeps no state.
	PerMinute float64
	// Burst is the most units an idle key admits at once. Zero or less
	// means one minute's worth (PerMinute).
	Burst float64
}

func (l Limit) unlimited() bool { return !(l.PerMinute > 0) || math.IsInf(l.PerMinute, 1) }

// interval is the emission interval T of one unit, in nanoseconds.
func (l Limit) interval() float64 { return float64(time.Minute) / l.PerMinute }

func (l Limit) burst() float64 {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.PerMinute
}

// scaled returns l with its rate and burst multiplied by f. Both scale
// together, so the tolerance Burst×T (a duration) is unchanged and a key's
// stored state keeps its meaning when the factor changes.
func (l Limit) scaled(f float64) Limit {
	if f == 1 {
		return l
	}
	return Limit{PerMinute: l.PerMinute * f, Burst: l.burst() * f}
}

// LimitStore keeps the state of rate limits: in process (MemoryLimitStore,
// the default) or shared by every replica of a service (package
// llm/redisstore). One store serves many keys; RateLimit derives its keys
// from RateLimitOptions.Name and the tenant.
//
// # Semantics
//
// A store implements GCRA, the generic cell rate algorithm, which is a
// token bucket kept as a single timestamp. Each key has a theoretical
// arrival time TAT, initially in the past. For a Limit, the emission
// interval of one unit is T = 1 minute / PerMinute and the tolerance is
// τ = Burst × T. Then, atomically per key:
//
//	Reserve(n): t := max(TAT, now)
//	            wait := t + n×T − τ − now, or 0 if that is negative
//	            if wait ≤ maxWait: TAT = t + n×T; return wait, true
//	            otherwise:         TAT unchanged; return wait, false
//	Refund(n):  TAT = max(TAT − n×T, now)
//
// In token-bucket terms: the bucket holds at most Burst units, refills at
// PerMinute, and a reservation may overdraw it by at most maxWait's worth of
// refill. The reservation takes effect at once, so later callers queue
// behind it; wait is how long its caller must wait before using it. The
// wait of a refused reservation is how long until the same reservation
// would be admitted without waiting: a retry-after. A reservation of more
// than Burst units waits at least (n − Burst)×T even on an idle key. Refund
// gives back units reserved but not used; a bucket never holds more than
// Burst. Waits under a microsecond count as none, which absorbs rounding.
// Because τ is a duration, scaling PerMinute and Burst by one factor (as
// RateLimit does for adaptive and safe-mode limits) keeps a key's state
// meaningful.
//
// now is the caller's clock. An implementation may use its own clock
// instead (the Redis store uses the server's by default) and must document
// it. A key whose bucket is full again holds no information, so
// implementations may forget it (Redis keys expire then).
//
// Implementations must be safe for concurrent use, return promptly once
// ctx is done, and report failures of the store itself (a network error, a
// timeout) as errors, so that RateLimit can apply its StoreErrorPolicy.
type LimitStore interface {
	// Reserve takes n units from key's bucket under limit, as described
	// above, if the caller need not wait more than maxWait for them.
	Reserve(ctx context.Context, key string, n float64, limit Limit, now time.Time, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// Refund gives n units back to key's bucket.
	Refund(ctx context.Context, key string, n float64, limit Limit, now time.Time) error
}

// RateLimits are the client-side limits of one scope: a model as a whole,
// or one tenant's share of it. A zero field means no limit of that kind.
type RateLimits struct {
	// RequestsPerMinute limits calls (each attempt counts, retries too).
	RequestsPerMinute float64
	// TokensPerMinute limits prompt plus output tokens, reserved before
	// the call and reconciled with the provider's usage after it.
	TokensPerMinute float64
	// RequestBurst and TokenBurst are the most an idle scope may spend at
	// once; zero means one minute's worth.
	RequestBurst float64
	TokenBurst   float64
}

func (r RateLimits) limits() [2]Limit {
	return [2]Limit{
		{PerMinute: r.RequestsPerMinute, Burst: r.RequestBurst},
		{PerMinute: r.TokensPerMinute, Burst: r.TokenBurst},
	}
}

func (r RateLimits) isZero() bool { return r == RateLimits{} }

// StoreErrorPolicy says what a rate limiter does when its LimitStore fails
// (for example when Redis is down or slow).
type StoreErrorPolicy uint8

const (
	// FailOpen admits calls while the store is failing, under a local
	// in-memory limiter that enforces the same limits scaled by
	// RateLimitOptions.LocalShare. The provider's own limits stay the
	// backstop. It is the default: a shared limiter being down should not
	// take the feature down with it.
	FailOpen StoreErrorPolicy = iota
	// FailClosed refuses calls while the store is failing, with an error
	// of kind KindLocalRateLimited that wraps the store's error.
	FailClosed
)

// String returns "fail_open" or "fail_closed".
func (p StoreErrorPolicy) String() string {
	switch p {
	case FailOpen:
		return "fail_open"
	case FailClosed:
		return "fail_closed"
	}
	return "store_error_policy(" + strconv.Itoa(int(p)) + ")"
}

// AdaptiveRate configures how a rate limiter follows the provider's real
// limits. When the Model it guards returns KindRateLimited (a 429), it
// multiplies its effective rate by Decrease, down to Floor of the
// configured limits, and pauses admissions until the 429's RetryAfter has
// passed, for at most MaxPause. After each QuietPeriod without a 429 it adds Step back, up to the
// configured limits. Only the per-model limits adapt; per-tenant limits are
// fairness shares and stay as configured. A 429 reduces the rate only if
// its call was admitted after the last reduction, so a volley of 429s from
// calls sent at the old rate counts once.
type AdaptiveRate struct {
	// Disabled turns adaptation off (the RetryAfter pause still applies).
	Disabled bool
	// Decrease is the multiplicative decrease per 429, in (0,1); default 0.5.
	Decrease float64
	// Floor is the lowest factor of the configured rate, in (0,1];
	// default 0.1.
	Floor float64
	// Step is the factor added back per quiet period; default 0.1.
	Step float64
	// QuietPeriod is how long without a 429 earns one Step; default one
	// minute.
	QuietPeriod time.Duration
	// MaxPause caps the pause of admissions after a 429, which otherwise
	// lasts the 429's RetryAfter; default 10s (also when negative). A
	// retry-after read from OpenAI's x-ratelimit-reset-* headers is the
	// time until the bucket is full again, which can be minutes, not the
	// time until the next request fits: pausing every call to the target
	// that long would be an outage of our own making, so the pause is
	// capped and the decrease of the rate handles the rest. It applies
	// when Disabled is set too.
	MaxPause time.Duration
}

// RateLimitOptions configure RateLimit and RateLimitEmbedder.
type RateLimitOptions struct {
	// Name identifies the target this limiter guards (a model or
	// deployment, such as "openai/gpt-4o-mini"). It is the stem of the
	// store keys: Name+":rpm" and Name+":tpm" for the target, and
	// Name+":tenant:rpm:"+tenant and Name+":tenant:tpm:"+tenant per
	// tenant, so limiters with the same Name on a shared Store share
	// their limits, as replicas should. Required when Store is set.
	Name string

	// Limits are the limits of the target as a whole, for all tenants
	// together: set them a little under the provider's real limits.
	Limits RateLimits
	// TenantLimits are each tenant's own limits (Request.Principal.Tenant,
	// or EmbedRequest.Principal.Tenant), enforced in addition to Limits so
	// that one tenant's batch job cannot starve the others. Requests
	// without a tenant share the limits of the empty tenant.
	TenantLimits RateLimits
	// Tenants overrides TenantLimits for named tenants. A zero field takes
	// the TenantLimits value; math.Inf(1) lifts a limit for that tenant.
	Tenants map[string]RateLimits

	// MaxWait is how long a call may wait for capacity before it is
	// refused; zero fails fast. A call never waits past its context's
	// deadline: when the wait it needs is longer, it fails at once.
	MaxWait time.Duration

	// DefaultMaxOutput is the output allowance reserved for a request
	// without MaxOutputTokens; default 4096. Reconciliation refunds what
	// the call did not use. RateLimitEmbedder ignores it (embeddings have
	// no output tokens).
	DefaultMaxOutput int
	// TokenCounter counts a request's prompt tokens for the reservation.
	// Nil uses EstimateInputTokens, a cheap upper bound; ExactTokenCounter
	// gives an exact count at the cost of running a tokenizer on every
	// call. RateLimitEmbedder ignores it and reserves the inputs' byte
	// length.
	TokenCounter func(*Request) int

	// Store keeps the limits' state. Nil gives this limiter its own
	// in-memory store, which limits one process only.
	Store LimitStore
	// StoreTimeout bounds every call to Store; default 50ms. It does not
	// apply to a MemoryLimitStore, which never blocks.
	StoreTimeout time.Duration
	// OnStoreError says what happens when Store fails or times out;
	// FailOpen by default. After a failure the store is left alone for
	// one second (the policy applies directly), so an outage costs at
	// most one StoreTimeout per second, not one per call.
	OnStoreError StoreErrorPolicy
	// LocalShare scales the limits of the local limiter FailOpen uses
	// while the store is down, in (0,1]; default 1. With N replicas,
	// 1/N keeps the fleet within the shared limits during an outage.
	LocalShare float64

	// Adaptive configures the slow-down after provider 429s.
	Adaptive AdaptiveRate

	// SafeMode, while active, multiplies every limit by SafeFactor
	// (default 0.5): limits tighten during an incident. Nil means never.
	SafeMode   *SafeMode
	SafeFactor float64
}

// Defaults of RateLimitOptions and AdaptiveRate.
const (
	defaultMaxOutput     = 4096
	defaultStoreTimeout  = 50 * time.Millisecond
	defaultSafeFactor    = 0.5
	defaultAdaptDecrease = 0.5
	defaultAdaptFloor    = 0.1
	defaultAdaptStep     = 0.1
	defaultAdaptQuiet    = time.Minute
	defaultAdaptMaxPause = 10 * time.Second
)

const (
	// storeCooldown is how long a limiter leaves a failed store alone.
	storeCooldown = time.Second
	// maxCachedTenants bounds the per-limiter cache of tenant keys.
	maxCachedTenants = 10000
	// rateLimitChargeNoWait is the maxWait of a charge after the call,
	// which always goes through.
	rateLimitChargeNoWait = time.Duration(gcraMax)
)

// The buckets a call reserves from, in order (tenant first, so that a
// tenant over its share does not take the target's capacity even
// briefly), and the other refusal messages.
const (
	bucketTenantRequests = iota
	bucketTenantTokens
	bucketModelRequests
	bucketModelTokens
	numRateBuckets

	refusalPaused = iota - 1
	refusalStoreFailed
	refusalInterrupted
	numRateLimitMessages
)

// RateLimit returns a middleware that enforces client-side
// requests-per-minute and tokens-per-minute limits for one target (see
// RateLimitOptions.Name), overall and per tenant. It sits inside fallback
// and retry, one per target, so every attempt spends from the limits that
// mirror the provider's.
//
// Before a call it reserves one request and the call's tokens (prompt
// tokens from TokenCounter or EstimateInputTokens, plus MaxOutputTokens or
// DefaultMaxOutput) from the tenant's and the target's buckets; a
// reservation larger than a bucket's burst is capped at the burst. If
// capacity is short it waits up to MaxWait (and never past the context's
// deadline), otherwise it fails at once with an *Error of kind
// KindLocalRateLimited whose RetryAfter says when capacity returns. After
// the call it reconciles: unused tokens are refunded and an under-estimate
// is charged, from Response.Usage or a stream's usage event; a call that
// failed (or a stream abandoned) before any output gets its output
// allowance back. A stream is admitted when the caller starts ranging over
// it.
//
// A 429 from the inner Model slows the target down and pauses it (see
// AdaptiveRate); an active SafeMode tightens every limit. Store failures
// follow OnStoreError.
//
// The returned Middleware keeps its adaptive state and caches for every
// Model it wraps; build one per target. It is safe for concurrent use. On
// the default in-memory store the admission path takes no lock and
// allocates nothing.
func RateLimit(opts RateLimitOptions) Middleware {
	l := newRateLimiter(opts)
	return func(next Model) Model { return &rateLimited{l: l, next: next} }
}

// ExactTokenCounter returns a RateLimitOptions.TokenCounter that counts a
// request's prompt tokens with the named tiktoken encoding: "o200k_base"
// (GPT-4o, GPT-4.1, GPT-5, o-series) or "cl100k_base" (GPT-4, GPT-3.5).
// Message text, reasoning, refusals, tool-call arguments, tool definitions
// and response schemas are tokenized and given the chat format's overheads
// (3 tokens per message, 1 per name, 3 to prime the answer); tool framing
// and images use the same fixed allowances as EstimateInputTokens, so tool
// and image costs stay upper bounds. The counter is safe for concurrent
// use. Building it loads the encoding's vocabulary (once per process); the
// vocabulary is linked into a program only if it calls ExactTokenCounter.
func ExactTokenCounter(encoding string) (func(*Request) int, error) {
	var c *codec.Codec
	switch encoding {
	case "o200k_base":
		c = codec.NewO200kBase()
	case "cl100k_base":
		c = codec.NewCl100kBase()
	default:
		return nil, &Error{Kind: KindInvalidRequest,
			Message: "unknown token encoding " + strconv.Quote(encoding) + ` (want "o200k_base" or "cl100k_base")`}
	}
	count := func(s string) int {
		if s == "" {
			return 0
		}
		n, err := c.Count(s)
		if err != nil {
			return len(s) // every token covers at least one byte
		}
		return n
	}
	return func(req *Request) int {
		if req == nil {
			return 0
		}
		const perMessage, perName, priming = 3, 1, 3
		n := priming
		for i := range req.Messages {
			m := &req.Messages[i]
			n += perMessage + count(string(m.Role)) + count(m.Refusal) + count(m.Reasoning) + count(m.ToolCallID)
			if m.Name != "" {
				n += perName + count(m.Name)
			}
			for j := range m.Parts {
				p := &m.Parts[j]
				if p.Kind == PartImage {
					n += estimateImageTokens
					continue
				}
				n += count(p.Text)
			}
			for j := range m.ToolCalls {
				tc := &m.ToolCalls[j]
				n += estimateToolOverhead + count(tc.Name) + count(tc.Arguments)
			}
			for k, v := range m.Extra {
				n += count(k) + count(string(v))
			}
		}
		for i := range req.Tools {
			t := &req.Tools[i]
			n += estimateToolOverhead + count(t.Name) + count(t.Description) + count(string(t.Parameters))
		}
		if rf := req.ResponseFormat; rf != nil {
			n += count(rf.Name) + count(rf.Description) + count(string(rf.Schema))
		}
		return n
	}, nil
}

// rateBucket is one limited key: its configured limit (burst resolved) and
// a cached handle for the in-memory store.
type rateBucket struct {
	limit Limit
	h     memHandle // h.key is the store key
}

func newRateBucket(key string, l Limit) rateBucket {
	if !l.unlimited() {
		l.Burst = l.burst()
	}
	return rateBucket{limit: l, h: memHandle{key: key}}
}

// tenantBuckets are one tenant's request and token buckets.
type tenantBuckets [2]rateBucket

// adaptState is the adaptive factor as of since (Unix nanoseconds, the
// time of the last decrease).
type adaptState struct {
	base  float64
	since int64
}

// storeFailure records a store error and until when the store is left
// alone.
type storeFailure struct {
	until int64
	err   error
}

// rateLimiter is the state RateLimit's Models share.
type rateLimiter struct {
	store  LimitStore
	mem    *MemoryLimitStore // store, when it is in memory: no timeouts, cached handles
	local  *MemoryLimitStore // FailOpen's fallback while store fails
	model  [2]rateBucket
	tenant struct {
		on       bool
		prefix   [2]string // key stems, tenant appended
		def      [2]Limit
		override map[string]RateLimits
		cache    sync.Map // tenant -> *tenantBuckets
		cached   atomic.Int64
	}
	tokens       bool // some token limit is configured
	counter      func(*Request) int
	defaultOut   int
	maxWait      time.Duration
	storeTimeout time.Duration
	policy       StoreErrorPolicy
	localShare   float64
	adaptive     AdaptiveRate
	adapt        atomic.Pointer[adaptState]
	paused       atomic.Int64 // Unix nanoseconds until which admissions wait
	down         atomic.Pointer[storeFailure]
	safe         *SafeMode
	safeFactor   float64
	msgs         [numRateLimitMessages]string
}

func newRateLimiter(o RateLimitOptions) *rateLimiter {
	l := &rateLimiter{
		store:        o.Store,
		counter:      o.TokenCounter,
		defaultOut:   o.DefaultMaxOutput,
		maxWait:      max(o.MaxWait, 0),
		storeTimeout: o.StoreTimeout,
		policy:       o.OnStoreError,
		localShare:   o.LocalShare,
		adaptive:     o.Adaptive,
		safe:         o.SafeMode,
		safeFactor:   o.SafeFactor,
	}
	if l.store == nil {
		l.mem = NewMemoryLimitStore()
		l.store = l.mem
	} else {
		if o.Name == "" {
			panic("llm: RateLimitOptions.Name is required with a shared Store")
		}
		l.mem, _ = l.store.(*MemoryLimitStore)
		if l.mem == nil {
			l.local = NewMemoryLimitStore()
		}
	}
	if l.defaultOut <= 0 {
		l.defaultOut = defaultMaxOutput
	}
	if l.storeTimeout <= 0 {
		l.storeTimeout = defaultStoreTimeout
	}
	if !(l.localShare > 0 && l.localShare <= 1) {
		l.localShare = 1
	}
	if !(l.safeFactor > 0 && l.safeFactor <= 1) {
		l.safeFactor = defaultSafeFactor
	}
	a := &l.adaptive
	if !(a.Decrease > 0 && a.Decrease < 1) {
		a.Decrease = defaultAdaptDecrease
	}
	if !(a.Floor > 0 && a.Floor <= 1) {
		a.Floor = defaultAdaptFloor
	}
	if !(a.Step > 0) {
		a.Step = defaultAdaptStep
	}
	if a.QuietPeriod <= 0 {
		a.QuietPeriod = defaultAdaptQuiet
	}
	if a.MaxPause <= 0 {
		a.MaxPause = defaultAdaptMaxPause
	}

	ml := o.Limits.limits()
	l.model[0] = newRateBucket(o.Name+":rpm", ml[0])
	l.model[1] = newRateBucket(o.Name+":tpm", ml[1])
	l.tokens = !ml[1].unlimited()

	t := &l.tenant
	t.on = !o.TenantLimits.isZero() || len(o.Tenants) > 0
	t.prefix = [2]string{o.Name + ":tenant:rpm:", o.Name + ":tenant:tpm:"}
	t.def = o.TenantLimits.limits()
	if len(o.Tenants) > 0 {
		t.override = make(map[string]RateLimits, len(o.Tenants))
		for name, rl := range o.Tenants {
			t.override[name] = rl
		}
	}
	if t.on {
		l.tokens = l.tokens || !t.def[1].unlimited()
		for _, rl := range t.override {
			l.tokens = l.tokens || !(Limit{PerMinute: or(rl.TokensPerMinute, t.def[1].PerMinute)}).unlimited()
		}
	}

	q := strconv.Quote(o.Name)
	l.msgs = [numRateLimitMessages]string{
		bucketTenantRequests: "tenant's requests-per-minute limit on " + q,
		bucketTenantTokens:   "tenant's tokens-per-minute limit on " + q,
		bucketModelRequests:  "requests-per-minute limit on " + q,
		bucketModelTokens:    "tokens-per-minute limit on " + q,
		refusalPaused:        "paused after the provider's 429 on " + q,
		refusalStoreFailed:   "rate limit store unavailable for " + q + " (fail closed)",
		refusalInterrupted:   "context ended while waiting for the client-side rate limit on " + q,
	}
	return l
}

// or returns v, or def when v is zero.
func or(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// tenantFor returns the buckets of tenant, cached after the first call.
func (l *rateLimiter) tenantFor(tenant string) *tenantBuckets {
	t := &l.tenant
	if v, ok := t.cache.Load(tenant); ok {
		return v.(*tenantBuckets)
	}
	lim := t.def
	if rl, ok := t.override[tenant]; ok {
		lim[0] = Limit{PerMinute: or(rl.RequestsPerMinute, lim[0].PerMinute), Burst: or(rl.RequestBurst, lim[0].Burst)}
		lim[1] = Limit{PerMinute: or(rl.TokensPerMinute, lim[1].PerMinute), Burst: or(rl.TokenBurst, lim[1].Burst)}
	}
	tb := &tenantBuckets{
		newRateBucket(t.prefix[0]+tenant, lim[0]),
		newRateBucket(t.prefix[1]+tenant, lim[1]),
	}
	if t.cached.Load() >= maxCachedTenants {
		return tb // too many tenants to remember: rebuild per call
	}
	v, loaded := t.cache.LoadOrStore(tenant, tb)
	if !loaded {
		t.cached.Add(1)
	}
	return v.(*tenantBuckets)
}

// factor returns the multiplier of the per-model limits at now: the
// adaptive factor times the safe-mode factor.
func (l *rateLimiter) factor(now int64) (model, tenant float64) {
	model, tenant = 1, 1
	if s := l.adapt.Load(); s != nil {
		model = s.at(now, &l.adaptive)
	}
	if l.safe.Active() {
		model *= l.safeFactor
		tenant = l.safeFactor
	}
	return model, tenant
}

// at returns the adaptive factor at now: the base plus one step per quiet
// period since the last decrease, at most 1.
func (s *adaptState) at(now int64, a *AdaptiveRate) float64 {
	if now <= s.since {
		return s.base
	}
	steps := (now - s.since) / int64(a.QuietPeriod)
	return min(s.base+float64(steps)*a.Step, 1)
}

// rlTicket records what one call reserved, for refunds and reconciliation.
type rlTicket struct {
	admitted time.Time
	in       float64 // prompt tokens counted for the reservation
	n        [numRateBuckets]float64
	limits   [numRateBuckets]Limit
	buckets  [numRateBuckets]*rateBucket
	local    uint8 // bit i: bucket i was reserved in the local fallback
}

func isTokenBucket(i int) bool { return i == bucketTenantTokens || i == bucketModelTokens }

// admitRequest admits a Model call: one request, and prompt tokens (from
// TokenCounter or EstimateInputTokens) plus the output allowance
// (MaxOutputTokens or DefaultMaxOutput) when a token limit is set.
func (l *rateLimiter) admitRequest(ctx context.Context, req *Request, t *rlTicket) error {
	var model, tenant string
	if req != nil {
		model, tenant = req.Model, req.Principal.Tenant
	}
	var in, out int
	if l.tokens {
		if l.counter != nil {
			in = l.counter(req)
		} else {
			in = EstimateInputTokens(req)
		}
		out = l.defaultOut
		if req != nil && req.MaxOutputTokens > 0 {
			out = req.MaxOutputTokens
		}
	}
	return l.admit(ctx, t, model, tenant, in, out)
}

// admit reserves one request and in+out tokens for a call to model by
// tenant, waiting if needed and allowed, or returns the error that refuses
// it. in and out are ignored when no token limit is set. It is the
// admission both RateLimit and RateLimitEmbedder use.
func (l *rateLimiter) admit(ctx context.Context, t *rlTicket, model, tenant string, in, out int) error {
	now := time.Now()
	nowNs := now.UnixNano()
	maxWait := l.maxWait
	if dl, ok := ctx.Deadline(); ok {
		maxWait = max(min(maxWait, dl.Sub(now)), 0)
	}
	var wait time.Duration
	if p := l.paused.Load(); p > nowNs {
		wait = time.Duration(p - nowNs)
		if wait > maxWait {
			return l.refusal(model, refusalPaused, wait, nil)
		}
	}
	var total float64
	if l.tokens {
		t.in, total = float64(in), float64(in+out)
	}
	var tb *tenantBuckets
	if l.tenant.on {
		tb = l.tenantFor(tenant)
	}
	modelFactor, tenantFactor := l.factor(nowNs)
	for i := range numRateBuckets {
		var b *rateBucket
		f := modelFactor
		switch {
		case i < bucketModelRequests && tb == nil:
			continue
		case i < bucketModelRequests:
			b, f = &tb[i], tenantFactor
		default:
			b = &l.model[i-bucketModelRequests]
		}
		if b.limit.unlimited() {
			continue
		}
		lim := b.limit.scaled(f)
		n := 1.0
		if isTokenBucket(i) {
			n = min(total, lim.Burst)
		}
		w, ok, err := l.reserve(ctx, t, i, b, n, lim, now, maxWait)
		if err != nil {
			l.release(ctx, t, now)
			if ctx.Err() != nil {
				return l.interrupted(ctx, model)
			}
			return l.refusal(model, refusalStoreFailed, 0, err)
		}
		if !ok {
			l.release(ctx, t, now)
			return l.refusal(model, i, max(w, wait), nil)
		}
		wait = max(wait, w)
	}
	t.admitted = now
	if wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			l.release(ctx, t, time.Now())
			return l.interrupted(ctx, model)
		}
		t.admitted = time.Now()
	}
	return nil
}

// interrupted is the error of a call whose context ended during admission.
func (l *rateLimiter) interrupted(ctx context.Context, model string) error {
	return &Error{Kind: classifyCause(ctx.Err()), Model: model, Message: l.msgs[refusalInterrupted], Err: ctx.Err()}
}

func (l *rateLimiter) refusal(model string, which int, wait time.Duration, cause error) error {
	return &Error{Kind: KindLocalRateLimited, Model: model, Message: l.msgs[which], RetryAfter: wait, Err: cause}
}

// storeFailed reports whether the store failed recently, and with what.
func (l *rateLimiter) storeFailed(now int64) (error, bool) {
	if d := l.down.Load(); d != nil && now < d.until {
		return d.err, true
	}
	return nil, false
}

func (l *rateLimiter) markStoreFailed(now int64, err error) {
	l.down.Store(&storeFailure{until: now + int64(storeCooldown), err: err})
}

// reserve reserves n units of bucket i for t: in the store, or in the
// local fallback when the store fails and the policy is FailOpen. It
// returns an error when the store failed under FailClosed, or when ctx
// ended during the store call.
func (l *rateLimiter) reserve(ctx context.Context, t *rlTicket, i int, b *rateBucket, n float64, lim Limit, now time.Time, maxWait time.Duration) (time.Duration, bool, error) {
	t.buckets[i] = b
	t.limits[i] = lim
	nowNs := now.UnixNano()
	if l.mem != nil {
		w, ok := l.mem.reserve(b.h.key, &b.h, n, lim, nowNs, maxWait)
		if ok {
			t.n[i] = n
		}
		return w, ok, nil
	}
	cause, failed := l.storeFailed(nowNs)
	if !failed {
		sctx, cancel := context.WithTimeout(ctx, l.storeTimeout)
		w, ok, err := l.store.Reserve(sctx, b.h.key, n, lim, now, maxWait)
		cancel()
		if err == nil {
			if ok {
				t.n[i] = n
			}
			return w, ok, nil
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		l.markStoreFailed(nowNs, err)
		cause = err
	}
	if l.policy == FailClosed {
		return 0, false, cause
	}
	lim = lim.scaled(l.localShare)
	n = min(n, lim.Burst)
	w, ok := l.local.reserve(b.h.key, nil, n, lim, nowNs, maxWait)
	if ok {
		t.n[i] = n
		t.limits[i] = lim
		t.local |= 1 << i
	}
	return w, ok, nil
}

// adjust refunds (delta > 0) or charges (delta < 0) bucket i of t at now.
// A refund may use a past now (such as the admission time): it moves the
// arrival time back and clamps it at now, which gives the same bucket as
// clamping at the present. A charge needs the present.
func (l *rateLimiter) adjust(ctx context.Context, t *rlTicket, i int, delta float64, now time.Time) {
	b, lim := t.buckets[i], t.limits[i]
	nowNs := now.UnixNano()
	var store *MemoryLimitStore
	var h *memHandle
	switch {
	case t.local&(1<<i) != 0:
		store = l.local
	case l.mem != nil:
		store, h = l.mem, &b.h
	}
	if store != nil {
		if delta > 0 {
			store.refund(b.h.key, h, delta, lim, nowNs)
		} else {
			store.reserve(b.h.key, h, -delta, lim, nowNs, rateLimitChargeNoWait)
		}
		return
	}
	if _, failed := l.storeFailed(nowNs); failed {
		return
	}
	// Refunds happen after the call, even when the caller has given up.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.storeTimeout)
	defer cancel()
	var err error
	if delta > 0 {
		err = l.store.Refund(sctx, b.h.key, delta, lim, now)
	} else {
		_, _, err = l.store.Reserve(sctx, b.h.key, -delta, lim, now, rateLimitChargeNoWait)
	}
	if err != nil {
		l.markStoreFailed(nowNs, err)
	}
}

// release refunds everything t reserved.
func (l *rateLimiter) release(ctx context.Context, t *rlTicket, now time.Time) {
	for i := range numRateBuckets {
		if t.n[i] > 0 {
			l.adjust(ctx, t, i, t.n[i], now)
			t.n[i] = 0
		}
	}
}

// settle reconciles t's token reservations with the tokens the call used:
// actual, which is real usage when real is true and the prompt estimate of
// a call that produced no output otherwise (an estimate is never charged
// beyond the reservation).
func (l *rateLimiter) settle(ctx context.Context, t *rlTicket, actual float64, real bool) {
	var now time.Time // read the clock only for a charge; refunds use the admission time
	for _, i := range [2]int{bucketTenantTokens, bucketModelTokens} {
		if t.n[i] <= 0 {
			continue
		}
		switch delta := t.n[i] - actual; {
		case delta > 0:
			l.adjust(ctx, t, i, delta, t.admitted)
		case delta < 0 && real:
			if now.IsZero() {
				now = time.Now()
			}
			l.adjust(ctx, t, i, delta, now)
		}
	}
}

// done finishes a call: 429 handling and token reconciliation. noOutput
// says the call ended (failed or was abandoned) before any output.
func (l *rateLimiter) done(ctx context.Context, t *rlTicket, err error, usage Usage, noOutput bool) {
	if err != nil && KindOf(err) == KindRateLimited {
		l.throttle(t.admitted, RetryAfterOf(err))
	}
	if !l.tokens {
		return
	}
	switch total := usage.TotalTokens(); {
	case total > 0:
		l.settle(ctx, t, float64(total), true)
	case noOutput:
		l.settle(ctx, t, t.in, false)
	}
}

// throttle reacts to a provider 429 for a call admitted at admitted:
// pause admissions for retryAfter, at most MaxPause, and decrease the
// adaptive factor.
func (l *rateLimiter) throttle(admitted time.Time, retryAfter time.Duration) {
	now := time.Now().UnixNano()
	retryAfter = min(retryAfter, l.adaptive.MaxPause)
	if retryAfter > 0 {
		until := now + int64(retryAfter)
		for {
			p := l.paused.Load()
			if p >= until || l.paused.CompareAndSwap(p, until) {
				break
			}
		}
	}
	if l.adaptive.Disabled {
		return
	}
	at := admitted.UnixNano()
	for {
		s := l.adapt.Load()
		cur := 1.0
		if s != nil {
			if at <= s.since {
				return // admitted by the last decrease: already counted
			}
			cur = s.at(now, &l.adaptive)
		}
		next := &adaptState{base: max(cur*l.adaptive.Decrease, l.adaptive.Floor), since: now}
		if l.adapt.CompareAndSwap(s, next) {
			return
		}
	}
}

// rateLimited is the Model RateLimit returns.
type rateLimited struct {
	l    *rateLimiter
	next Model
}

func (m *rateLimited) Generate(ctx context.Context, req *Request) (*Response, error) {
	var t rlTicket
	if err := m.l.admitRequest(ctx, req, &t); err != nil {
		return nil, err
	}
	resp, err := m.next.Generate(ctx, req)
	var usage Usage
	if resp != nil {
		usage = resp.Usage
	}
	m.l.done(ctx, &t, err, usage, err != nil)
	return resp, err
}

func (m *rateLimited) Stream(ctx context.Context, req *Request) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		s := &rateLimitedStream{yield: yield}
		if err := m.l.admitRequest(ctx, req, &s.t); err != nil {
			yield(Event{}, err)
			return
		}
		// A method value rather than a range loop: one allocation for the
		// whole state instead of one per captured variable.
		m.next.Stream(ctx, req)(s.each)
		m.l.done(ctx, &s.t, s.failure, s.usage, !s.output && (s.failure != nil || s.stopped))
	}
}

// rateLimitedStream watches one admitted stream for its usage, its first
// output and its failure.
type rateLimitedStream struct {
	t       rlTicket
	yield   func(Event, error) bool
	usage   Usage
	output  bool
	stopped bool
	failure error
}

func (s *rateLimitedStream) each(ev Event, err error) bool {
	if s.stopped {
		return false // a misbehaving iterator: never yield after false
	}
	if err != nil {
		s.failure = err
	} else {
		switch ev.Kind {
		case EventUsage:
			s.usage = ev.Usage
		case EventTextDelta, EventReasoningDelta, EventRefusalDelta, EventToolCallDelta:
			s.output = true
		}
	}
	if !s.yield(ev, err) {
		s.stopped = true
		return false
	}
	return true
}
