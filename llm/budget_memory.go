package llm

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryBudgetStore is the in-process BudgetStore and SpendStore: the
// default of Budget, and the local fallback of a FailOpen budget whose
// shared store is down. Counters follow the semantics documented on
// BudgetStore exactly, in integer nano-dollars; a counter past its expiry
// reads as zero and is removed as new counters arrive. Spend totals are
// kept per calendar day (in the location of each record's Time), tenant,
// feature and model, for 400 days.
//
// It is safe for concurrent use; ctx is not consulted, since no call
// blocks for long. Recording spend and settling a counter that exists
// allocate nothing.
type MemoryBudgetStore struct {
	counters sync.Map // string -> *budgetMemCounter
	size     atomic.Int64
	sweepAt  atomic.Int64

	spendMu sync.RWMutex
	days    map[string]*budgetMemDay
	// lastDay caches the day of the latest record, so that recording
	// needs no formatting and no map lookup by day.
	lastDay atomic.Pointer[budgetMemDayRef]
}

// budgetMemRetention is how long a MemoryBudgetStore keeps daily spend.
const budgetMemRetention = 400 * 24 * time.Hour

// budgetMemCounter is one counter: its balance and expiry (Unix
// nanoseconds) under a mutex, and dead once removed from the store.
type budgetMemCounter struct {
	mu      sync.Mutex
	bal     BudgetBalance
	expires int64
	dead    bool
}

// budgetMemDay holds one day's spend totals.
type budgetMemDay struct {
	start int64 // Unix nanoseconds of the day's midnight
	mu    sync.RWMutex
	rows  map[budgetSpendKey]*budgetMemRow
}

type budgetSpendKey struct{ tenant, feature, model string }

type budgetMemRow struct {
	mu    sync.Mutex
	total SpendTotal
}

// budgetMemDayRef is a day with its bounds and location, for lastDay.
type budgetMemDayRef struct {
	start, end int64
	loc        *time.Location
	day        *budgetMemDay
}

// NewMemoryBudgetStore returns an empty in-memory store.
func NewMemoryBudgetStore() *MemoryBudgetStore {
	s := &MemoryBudgetStore{days: make(map[string]*budgetMemDay)}
	s.sweepAt.Store(memSweepMin)
	return s
}

var (
	_ BudgetStore = (*MemoryBudgetStore)(nil)
	_ SpendStore  = (*MemoryBudgetStore)(nil)
)

// Reserve implements BudgetStore.
func (s *MemoryBudgetStore) Reserve(_ context.Context, key string, amount, limit NanoUSD, expires time.Time) (BudgetBalance, bool, error) {
	bal, ok := s.reserve(key, nil, amount, limit, expires.UnixNano(), time.Now().UnixNano())
	return bal, ok, nil
}

// Settle implements BudgetStore.
func (s *MemoryBudgetStore) Settle(_ context.Context, key string, held, spent NanoUSD, expires time.Time) (BudgetBalance, error) {
	return s.settle(key, nil, held, spent, expires.UnixNano(), time.Now().UnixNano()), nil
}

// Balance implements BudgetStore.
func (s *MemoryBudgetStore) Balance(_ context.Context, key string) (BudgetBalance, error) {
	v, ok := s.counters.Load(key)
	if !ok {
		return BudgetBalance{}, nil
	}
	c := v.(*budgetMemCounter)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.expires <= time.Now().UnixNano() {
		return BudgetBalance{}, nil
	}
	return c.bal, nil
}

// budgetMemHandle caches the counter of one key for a caller that uses it
// on every call.
type budgetMemHandle struct {
	c atomic.Pointer[budgetMemCounter]
}

// lock returns key's live counter, locked, creating it if needed. A
// counter past its expiry is reset and given the new expiry.
func (s *MemoryBudgetStore) lock(key string, h *budgetMemHandle, expires, now int64) *budgetMemCounter {
	if h != nil {
		if c := h.c.Load(); c != nil {
			c.mu.Lock()
			if !c.dead {
				c.refresh(expires, now)
				return c
			}
			c.mu.Unlock()
		}
	}
	for {
		v, ok := s.counters.Load(key)
		if !ok {
			var loaded bool
			v, loaded = s.counters.LoadOrStore(key, &budgetMemCounter{expires: expires})
			if !loaded && s.size.Add(1) > s.sweepAt.Load() {
				s.sweep(now)
			}
		}
		c := v.(*budgetMemCounter)
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			if s.counters.CompareAndDelete(key, c) {
				s.size.Add(-1)
			}
			continue
		}
		c.refresh(expires, now)
		if h != nil {
			h.c.Store(c)
		}
		return c
	}
}

// refresh resets an expired counter and extends its expiry to expires.
// c.mu is held.
func (c *budgetMemCounter) refresh(expires, now int64) {
	if c.expires <= now {
		c.bal = BudgetBalance{}
	}
	c.expires = max(c.expires, expires)
}

