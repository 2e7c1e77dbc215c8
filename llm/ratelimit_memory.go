package llm

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryLimitStore is the in-process LimitStore: the default of RateLimit,
// and the local fallback a FailOpen limiter uses while a shared store is
// down. It implements the GCRA semantics documented on LimitStore with the
// caller's clock (the now argument), to nanosecond resolution.
//
// Each key is one atomic word (its theoretical arrival time) updated with
// compare-and-swap, and keys live in a sync.Map, so the hot path takes no
// lock and allocates nothing once a key exists. Keys whose bucket is full
// again (which is the same as never having been used) are swept as new keys
// arrive, so memory stays proportional to the keys in use within the last
// burst window. It is safe for concurrent use; ctx is not consulted, since
// no call blocks.
type MemoryLimitStore struct {
	buckets  sync.Map // string -> *memBucket
	size     atomic.Int64
	sweepAt  atomic.Int64
	sweeping atomic.Bool
}

// memSweepMin is the number of keys below which a MemoryLimitStore never
// sweeps.
const memSweepMin = 1024

// memDead marks a bucket removed by a sweep; a caller holding it looks the
// key up again.
const memDead = math.MinInt64

// memBucket holds a key's theoretical arrival time in Unix nanoseconds (0
// for a fresh, full bucket; memDead once swept).
type memBucket struct {
	tat atomic.Int64
}

// NewMemoryLimitStore returns an empty in-memory store.
func NewMemoryLimitStore() *MemoryLimitStore {
	s := &MemoryLimitStore{}
	s.sweepAt.Store(memSweepMin)
	return s
}

var _ LimitStore = (*MemoryLimitStore)(nil)

// Reserve implements LimitStore.
func (s *MemoryLimitStore) Reserve(_ context.Context, key string, n float64, limit Limit, now time.Time, maxWait time.Duration) (time.Duration, bool, error) {
	wait, ok := s.reserve(key, nil, n, limit, now.UnixNano(), maxWait)
	return wait, ok, nil
}

// Refund implements LimitStore.
func (s *MemoryLimitStore) Refund(_ context.Context, key string, n float64, limit Limit, now time.Time) error {
	s.refund(key, nil, n, limit, now.UnixNano())
	return nil
}

// memHandle caches the bucket of one key so that a caller that uses the
// same key on every call (RateLimit's per-model and per-tenant keys) skips
// the map lookup. The zero value with key set is ready to use.
type memHandle struct {
	key string
	b   atomic.Pointer[memBucket]
}

// bucket returns the live bucket of key, through h when h is not nil.
func (s *MemoryLimitStore) bucket(key string, h *memHandle, now int64) *memBucket {
	if h != nil {
		if b := h.b.Load(); b != nil && b.tat.Load() != memDead {
			return b
		}
	}
	for {
		var b *memBucket
		if v, ok := s.buckets.Load(key); ok {
			b = v.(*memBucket)
		} else {
			v, loaded := s.buckets.LoadOrStore(key, new(memBucket))
			b = v.(*memBucket)
			if !loaded && s.size.Add(1) > s.sweepAt.Load() {
				s.sweep(now)
			}
		}
		if b.tat.Load() == memDead {
			// Swept between Load and now: drop it and try again.
			if s.buckets.CompareAndDelete(key, b) {
				s.size.Add(-1)
			}
			continue
		}
		if h != nil {
			h.b.Store(b)
		}
		return b
	}
}

// sweep removes buckets that are full at now. Only one sweep runs at a
// time; the others skip it.
func (s *MemoryLimitStore) sweep(now int64) {
	if !s.sweeping.CompareAndSwap(false, true) {
		return
	}
	defer s.sweeping.Store(false)
	s.buckets.Range(func(k, v any) bool {
		b := v.(*memBucket)
		if t := b.tat.Load(); t != memDead && t <= now && b.tat.CompareAndSwap(t, memDead) {
			if s.buckets.CompareAndDelete(k, b) {
				s.size.Add(-1)
			}
		}
		return true
	})
	s.sweepAt.Store(max(memSweepMin, 2*s.size.Load()))
}

func (s *MemoryLimitStore) reserve(key string, h *memHandle, n float64, limit Limit, now int64, maxWait time.Duration) (time.Duration, bool) {
	if limit.unlimited() || !(n > 0) {
		return 0, true
	}
	for {
		b := s.bucket(key, h, now)
		for {
			old := b.tat.Load()
			if old == memDead {
				break
			}
			tat, wait, ok := gcraReserve(old, now, n, limit, maxWait)
			if !ok {
				return wait, false
			}
			if b.tat.CompareAndSwap(old, tat) {
				return wait, true
			}
		}
	}
}

func (s *MemoryLimitStore) refund(key string, h *memHandle, n float64, limit Limit, now int64) {
	if limit.unlimited() || !(n > 0) {
		return
	}
	for {
		b := s.bucket(key, h, now)
		for {
			old := b.tat.Load()
			if old == memDead {
				break
			}
			if old <= now {
				return // already full
			}
			if b.tat.CompareAndSwap(old, gcraRefund(old, now, n, limit)) {
				return
			}
		}
	}
}

// gcraSlack is the rounding tolerance of the GCRA arithmetic: a wait this
// short counts as none, so that float rounding never refuses the last unit
// of a burst.
const gcraSlack = time.Microsecond

// gcraMax bounds arrival times and waits, in nanoseconds (about 146
// years), so that the arithmetic cannot overflow.
const gcraMax = 1 << 62

// gcraReserve is the GCRA admission step documented on LimitStore, in
// nanoseconds: it returns the new theoretical arrival time, the wait, and
// whether the reservation fits within maxWait.
func gcraReserve(tat, now int64, n float64, limit Limit, maxWait time.Duration) (int64, time.Duration, bool) {
	interval := limit.interval()
	tau := limit.burst() * interval
	tat = max(tat, now)
	cost := n * interval
	w := float64(tat-now) + cost - tau
	var wait time.Duration
	switch {
	case w <= float64(gcraSlack):
		wait = 0
	case w >= gcraMax:
		wait = gcraMax
	default:
		wait = time.Duration(math.Ceil(w))
	}
	if wait > max(maxWait, 0) {
		return tat, wait, false
	}
	// Add in integers: a float64 holds today's Unix nanoseconds only to
	// within a few hundred nanoseconds.
	return tat + int64(min(math.Round(cost), float64(max(gcraMax-tat, 0)))), wait, true
}

// gcraRefund gives n units back: the arrival time moves back by their cost,
// but never before now (a bucket holds at most its burst).
func gcraRefund(tat, now int64, n float64, limit Limit) int64 {
	back := n * limit.interval()
	if back >= float64(tat-now) {
		return now
	}
	return tat - int64(math.Round(back))
}
