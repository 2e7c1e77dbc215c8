package llm

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BudgetScope says what one budget counter covers.
type BudgetScope uint8

// The budget scopes.
const (
	// BudgetPerTenant keeps one counter per tenant
	// (Request.Principal.Tenant), all features together.
	BudgetPerTenant BudgetScope = iota + 1
	// BudgetPerFeature keeps one counter per feature (Request.Feature),
	// all tenants together.
	BudgetPerFeature
	// BudgetPerTenantFeature keeps one counter per tenant and feature.
	BudgetPerTenantFeature
)

// String returns "tenant", "feature" or "tenant+feature".
func (s BudgetScope) String() string {
	switch s {
	case BudgetPerTenant:
		return "tenant"
	case BudgetPerFeature:
		return "feature"
	case BudgetPerTenantFeature:
		return "tenant+feature"
	}
	return "budget_scope(" + strconv.Itoa(int(s)) + ")"
}

func (s BudgetScope) hasTenant() bool  { return s == BudgetPerTenant || s == BudgetPerTenantFeature }
func (s BudgetScope) hasFeature() bool { return s == BudgetPerFeature || s == BudgetPerTenantFeature }

// BudgetPeriod is the calendar period a budget counter covers, in
// BudgetOptions.Location.
type BudgetPeriod uint8

// The budget periods.
const (
	// BudgetDaily resets at midnight.
	BudgetDaily BudgetPeriod = iota + 1
	// BudgetMonthly resets at midnight on the first of the month.
	BudgetMonthly
)

// String returns "daily" or "monthly".
func (p BudgetPeriod) String() string {
	switch p {
	case BudgetDaily:
		return "daily"
	case BudgetMonthly:
		return "monthly"
	}
	return "budget_period(" + strconv.Itoa(int(p)) + ")"
}

// BudgetLimit is a spending limit on one kind of counter: per tenant, per
// feature or per tenant and feature (Scope), per day or per month
// (Period).
//
// A limit that names no Tenant or Feature applies to each one separately
// (every tenant gets its own daily $50); naming one restricts it to that
// tenant or feature, which is how a default is overridden: for each scope
// and period, the most specific matching limit replaces the others (one
// naming tenant and feature, then one naming the tenant, then one naming
// the feature, then one naming neither). Limits of different scopes or
// periods all apply: a call must fit under each.
type BudgetLimit struct {
	// Name identifies the limit in errors and alerts; optional.
	Name   string
	Scope  BudgetScope
	Period BudgetPeriod
	// Tenant restricts the limit to one tenant (scopes with a tenant);
	// Feature to one feature (scopes with a feature).
	Tenant  string
	Feature string
	// Soft is the spend in US dollars past which OnSoftLimit is called,
	// once per counter and period; zero means none.
	Soft float64
	// Hard is the most the counter may spend in a period, in US dollars;
	// a call that might take it past the limit is refused before it is
	// sent. Zero means none.
	Hard float64
}

// BudgetAlert tells OnSoftLimit which counter crossed its soft limit.
type BudgetAlert struct {
	// Limit is the limit that was crossed, as configured.
	Limit BudgetLimit
	// Tenant and Feature are the counter's, as its scope keeps them.
	Tenant  string
	Feature string
	// PeriodStart and PeriodEnd bound the period, in
	// BudgetOptions.Location.
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Spent is the counter's spend after the call that crossed the limit.
	Spent NanoUSD
}

// BudgetBalance is the state of one budget counter.
type BudgetBalance struct {
	// Spent is what settled calls cost.
	Spent NanoUSD
	// Held is what calls in flight have reserved and not yet settled.
	Held NanoUSD
}

// BudgetStore keeps budget counters: in process (MemoryBudgetStore, the
// default) or shared by every replica of a service (package
// llm/redisstore). A counter is a key with a balance of Spent and Held
// nano-dollars, initially zero. Atomically per key:
//
//	Reserve(amount, limit): if Spent+Held+amount ≤ limit: Held += amount; ok
//	                        otherwise: unchanged; refused
//	Settle(held, spent):    Held = max(Held−held, 0); Spent += spent
//
// Each returns the balance after the operation (for a refused Reserve,
// the balance that refused it). Negative amounts count as zero. Every
// write sets the key to expire at expires or later (the end of its period
// plus a grace); a store may forget a key once it has expired, after which
// it reads as zero. Budget settles exactly what it reserved, so Held
// returns to zero when no call is in flight (a replica that dies holding
// a reservation leaves it held until the key expires).
//
// Implementations must be safe for concurrent use, keep amounts exact
// (integers, no floats), return promptly once ctx is done, and report
// failures of the store itself as errors, so that Budget can apply its
// StoreErrorPolicy. The contract suite in llm/llmtest/budgetstoretest
// checks all of this.
type BudgetStore interface {
	Reserve(ctx context.Context, key string, amount, limit NanoUSD, expires time.Time) (BudgetBalance, bool, error)
	Settle(ctx context.Context, key string, held, spent NanoUSD, expires time.Time) (BudgetBalance, error)
	Balance(ctx context.Context, key string) (BudgetBalance, error)
}