// sweep removes expired counters.
func (s *MemoryBudgetStore) sweep(now int64) {
	s.counters.Range(func(k, v any) bool {
		c := v.(*budgetMemCounter)
		c.mu.Lock()
		expired := !c.dead && c.expires <= now
		if expired {
			c.dead = true
		}
		c.mu.Unlock()
		if expired && s.counters.CompareAndDelete(k, c) {
			s.size.Add(-1)
		}
		return true
	})
	s.sweepAt.Store(max(memSweepMin, 2*s.size.Load()))
}

func (s *MemoryBudgetStore) reserve(key string, h *budgetMemHandle, amount, limit NanoUSD, expires, now int64) (BudgetBalance, bool) {
	amount = max(amount, 0)
	c := s.lock(key, h, expires, now)
	defer c.mu.Unlock()
	used := c.bal.Spent + c.bal.Held
	if amount > limit-used || used > limit {
		return c.bal, false
	}
	c.bal.Held += amount
	return c.bal, true
}

func (s *MemoryBudgetStore) settle(key string, h *budgetMemHandle, held, spent NanoUSD, expires, now int64) BudgetBalance {
	c := s.lock(key, h, expires, now)
	defer c.mu.Unlock()
	c.bal.Held = max(c.bal.Held-max(held, 0), 0)
	c.bal.Spent += max(spent, 0)
	return c.bal
}

// RecordSpend implements SpendRecorder: it adds rec to the totals of its
// day, tenant, feature and model.
func (s *MemoryBudgetStore) RecordSpend(_ context.Context, rec SpendRecord) error {
	day := s.day(rec.Time)
	k := budgetSpendKey{rec.Tenant, rec.Feature, rec.Model}
	day.mu.RLock()
	row := day.rows[k]
	day.mu.RUnlock()
	if row == nil {
		day.mu.Lock()
		if row = day.rows[k]; row == nil {
			row = &budgetMemRow{total: SpendTotal{Tenant: k.tenant, Feature: k.feature, Model: k.model}}
			day.rows[k] = row
		}
		day.mu.Unlock()
	}
	row.mu.Lock()
	t := &row.total // fields one by one: copying the names would cost write barriers
	t.Cost += rec.Cost
	t.Calls++
	if rec.Estimated {
		t.EstimatedCalls++
	}
	t.Usage.InputTokens += rec.Usage.InputTokens
	t.Usage.OutputTokens += rec.Usage.OutputTokens
	t.Usage.CachedInputTokens += rec.Usage.CachedInputTokens
	t.Usage.CacheWriteTokens += rec.Usage.CacheWriteTokens
	t.Usage.ReasoningTokens += rec.Usage.ReasoningTokens
	row.mu.Unlock()
	return nil
}

// day returns the totals of t's calendar day in t's location, creating
// them if needed and forgetting days past the retention.
func (s *MemoryBudgetStore) day(t time.Time) *budgetMemDay {
	ns, loc := t.UnixNano(), t.Location()
	if r := s.lastDay.Load(); r != nil && r.loc == loc && ns >= r.start && ns < r.end {
		return r.day
	}
	y, m, d := t.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	name := start.Format(time.DateOnly)
	s.spendMu.RLock()
	day := s.days[name]
	s.spendMu.RUnlock()
	if day == nil {
		s.spendMu.Lock()
		if day = s.days[name]; day == nil {
			day = &budgetMemDay{start: start.UnixNano(), rows: make(map[budgetSpendKey]*budgetMemRow)}
			s.days[name] = day
			horizon := start.Add(-budgetMemRetention).UnixNano()
			for n, old := range s.days {
				if old.start < horizon {
					delete(s.days, n)
				}
			}
		}
		s.spendMu.Unlock()
	}
	s.lastDay.Store(&budgetMemDayRef{start: start.UnixNano(), end: end.UnixNano(), loc: loc, day: day})
	return day
}

// Spend implements SpendStore.
func (s *MemoryBudgetStore) Spend(_ context.Context, from, to time.Time) ([]SpendTotal, error) {
	sums := make(map[budgetSpendKey]SpendTotal)
	for _, d := range SpendDays(from, to) {
		s.spendMu.RLock()
		day := s.days[d.Format(time.DateOnly)]
		s.spendMu.RUnlock()
		if day == nil {
			continue
		}
		day.mu.RLock()
		for k, row := range day.rows {
			row.mu.Lock()
			t := row.total
			row.mu.Unlock()
			if prev, ok := sums[k]; ok {
				t = prev.Add(t)
			}
			sums[k] = t
		}
		day.mu.RUnlock()
	}
	out := make([]SpendTotal, 0, len(sums))
	for _, t := range sums {
		out = append(out, t)
	}
	return out, nil
}
