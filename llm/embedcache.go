package llm

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"time"
)

// DefaultEmbedCacheTTL is how long CacheEmbedder keeps a vector when its
// options give no TTL: a week, long enough for re-ingestion runs to find
// the vectors of unchanged chunks.
const DefaultEmbedCacheTTL = 7 * 24 * time.Hour

// embedcacheDomain starts every embedding key.
const embedcacheDomain = "keel/llm/cache/embedding/v2\x00"

// EmbedCacheOptions configure CacheEmbedder.
type EmbedCacheOptions struct {
	// Store keeps the vectors. Nil gives this middleware its own
	// NewMemoryCache(DefaultCacheMaxBytes); the Redis store in
	// llm/redisstore serves every replica.
	Store EmbedCacheStore
	// TTL is how long a vector is kept; default DefaultEmbedCacheTTL.
	TTL time.Duration
	// PerTenant makes the tenant (Principal.Tenant) part of the key. By
	// default a vector is shared by every tenant: it is a function of the
	// model, the dimensions and the text alone, so sharing cannot give a
	// tenant a wrong vector, but a tenant could learn from the speed of a
	// call that another tenant embedded the same text. Set PerTenant when
	// that matters more than the hits shared boilerplate gets.
	PerTenant bool
	// StoreTimeout bounds every call to Store; default
	// DefaultCacheStoreTimeout. It does not apply to a MemoryCache.
	StoreTimeout time.Duration
	// OnError, when set, is told about every failure of Store; the call
	// goes on upstream (see CacheOptions.OnError, which it mirrors).
	OnError func(ctx context.Context, err error)
}

// CacheEmbedder returns an embedder middleware that caches vectors per
// input text, keyed by the BLAKE2b-256 of the model (EmbedRequest.Model), the
// dimensions (EmbedRequest.Dimensions, 0 for the model's native size) and
// the text (and the tenant, with EmbedCacheOptions.PerTenant). It is meant
// for re-ingestion, where most chunks have not changed since the last run.
//
// Each call looks all its inputs up in one batch; only the misses go
// upstream, in one call, each distinct text once, and their vectors are
// stored. The response has one vector per input, in input order, whether
// it came from the cache or upstream. Its Usage counts only the upstream
// call's tokens (zero when every input was a hit); Model and Provider are
// the upstream call's, or the request's model and no provider when
// nothing went upstream. Errors are never cached, and an upstream answer
// with the wrong number of vectors is an error of kind KindBadResponse.
//
// Give requests an explicit Model: the key names the model requested, so
// a provider default that changes would otherwise serve vectors of the old
// model. As with Cache, a failing store is a miss (fail open), reported to
// OnError.
func CacheEmbedder(opts EmbedCacheOptions) EmbedderMiddleware {
	if opts.TTL <= 0 {
		opts.TTL = DefaultEmbedCacheTTL
	}
	if opts.Store == nil {
		opts.Store = NewMemoryCache(DefaultCacheMaxBytes)
	}
	ec := &embedCacher{opts: opts, backend: newCacheBackend(opts.StoreTimeout, opts.OnError)}
	ec.mem, _ = opts.Store.(*MemoryCache)
	return func(next Embedder) Embedder { return &embedCacheModel{ec: ec, next: next} }
}

// embedCacher is the state shared by the Embedders a CacheEmbedder
// middleware wraps.
type embedCacher struct {
	opts    EmbedCacheOptions
	mem     *MemoryCache
	backend *cacheBackend
}

// keys returns the key of every input of req.
func (ec *embedCacher) keys(req *EmbedRequest) []string {
	keys := make([]string, len(req.Inputs))
	var b cacheKeyBuf
	var dst [2 * cacheKeySize]byte
	for i, text := range req.Inputs {
		b = append(b[:0], embedcacheDomain...)
		b.str(req.Model)
		b = binary.AppendVarint(b, int64(req.Dimensions))
		if ec.opts.PerTenant {
			b = append(b, 1)
			b.str(req.Principal.Tenant)
		} else {
			b = append(b, 0)
		}
		b.str(text)
		sum := cacheKeySum(b)
		hex.Encode(dst[:], sum[:])
		keys[i] = string(dst[:])
	}
	return keys
}