// BudgetOptions configure Budget and BudgetEmbedder.
type BudgetOptions struct {
	// Limits are the budgets enforced; see BudgetLimit. Without limits,
	// Budget only prices calls and records their spend.
	Limits []BudgetLimit

	// Prices prices calls; a table with no models means DefaultPrices().
	Prices PriceTable
	// DefaultPrice prices models Prices does not know (a router's alias,
	// a new model), both for the reservation and the charge, which is then
	// marked estimated: set it to the dearest model such a call may
	// reach. Zero leaves them unpriced: they cost 0 and reserve one
	// nano-dollar, so a budget already exhausted still refuses them.
	// Either way OnUnpricedModel is called.
	DefaultPrice Price
	// Location is the time zone of the calendar periods and of the days
	// of spend records; nil means UTC.
	Location *time.Location

	// DefaultMaxOutput is the output reserved for a request without
	// MaxOutputTokens; default 4096.
	DefaultMaxOutput int
	// TokenCounter counts a request's prompt tokens for reservations and
	// for charging calls the provider reported no usage for. Nil uses
	// EstimateInputTokens, an upper bound (about four times the real
	// count for English text), so estimates err high; ExactTokenCounter
	// gives exact counts at the cost of a tokenizer run per call.
	TokenCounter func(*Request) int

	// Store keeps the counters. Nil gives this middleware its own
	// MemoryBudgetStore, which counts for one process only; pass one
	// store to Budget and BudgetEmbedder so that chat and embeddings
	// spend from the same budgets.
	Store BudgetStore
	// Spend receives a record of every charged call. Nil uses Store when
	// it is a SpendRecorder (both built-in stores are), so that
	// SpendReport works without set-up.
	Spend SpendRecorder
	// StoreTimeout bounds every call to Store and Spend; default 50ms. It
	// does not apply to a MemoryBudgetStore, which never blocks.
	StoreTimeout time.Duration
	// OnStoreError says what happens when Store fails or times out before
	// a call: FailOpen (the default) reserves from a local counter,
	// FailClosed refuses the call with KindBudgetExceeded wrapping the
	// store's error. See Budget.
	OnStoreError StoreErrorPolicy
	// LocalShare is the share of a hard limit's remaining headroom that
	// FailOpen's local counter allows while the store is down, in (0,1];
	// default 1. With N replicas, 1/N keeps the fleet within the limit.
	LocalShare float64

	// SafeMode, while active, multiplies every hard limit by SafeFactor
	// (default 0.5): budgets tighten during an incident. Nil means never.
	SafeMode   *SafeMode
	SafeFactor float64

	// OnSoftLimit is called once per counter and period, by the call
	// whose charge takes the counter's spend to its soft limit or past
	// it (exactly once across replicas sharing a store). It runs on the
	// caller's goroutine and must be quick.
	OnSoftLimit func(ctx context.Context, alert BudgetAlert)
	// OnUnpricedModel is called for every call to a model Prices does not
	// know; it must be quick.
	OnUnpricedModel func(ctx context.Context, model string)
	// OnStoreFailure is called for every failure of Store or Spend (after
	// a failure the store is left alone for a second, so at most about
	// one a second), and when spend records are dropped; it must be
	// quick.
	OnStoreFailure func(ctx context.Context, err error)
}

// Budget returns a middleware that prices every call, attributes its cost
// and enforces spending limits per tenant and feature. It sits below the
// cache (a hit costs nothing) and above routing, fallback and retry, so
// that one refusal stops every route and every attempt.
//
// # Cost
//
// Each answer is priced from its Usage at the price of the model that
// answered (Response.Model, else Request.Model; see PriceTable.Lookup),
// with cached-input discounts, cache-write premiums and reasoning tokens
// as Price.Cost describes. Response.Cost is set (and, for a stream, the
// Cost of the usage event) to what the call cost, failed attempts
// included, and CostEstimated when part of it was estimated. The cost and
// usage go to the SpendRecorder with the request's tenant, user and
// feature.
//
// # What is charged when the provider reports nothing
//
// Budget sits above retry and fallback, so it sees one call, not each
// attempt; Response.Attempts and Error.Attempts say how many upstream
// calls were made. Estimates err high, so that a budget is exceeded by an
// estimate rather than by the bill:
//
//   - an attempt that failed, or a hedged loser, is charged the request's
//     prompt tokens (TokenCounter, by default EstimateInputTokens, an
//     upper bound) at the input price: on success Attempts−1 of them;
//   - a call that fails is charged one such estimate per Error.Attempts
//     (one when zero), except that the last attempt is not charged when
//     the error's kind shows that the provider refused it unprocessed
//     (rate_limited, quota_exhausted, auth, not_found, invalid_request,
//     context_length_exceeded) or that it was never sent (the local kinds:
//     circuit_open, rate_limited_locally, budget_exceeded, policy_denied,
//     guard_blocked). Only the last error's kind is known, so earlier
//     failed attempts are charged whatever their kind;
//   - a stream cut off before its usage event, or abandoned by its
//     caller, is charged its prompt estimate plus one output token per
//     byte of output received (an upper bound, as for the prompt), and so
//     is an answer that reports no usage.
//
// Cache hits (Response.CacheHit) cost nothing.
//
// # Limits
//
// Before a call, Budget reserves the most the call may cost (prompt
// tokens at the dearer of the input and cache-write prices, plus
// MaxOutputTokens or DefaultMaxOutput at the dearer of the output and
// reasoning prices) from the counter of every hard limit that applies,
// atomically per counter: if any counter's spend plus calls in flight plus
// this reservation would pass its limit, the call is refused with an
// *Error of kind KindBudgetExceeded, naming the budget, its limit, spend
// and period end, with RetryAfter until the period ends, and nothing is
// sent upstream. After the call the reservation is settled with the
// actual cost (the difference is refunded, or charged if the estimate was
// short), so concurrent calls never overspend a limit beyond what was
// reserved; only a charge above its reservation (an answer dearer than
// the estimate, as with TokenCounter under-counting) can take a counter
// past its limit, by at most that excess of the calls in flight. A
// request without a tenant is refused with KindInvalidRequest when a
// per-tenant limit would apply to it: a missing tenant is an error, not a
// shared bucket.
//
// Soft limits call OnSoftLimit once per period; logging and metrics are
// left to that hook and to telemetry.
//
// Each scope and period has one counter per tenant and/or feature, shared
// by every limit, middleware and replica that uses the same Store. Its
// key is "t:" and the tenant, "f:" and the feature, or "tf:", the tenant,
// "|" and the feature (with "|" and "\" escaped by "\"), followed by ":d:"
// and the day (2006-01-02) or ":m:" and the month (2006-01): for example
// "t:acme:d:2025-06-01" or "f:search:m:2025-06".
//
// # When the store fails
//
// Every store call is bounded by StoreTimeout. If the store fails before
// a call, OnStoreError decides: FailOpen (the default) reserves from a
// local in-memory counter whose limit is LocalShare of the headroom the
// store last reported for the counter (the whole limit if it never
// answered), so a tenant that had spent its budget stays refused;
// FailClosed refuses with KindBudgetExceeded wrapping the store's error.
// After a failure the store is left alone for a second. Charges that
// cannot be written are kept and written back once the store answers
// again: a counter's before its next reservation, so that spend made
// during the outage counts against the shared limit at once, and the rest
// in the background, with the spend records (up to 10,000 records are
// kept; OnStoreFailure hears of any dropped). A replica that stops during
// an outage loses what it kept. Soft-limit alerts need the store.
//
// The returned Middleware keeps its caches for every Model it wraps; it
// is safe for concurrent use. Budget panics if a limit is invalid (an
// unknown scope or period, a tenant on a per-feature limit or a feature on
// a per-tenant one, a negative or non-finite amount, neither Soft nor
// Hard, or two limits for the same counter).
func Budget(opts BudgetOptions) Middleware {
	b := newBudgeter(opts)
	return func(next Model) Model { return &budgetModel{b: b, next: next} }
}

