// Package rag is retrieval for grounded answers: documents and their
// chunks with permissions, splitting, incremental ingestion through an
// embedder stack, keyword, vector and hybrid search that never crosses a
// tenant or an ACL, reranking, and numbered sources whose citations can
// be checked.
//
// A Store holds the chunks (rag/memstore in memory, rag/pgvector on
// PostgreSQL); an Ingester fills it; a Retriever searches it for a
// principal; Sources turn the hits into the model's context and check the
// answer's citations:
//
//	ing := &rag.Ingester{Store: store, Embedder: emb, Model: "text-embedding-3-small", Splitter: splitter}
//	if _, err := ing.Sync(ctx, "acme", docs); err != nil { ... }
//
//	r := &rag.Retriever{Store: store, Embedder: emb, Model: "text-embedding-3-small"}
//	hits, err := r.Retrieve(ctx, principal, question, 5, rag.Filter{})
//	sources := rag.Sources(hits)
//	req.Messages = append(req.Messages, sources.Message(), llm.UserText(question))
//	...
//	report := sources.Check(answer.Message.Text()) // report.Coverage(), report.Invalid
//
// Security: a search or a document without a tenant is an error
// (ErrNoPrincipal), never "all tenants"; tenant, ACL and filters are
// applied inside the store before the top k is cut; retrieved text enters
// a conversation as untrusted content.
package rag
