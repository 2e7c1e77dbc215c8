// Package cachestoretest is the contract test suite for implementations of
// llm.CacheStore (and of llm.EmbedCacheStore, when a store implements it
// too): llm.MemoryCache and the Redis store in llm/redisstore both pass
// it, and so must any other backend.
//
// Run checks misses, the round trip of every answer field of a Response
// (text and image parts, tool calls, refusal, reasoning, Extra, usage,
// finish reason, model, provider, request id), that the store neither
// keeps the caller's Response nor hands out its own, overwrites, deletes,
// expiry, per-key isolation, concurrent use, and that several handles on
// one backend (replicas sharing one Redis) see each other's entries. For
// stores that also implement llm.EmbedCacheStore it checks batches of
// vectors the same way:
//
//	func TestCacheStoreContract(t *testing.T) {
//		cachestoretest.Run(t, func(t *testing.T, n int) []llm.CacheStore {
//			s := llm.NewMemoryCache(1 << 20)
//			return slices.Repeat([]llm.CacheStore{s}, n)
//		})
//	}
//
// Expiry is checked on the store's own clock with short real waits: an
// entry with a TTL of a few milliseconds must be gone within a few
// seconds, and entries with a long or no TTL must stay.
package cachestoretest