// BudgetEmbedder returns an embedder middleware that prices, attributes
// and limits embedding calls as Budget does chat calls: the reservation is
// one token per byte of input at the model's input price, the charge
// EmbedResponse.Usage.InputTokens at that price (the reservation itself,
// marked estimated, when the provider reports no usage). Give it the
// Store of the chat Budget so both spend from the same budgets.
func BudgetEmbedder(opts BudgetOptions) EmbedderMiddleware {
	b := newBudgeter(opts)
	return func(next Embedder) Embedder { return &budgetEmbedder{b: b, next: next} }
}

// Defaults and bounds of the budget middleware.
const (
	// budgetGrace keeps a counter past its period, for calls that settle
	// after it ends.
	budgetGrace = 24 * time.Hour
	// budgetMaxBacklog bounds the spend records kept while the store is
	// down.
	budgetMaxBacklog = 10000
	// budgetNumGroups is the number of scope × period combinations.
	budgetNumGroups = 6
)

// budgetGroup indexes a scope and period.
func budgetGroup(s BudgetScope, p BudgetPeriod) int { return int(s-1)*2 + int(p-1) }

// budgetRule is a configured limit in nano-dollars.
type budgetRule struct {
	limit      BudgetLimit
	soft, hard NanoUSD
}

// budgetTF is a tenant and feature pair.
type budgetTF struct{ tenant, feature string }

// budgetRules are the limits of one scope and period.
type budgetRules struct {
	scope   BudgetScope
	period  BudgetPeriod
	any     *budgetRule
	tenant  map[string]*budgetRule
	feature map[string]*budgetRule
	both    map[budgetTF]*budgetRule
}

// match returns the most specific rule for tenant and feature, or nil.
func (g *budgetRules) match(tenant, feature string) *budgetRule {
	if r := g.both[budgetTF{tenant, feature}]; r != nil {
		return r
	}
	if r := g.tenant[tenant]; r != nil {
		return r
	}
	if r := g.feature[feature]; r != nil {
		return r
	}
	return g.any
}

// budgetClock holds the current periods' bounds and names.
type budgetClock struct {
	dayStart, dayEnd     time.Time
	monthStart, monthEnd time.Time
	dayStartNs, dayEndNs int64
	day, month           string
}

func (c *budgetClock) bounds(p BudgetPeriod) (start, end time.Time, name string) {
	if p == BudgetMonthly {
		return c.monthStart, c.monthEnd, c.month
	}
	return c.dayStart, c.dayEnd, c.day
}

// budgetSlot is one counter a request's calls spend from, with its rule.
type budgetSlot struct {
	rule            *budgetRule
	scope           BudgetScope
	period          BudgetPeriod
	tenant, feature string
	key             string
	start, end      time.Time
	expires         time.Time
	expiresNs       int64
	h               budgetMemHandle
	// known is the counter's Spent+Held as the shared store last
	// reported it, the seed of FailOpen's local limit.
	known atomic.Int64
}

// budgetEntry is the slots of one tenant and feature for one day.
type budgetEntry struct {
	dayStartNs int64
	slots      []budgetSlot
	hard       bool // some slot has a hard limit
	noTenant   bool // a per-tenant limit applies but the request has no tenant
}

// budgetOwed is a settlement the store could not take yet.
type budgetOwed struct {
	held, spent NanoUSD
	expires     time.Time
}

// budgeter is the state Budget's Models share.
type budgeter struct {
	groups       [budgetNumGroups]*budgetRules
	limited      bool // some limit is configured
	usesTenant   bool
	usesFeature  bool
	prices       PriceTable
	defaultPrice Price
	hasDefault   bool
	loc          *time.Location
	defaultOut   int
	counter      func(*Request) int

	store        BudgetStore
	mem          *MemoryBudgetStore // store, when in memory
	local        *MemoryBudgetStore // FailOpen's counters while store fails
	spend        SpendRecorder
	memSpend     *MemoryBudgetStore // spend, when in memory
	spendIsStore bool
	timeout      time.Duration
	policy       StoreErrorPolicy
	localShare   float64
	safe         *SafeMode
	safeFactor   float64

	onSoft         func(context.Context, BudgetAlert)
	onUnpriced     func(context.Context, string)
	onStoreFailure func(context.Context, error)

	clk     atomic.Pointer[budgetClock]
	mu      sync.RWMutex
	entries map[budgetTF]*budgetEntry
	down    atomic.Pointer[storeFailure]

	owing    atomic.Bool
	flushing atomic.Bool
	owedMu   sync.Mutex
	owed     map[string]budgetOwed
	backlog  []SpendRecord
	dropped  int
}

