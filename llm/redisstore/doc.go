// Package redisstore holds keel's Redis backends, for services that run as
// several replicas: LimitStore (rate limits), CacheStore (response and
// embedding caches) and BudgetStore (budgets and spend). LimitStore keeps the
// state of llm.RateLimit in Redis, so that every replica of a service
// spends from the same client-side limits:
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "127.0.0.1:6379",
//		ContextTimeoutEnabled: true, // let RateLimit's StoreTimeout cut slow calls short
//	})
//	store := redisstore.NewLimitStore(rdb, redisstore.LimitStoreOptions{Prefix: "checkout:rl:"})
//	limit := llm.RateLimit(llm.RateLimitOptions{
//		Name:         "openai/gpt-4o-mini", // the same on every replica
//		Limits:       llm.RateLimits{RequestsPerMinute: 4500, TokensPerMinute: 1_800_000},
//		TenantLimits: llm.RateLimits{TokensPerMinute: 300_000},
//		Store:        store,
//		StoreTimeout: 50 * time.Millisecond,
//		OnStoreError: llm.FailOpen,
//		LocalShare:   0.25, // four replicas share the limits while Redis is down
//	})
//	model := llm.Chain(provider, limit)
//
// # Atomicity and keys
//
// Each Reserve and Refund is one Lua script run on one key (EVALSHA, with
// EVAL when the server has not cached the script yet), so the GCRA update
// documented on llm.LimitStore is atomic however many replicas share the
// server, and the store works on Redis Cluster. A key holds the bucket's
// theoretical arrival time as decimal microseconds since
// 2024-01-01T00:00:00Z, a point recent enough for Lua's doubles to keep
// sub-microsecond precision, and expires when the bucket is full again, so
// idle tenants cost nothing.
//
// # Clocks
//
// By default the scripts read the Redis server's clock (TIME) and ignore
// the now argument, so replicas whose clocks disagree still share one
// timeline: a replica whose clock ran a second ahead would otherwise see
// every bucket a second fuller and admit a second's worth of extra units.
// Waits are durations and need no shared clock. On Redis Cluster each key
// follows its shard's primary clock; a failover to a replica with a skewed
// clock shifts that shard's buckets once by the skew. ClientClock makes the
// store use the caller's now instead (deterministic tests, or a fleet with
// tightly synchronised clocks).
//
// # Failures
//
// Errors are *llm.Error values of kind llm.KindUnavailable or
// llm.KindTimeout wrapping go-redis's error; RateLimit applies its
// OnStoreError policy to them. Create the client with
// ContextTimeoutEnabled: without it go-redis bounds socket I/O by its
// ReadTimeout and WriteTimeout (seconds) rather than by the context, so a
// hung server would hold calls longer than RateLimit's StoreTimeout.
// Scripts need Redis 5 or newer (or 3.2 with script effects replication).
//
// # Cache
//
// CacheStore keeps llm.Cache's answers and llm.CacheEmbedder's vectors in
// Redis, so that an answer one replica paid for is a hit on every replica:
//
//	store := redisstore.NewCacheStore(rdb, redisstore.CacheStoreOptions{Prefix: "checkout:cache:"})
//	cache := llm.Cache(llm.CacheOptions{Store: store, TTL: time.Hour, StoreTimeout: 50 * time.Millisecond})
//	embed := llm.CacheEmbedder(llm.EmbedCacheOptions{Store: store})
//
// A response is one key holding compact versioned JSON (SET with PX for
// the TTL; an entry of another version is a miss, a corrupt one an error of
// kind llm.KindBadResponse); a vector is one key holding its float32 values
// in little-endian order, and batches of vectors are read and written in
// one pipeline, which go-redis splits by hash slot, so the store works on
// Redis Cluster. Keys are the prefix plus the middleware's hex BLAKE2b-256 key;
// tenants are inside the hash, not in the key's text. When Redis is down or
// slow the caches fail open: the call goes upstream, the error goes to
// OnError, and the store is left alone for a second.
//
// # Budgets and spend
//
// BudgetStore keeps llm.Budget's counters and the daily spend totals in
// Redis, so that every replica spends from the same budgets and reports
// the same spend:
//
//	store := redisstore.NewBudgetStore(rdb, redisstore.BudgetStoreOptions{Prefix: "checkout:budget:"})
//	budget := llm.Budget(llm.BudgetOptions{
//		Limits:       []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Soft: 40, Hard: 50}},
//		Store:        store, // also records spend: llm.SpendReport(ctx, store, from, to, llm.ByTenant)
//		StoreTimeout: 50 * time.Millisecond,
//		OnStoreError: llm.FailOpen,
//		LocalShare:   0.25, // four replicas share the remaining headroom while Redis is down
//	})
//
// A counter is a hash (fields spent and held, integer nano-dollars) at
// Prefix plus the key llm.Budget documents ("t:acme:d:2025-06-01"); Reserve
// and Settle are one Lua script each on that one key (HINCRBY, so amounts
// stay exact 64-bit integers; the limit check is exact up to 2^53
// nano-dollars), and the key expires a day after its period ends. A day's
// spend is the hash Prefix+"spend:"+day with HINCRBY counters per tenant,
// feature and model, kept for SpendRetention (400 days by default). Every
// script touches one key, so the store works on Redis Cluster.
package redisstore
