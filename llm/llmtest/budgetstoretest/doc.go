// Package budgetstoretest is the contract test suite for implementations
// of llm.BudgetStore and llm.SpendStore: the in-memory store in package
// llm and the Redis store in llm/redisstore both pass it, and so must any
// other backend.
//
// Run checks the counter semantics documented on llm.BudgetStore (exact
// reservations up to the limit, refusals that change nothing, settlement
// that releases holds and adds spend, clamping, exact large amounts,
// expiry, per-key isolation), that concurrent callers, alone or spread
// over several handles on one backend (replicas sharing one Redis), never
// jointly reserve past a limit, and the daily spend totals of
// llm.SpendStore (day boundaries in the records' location, names with
// separators, replicas adding to the same totals, llm.SpendReport
// grouping):
//
//	func TestBudgetStoreContract(t *testing.T) {
//		budgetstoretest.Run(t, func(t *testing.T, n int) []budgetstoretest.Store {
//			s := llm.NewMemoryBudgetStore()
//			return slices.Repeat([]budgetstoretest.Store{s}, n)
//		})
//	}
package budgetstoretest
