package llm

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheStore keeps cached answers for Cache: in process (MemoryCache, the
// default) or shared by every replica of a service (the Redis store in
// package llm/redisstore). Keys are opaque strings chosen by the caller.
//
// A store keeps the answer of a Response: Message (with its parts, tool
// calls, refusal, reasoning and Extra), FinishReason, Usage, Model,
// Provider and RequestID. The other fields (Latency, Route, Target,
// Attempts, CacheHit, Cost, CostEstimated) describe the call that produced
// the answer, not the answer; a store need not keep them.
//
// Ownership follows the rule on Model: Set must not keep resp or anything
// it points to (it copies or serialises it), and Get returns a Response
// that belongs to the caller, who may modify it. A miss is (nil, false,
// nil); an entry whose TTL has passed is a miss. A ttl of zero or less
// means no expiry (the entry stays until evicted or deleted).
//
// Implementations must be safe for concurrent use, return promptly once
// ctx is done, and report failures of the store itself (a network error, a
// timeout, an undecodable entry) as errors: Cache then goes upstream (it
// fails open). The contract suite in llm/llmtest/cachestoretest checks
// all of this.
type CacheStore interface {
	// Get returns the answer stored under key.
	Get(ctx context.Context, key string) (*Response, bool, error)
	// Set stores resp's answer under key for ttl, replacing any entry.
	Set(ctx context.Context, key string, resp *Response, ttl time.Duration) error
	// Delete removes key's entry; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// EmbedCacheStore keeps embedding vectors for CacheEmbedder. It deals in
// batches, so that a shared store answers a batch of inputs in one round
// trip. MemoryCache and the Redis store implement it as well as
// CacheStore.
//
// GetVectors returns one entry per key, in key order, nil for a miss. The
// vectors belong to the caller, and SetVectors does not keep the slices it
// is given. A nil vector in SetVectors is skipped; a ttl of zero or less
// means no expiry. Implementations must be safe for concurrent use and
// report failures of the store itself as errors. The keys of CacheEmbedder
// and of Cache never collide (they hash different domains), so one store
// may keep vectors and responses in one key space.
type EmbedCacheStore interface {
	// GetVectors returns the vectors stored under keys.
	GetVectors(ctx context.Context, keys []string) ([][]float32, error)
	// SetVectors stores vectors[i] under keys[i] for ttl.
	SetVectors(ctx context.Context, keys []string, vectors [][]float32, ttl time.Duration) error
}

// Defaults of CacheOptions.
const (
	// DefaultCacheTTL is how long Cache keeps an answer when its options
	// give no TTL.
	DefaultCacheTTL = time.Hour
	// DefaultCacheStoreTimeout bounds every call to a shared store.
	DefaultCacheStoreTimeout = 50 * time.Millisecond
)

// CacheOptions configure Cache. The zero value is a tenant-scoped cache in
// a private MemoryCache of DefaultCacheMaxBytes, for requests with
// Temperature set to 0.
type CacheOptions struct {
	// Store keeps the answers. Nil gives this middleware its own
	// NewMemoryCache(DefaultCacheMaxBytes), which serves one process; a
	// Redis store (llm/redisstore) serves every replica.
	Store CacheStore
	// TTL is how long an answer is served; default DefaultCacheTTL. Tie it
	// to how long an answer stays right: a prompt change already changes
	// the key (see Cache), new facts do not.
	TTL time.Duration
	// PerUser makes the user (Principal.User) part of the key, so that
	// users of one tenant do not share answers either. Use it when the
	// prompt may carry user-specific data that the key would not show
	// (for example data a tool fetched with the user's rights that is not
	// in the messages) or when policy forbids sharing within a tenant.
	PerUser bool
	// AllowNonDeterministic caches answers to requests sampled with a
	// non-zero or unset temperature as well, freezing one sample for the
	// TTL. By default only requests with Temperature set to exactly 0 are
	// cached: an unset temperature means the provider's default (1.0 at
	// OpenAI), so repeated calls are meant to differ.
	AllowNonDeterministic bool
	// StoreTimeout bounds every call to Store; default
	// DefaultCacheStoreTimeout. It does not apply to a MemoryCache, which
	// never blocks.
	StoreTimeout time.Duration
	// OnError, when set, is told about every failure of Store: an *Error
	// wrapping the store's error, of kind KindUnavailable or KindTimeout
	// when the store is down or slow, KindBadResponse or
	// KindInvalidRequest when one entry could not be decoded or encoded.
	// The call itself goes on upstream: the cache fails open. After a
	// failure of the first sort the store is left alone for one second,
	// so an outage costs at most one StoreTimeout a second, not one per
	// call. OnError runs on the caller's goroutine (for a collapsed call,
	// on the goroutine that made it) and should return quickly.
	OnError func(ctx context.Context, err error)
}

// Key returns the key under which Cache, built with these options, stores
// the answer to req: a hex BLAKE2b-256 digest. Use it to remove one answer from the
// store (Store.Delete), for example after fixing a wrong answer.
func (o CacheOptions) Key(req *Request) string {
	k := cacheKeyer{perUser: o.PerUser}
	return k.key(req)
}

// Cache returns a middleware that serves repeated requests from a store
// instead of calling the Model again: an exact-match response cache.
//
// # Key
//
// The key is a BLAKE2b-256 digest of everything that changes the answer, encoded
// field by field with lengths (never by serialising the request to JSON):
// the model; every message (role, name, each part's kind, text, image URL,
// image bytes, MIME type and detail, tool calls, tool call ID, refusal,
// reasoning, Extra); the tools, in the order given, since a different
// order is a different prompt to the provider; tool choice and parallel
// tool calls; the response format (type, name, description, schema,
// strict); temperature, top_p, seed, stop sequences, max output tokens and
// reasoning effort; the request's Extra; and the prompt reference (name,
// version, hash), so a new prompt version never receives the old
// version's answers.
//
// The key is scoped by tenant: Principal.Tenant is part of it, so one
// tenant never receives an answer cached for another, even for an
// identical prompt (requests without a tenant share the empty tenant's
// scope). The user is not part of the key unless
// CacheOptions.PerUser is set: users of a tenant who send the same prompt
// share the answer. Feature, Risk, AllowApproximate, roles and groups,
// and the provenance of parts are not part of the key either: they do not
// change what the provider is sent.
//
// # What is cached
//
// Only requests with Temperature set to 0 are cached, unless
// CacheOptions.AllowNonDeterministic is set; other requests pass straight
// through. Errors are never cached, and neither are answers that stopped
// at the output limit (FinishLength), were filtered (FinishContentFilter)
// or refused (FinishRefusal, or a refusal in the message): they are not
// answers worth repeating.
//
// A hit returns a new copy of the stored answer (the Response belongs to
// the caller) with CacheHit set, Attempts and Cost zero, Route and Target
// empty, and Latency the time the lookup took. Usage is the usage of the
// call that produced the answer: what the hit saved, not what it cost.
//
// # Concurrency and streams
//
// Concurrent Generate calls with the same key (the same request of the
// same tenant) while none is cached are collapsed into one upstream call
// (singleflight.Group.Do from golang.org/x/sync): the first caller's call
// goes upstream, on its own goroutine and with its own context, and the
// others wait for its answer, each receiving its own copy, marked as a
// cache hit. A waiting caller cannot leave early: it waits as long as the
// first caller's call takes (which the stack below bounds with its
// timeouts), and if its own context ended meanwhile it then gets its
// context's error. If the first caller's context ends before its call
// does, that call fails, and the callers that waited for it try again,
// collapsed among themselves. A panic in the Model below is re-raised in
// every caller of the collapsed call (singleflight's behaviour).
//
// A stream whose key has an answer is served from the cache with
// StreamResponse (its first event has CacheHit set). Otherwise the stream
// is passed through as it arrives and, if it completes without error and
// the caller ranges to its end, its collected answer is stored. Streams
// are not collapsed: each caller gets its own live stream.
//
// # When the store fails
//
// The cache fails open: a Get that fails or takes longer than
// StoreTimeout is a miss, a Set that fails is skipped, the call proceeds
// upstream, and the failure goes to OnError. See CacheOptions.OnError.
//
// In the canonical stack Cache sits inside the guard (so keys and answers
// are the redacted text) and outside the budget (a hit costs nothing). The
// key names Request.Model, not the Model the middleware wraps: Cache
// middlewares that share a Store (or one Cache wrapping several Models)
// serve each other's answers, so give unrelated stacks their own Store or
// key prefix.
func Cache(opts CacheOptions) Middleware {
	if opts.TTL <= 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.Store == nil {
		opts.Store = NewMemoryCache(DefaultCacheMaxBytes)
	}
	c := &cacher{
		opts:    opts,
		keyer:   newCacheKeyer(opts.PerUser),
		backend: newCacheBackend(opts.StoreTimeout, opts.OnError),
	}
	c.mem, _ = opts.Store.(*MemoryCache)
	return func(next Model) Model { return &cacheModel{c: c, next: next} }
}

// cacher is the state shared by the Models a Cache middleware wraps.
type cacher struct {
	opts    CacheOptions
	keyer   *cacheKeyer
	mem     *MemoryCache // opts.Store, when it is in memory: no timeouts, no interface calls
	backend *cacheBackend
}

// cacheable reports whether the temperature rule lets req be cached.
func (c *cacher) cacheable(req *Request) bool {
	if req == nil {
		return false
	}
	return c.opts.AllowNonDeterministic || (req.Temperature != nil && *req.Temperature == 0)
}

// get computes req's key and returns it with the stored answer, if any.
// The key's memo learns the requests that hit.
func (c *cacher) get(ctx context.Context, req *Request) (string, *Response, bool) {
	b := c.keyer.compute(req, cacheKeyDomain, -1)
	key := cacheKeyHex(&b.sum)
	r, ok := c.lookup(ctx, key)
	c.keyer.release(b, ok)
	return key, r, ok
}

// lookup returns the stored answer of key. Store failures are misses.
func (c *cacher) lookup(ctx context.Context, key string) (*Response, bool) {
	if c.mem != nil {
		return c.mem.get(key)
	}
	if !c.backend.usable() {
		return nil, false
	}
	sctx, cancel := context.WithTimeout(ctx, c.backend.timeout)
	r, ok, err := c.opts.Store.Get(sctx, key)
	cancel()
	if err != nil {
		c.backend.failed(ctx, "get", err)
		return nil, false
	}
	if ok && r == nil {
		return nil, false
	}
	return r, ok
}

// store stores resp's answer under key. It runs after the call, even when
// the caller has gone: the answer is complete.
func (c *cacher) store(ctx context.Context, key string, resp *Response) {
	if c.mem != nil {
		c.mem.set(key, resp, c.opts.TTL)
		return
	}
	if !c.backend.usable() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, c.backend.timeout)
	err := c.opts.Store.Set(sctx, key, resp, c.opts.TTL)
	cancel()
	if err != nil {
		c.backend.failed(ctx, "set", err)
	}
}

// cacheStorable reports whether an answer is worth storing: not cut at the
// output limit, filtered or refused.
func cacheStorable(r *Response) bool {
	if r == nil || r.Message.Refusal != "" {
		return false
	}
	switch r.FinishReason {
	case FinishLength, FinishContentFilter, FinishRefusal:
		return false
	}
	return true
}

// cacheMarkHit annotates r, a copy of a stored answer, as a hit served
// since start.
func cacheMarkHit(r *Response, start time.Time) *Response {
	r.CacheHit = true
	r.Attempts = 0
	r.Cost, r.CostEstimated = 0, false
	r.Route, r.Target = "", ""
	r.Latency = time.Since(start)
	return r
}

// cacheModel is the Model Cache returns. Its calls in flight are its own:
// a middleware wrapping several Models collapses calls per Model.
type cacheModel struct {
	c       *cacher
	next    Model
	flights singleflight.Group
}

// Generate implements Model.
func (m *cacheModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	c := m.c
	if !c.cacheable(req) {
		return m.next.Generate(ctx, req)
	}
	start := time.Now()
	key, r, ok := c.get(ctx, req)
	if ok {
		return cacheMarkHit(r, start), nil
	}
	return m.fill(ctx, req, key, start)
}

// fill makes the upstream call for a miss, collapsed with concurrent
// identical calls, and stores its answer.
func (m *cacheModel) fill(ctx context.Context, req *Request, key string, start time.Time) (*Response, error) {
	for tries := 1; ; tries++ {
		f := &cacheFlight{m: m, ctx: ctx, req: req, key: key}
		v, err, shared := m.flights.Do(key, f.run)
		if !f.led && ctx.Err() != nil {
			// A waiting caller whose context ended meanwhile.
			return nil, &Error{Kind: classifyCause(ctx.Err()), Model: req.Model,
				Message: "context ended while waiting for an identical call in flight", Err: context.Cause(ctx)}
		}
		if err != nil {
			// The first caller's context ended and failed the shared
			// call: the callers that waited for it try again, collapsed
			// among themselves.
			if _, gone := v.(cacheLeaderGone); gone && !f.led && tries < cacheMaxFlights {
				continue
			}
			return nil, err
		}
		resp := v.(*Response)
		switch {
		case !shared:
			return resp, nil
		case f.led: // the caller that went upstream keeps the call's annotations
			return cacheCopyResponse(resp, false), nil
		default:
			return cacheMarkHit(cacheCopyResponse(resp, true), start), nil
		}
	}
}

// cacheMaxFlights is how many collapsed calls a caller joins before it
// takes the failure of the last as its own.
const cacheMaxFlights = 3

// cacheFlight is one caller's request to collapse a call.
type cacheFlight struct {
	m   *cacheModel
	ctx context.Context
	req *Request
	key string
	led bool // run ran for this caller: it made the upstream call
}

// run makes the upstream call of a collapsed group, on the goroutine and
// with the context of the group's first caller.
func (f *cacheFlight) run() (any, error) {
	f.led = true
	resp, err := f.m.next.Generate(f.ctx, f.req)
	if err != nil {
		if f.ctx.Err() != nil {
			return cacheLeaderGone{}, err
		}
		return nil, err
	}
	if resp == nil {
		return nil, &Error{Kind: KindBadResponse, Model: f.req.Model, Message: "the Model returned neither a response nor an error"}
	}
	if cacheStorable(resp) {
		f.m.c.store(f.ctx, f.key, resp)
	}
	return resp, nil
}

// cacheLeaderGone marks the failure of a collapsed call whose first
// caller's context ended before the call did.
type cacheLeaderGone struct{}

// Stream implements Model.
func (m *cacheModel) Stream(ctx context.Context, req *Request) Stream {
	c := m.c
	if !c.cacheable(req) {
		return m.next.Stream(ctx, req)
	}
	return func(yield func(Event, error) bool) {
		start := time.Now()
		key, r, ok := c.get(ctx, req)
		if ok {
			StreamResponse(cacheMarkHit(r, start))(yield)
			return
		}
		s := &cacheStream{yield: yield}
		m.next.Stream(ctx, req)(s.push)
		if !s.done {
			if r := s.acc.Response(); cacheStorable(r) {
				c.store(ctx, key, r)
			}
		}
	}
}

// cacheStream passes a stream through to the caller and collects it.
type cacheStream struct {
	yield func(Event, error) bool
	acc   Accumulator
	done  bool // failed, or the caller stopped: nothing to store
}

func (s *cacheStream) push(ev Event, err error) bool {
	if s.done {
		return false // a misbehaving iterator: never yield after false
	}
	if err != nil {
		s.done = true
		s.yield(ev, err)
		return false
	}
	s.acc.Add(ev)
	if !s.yield(ev, nil) {
		s.done = true
		return false
	}
	return true
}

// cacheBackend is what Cache, CacheEmbedder and SemanticCache share about
// a store: its timeout, and its failure reports and cooldown.
type cacheBackend struct {
	timeout time.Duration
	onError func(ctx context.Context, err error)
	down    atomic.Int64 // Unix nanoseconds until which the store is left alone
}

func newCacheBackend(timeout time.Duration, onError func(context.Context, error)) *cacheBackend {
	if timeout <= 0 {
		timeout = DefaultCacheStoreTimeout
	}
	return &cacheBackend{timeout: timeout, onError: onError}
}

// usable reports whether the store may be called: it has not failed
// within the last storeCooldown.
func (b *cacheBackend) usable() bool {
	d := b.down.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

// failed records a failure of the store operation op, unless it only
// failed because the caller's context ended.
func (b *cacheBackend) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	kind := KindOf(err)
	switch kind {
	case KindBadResponse, KindInvalidRequest:
		// One entry could not be decoded or encoded: the store itself is fine.
	case KindTimeout:
		b.down.Store(time.Now().Add(storeCooldown).UnixNano())
	default:
		kind = KindUnavailable
		b.down.Store(time.Now().Add(storeCooldown).UnixNano())
	}
	if b.onError != nil {
		b.onError(ctx, &Error{Kind: kind, Message: "cache " + op + " failed (the call went on without the cache)", Err: err})
	}
}
