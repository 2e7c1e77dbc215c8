package llm

import (
	"context"
	"math"
	"sync"
	"time"
)

// Defaults of SemanticCacheOptions.
const (
	DefaultSemanticThreshold    = 0.95
	DefaultSemanticMaxEntries   = 2_000
	DefaultSemanticEmbedTimeout = 2 * time.Second
)

// SemanticCacheOptions configure SemanticCache.
type SemanticCacheOptions struct {
	// Embedder turns questions into vectors; required. Any Embedder
	// works, including one wrapped in CacheEmbedder.
	Embedder Embedder
	// EmbedModel and Dimensions are the EmbedRequest's Model and
	// Dimensions.
	EmbedModel string
	Dimensions int
	// Threshold is the lowest cosine similarity between two questions
	// for one's answer to serve the other, in (0,1]; default
	// DefaultSemanticThreshold (0.95). Lower values hit more often and are
	// wrong more often: measure on real traffic before lowering it.
	Threshold float64
	// MaxEntries bounds the index, all tenants together; default
	// DefaultSemanticMaxEntries. The oldest entries go first, whatever
	// their tenant. An entry costs its vector (6 KB at 1,536 dimensions)
	// plus its answer, and a lookup compares the question with every entry
	// of its exact-match group.
	MaxEntries int
	// TTL is how long an answer is served; default DefaultCacheTTL.
	TTL time.Duration
	// PerUser keeps the users of a tenant apart as well (see
	// CacheOptions.PerUser).
	PerUser bool
	// EmbedTimeout bounds the embedding call; default
	// DefaultSemanticEmbedTimeout.
	EmbedTimeout time.Duration
	// OnError, when set, is told when embedding a question fails; the
	// call goes on upstream without the semantic cache, which leaves the
	// embedder alone for a second after a failure.
	OnError func(ctx context.Context, err error)
}

// SemanticCache returns a middleware that answers a question with the
// cached answer to a sufficiently similar earlier question: an opt-in,
// approximate cache for FAQ-like traffic. Only requests with
// AllowApproximate set take part; others pass straight through, as do
// requests whose last message is not a user message with text.
//
// What is compared: the text of the request's last message, which must
// have RoleUser (Message.Text: its text parts concatenated, images
// ignored), is embedded with Embedder, and compared by cosine similarity
// with the questions of earlier requests that match it exactly in
// everything else. "Everything else" is what Cache's key covers (see
// Cache), less that last message: the tenant (and the user, with
// PerUser), the model, the earlier messages (system prompt included), the
// tools, the response format, the sampling parameters and the prompt
// version. So a similar question never matches across tenants, models,
// tool sets, output formats or prompt versions, nor in a different
// conversation. The most similar earlier question wins if its similarity
// is at least Threshold.
//
// A hit is marked like one of Cache (CacheHit set, Attempts and Cost
// zero). A miss goes upstream, and a storable answer (see Cache) is added
// to the index with its question's vector. Streams are served from the
// index as StreamResponse on a hit and collected on a miss, as with Cache.
// The temperature rule of Cache does not apply: AllowApproximate already
// says any fitting answer will do.
//
// Every approximate request costs one embedding call, hit or miss; a
// failing embedder is skipped (fail open) and reported to OnError. The
// index is in memory, per middleware, searched by brute force within the
// exact-match group, and bounded by MaxEntries. Place SemanticCache below
// Cache, so exact repeats are served before any embedding is paid for.
func SemanticCache(opts SemanticCacheOptions) Middleware {
	if opts.Embedder == nil {
		panic("llm: SemanticCacheOptions.Embedder is required")
	}
	if !(opts.Threshold > 0 && opts.Threshold <= 1) {
		opts.Threshold = DefaultSemanticThreshold
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultSemanticMaxEntries
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultCacheTTL
	}
	if opts.EmbedTimeout <= 0 {
		opts.EmbedTimeout = DefaultSemanticEmbedTimeout
	}
	s := &semCacher{
		opts:    opts,
		keyer:   newCacheKeyer(opts.PerUser),
		backend: newCacheBackend(opts.EmbedTimeout, opts.OnError),
		index:   newSemIndex(opts.MaxEntries),
	}
	return func(next Model) Model { return &semCacheModel{s: s, next: next} }
}

// semCacher is the state shared by the Models a SemanticCache middleware
// wraps.
type semCacher struct {
	opts    SemanticCacheOptions
	keyer   *cacheKeyer
	backend *cacheBackend
	index   *semIndex
}

// semQuery is a request's place in the index: its exact-match group and
// its question's unit vector.
type semQuery struct {
	fp  [cacheKeySize]byte
	vec []float32
}

