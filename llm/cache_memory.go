package llm

import (
	"context"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// DefaultCacheMaxBytes is the byte budget of the MemoryCache that Cache and
// CacheEmbedder create when their options name no store: 64 MiB.
const DefaultCacheMaxBytes = 64 << 20

// Sharding of a MemoryCache: one shard per memShardBytes of budget, at most
// memMaxShards (a power of two), so that a small cache is one exact LRU and
// a large one spreads its lock over several.
const (
	memShardBytes = 4 << 20
	memMaxShards  = 16
	// memEntryCost approximates the bytes an entry costs beyond its
	// content: the entry, its map slot and the Response or slice headers.
	memEntryCost = 256
	// memPartCost and memCallCost approximate a Part's and a ToolCall's
	// fixed size.
	memPartCost = 112
	memCallCost = 48
)

// MemoryCache is the in-process CacheStore and EmbedCacheStore: the
// default store of Cache and CacheEmbedder. It keeps entries in
// least-recently-used order within a byte budget, and evicts the least
// recently used when an insertion goes over it. An entry's size is
// estimated from the lengths of its strings and slices plus a fixed
// overhead per entry, part and tool call, so the budget bounds the memory
// the cache holds to within that estimate. Expired entries are dropped
// when they are read or reach the end of the LRU order.
//
// A cache of 8 MiB or more is split into shards by key (one per 4 MiB of
// budget, at most 16), each an LRU with its share of the budget and its
// own lock; a smaller cache is one exact LRU. An entry larger than a
// shard's budget is not stored.
//
// Responses are kept as private deep copies and every Get returns a new
// deep copy, so neither the caller of Set nor of Get can change what the
// cache holds (middlewares annotate responses in place). Vectors are
// copied the same way. Reads and writes never block on anything but the
// shard's lock and never fail; ctx is not consulted. A MemoryCache is safe
// for concurrent use. Response and vector entries share one key space.
type MemoryCache struct {
	seed   maphash.Seed
	mask   uint64
	shards []memShard
}

// memShard is one LRU: a map of entries and a circular doubly linked list
// through them, most recently used after the sentinel.
type memShard struct {
	mu       sync.Mutex
	items    map[string]*memEntry
	list     memEntry // sentinel: list.next is the most recently used
	bytes    int64
	maxBytes int64
}

type memEntry struct {
	key        string
	resp       *Response
	vec        []float32
	size       int64
	expires    int64 // Unix nanoseconds; 0 means never
	prev, next *memEntry
}

var (
	_ CacheStore      = (*MemoryCache)(nil)
	_ EmbedCacheStore = (*MemoryCache)(nil)
)

// NewMemoryCache returns an empty MemoryCache holding at most about
// maxBytes of entries; zero or less means DefaultCacheMaxBytes.
func NewMemoryCache(maxBytes int64) *MemoryCache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheMaxBytes
	}
	n := 1
	for n < memMaxShards && int64(n*2)*memShardBytes <= maxBytes {
		n *= 2
	}
	return newMemoryCache(maxBytes, n)
}

// newMemoryCache returns a cache of n shards (a power of two).
func newMemoryCache(maxBytes int64, n int) *MemoryCache {
	c := &MemoryCache{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]memShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.items = make(map[string]*memEntry)
		s.list.next, s.list.prev = &s.list, &s.list
		s.maxBytes = maxBytes / int64(n)
	}
	return c
}