func newBudgeter(o BudgetOptions) *budgeter {
	b := &budgeter{
		prices:         o.Prices,
		defaultPrice:   o.DefaultPrice,
		hasDefault:     o.DefaultPrice != Price{},
		loc:            o.Location,
		defaultOut:     o.DefaultMaxOutput,
		counter:        o.TokenCounter,
		store:          o.Store,
		spend:          o.Spend,
		timeout:        o.StoreTimeout,
		policy:         o.OnStoreError,
		localShare:     o.LocalShare,
		safe:           o.SafeMode,
		safeFactor:     o.SafeFactor,
		onSoft:         o.OnSoftLimit,
		onUnpriced:     o.OnUnpricedModel,
		onStoreFailure: o.OnStoreFailure,
		entries:        make(map[budgetTF]*budgetEntry),
	}
	if b.prices.Len() == 0 {
		b.prices = DefaultPrices()
	}
	if b.loc == nil {
		b.loc = time.UTC
	}
	if b.defaultOut <= 0 {
		b.defaultOut = defaultMaxOutput
	}
	if b.timeout <= 0 {
		b.timeout = defaultStoreTimeout
	}
	if !(b.localShare > 0 && b.localShare <= 1) {
		b.localShare = 1
	}
	if !(b.safeFactor > 0 && b.safeFactor <= 1) {
		b.safeFactor = defaultSafeFactor
	}
	if b.store == nil {
		b.store = NewMemoryBudgetStore()
	}
	b.mem, _ = b.store.(*MemoryBudgetStore)
	if b.mem == nil {
		b.local = NewMemoryBudgetStore()
	}
	if b.spend == nil {
		b.spend, _ = b.store.(SpendRecorder)
		b.spendIsStore = b.spend != nil
	}
	b.memSpend, _ = b.spend.(*MemoryBudgetStore)
	for i, l := range o.Limits {
		b.addLimit(i, l)
	}
	return b
}

// addLimit compiles limit number i, or panics if it is invalid.
func (b *budgeter) addLimit(i int, l BudgetLimit) {
	bad := func(msg string) {
		panic("llm: budget limit " + strconv.Itoa(i) + " (" + strconv.Quote(l.Name) + "): " + msg)
	}
	switch {
	case l.Scope < BudgetPerTenant || l.Scope > BudgetPerTenantFeature:
		bad("unknown scope " + l.Scope.String())
	case l.Period < BudgetDaily || l.Period > BudgetMonthly:
		bad("unknown period " + l.Period.String())
	case l.Tenant != "" && !l.Scope.hasTenant():
		bad("a per-feature limit cannot name a tenant")
	case l.Feature != "" && !l.Scope.hasFeature():
		bad("a per-tenant limit cannot name a feature")
	case !(l.Soft >= 0) || !(l.Hard >= 0) || math.IsInf(l.Soft, 0) || math.IsInf(l.Hard, 0):
		bad("amounts must be finite and non-negative")
	case l.Soft == 0 && l.Hard == 0:
		bad("neither Soft nor Hard is set")
	}
	gi := budgetGroup(l.Scope, l.Period)
	g := b.groups[gi]
	if g == nil {
		g = &budgetRules{scope: l.Scope, period: l.Period}
		b.groups[gi] = g
	}
	r := &budgetRule{limit: l, soft: USD(l.Soft), hard: USD(l.Hard)}
	var dup bool
	switch {
	case l.Tenant != "" && l.Feature != "":
		if g.both == nil {
			g.both = make(map[budgetTF]*budgetRule)
		}
		k := budgetTF{l.Tenant, l.Feature}
		dup = g.both[k] != nil
		g.both[k] = r
	case l.Tenant != "":
		if g.tenant == nil {
			g.tenant = make(map[string]*budgetRule)
		}
		dup = g.tenant[l.Tenant] != nil
		g.tenant[l.Tenant] = r
	case l.Feature != "":
		if g.feature == nil {
			g.feature = make(map[string]*budgetRule)
		}
		dup = g.feature[l.Feature] != nil
		g.feature[l.Feature] = r
	default:
		dup = g.any != nil
		g.any = r
	}
	if dup {
		bad("another limit has the same scope, period, tenant and feature")
	}
	b.limited = true
	b.usesTenant = b.usesTenant || l.Scope.hasTenant()
	b.usesFeature = b.usesFeature || l.Scope.hasFeature()
}

// clock returns the periods holding now.
func (b *budgeter) clock(now time.Time) *budgetClock {
	ns := now.UnixNano()
	if c := b.clk.Load(); c != nil && ns >= c.dayStartNs && ns < c.dayEndNs {
		return c
	}
	t := now.In(b.loc)
	y, m, d := t.Date()
	c := &budgetClock{
		dayStart:   time.Date(y, m, d, 0, 0, 0, 0, b.loc),
		dayEnd:     time.Date(y, m, d+1, 0, 0, 0, 0, b.loc),
		monthStart: time.Date(y, m, 1, 0, 0, 0, 0, b.loc),
		monthEnd:   time.Date(y, m+1, 1, 0, 0, 0, 0, b.loc),
	}
	c.dayStartNs, c.dayEndNs = c.dayStart.UnixNano(), c.dayEnd.UnixNano()
	c.day, c.month = c.dayStart.Format(time.DateOnly), c.dayStart.Format("2006-01")
	b.clk.Store(c)
	return c
}

// entry returns the slots of tenant and feature for clk's day, cached.
func (b *budgeter) entry(tenant, feature string, clk *budgetClock) *budgetEntry {
	var k budgetTF
	if b.usesTenant {
		k.tenant = tenant
	}
	if b.usesFeature {
		k.feature = feature
	}
	b.mu.RLock()
	old := b.entries[k]
	b.mu.RUnlock()
	if old != nil && old.dayStartNs == clk.dayStartNs {
		return old
	}
	e := b.buildEntry(k, clk, old)
	b.mu.Lock()
	if cur := b.entries[k]; cur == old {
		if cur == nil && len(b.entries) >= maxCachedTenants {
			for ek, ee := range b.entries { // forget entries of past days
				if ee.dayStartNs != clk.dayStartNs {
					delete(b.entries, ek)
				}
			}
		}
		if cur != nil || len(b.entries) < maxCachedTenants {
			b.entries[k] = e
		}
	}
	b.mu.Unlock()
	return e
}

