package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
)

// DefaultBudgetPrefix is the key prefix of a BudgetStore whose options
// give none.
const DefaultBudgetPrefix = "keel:budget:"

// DefaultSpendRetention is how long a BudgetStore keeps a day's spend
// totals when its options do not say.
const DefaultSpendRetention = 400 * 24 * time.Hour

// BudgetStoreOptions configure a BudgetStore.
type BudgetStoreOptions struct {
	// Prefix is prepended to every key; DefaultBudgetPrefix when empty.
	// Give each application its own prefix when several share a Redis.
	Prefix string
	// SpendRetention is how long a day's spend totals are kept after the
	// day starts; DefaultSpendRetention when zero.
	SpendRetention time.Duration
}

// BudgetStore is an llm.BudgetStore and llm.SpendStore in Redis, shared by
// every process that uses the same server and prefix, so that replicas
// spend from the same budgets and report the same spend. It is safe for
// concurrent use.
//
// A budget counter is a hash at Prefix+key with the fields "spent" and
// "held", in integer nano-dollars, changed by one Lua script per call
// (HINCRBY, so amounts stay exact 64-bit integers) and set to expire at
// the time the middleware gives (its period's end plus a day). The limit
// check runs in Lua's doubles, exact up to 2⁵³ nano-dollars (about nine
// million dollars on one counter).
//
// A day's spend is a hash at Prefix+"spend:"+day (day as 2006-01-02, in
// the location of the record's Time) with eight fields per tenant,
// feature and model, named tenant|feature|model|counter ("|" and "\" in
// names escaped by "\"), counter being cost (nano-dollars), calls, est
// (calls partly estimated), in, out, cached, write and reason (tokens).
// Each record is one script of HINCRBYs; the hash expires SpendRetention
// after the day starts.
type BudgetStore struct {
	client    redis.UniversalClient
	prefix    string
	retention time.Duration
}

var (
	_ llm.BudgetStore = (*BudgetStore)(nil)
	_ llm.SpendStore  = (*BudgetStore)(nil)
)

// NewBudgetStore returns a BudgetStore that keeps its counters and spend
// in client's Redis. The client stays the caller's to configure and
// close; create it with ContextTimeoutEnabled so that the middleware's
// StoreTimeout bounds every call.
func NewBudgetStore(client redis.UniversalClient, opts BudgetStoreOptions) *BudgetStore {
	if opts.Prefix == "" {
		opts.Prefix = DefaultBudgetPrefix
	}
	if opts.SpendRetention <= 0 {
		opts.SpendRetention = DefaultSpendRetention
	}
	return &BudgetStore{client: client, prefix: opts.Prefix, retention: opts.SpendRetention}
}

// budgetReserveScript: ARGV = amount, limit, expiry (Unix ms). Returns
// {admitted, spent, held}, amounts as decimal strings.
var budgetReserveScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'spent', 'held')
local spent, held = v[1] or '0', v[2] or '0'
if tonumber(spent) + tonumber(held) + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, spent, held}
end
if ARGV[1] ~= '0' then
  redis.call('HINCRBY', KEYS[1], 'held', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
v = redis.call('HMGET', KEYS[1], 'spent', 'held')
return {1, v[1] or '0', v[2] or '0'}
`)

// budgetSettleScript: ARGV = held to release, spent to add, expiry (Unix
// ms). Returns {spent, held}. Amounts go to HINCRBY as the strings they
// came in, never through Lua's doubles.
var budgetSettleScript = redis.NewScript(`
local held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
if ARGV[1] ~= '0' then
  if tonumber(ARGV[1]) >= held then
    redis.call('HSET', KEYS[1], 'held', '0')
  else
    redis.call('HINCRBY', KEYS[1], 'held', '-' .. ARGV[1])
  end
end
if ARGV[2] ~= '0' then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'spent', 'held')
return {v[1] or '0', v[2] or '0'}
`)

// budgetSpendScript: ARGV = field stem, expiry (Unix ms), then the eight
// counters in budgetSpendFields order.
var budgetSpendScript = redis.NewScript(`
for i, name in ipairs({'cost', 'calls', 'est', 'in', 'out', 'cached', 'write', 'reason'}) do
  local v = ARGV[i + 2]
  if v ~= '0' then redis.call('HINCRBY', KEYS[1], ARGV[1] .. name, v) end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 0