func (c *MemoryCache) shard(key string) *memShard {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// Get implements CacheStore. The Response is a new deep copy of the
// stored answer.
func (c *MemoryCache) Get(_ context.Context, key string) (*Response, bool, error) {
	r, ok := c.get(key)
	return r, ok, nil
}

func (c *MemoryCache) get(key string) (*Response, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e := s.lookup(key)
	if e == nil || e.resp == nil {
		s.mu.Unlock()
		return nil, false
	}
	stored := e.resp // immutable once stored: copy it outside the lock
	s.mu.Unlock()
	return cacheCopyResponse(stored, true), true
}

// Set implements CacheStore: it stores a deep copy of resp's answer
// (see CacheStore) for ttl, or until evicted when ttl is zero or less.
func (c *MemoryCache) Set(_ context.Context, key string, resp *Response, ttl time.Duration) error {
	if resp == nil {
		return &Error{Kind: KindInvalidRequest, Message: "llm: MemoryCache.Set with a nil response"}
	}
	c.set(key, resp, ttl)
	return nil
}

func (c *MemoryCache) set(key string, resp *Response, ttl time.Duration) {
	r := cacheCopyResponse(resp, true)
	c.shard(key).put(&memEntry{key: key, resp: r, size: memResponseSize(key, r)}, ttl)
}

// Delete implements CacheStore.
func (c *MemoryCache) Delete(_ context.Context, key string) error {
	s := c.shard(key)
	s.mu.Lock()
	if e := s.items[key]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
	return nil
}

// GetVectors implements EmbedCacheStore. Each vector is a new copy.
func (c *MemoryCache) GetVectors(_ context.Context, keys []string) ([][]float32, error) {
	out := make([][]float32, len(keys))
	for i, key := range keys {
		s := c.shard(key)
		s.mu.Lock()
		if e := s.lookup(key); e != nil && e.vec != nil {
			out[i] = slices.Clone(e.vec)
		}
		s.mu.Unlock()
	}
	return out, nil
}

// SetVectors implements EmbedCacheStore: it stores a copy of each vector
// for ttl, or until evicted when ttl is zero or less. A nil vector is
// skipped.
func (c *MemoryCache) SetVectors(_ context.Context, keys []string, vectors [][]float32, ttl time.Duration) error {
	if len(keys) != len(vectors) {
		return &Error{Kind: KindInvalidRequest, Message: "llm: MemoryCache.SetVectors needs one vector per key"}
	}
	for i, key := range keys {
		if vectors[i] == nil {
			continue
		}
		v := slices.Clone(vectors[i])
		size := memEntryCost + int64(len(key)) + 4*int64(len(v))
		c.shard(key).put(&memEntry{key: key, vec: v, size: size}, ttl)
	}
	return nil
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (c *MemoryCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

// Bytes returns the estimated size of the entries held.
func (c *MemoryCache) Bytes() int64 {
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

// lookup returns the live entry of key, marked most recently used, or nil.
// An expired entry is removed. s.mu must be held.
func (s *memShard) lookup(key string) *memEntry {
	e := s.items[key]
	if e == nil {
		return nil
	}
	if e.expires != 0 && time.Now().UnixNano() >= e.expires {
		s.remove(e)
		return nil
	}
	if s.list.next != e {
		s.unlink(e)
		s.pushFront(e)
	}
	return e
}

// put inserts e, replacing any entry of the same key, and evicts from the
// least recently used end (expired or not) until the shard is within its
// budget. An entry over the whole budget is not stored, and the key's
// previous entry is removed.
func (s *memShard) put(e *memEntry, ttl time.Duration) {
	if ttl > 0 {
		e.expires = cacheDeadline(time.Now(), ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.items[e.key]; old != nil {
		s.remove(old)
	}
	if e.size > s.maxBytes {
		return
	}
	s.items[e.key] = e
	s.pushFront(e)
	s.bytes += e.size
	for s.bytes > s.maxBytes {
		s.remove(s.list.prev)
	}
}

func (s *memShard) remove(e *memEntry) {
	s.unlink(e)
	delete(s.items, e.key)
	s.bytes -= e.size
}

func (s *memShard) unlink(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *memShard) pushFront(e *memEntry) {
	e.prev, e.next = &s.list, s.list.next
	s.list.next.prev = e
	s.list.next = e
}

// memResponseSize estimates the bytes an entry holding r costs.
func memResponseSize(key string, r *Response) int64 {
	m := &r.Message
	n := memEntryCost + len(key) + len(r.Model) + len(r.Provider) + len(r.RequestID) + len(r.FinishReason) +
		len(m.Role) + len(m.Name) + len(m.ToolCallID) + len(m.Refusal) + len(m.Reasoning)
	for i := range m.Parts {
		p := &m.Parts[i]
		n += memPartCost + len(p.Text) + len(p.ImageURL) + len(p.ImageData) + len(p.MIMEType) + len(p.ImageDetail) + len(p.Source)
	}
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		n += memCallCost + len(tc.ID) + len(tc.Name) + len(tc.Arguments)
	}
	for k, v := range m.Extra {
		n += memCallCost + len(k) + len(v)
	}
	return int64(n)
}

// cacheCopyResponse returns a deep copy of r: its slices, maps and their
// byte slices are new, its strings shared (strings are immutable). With
// answerOnly the copy keeps only the answer (Message, FinishReason, Usage,
// Model, Provider, RequestID) and leaves the annotations of the call that
// produced it zero.
func cacheCopyResponse(r *Response, answerOnly bool) *Response {
	var c Response
	if answerOnly {
		c = Response{FinishReason: r.FinishReason, Usage: r.Usage, Model: r.Model, Provider: r.Provider, RequestID: r.RequestID}
	} else {
		c = *r
	}
	c.Message = cacheCopyMessage(&r.Message)
	return &c
}

func cacheCopyMessage(m *Message) Message {
	c := *m
	if m.Parts != nil {
		c.Parts = make([]Part, len(m.Parts))
		copy(c.Parts, m.Parts)
		for i := range c.Parts {
			if c.Parts[i].ImageData != nil {
				c.Parts[i].ImageData = slices.Clone(c.Parts[i].ImageData)
			}
		}
	}
	if m.ToolCalls != nil {
		c.ToolCalls = slices.Clone(m.ToolCalls)
	}
	if m.Extra != nil {
		c.Extra = maps.Clone(m.Extra)
		for k, v := range c.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return c
}

// cacheDeadline returns the Unix nanoseconds at which an entry stored at
// now for ttl (positive) expires; math.MaxInt64 when that is too far to
// represent.
func cacheDeadline(now time.Time, ttl time.Duration) int64 {
	n := now.UnixNano()
	if d := n + int64(ttl); d > n {
		return d
	}
	return math.MaxInt64
}