func (b *budgeter) buildEntry(k budgetTF, clk *budgetClock, old *budgetEntry) *budgetEntry {
	e := &budgetEntry{dayStartNs: clk.dayStartNs}
	n := 0
	for _, g := range b.groups {
		if g != nil && g.match(k.tenant, k.feature) != nil {
			n++
		}
	}
	e.slots = make([]budgetSlot, n)
	i := 0
	for _, g := range b.groups {
		if g == nil {
			continue
		}
		r := g.match(k.tenant, k.feature)
		if r == nil {
			continue
		}
		s := &e.slots[i]
		i++
		s.rule, s.scope, s.period = r, g.scope, g.period
		if g.scope.hasTenant() {
			s.tenant = k.tenant
			if k.tenant == "" {
				e.noTenant = true
			}
		}
		if g.scope.hasFeature() {
			s.feature = k.feature
		}
		var name string
		s.start, s.end, name = clk.bounds(g.period)
		s.expires = s.end.Add(budgetGrace)
		s.expiresNs = s.expires.UnixNano()
		s.key = budgetKey(g.scope, g.period, s.tenant, s.feature, name)
		e.hard = e.hard || r.hard > 0
		if old != nil {
			for j := range old.slots {
				if os := &old.slots[j]; os.key == s.key {
					s.h.c.Store(os.h.c.Load())
					s.known.Store(os.known.Load())
				}
			}
		}
	}
	return e
}

// budgetKey is the store key of a counter: "t:" tenant, "f:" feature or
// "tf:" tenant "|" feature (with "|" and "\" escaped by "\"), then ":d:"
// and the day (2006-01-02) or ":m:" and the month (2006-01).
func budgetKey(s BudgetScope, p BudgetPeriod, tenant, feature, period string) string {
	var b strings.Builder
	switch s {
	case BudgetPerTenant:
		b.WriteString("t:")
		b.WriteString(tenant)
	case BudgetPerFeature:
		b.WriteString("f:")
		b.WriteString(feature)
	default:
		b.WriteString("tf:")
		budgetEscape(&b, tenant)
		b.WriteByte('|')
		budgetEscape(&b, feature)
	}
	if p == BudgetMonthly {
		b.WriteString(":m:")
	} else {
		b.WriteString(":d:")
	}
	b.WriteString(period)
	return b.String()
}

func budgetEscape(b *strings.Builder, s string) {
	for i := range len(s) {
		if c := s[i]; c == '|' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}

// budgetTicket is what one call reserved, and from where.
type budgetTicket struct {
	req    *Request
	ereq   *EmbedRequest
	e      *budgetEntry
	now    time.Time
	nowNs  int64 // now in Unix nanoseconds: the clock of the call's store operations
	prompt int   // prompt tokens, -1 until counted
	held   [budgetNumGroups]NanoUSD
	local  uint8 // bit i: slot i's hold is in the local counter
	// unpriced is set once OnUnpricedModel has been told of this call.
	unpriced bool
	// The last price looked up, for the next lookup of the same model.
	priced       bool
	pricedModel  string
	pricedPrice  Price
	pricedEst    bool
	pricedExists bool
}

func (t *budgetTicket) model() string {
	if t.req != nil {
		return t.req.Model
	}
	if t.ereq != nil {
		return t.ereq.Model
	}
	return ""
}

// promptTokens returns the request's prompt tokens, counted once.
func (b *budgeter) promptTokens(t *budgetTicket) int {
	if t.prompt >= 0 {
		return t.prompt
	}
	n := 0
	switch {
	case t.req != nil && b.counter != nil:
		n = b.counter(t.req)
	case t.req != nil:
		n = EstimateInputTokens(t.req)
	case t.ereq != nil:
		for _, in := range t.ereq.Inputs {
			n += len(in)
		}
	}
	t.prompt = max(n, 0)
	return t.prompt
}

// outputAllowance is the output a reservation covers.
func (b *budgeter) outputAllowance(t *budgetTicket) int {
	if t.req == nil {
		return 0
	}
	if t.req.MaxOutputTokens > 0 {
		return t.req.MaxOutputTokens
	}
	return b.defaultOut
}

// price returns the price of model, or DefaultPrice (estimated) when the
// table does not know it; ok is false when neither applies.
func (b *budgeter) price(ctx context.Context, t *budgetTicket, model string) (p Price, estimated, ok bool) {
	if t.priced && t.pricedModel == model {
		return t.pricedPrice, t.pricedEst, t.pricedExists
	}
	p, ok = b.prices.Lookup(model)
	if !ok {
		if !t.unpriced {
			t.unpriced = true
			if b.onUnpriced != nil {
				b.onUnpriced(ctx, model)
			}
		}
		p, estimated, ok = b.defaultPrice, true, b.hasDefault
	}
	t.priced, t.pricedModel, t.pricedPrice, t.pricedEst, t.pricedExists = true, model, p, estimated, ok
	return p, estimated, ok
}

// admit resolves the counters of t's request and reserves its maximum
// cost from each hard limit, or returns the error that refuses it.
func (b *budgeter) admit(ctx context.Context, t *budgetTicket, tenant, feature string) error {
	t.prompt = -1
	t.now = time.Now()
	t.nowNs = t.now.UnixNano()
	if !b.limited {
		return nil
	}
	clk := b.clock(t.now)
	e := b.entry(tenant, feature, clk)
	t.e = e
	if e.noTenant {
		t.e = nil
		return &Error{Kind: KindInvalidRequest, Model: t.model(),
			Message: "budget: the request has no tenant (Principal.Tenant) and a per-tenant budget applies"}
	}
	if !e.hard {
		return nil
	}
	amount := NanoUSD(1)
	if p, _, ok := b.price(ctx, t, t.model()); ok {
		amount = max(p.maxCost(b.promptTokens(t), b.outputAllowance(t)), 1)
	}
	factor := 1.0
	if b.safe.Active() {
		factor = b.safeFactor
	}
	for i := range e.slots {
		s := &e.slots[i]
		if s.rule.hard <= 0 {
			continue
		}
		limit := s.rule.hard
		if factor != 1 {
			limit = NanoUSD(float64(limit) * factor)
		}
		bal, ok, err := b.reserve(ctx, t, i, s, amount, limit)
		if err != nil || !ok {
			b.release(ctx, t)
			t.e = nil
			if err != nil {
				if ctx.Err() != nil {
					return &Error{Kind: classifyCause(ctx.Err()), Model: t.model(),
						Message: "context ended while checking the budget", Err: ctx.Err()}
				}
				return &Error{Kind: KindBudgetExceeded, Model: t.model(), RetryAfter: storeCooldown, Err: err,
					Message: "budget store unavailable (fail closed): cannot check the " + s.describe()}
			}
			return b.exceeded(t, s, bal, amount, limit)
		}
	}
	return nil
}

// describe names the slot's budget for messages.
func (s *budgetSlot) describe() string {
	var b strings.Builder
	b.WriteString(s.period.String())
	b.WriteString(" budget")
	if s.rule.limit.Name != "" {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(s.rule.limit.Name))
	}
	b.WriteString(" of ")
	switch s.scope {
	case BudgetPerTenant:
		b.WriteString("tenant " + strconv.Quote(s.tenant))
	case BudgetPerFeature:
		b.WriteString("feature " + strconv.Quote(s.feature))
	default:
		b.WriteString("tenant " + strconv.Quote(s.tenant) + " for feature " + strconv.Quote(s.feature))
	}
	return b.String()
}

