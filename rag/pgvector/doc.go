// Package pgvector is the rag.Store on PostgreSQL with the pgvector
// extension (0.8.0 or later): chunks and their vectors in an HNSW index
// with cosine distance, their text in a full-text index, and the tenant,
// ACL and filter of every search applied in SQL, before the top k is
// cut. It passes the same contract suite (rag/storetest) as
// rag/memstore.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, err := pgvector.New(ctx, pool, pgvector.Options{Dim: 1536})
//	err = store.Migrate(ctx) // at start-up: idempotent, under a lock
//	ing := &rag.Ingester{Store: store, Embedder: emb, Model: "text-embedding-3-small", Splitter: splitter}
//
// # Tables
//
// Migrate creates, in Options.Schema, tables named with
// Options.TablePrefix (default "keel_rag_"):
//
//   - documents: one row per document (tenant, id, ACL as everyone,
//     users[] and groups[], title, source URL, updated_at, metadata as
//     jsonb, fingerprint, chunk count), primary key (tenant, id).
//   - chunks: one row per chunk (tenant, doc_id, idx, byte offsets, text,
//     headings[], embedding, tsv), with copies of its document's ACL,
//     title, URL, date and metadata, so that a search filters the rows
//     the index scan visits without a join; primary key (tenant, doc_id,
//     idx), a foreign key to documents with ON DELETE CASCADE, an HNSW
//     index (vector_cosine_ops), a GIN index on tsv and a GIN index on
//     metadata (jsonb_path_ops).
//   - schema_version: the migrations applied, with the dimensions and
//     text search configuration they were made for.
//   - or_query(regconfig, text): the immutable function that turns a
//     keyword query into a tsquery (see KeywordSearch).
//
// The embedding column is vector(Dim) up to 2,000 dimensions and
// halfvec(Dim) (16-bit floats) up to 4,000, the limits of an HNSW index
// on each type. Vectors are stored normalised to unit length.
//
// # Searches
//
// A vector search runs in a read-only transaction that sets pgvector's
// hnsw.iterative_scan to relaxed_order, hnsw.ef_search and
// hnsw.max_scan_tuples (SET LOCAL, through set_config), then selects the
// rows of the principal's tenant that its ACL and the filter admit,
// ordered by cosine distance, LIMIT K, and sorts the page again in Go
// (relaxed order may return rows slightly out of order). Without
// iterative scans, the index offers ef_search candidates and the WHERE
// clause then drops the other tenants' rows, so the page comes back
// short. With them, the scan goes on through the graph until K rows
// pass. A page that still comes back short (fewer visible rows than K,
// or max_scan_tuples reached) is answered again, in the same snapshot,
// by an exact scan of what the principal may see; the planner may also
// choose the exact plan by itself, for a small tenant. Either way a
// search never returns a short page while K visible rows exist. The
// exact scan reads the tenant's rows that pass the filter (through the
// primary key, or the metadata index for an Equals filter), so a filter
// that admits a handful of a large tenant's rows costs a scan of that
// tenant.
//
// Recall against exact search, measured by TestRecallFiltered through
// the HNSW index (10,000 random unit vectors of 32 dimensions, 100
// tenants of 1% of the rows each, 100 queries of K=10, half of them also
// filtered by metadata to a third of the tenant; PostgreSQL 18,
// pgvector 0.8.7, m=16, ef_construction=64, ef_search=40):
//
//	iterative scan relaxed_order (the default)   recall@10 = 1.000, no short page
//	iterative scan strict_order                  recall@10 = 0.989, no short page
//	no iterative scan (pgvector before 0.8)      recall@10 = 0.024, every page short
//
// The test fails below 0.95. Random vectors have no clusters for the
// graph to follow, and at this size the iterative scan reaches most of a
// tenant's rows before K of them pass; on much larger tables measure
// your own recall and raise EfSearch if it falls short. Lowering
// MaxScanTuples trades recall for latency: at 50, recall fell to 0.886
// (with the exact fallback filling the pages left short).
//
// A keyword search uses PostgreSQL full-text search with the
// configuration Options.Language ("english" by default: stemming and
// stop words; see Options.Language for why). A chunk matches when its
// title, headings or text share any lexeme with the query, and hits are
// ranked by ts_rank_cd (cover density). These scores are not BM25
// (rag/memstore's): they carry no inverse document frequency and are
// not comparable across searches, so compare the ranks of two backends,
// never their scores.
//
// Every value (tenant, ACL entries, metadata keys and values, query
// text) reaches the server as a bind parameter; the only names written
// into SQL are the schema, the prefix and the language, checked by New.
//
// # Connections
//
// The store takes a pgxpool.Pool and never holds more than one of its
// connections at a time, nor any between calls; it needs no type
// registration on the pool (vectors travel as float4 arrays and are cast
// on the server). Each call is bounded by Options.Timeout.
package pgvector