`)

func budgetNonNeg(n llm.NanoUSD) string { return strconv.FormatInt(int64(max(n, 0)), 10) }

// Reserve implements llm.BudgetStore.
func (s *BudgetStore) Reserve(ctx context.Context, key string, amount, limit llm.NanoUSD, expires time.Time) (llm.BudgetBalance, bool, error) {
	res, err := budgetReserveScript.Run(ctx, s.client, []string{s.prefix + key},
		budgetNonNeg(amount), strconv.FormatInt(int64(limit), 10), expires.UnixMilli()).Slice()
	if err != nil {
		return llm.BudgetBalance{}, false, storeError(err)
	}
	if len(res) != 3 {
		return llm.BudgetBalance{}, false, budgetBadReply("reserve")
	}
	bal, err := budgetBalanceOf(res[1], res[2])
	if err != nil {
		return llm.BudgetBalance{}, false, err
	}
	ok, _ := res[0].(int64)
	return bal, ok == 1, nil
}

// Settle implements llm.BudgetStore.
func (s *BudgetStore) Settle(ctx context.Context, key string, held, spent llm.NanoUSD, expires time.Time) (llm.BudgetBalance, error) {
	res, err := budgetSettleScript.Run(ctx, s.client, []string{s.prefix + key},
		budgetNonNeg(held), budgetNonNeg(spent), expires.UnixMilli()).Slice()
	if err != nil {
		return llm.BudgetBalance{}, storeError(err)
	}
	if len(res) != 2 {
		return llm.BudgetBalance{}, budgetBadReply("settle")
	}
	return budgetBalanceOf(res[0], res[1])
}

// Balance implements llm.BudgetStore.
func (s *BudgetStore) Balance(ctx context.Context, key string) (llm.BudgetBalance, error) {
	res, err := s.client.HMGet(ctx, s.prefix+key, "spent", "held").Result()
	if err != nil {
		return llm.BudgetBalance{}, storeError(err)
	}
	if len(res) != 2 {
		return llm.BudgetBalance{}, budgetBadReply("HMGET")
	}
	return budgetBalanceOf(res[0], res[1])
}

// budgetBalanceOf parses the spent and held amounts of a reply; nil is zero.
func budgetBalanceOf(spent, held any) (llm.BudgetBalance, error) {
	var b llm.BudgetBalance
	for _, f := range [...]struct {
		v   any
		dst *llm.NanoUSD
	}{{spent, &b.Spent}, {held, &b.Held}} {
		switch v := f.v.(type) {
		case nil:
		case string:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return llm.BudgetBalance{}, budgetBadReply("a non-integer amount")
			}
			*f.dst = llm.NanoUSD(n)
		case int64:
			*f.dst = llm.NanoUSD(v)
		default:
			return llm.BudgetBalance{}, budgetBadReply("an amount of an unexpected type")
		}
	}
	return b, nil
}

func budgetBadReply(what string) error {
	return &llm.Error{Kind: llm.KindBadResponse, Provider: "redis", Message: "redisstore: unexpected reply from the budget store: " + what}
}

// spendKey returns the key of the day holding t, in t's location, and the
// day's start.
func (s *BudgetStore) spendKey(t time.Time) (string, time.Time) {
	y, m, d := t.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	return s.prefix + "spend:" + start.Format(time.DateOnly), start
}

// RecordSpend implements llm.SpendRecorder.
func (s *BudgetStore) RecordSpend(ctx context.Context, rec llm.SpendRecord) error {
	key, start := s.spendKey(rec.Time)
	var stem strings.Builder
	for _, name := range [...]string{rec.Tenant, rec.Feature, rec.Model} {
		budgetSpendEscape(&stem, name)
		stem.WriteByte('|')
	}
	est := 0
	if rec.Estimated {
		est = 1
	}
	u := rec.Usage
	args := []any{stem.String(), start.Add(s.retention).UnixMilli(),
		budgetNonNeg(rec.Cost), "1", strconv.Itoa(est),
		strconv.Itoa(max(u.InputTokens, 0)), strconv.Itoa(max(u.OutputTokens, 0)), strconv.Itoa(max(u.CachedInputTokens, 0)),
		strconv.Itoa(max(u.CacheWriteTokens, 0)), strconv.Itoa(max(u.ReasoningTokens, 0))}
	if err := budgetSpendScript.Run(ctx, s.client, []string{key}, args...).Err(); err != nil {
		return storeError(err)
	}
	return nil
}

// Spend implements llm.SpendStore: one HGETALL per day, pipelined.
func (s *BudgetStore) Spend(ctx context.Context, from, to time.Time) ([]llm.SpendTotal, error) {
	days := llm.SpendDays(from, to)
	if len(days) == 0 {
		return nil, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(days))
	for i, d := range days {
		key, _ := s.spendKey(d)
		cmds[i] = pipe.HGetAll(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeError(err)
	}
	type group struct{ tenant, feature, model string }
	sums := make(map[group]*llm.SpendTotal)
	for _, cmd := range cmds {
		for field, value := range cmd.Val() {
			names, counter, ok := budgetParseSpendField(field)
			if !ok {
				continue // not ours
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, budgetBadReply("a non-integer spend counter")
			}
			g := group{names[0], names[1], names[2]}
			t := sums[g]
			if t == nil {
				t = &llm.SpendTotal{Tenant: g.tenant, Feature: g.feature, Model: g.model}
				sums[g] = t
			}
			switch counter {
			case "cost":
				t.Cost += llm.NanoUSD(n)
			case "calls":
				t.Calls += n
			case "est":
				t.EstimatedCalls += n
			case "in":
				t.Usage.InputTokens += int(n)
			case "out":
				t.Usage.OutputTokens += int(n)
			case "cached":
				t.Usage.CachedInputTokens += int(n)
			case "write":
				t.Usage.CacheWriteTokens += int(n)
			case "reason":
				t.Usage.ReasoningTokens += int(n)
			}
		}
	}
	out := make([]llm.SpendTotal, 0, len(sums))
	for _, t := range sums {
		out = append(out, *t)
	}
	return out, nil
}

func budgetSpendEscape(b *strings.Builder, s string) {
	for i := range len(s) {
		if c := s[i]; c == '|' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}

// budgetParseSpendField splits tenant|feature|model|counter, unescaping names.
func budgetParseSpendField(f string) (names [3]string, counter string, ok bool) {
	var part strings.Builder
	n := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '\\' && i+1 < len(f):
			i++
			part.WriteByte(f[i])
		case c == '|' && n < 3:
			names[n] = part.String()
			part.Reset()
			n++
		default:
			part.WriteByte(c)
		}
	}
	if n != 3 {
		return names, "", false
	}
	return names, part.String(), true
}