func (b *budgeter) exceeded(t *budgetTicket, s *budgetSlot, bal BudgetBalance, amount, limit NanoUSD) error {
	msg := fmt.Sprintf("%s exhausted: limit %v, spent %v, %v held by calls in flight, this call may cost up to %v; resets at %s",
		s.describe(), limit, bal.Spent, bal.Held, amount, s.end.Format(time.RFC3339))
	return &Error{Kind: KindBudgetExceeded, Model: t.model(), Message: msg, RetryAfter: max(s.end.Sub(t.now), 0)}
}

// storeFailed reports whether the store failed recently, and with what.
func (b *budgeter) storeFailed(now int64) (error, bool) {
	if d := b.down.Load(); d != nil && now < d.until {
		return d.err, true
	}
	return nil, false
}

func (b *budgeter) markStoreFailed(ctx context.Context, err error) {
	b.down.Store(&storeFailure{until: time.Now().UnixNano() + int64(storeCooldown), err: err})
	if b.onStoreFailure != nil {
		b.onStoreFailure(ctx, err)
	}
}

// reserve reserves amount for t from slot i under limit: in the store, or
// in the local counter when the store fails under FailOpen. It returns an
// error when the store failed under FailClosed or ctx ended.
func (b *budgeter) reserve(ctx context.Context, t *budgetTicket, i int, s *budgetSlot, amount, limit NanoUSD) (BudgetBalance, bool, error) {
	now := t.nowNs
	if b.mem != nil {
		bal, ok := b.mem.reserve(s.key, &s.h, amount, limit, s.expiresNs, now)
		if ok {
			t.held[i] = amount
		}
		return bal, ok, nil
	}
	cause, failed := b.storeFailed(now)
	if !failed && b.owing.Load() {
		cause, failed = b.payOwed(ctx, s)
	}
	if !failed {
		sctx, cancel := context.WithTimeout(ctx, b.timeout)
		bal, ok, err := b.store.Reserve(sctx, s.key, amount, limit, s.expires)
		cancel()
		if err == nil {
			s.known.Store(int64(bal.Spent + bal.Held))
			if ok {
				t.held[i] = amount
			}
			return bal, ok, nil
		}
		if ctx.Err() != nil {
			return BudgetBalance{}, false, ctx.Err()
		}
		b.markStoreFailed(ctx, err)
		cause = err
	}
	if b.policy == FailClosed {
		return BudgetBalance{}, false, cause
	}
	seed := NanoUSD(s.known.Load())
	local := NanoUSD(float64(max(limit-seed, 0)) * b.localShare)
	bal, ok := b.local.reserve(s.key, nil, amount, local, s.expiresNs, now)
	if ok {
		t.held[i] = amount
		t.local |= 1 << i
	}
	bal.Spent += seed
	return bal, ok, nil
}

