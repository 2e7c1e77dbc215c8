// Package limitstoretest is the contract test suite for implementations of
// llm.LimitStore: the in-memory store in package llm and the Redis store in
// llm/redisstore both pass it, and so must any other backend.
//
// Run checks the GCRA semantics documented on llm.LimitStore with explicit
// clock values: exact admission counts at the limit, refill over time, the
// burst cap, waits and the retry-after of refusals, refunds, per-key
// isolation, and that concurrent callers, alone or spread over several
// handles on one backend (replicas sharing one Redis), never jointly exceed
// a limit:
//
//	func TestLimitStoreContract(t *testing.T) {
//		limitstoretest.Run(t, func(t *testing.T, n int) []llm.LimitStore {
//			s := llm.NewMemoryLimitStore()
//			return slices.Repeat([]llm.LimitStore{s}, n)
//		})
//	}
//
// A store that ignores the caller's clock (the Redis store's default, which
// reads the server's clock) must be run in a mode that honours it, or
// tested with its own real-time tests.
package limitstoretest
