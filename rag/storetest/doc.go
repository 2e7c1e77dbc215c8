// Package storetest is the contract every rag.Store passes: documents and
// chunks round-trip, replaces are atomic, searches never show a principal
// what its tenant, ACL or filter excludes, and return the right top k.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dim int) rag.Store { return memstore.New(memstore.Options{Dim: dim}) }, storetest.Options{Exact: true})
//	}
package storetest