// payOwed writes what slot s's counter is owed from an outage before a
// reservation reads it, so that charges made locally count against the
// shared limit at once. It reports a failure as storeFailed does.
func (b *budgeter) payOwed(ctx context.Context, s *budgetSlot) (error, bool) {
	b.owedMu.Lock()
	o, ok := b.owed[s.key]
	delete(b.owed, s.key)
	b.owedMu.Unlock()
	if !ok {
		return nil, false
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	_, err := b.store.Settle(sctx, s.key, o.held, o.spent, o.expires)
	cancel()
	if err == nil {
		return nil, false
	}
	b.owe(s.key, o)
	b.markStoreFailed(ctx, err)
	return err, true
}

// owe adds o to what key is owed.
func (b *budgeter) owe(key string, o budgetOwed) {
	b.owedMu.Lock()
	if b.owed == nil {
		b.owed = make(map[string]budgetOwed)
	}
	cur := b.owed[key]
	cur.held += o.held
	cur.spent += o.spent
	cur.expires = o.expires
	b.owed[key] = cur
	b.owing.Store(true)
	b.owedMu.Unlock()
}

// release gives back everything t reserved.
func (b *budgeter) release(ctx context.Context, t *budgetTicket) {
	if t.e == nil {
		return
	}
	for i := range t.e.slots {
		if t.held[i] > 0 {
			b.settleSlot(ctx, t, i, &t.e.slots[i], 0)
		}
	}
}

// settle charges cost to every counter of t, releasing its holds, and
// raises soft-limit alerts.
func (b *budgeter) settle(ctx context.Context, t *budgetTicket, cost NanoUSD) {
	if t.e == nil {
		return
	}
	for i := range t.e.slots {
		s := &t.e.slots[i]
		if t.held[i] == 0 && cost == 0 {
			continue
		}
		bal, ok := b.settleSlot(ctx, t, i, s, cost)
		if ok && cost > 0 && s.rule.soft > 0 && bal.Spent >= s.rule.soft && bal.Spent-cost < s.rule.soft && b.onSoft != nil {
			b.onSoft(ctx, BudgetAlert{Limit: s.rule.limit, Tenant: s.tenant, Feature: s.feature,
				PeriodStart: s.start, PeriodEnd: s.end, Spent: bal.Spent})
		}
	}
}

// settleSlot releases t's hold on slot i and charges cost to it. ok says
// the balance is the shared store's.
func (b *budgeter) settleSlot(ctx context.Context, t *budgetTicket, i int, s *budgetSlot, cost NanoUSD) (BudgetBalance, bool) {
	held := t.held[i]
	t.held[i] = 0
	now := t.nowNs
	if b.mem != nil {
		return b.mem.settle(s.key, &s.h, held, cost, s.expiresNs, now), true
	}
	now = time.Now().UnixNano() // a shared store's cooldown is checked at the present
	sharedHeld := held
	if t.local&(1<<i) != 0 {
		b.local.settle(s.key, nil, held, cost, s.expiresNs, now)
		sharedHeld = 0
	}
	if sharedHeld == 0 && cost == 0 {
		return BudgetBalance{}, false
	}
	if _, failed := b.storeFailed(now); !failed {
		// Settlements happen after the call, even when the caller has
		// given up.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
		bal, err := b.store.Settle(sctx, s.key, sharedHeld, cost, s.expires)
		cancel()
		if err == nil {
			s.known.Store(int64(bal.Spent + bal.Held))
			if b.owing.Load() {
				b.flushLater()
			}
			return bal, true
		}
		b.markStoreFailed(ctx, err)
	}
	if t.local&(1<<i) == 0 {
		b.local.settle(s.key, nil, 0, cost, s.expiresNs, now) // so the local fallback sees the spend
	}
	b.owe(s.key, budgetOwed{held: sharedHeld, spent: cost, expires: s.expires})
	return BudgetBalance{}, false
}

// record sends the spend record of a charged call.
func (b *budgeter) record(ctx context.Context, rec SpendRecord) {
	if b.spend == nil {
		return
	}
	if b.memSpend != nil {
		_ = b.memSpend.RecordSpend(ctx, rec)
		return
	}
	if b.spendIsStore {
		if _, failed := b.storeFailed(time.Now().UnixNano()); failed {
			b.keep(ctx, rec)
			return
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	err := b.spend.RecordSpend(sctx, rec)
	cancel()
	if err != nil {
		if b.spendIsStore {
			b.markStoreFailed(ctx, err)
		} else if b.onStoreFailure != nil {
			b.onStoreFailure(ctx, err)
		}
		b.keep(ctx, rec)
		return
	}
	if b.owing.Load() {
		b.flushLater()
	}
}

// keep adds rec to the backlog written once the store answers again.
func (b *budgeter) keep(ctx context.Context, rec SpendRecord) {
	b.owedMu.Lock()
	full := len(b.backlog) >= budgetMaxBacklog
	if full {
		b.dropped++
	} else {
		b.backlog = append(b.backlog, rec)
		b.owing.Store(true)
	}
	b.owedMu.Unlock()
	if full && b.onStoreFailure != nil {
		b.onStoreFailure(ctx, &Error{Kind: KindUnavailable, Message: "budget: spend record dropped: the backlog of records kept while the store is down is full"})
	}
}

// flushLater writes the owed settlements and the spend backlog in the
// background, one flush at a time.
func (b *budgeter) flushLater() {
	if !b.flushing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer b.flushing.Store(false)
		b.flush()
	}()
}

func (b *budgeter) flush() {
	b.owedMu.Lock()
	owed, backlog := b.owed, b.backlog
	b.owed, b.backlog = nil, nil
	b.owing.Store(false)
	b.owedMu.Unlock()

	ctx := context.Background()
	var failed error
	for key, o := range owed {
		sctx, cancel := context.WithTimeout(ctx, b.timeout)
		_, failed = b.store.Settle(sctx, key, o.held, o.spent, o.expires)
		cancel()
		if failed != nil {
			break
		}
		delete(owed, key)
	}
	for len(backlog) > 0 && failed == nil {
		sctx, cancel := context.WithTimeout(ctx, b.timeout)
		failed = b.spend.RecordSpend(sctx, backlog[0])
		cancel()
		if failed == nil {
			backlog = backlog[1:]
		}
	}
	if failed == nil {
		return
	}
	b.markStoreFailed(ctx, failed)
	for key, o := range owed {
		b.owe(key, o)
	}
	b.owedMu.Lock()
	room := max(budgetMaxBacklog-len(b.backlog), 0)
	if len(backlog) > room {
		b.dropped += len(backlog) - room
		backlog = backlog[:room]
	}
	b.backlog = append(backlog, b.backlog...)
	b.owing.Store(true)
	b.owedMu.Unlock()
}

// budgetOutcome is what a finished call returned, for pricing it.
type budgetOutcome struct {
	err      error
	resp     *Response // a Generate answer, for output bytes
	model    string
	usage    Usage
	attempts int
	cacheHit bool
	answered bool // some of an answer arrived
	outBytes int  // output bytes received, for a stream
}

func (o *budgetOutcome) hasUsage() bool { return o.usage != Usage{} }

// budgetUnbilled lists the kinds of failure that a provider returns
// without processing (and billing) the request, or that are raised
// before anything is sent.
var budgetUnbilled = [numKinds]bool{
	KindRateLimited:      true,
	KindQuotaExhausted:   true,
	KindAuth:             true,
	KindNotFound:         true,
	KindInvalidRequest:   true,
	KindContextLength:    true,
	KindBudgetExceeded:   true,
	KindCircuitOpen:      true,
	KindLocalRateLimited: true,
	KindPolicyDenied:     true,
	KindGuardBlocked:     true,
}

// budgetFailedAttempts returns how many attempts of a call that failed
// with err are charged: its upstream attempts, less the last one when its
// kind says it was not processed.
func budgetFailedAttempts(err error) int {
	n := fallbackAttempts(err)
	if k := KindOf(err); k < numKinds && budgetUnbilled[k] {
		n--
	}
	return max(n, 0)
}

// cost prices a finished call: its answer at the answering model's price
// and its failed attempts at the requested model's input price.
func (b *budgeter) cost(ctx context.Context, t *budgetTicket, o *budgetOutcome) (NanoUSD, bool) {
	if o.cacheHit {
		return 0, false
	}
	var cost NanoUSD
	estimated := false
	failed := 0
	if o.answered {
		model := o.model
		if model == "" {
			model = t.model()
		}
		if p, est, ok := b.price(ctx, t, model); ok {
			estimated = est
			u := o.usage
			if !o.hasUsage() {
				u = Usage{InputTokens: b.promptTokens(t), OutputTokens: o.outputBytes()}
				estimated = true
			}
			cost = p.Cost(u)
		}
		failed = max(o.attempts, 1) - 1
	} else if o.err != nil {
		failed = budgetFailedAttempts(o.err)
	}
	if failed > 0 {
		if p, _, ok := b.price(ctx, t, t.model()); ok {
			cost = budgetSum(cost, p.inputCost(failed*b.promptTokens(t)))
			estimated = true
		}
	}
	return cost, estimated
}

// budgetSum returns a+b for non-negative amounts, saturating.
func budgetSum(a, b NanoUSD) NanoUSD {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// outputBytes returns the bytes of output received.
func (o *budgetOutcome) outputBytes() int {
	if o.resp == nil {
		return o.outBytes
	}
	m := &o.resp.Message
	n := len(m.Reasoning) + len(m.Refusal)
	for i := range m.Parts {
		n += len(m.Parts[i].Text)
	}
	for i := range m.ToolCalls {
		n += len(m.ToolCalls[i].Name) + len(m.ToolCalls[i].Arguments)
	}
	return n
}

// finish settles a call's counters with its cost and records its spend.
func (b *budgeter) finish(ctx context.Context, t *budgetTicket, o *budgetOutcome, cost NanoUSD, estimated bool) {
	b.settle(ctx, t, cost)
	if cost == 0 && !o.answered {
		return // nothing was sent, or nothing billed
	}
	rec := SpendRecord{Time: t.now.In(b.loc), Model: o.model, Cost: cost, Estimated: estimated, Usage: o.usage}
	if rec.Model == "" {
		rec.Model = t.model()
	}
	if t.req != nil {
		rec.Tenant, rec.User, rec.Feature = t.req.Principal.Tenant, t.req.Principal.User, t.req.Feature
	} else if t.ereq != nil {
		rec.Tenant, rec.User, rec.Feature = t.ereq.Principal.Tenant, t.ereq.Principal.User, t.ereq.Feature
	}
	b.record(ctx, rec)
}

// budgetModel is the Model Budget returns.
type budgetModel struct {
	b    *budgeter
	next Model
}

func (m *budgetModel) Generate(ctx context.Context, req *Request) (*Response, error) {
	t := budgetTicket{req: req}
	if req == nil {
		return m.next.Generate(ctx, req)
	}
	if err := m.b.admit(ctx, &t, req.Principal.Tenant, req.Feature); err != nil {
		return nil, err
	}
	resp, err := m.next.Generate(ctx, req)
	o := budgetOutcome{err: err}
	if err == nil && resp != nil {
		o.resp, o.model, o.usage, o.attempts, o.cacheHit, o.answered = resp, resp.Model, resp.Usage, resp.Attempts, resp.CacheHit, true
	}
	cost, estimated := m.b.cost(ctx, &t, &o)
	m.b.finish(ctx, &t, &o, cost, estimated)
	if o.answered {
		// No write when unchanged: a shared response stays unwritten.
		if usd := cost.Dollars(); resp.Cost != usd || resp.CostEstimated != estimated {
			resp.Cost, resp.CostEstimated = usd, estimated
		}
	}
	return resp, err
}

func (m *budgetModel) Stream(ctx context.Context, req *Request) iter.Seq2[Event, error] {
	if req == nil {
		return m.next.Stream(ctx, req)
	}
	return func(yield func(Event, error) bool) {
		s := &budgetStream{b: m.b, ctx: ctx, yield: yield}
		s.t.req = req
		if err := m.b.admit(ctx, &s.t, req.Principal.Tenant, req.Feature); err != nil {
			yield(Event{}, err)
			return
		}
		m.next.Stream(ctx, req)(s.each)
		if !s.costed {
			s.cost, s.estimated = m.b.cost(ctx, &s.t, &s.o)
		}
		m.b.finish(ctx, &s.t, &s.o, s.cost, s.estimated)
	}
}

// budgetStream watches one admitted stream for what it costs.
type budgetStream struct {
	b         *budgeter
	ctx       context.Context
	t         budgetTicket
	o         budgetOutcome
	yield     func(Event, error) bool
	cost      NanoUSD
	estimated bool
	costed    bool // cost is from the usage event
	stopped   bool
}

func (s *budgetStream) each(ev Event, err error) bool {
	if s.stopped {
		return false // a misbehaving iterator: never yield after false
	}
	if err != nil {
		s.o.err = err
	} else {
		o := &s.o
		o.answered = true
		if ev.Model != "" {
			o.model = ev.Model
		}
		if ev.Attempts > 0 {
			o.attempts = ev.Attempts
		}
		if ev.CacheHit {
			o.cacheHit = true
		}
		switch ev.Kind {
		case EventTextDelta, EventReasoningDelta, EventRefusalDelta:
			o.outBytes += len(ev.Text)
		case EventToolCallDelta:
			o.outBytes += len(ev.ToolCall.Name) + len(ev.ToolCall.Arguments)
		case EventUsage:
			o.usage = ev.Usage
			s.cost, s.estimated = s.b.cost(s.ctx, &s.t, o)
			s.costed = true
			ev.Cost, ev.CostEstimated = s.cost.Dollars(), s.estimated
		}
	}
	if !s.yield(ev, err) {
		s.stopped = true
		return false
	}
	return true
}

// budgetEmbedder is the Embedder BudgetEmbedder returns.
type budgetEmbedder struct {
	b    *budgeter
	next Embedder
}

func (m *budgetEmbedder) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	if req == nil {
		return m.next.Embed(ctx, req)
	}
	t := budgetTicket{ereq: req}
	if err := m.b.admit(ctx, &t, req.Principal.Tenant, req.Feature); err != nil {
		return nil, err
	}
	resp, err := m.next.Embed(ctx, req)
	o := budgetOutcome{err: err}
	if err == nil && resp != nil {
		o.model, o.usage, o.answered = resp.Model, resp.Usage, true
	}
	cost, estimated := m.b.cost(ctx, &t, &o)
	m.b.finish(ctx, &t, &o, cost, estimated)
	return resp, err
}
