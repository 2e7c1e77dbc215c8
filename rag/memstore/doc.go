// Package memstore is the embedded rag.Store: everything in memory, exact
// vector search with SIMD kernels across cores, a BM25 index per tenant,
// optional int8 quantisation with exact rescoring, and Save/Load to a file.
//
//	store := memstore.New(memstore.Options{Dim: 768})
//	ing := &rag.Ingester{Store: store, Embedder: emb, Model: "text-embedding-3-small", Dimensions: 768, Splitter: splitter}
//	if _, err := ing.Ingest(ctx, docs...); err != nil { ... }
//	hits, err := store.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: p, K: 10}, Vector: q})
//
// Tenants are kept apart: each has its own vectors and keyword index, so a
// search reads only its tenant's data and BM25 term statistics are per
// tenant. Permissions and filters are evaluated per document before the
// top k is cut, so the result is exactly the top k of what the principal
// may see.
package memstore