// query returns req's place in the index, or false when req does not
// take part or its question could not be embedded.
func (s *semCacher) query(ctx context.Context, req *Request) (semQuery, bool) {
	if req == nil || !req.AllowApproximate || len(req.Messages) == 0 {
		return semQuery{}, false
	}
	last := len(req.Messages) - 1
	m := &req.Messages[last]
	if m.Role != RoleUser {
		return semQuery{}, false
	}
	text := m.Text()
	if text == "" || !s.backend.usable() {
		return semQuery{}, false
	}
	ectx, cancel := context.WithTimeout(ctx, s.backend.timeout)
	resp, err := s.opts.Embedder.Embed(ectx, &EmbedRequest{
		Model:      s.opts.EmbedModel,
		Inputs:     []string{text},
		Dimensions: s.opts.Dimensions,
		Principal:  req.Principal,
		Feature:    req.Feature,
	})
	cancel()
	if err == nil {
		if e := embedCacheCheck(resp, 1); e != nil {
			err = e
		}
	}
	if err != nil {
		s.backend.failed(ctx, "embed", err)
		return semQuery{}, false
	}
	vec := semNormalize(resp.Vectors[0])
	if vec == nil {
		return semQuery{}, false
	}
	return semQuery{fp: s.keyer.sum(req, semcacheDomain, last), vec: vec}, true
}

// semCacheModel is the Model SemanticCache returns.
type semCacheModel struct {
	s    *semCacher
	next Model
}

// Generate implements Model.
func (m *semCacheModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	if req == nil || !req.AllowApproximate {
		return m.next.Generate(ctx, req)
	}
	start := time.Now()
	q, ok := m.s.query(ctx, req)
	if !ok {
		return m.next.Generate(ctx, req)
	}
	if r := m.s.index.lookup(q, m.s.opts.Threshold); r != nil {
		return cacheMarkHit(r, start), nil
	}
	resp, err := m.next.Generate(ctx, req)
	if err == nil && cacheStorable(resp) {
		m.s.index.add(q, resp, m.s.opts.TTL)
	}
	return resp, err
}

// Stream implements Model.
func (m *semCacheModel) Stream(ctx context.Context, req *Request) Stream {
	if req == nil || !req.AllowApproximate {
		return m.next.Stream(ctx, req)
	}
	return func(yield func(Event, error) bool) {
		start := time.Now()
		q, ok := m.s.query(ctx, req)
		if !ok {
			m.next.Stream(ctx, req)(yield)
			return
		}
		if r := m.s.index.lookup(q, m.s.opts.Threshold); r != nil {
			StreamResponse(cacheMarkHit(r, start))(yield)
			return
		}
		cs := &cacheStream{yield: yield}
		m.next.Stream(ctx, req)(cs.push)
		if !cs.done {
			if r := cs.acc.Response(); cacheStorable(r) {
				m.s.index.add(q, r, m.s.opts.TTL)
			}
		}
	}
}

// semNormalize returns v scaled to unit length (a new slice), or nil when
// v is empty, zero or not finite.
func semNormalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil
	}
	inv := 1 / math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// semIndex holds answers by exact-match group, each with its question's
// unit vector, in insertion order for eviction. It is safe for concurrent
// use.
type semIndex struct {
	mu     sync.RWMutex
	groups map[[cacheKeySize]byte][]*semEntry
	order  semEntry // sentinel of the insertion-order list; order.next is the oldest
	n, max int
}

type semEntry struct {
	fp         [cacheKeySize]byte
	vec        []float32
	resp       *Response // answer only; immutable once added
	expires    int64
	prev, next *semEntry
}

func newSemIndex(max int) *semIndex {
	ix := &semIndex{groups: make(map[[cacheKeySize]byte][]*semEntry), max: max}
	ix.order.next, ix.order.prev = &ix.order, &ix.order
	return ix
}

// lookup returns a copy of the answer whose question is most similar to
// q's, if that similarity is at least threshold.
func (ix *semIndex) lookup(q semQuery, threshold float64) *Response {
	now := time.Now().UnixNano()
	var best *semEntry
	bestSim := math.Inf(-1)
	ix.mu.RLock()
	for _, e := range ix.groups[q.fp] {
		if now >= e.expires || len(e.vec) != len(q.vec) {
			continue
		}
		var dot float64
		for i, x := range e.vec {
			dot += float64(x) * float64(q.vec[i])
		}
		if dot > bestSim {
			best, bestSim = e, dot
		}
	}
	ix.mu.RUnlock()
	if best == nil || bestSim < threshold {
		return nil
	}
	return cacheCopyResponse(best.resp, true)
}

// add indexes a copy of resp's answer under q for ttl, dropping expired
// entries and, when full, the oldest.
func (ix *semIndex) add(q semQuery, resp *Response, ttl time.Duration) {
	now := time.Now()
	e := &semEntry{fp: q.fp, vec: q.vec, resp: cacheCopyResponse(resp, true), expires: cacheDeadline(now, ttl)}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for o := ix.order.next; o != &ix.order && (ix.n >= ix.max || now.UnixNano() >= o.expires); o = ix.order.next {
		ix.remove(o)
	}
	ix.groups[e.fp] = append(ix.groups[e.fp], e)
	e.prev, e.next = ix.order.prev, &ix.order
	ix.order.prev.next = e
	ix.order.prev = e
	ix.n++
}

// remove drops e from its group and the order. ix.mu must be held.
func (ix *semIndex) remove(e *semEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	g := ix.groups[e.fp]
	for i, x := range g {
		if x == e {
			g[i] = g[len(g)-1]
			g[len(g)-1] = nil
			g = g[:len(g)-1]
			break
		}
	}
	if len(g) == 0 {
		delete(ix.groups, e.fp)
	} else {
		ix.groups[e.fp] = g
	}
	ix.n--
}