// lookup returns the stored vectors of keys, nil for misses; a store
// failure makes every key a miss.
func (ec *embedCacher) lookup(ctx context.Context, keys []string) [][]float32 {
	if ec.mem != nil {
		v, _ := ec.mem.GetVectors(ctx, keys)
		return v
	}
	if ec.backend.usable() {
		sctx, cancel := context.WithTimeout(ctx, ec.backend.timeout)
		v, err := ec.opts.Store.GetVectors(sctx, keys)
		cancel()
		if err == nil && len(v) == len(keys) {
			return v
		}
		if err == nil {
			err = &Error{Kind: KindBadResponse, Message: "the store returned the wrong number of vectors"}
		}
		ec.backend.failed(ctx, "get", err)
	}
	return make([][]float32, len(keys))
}

// store stores vectors under keys, after the call, even when the caller
// has gone.
func (ec *embedCacher) store(ctx context.Context, keys []string, vectors [][]float32) {
	if ec.mem != nil {
		_ = ec.mem.SetVectors(ctx, keys, vectors, ec.opts.TTL)
		return
	}
	if !ec.backend.usable() {
		return
	}
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, ec.backend.timeout)
	err := ec.opts.Store.SetVectors(sctx, keys, vectors, ec.opts.TTL)
	cancel()
	if err != nil {
		ec.backend.failed(ctx, "set", err)
	}
}

// embedCacheModel is the Embedder CacheEmbedder returns.
type embedCacheModel struct {
	ec   *embedCacher
	next Embedder
}

// Embed implements Embedder.
func (m *embedCacheModel) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	if req == nil || len(req.Inputs) == 0 {
		return m.next.Embed(ctx, req)
	}
	keys := m.ec.keys(req)
	vectors := m.ec.lookup(ctx, keys)

	// The distinct missing texts, in first-seen order, and where each
	// input's vector will come from.
	var missKeys []string
	var missInputs []string
	var from map[string]int
	for i, v := range vectors {
		if v != nil {
			continue
		}
		if from == nil {
			from = make(map[string]int)
		}
		if _, ok := from[keys[i]]; !ok {
			from[keys[i]] = len(missInputs)
			missKeys = append(missKeys, keys[i])
			missInputs = append(missInputs, req.Inputs[i])
		}
	}
	if len(missInputs) == 0 {
		return &EmbedResponse{Vectors: vectors, Model: req.Model}, nil
	}

	sub := *req
	sub.Inputs = missInputs
	resp, err := m.next.Embed(ctx, &sub)
	if err != nil {
		return nil, err
	}
	if err := embedCacheCheck(resp, len(missInputs)); err != nil {
		err.Model = req.Model
		return nil, err
	}
	used := make([]bool, len(missInputs))
	for i, v := range vectors {
		if v != nil {
			continue
		}
		j := from[keys[i]]
		if used[j] { // a repeated input gets its own copy
			vectors[i] = slices.Clone(resp.Vectors[j])
		} else {
			vectors[i], used[j] = resp.Vectors[j], true
		}
	}
	m.ec.store(ctx, missKeys, resp.Vectors)
	return &EmbedResponse{Vectors: vectors, Usage: resp.Usage, Model: resp.Model, Provider: resp.Provider}, nil
}

// embedCacheCheck returns an error unless resp holds n vectors.
func embedCacheCheck(resp *EmbedResponse, n int) *Error {
	got := 0
	if resp != nil {
		got = len(resp.Vectors)
	}
	if got != n {
		return &Error{Kind: KindBadResponse,
			Message: "the embedder returned " + strconv.Itoa(got) + " vectors for " + strconv.Itoa(n) + " inputs"}
	}
	for i, v := range resp.Vectors {
		if v == nil {
			return &Error{Kind: KindBadResponse, Message: "the embedder returned no vector for input " + strconv.Itoa(i)}
		}
	}
	return nil
}
