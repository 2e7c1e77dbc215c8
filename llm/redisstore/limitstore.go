package redisstore

import (
	"context"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
)

// DefaultLimitPrefix is the key prefix of a LimitStore whose options give
// none.
const DefaultLimitPrefix = "keel:ratelimit:"

// limitEpoch is the origin of the stored times: 2024-01-01T00:00:00Z, in
// Unix seconds.
const limitEpoch = 1704067200

// LimitStoreOptions configure a LimitStore.
type LimitStoreOptions struct {
	// Prefix is prepended to every key; DefaultLimitPrefix when empty.
	// Give each application its own prefix when several share a Redis.
	Prefix string
	// ClientClock makes the store use the now the caller passes instead
	// of the Redis server's clock (see the package documentation on
	// clocks).
	ClientClock bool
}

// LimitStore is an llm.LimitStore in Redis, shared by every process that
// uses the same server and prefix. It is safe for concurrent use.
type LimitStore struct {
	client      redis.UniversalClient
	prefix      string
	clientClock bool
}

var _ llm.LimitStore = (*LimitStore)(nil)

// NewLimitStore returns a LimitStore that keeps its buckets in client's
// Redis. The client stays the caller's to configure and close; create it
// with ContextTimeoutEnabled so that context deadlines bound every call.
func NewLimitStore(client redis.UniversalClient, opts LimitStoreOptions) *LimitStore {
	if opts.Prefix == "" {
		opts.Prefix = DefaultLimitPrefix
	}
	return &LimitStore{client: client, prefix: opts.Prefix, clientClock: opts.ClientClock}
}

// The scripts share their clock and bookkeeping. Times are microseconds
// since limitEpoch; the value of a key is its theoretical arrival time
// (TAT), and it expires when the bucket is full again. A wait of up to one
// microsecond counts as none, as in llm.MemoryLimitStore.
const scriptPrelude = `
if redis.replicate_commands then redis.replicate_commands() end
local now
if ARGV[#ARGV] == '' then
  local t = redis.call('TIME')
  now = (tonumber(t[1]) - 1704067200) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[#ARGV])
end
local function store(tat)
  if tat > now + 8e15 then tat = now + 8e15 end
  if tat <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
`

// reserveScript: ARGV = cost (n × interval), tolerance (burst × interval),
// max wait, now (empty for the server clock). Returns {admitted, wait}.
var reserveScript = redis.NewScript(scriptPrelude + `
local cost, tau, maxwait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = tat + cost - tau - now
if wait <= 1 then wait = 0 end
if wait > 4e15 then wait = 4e15 end
if wait > maxwait then return {0, math.ceil(wait)} end
store(tat + cost)
return {1, math.ceil(wait)}
`)

// refundScript: ARGV = cost (n × interval), now (empty for the server clock).
var refundScript = redis.NewScript(scriptPrelude + `
store(tat - tonumber(ARGV[1]))
return 0
`)

// limitMax bounds the emission interval, the tolerance and the cost of a
// reservation, in microseconds (about 127 years, the script's bound on a
// wait), as gcraMax bounds llm.MemoryLimitStore's arithmetic: a tiny
// PerMinute (1e-12) otherwise makes times so large that the script loses
// all precision and its key expiry is a number Redis rejects. The script
// also keeps a stored time within twice this of now.
const limitMax = 4e15

// limitParams returns the emission interval and tolerance of limit in
// microseconds, each at most limitMax, and false when limit is unlimited.
func limitParams(limit llm.Limit) (interval, tau float64, limited bool) {
	if !(limit.PerMinute > 0) || math.IsInf(limit.PerMinute, 1) {
		return 0, 0, false
	}
	interval = min(float64(time.Minute/time.Microsecond)/limit.PerMinute, limitMax)
	burst := limit.Burst
	if !(burst > 0) {
		burst = limit.PerMinute
	}
	return interval, min(burst*interval, limitMax), true
}

// limitCost returns the cost of n units at interval, at most limitMax.
func limitCost(n, interval float64) float64 {
	return min(n*interval, limitMax)
}

// clock returns the script's now argument.
func (s *LimitStore) clock(now time.Time) any {
	if !s.clientClock {
		return ""
	}
	return float64(now.UnixNano()-limitEpoch*int64(time.Second)) / float64(time.Microsecond)
}

// Reserve implements llm.LimitStore.
func (s *LimitStore) Reserve(ctx context.Context, key string, n float64, limit llm.Limit, now time.Time, maxWait time.Duration) (time.Duration, bool, error) {
	interval, tau, limited := limitParams(limit)
	if !limited || !(n > 0) {
		return 0, true, nil
	}
	maxWaitMicros := max(maxWait, 0) / time.Microsecond
	res, err := reserveScript.Run(ctx, s.client, []string{s.prefix + key},
		limitCost(n, interval), tau, int64(maxWaitMicros), s.clock(now)).Int64Slice()
	if err != nil {
		return 0, false, storeError(err)
	}
	if len(res) != 2 {
		return 0, false, &llm.Error{Kind: llm.KindBadResponse, Provider: "redis", Message: "redisstore: unexpected reply from the reserve script"}
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

// Refund implements llm.LimitStore.
func (s *LimitStore) Refund(ctx context.Context, key string, n float64, limit llm.Limit, now time.Time) error {
	interval, _, limited := limitParams(limit)
	if !limited || !(n > 0) {
		return nil
	}
	if err := refundScript.Run(ctx, s.client, []string{s.prefix + key}, limitCost(n, interval), s.clock(now)).Err(); err != nil {
		return storeError(err)
	}
	return nil
}

// storeError wraps a go-redis error as an *llm.Error of kind
// KindUnavailable or KindTimeout.
func storeError(err error) error {
	return llm.TransportError("redis", "", err)
}
