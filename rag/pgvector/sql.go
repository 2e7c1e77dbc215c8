package pgvector

import (
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Table, index and constraint names, after Options.TablePrefix. They are
// named explicitly, not left to the server, so that a long prefix cannot
// make the server truncate two generated names into one.
const (
	nameDocuments     = "documents"
	nameChunks        = "chunks"
	nameVersion       = "schema_version"
	nameDocumentsPK   = "documents_pkey"
	nameChunksPK      = "chunks_pkey"
	nameChunksFK      = "chunks_document_fkey"
	nameVersionPK     = "schema_version_pkey"
	nameEmbeddingHNSW = "chunks_embedding_hnsw"
	nameTSVGIN        = "chunks_tsv_gin"
	nameMetadataGIN   = "chunks_metadata_gin"
	nameOrQuery       = "or_query"
	// longestName is the longest of the names above, to bound the prefix.
	longestName = nameEmbeddingHNSW
)

// names are the store's objects as quoted SQL identifiers: tables
// qualified with their schema, indexes and constraints bare (they live in
// their table's schema).
type names struct {
	schema                     string
	documents, chunks, version string
	orQuery                    string // the keyword query function
	prefix                     string
}

func newNames(schema, prefix string) names {
	q := func(name string) string { return pgx.Identifier{schema, prefix + name}.Sanitize() }
	return names{
		schema:    pgx.Identifier{schema}.Sanitize(),
		documents: q(nameDocuments),
		chunks:    q(nameChunks),
		version:   q(nameVersion),
		orQuery:   q(nameOrQuery),
		prefix:    prefix,
	}
}

// bare returns an index or constraint name, quoted.
func (n names) bare(name string) string { return pgx.Identifier{n.prefix + name}.Sanitize() }

// statements are the SQL texts of a store, built once its settings and
// the vector extension's schema are known. Only identifiers that New
// checked are put into them; every value is a bind parameter.
type statements struct {
	ext      string // the vector extension's schema, quoted
	vecType  string // "ext".vector(dim) or "ext".halfvec(dim)
	distance string // OPERATOR("ext".<=>): cosine distance
	language string // 'english'::pg_catalog.regconfig

	upsertDocument, deleteChunks, insertChunk string
	updateDocument, updateChunks              string
	deleteDocument                            string
	getDocument, listDocuments, getChunks     string
	// vectorSelect and keywordSelect start a search; the rest of the
	// WHERE clause, the order and the limit follow.
	vectorSelect, keywordSelect string
	// keywordQuery is the tsquery of a keyword search's text ($1).
	keywordQuery string
}

// chunkColumns are what a search reads of a chunk, in scanChunk's order.
const chunkColumns = `c.tenant, c.doc_id, c.idx, c.start_offset, c.end_offset, c.text, c.headings,
	c.embedding::pg_catalog.float4[], c.everyone, c.users, c.groups, c.title, c.source_url, c.updated_at, c.metadata::text`

// documentColumns are what a document read returns, in scanDocument's
// order.
const documentColumns = `tenant, id, everyone, users, groups, title, source_url, updated_at, metadata::text, fingerprint, chunks`

// vectorParam is the first parameter of a vector search: the query
// vector, sent as a float4 array (a type every driver knows, so the pool
// needs no pgvector type registration) and cast on the server.
const vectorParam = "$1"

func (s *Store) statements(extSchema string) *statements {
	ext := pgx.Identifier{extSchema}.Sanitize()
	typ := "vector"
	if s.opts.Dim > maxVectorDim {
		typ = "halfvec"
	}
	st := &statements{
		ext:      ext,
		vecType:  ext + "." + typ + "(" + strconv.Itoa(s.opts.Dim) + ")",
		distance: "OPERATOR(" + ext + ".<=>)",
		// isLanguage admitted only letters, digits, _ and one dot.
		language: "'" + s.opts.Language + "'::pg_catalog.regconfig",
	}
	D, C := s.names.documents, s.names.chunks
	st.upsertDocument = `INSERT INTO ` + D + ` (tenant, id, everyone, users, groups, title, source_url, updated_at, metadata, fingerprint, chunks)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10, $11)
		ON CONFLICT (tenant, id) DO UPDATE SET everyone = excluded.everyone, users = excluded.users, groups = excluded.groups,
			title = excluded.title, source_url = excluded.source_url, updated_at = excluded.updated_at,
			metadata = excluded.metadata, fingerprint = excluded.fingerprint, chunks = excluded.chunks`
	st.deleteChunks = `DELETE FROM ` + C + ` WHERE tenant = $1 AND doc_id = $2`
	// The document's fields are copied from its row, just written in the
	// same transaction, so that chunk and document cannot disagree.
	st.insertChunk = `INSERT INTO ` + C + ` (tenant, doc_id, idx, start_offset, end_offset, text, headings, embedding, tsv,
			everyone, users, groups, title, source_url, updated_at, metadata)
		SELECT d.tenant, d.id, $3::integer, $4::bigint, $5::bigint, $6::text, $7::text[], $8::pg_catalog.float4[]::` + st.vecType + `,
			` + st.keywordVector("d.title", "$7::text[]", "$6::text") + `,
			d.everyone, d.users, d.groups, d.title, d.source_url, d.updated_at, d.metadata
		FROM ` + D + ` d WHERE d.tenant = $1 AND d.id = $2`
	st.updateDocument = `UPDATE ` + D + ` SET everyone = $3, users = $4, groups = $5, title = $6, source_url = $7,
			updated_at = $8, metadata = $9::text::jsonb, fingerprint = $10
		WHERE tenant = $1 AND id = $2`
	// Rows whose copies already match are left alone: rewriting a row
	// writes a new version of it, and a new entry in every index,
	// including the HNSW graph.
	st.updateChunks = `UPDATE ` + C + ` c SET everyone = d.everyone, users = d.users, groups = d.groups, title = d.title,
			source_url = d.source_url, updated_at = d.updated_at, metadata = d.metadata,
			tsv = CASE WHEN c.title = d.title THEN c.tsv ELSE ` + st.keywordVector("d.title", "c.headings", "c.text") + ` END
		FROM ` + D + ` d
		WHERE d.tenant = $1 AND d.id = $2 AND c.tenant = $1 AND c.doc_id = $2
			AND (c.everyone, c.users, c.groups, c.title, c.source_url, c.updated_at, c.metadata)
				IS DISTINCT FROM (d.everyone, d.users, d.groups, d.title, d.source_url, d.updated_at, d.metadata)`
	st.deleteDocument = `DELETE FROM ` + D + ` WHERE tenant = $1 AND id = $2` // chunks: ON DELETE CASCADE
	st.getDocument = `SELECT ` + documentColumns + ` FROM ` + D + ` WHERE tenant = $1 AND id = $2`
	st.listDocuments = `SELECT ` + documentColumns + ` FROM ` + D + ` WHERE tenant = $1 ORDER BY id`
	// One statement, so that the chunks and the document come from one
	// snapshot: a document without chunks is one row of NULL chunk
	// columns, a missing document no row.
	st.getChunks = `SELECT d.tenant, d.id, coalesce(c.idx, -1), coalesce(c.start_offset, 0), coalesce(c.end_offset, 0),
			coalesce(c.text, ''), coalesce(c.headings, '{}'), c.embedding::pg_catalog.float4[],
			d.everyone, d.users, d.groups, d.title, d.source_url, d.updated_at, d.metadata::text
		FROM ` + D + ` d LEFT JOIN ` + C + ` c ON c.tenant = d.tenant AND c.doc_id = d.id
		WHERE d.tenant = $1 AND d.id = $2 ORDER BY c.idx`
	st.vectorSelect = `SELECT ` + chunkColumns + `, c.embedding ` + st.distance + ` ` + vectorParam + `::pg_catalog.float4[]::` + st.vecType + ` AS distance
		FROM ` + C + ` c WHERE `
	// The query's lexemes are OR-ed by the function Migrate creates (see
	// orQueryBody); a query without any is NULL, which matches nothing.
	st.keywordQuery = s.names.orQuery + `(` + st.language + `, $1::text)`
	st.keywordSelect = `SELECT ` + chunkColumns + `, pg_catalog.ts_rank_cd(c.tsv, ` + st.keywordQuery + `)::float8 AS score
		FROM ` + C + ` c WHERE c.tsv @@ ` + st.keywordQuery + ` AND `
	return st
}

// keywordVector is the tsvector of a chunk: its document's title, its
// heading path and its text, as rag/memstore indexes them.
func (st *statements) keywordVector(title, headings, text string) string {
	return `pg_catalog.to_tsvector(` + st.language + `, pg_catalog.concat_ws(E'\n', ` + title +
		`, pg_catalog.array_to_string(` + headings + `, E'\n'), ` + text + `))`
}

// orQueryBody is the body of the function <prefix>or_query(regconfig,
// text): a tsquery matching any lexeme of the text, as the
// configuration normalises them. plainto_tsquery and
// websearch_to_tsquery AND the words, which would drop a chunk missing
// one of them; a keyword side ranks partial matches instead. Each lexeme
// is quoted for the tsquery syntax (quotes doubled, backslashes
// escaped), so no operator in the user's text is ever read as one.
//
// It is a function, declared IMMUTABLE (it is: every function it calls
// is), because the planner evaluates an immutable function of constants
// once, while planning: the search's WHERE clause then holds a constant
// tsquery, which the GIN index on tsv serves and whose selectivity the
// planner can estimate. The same expression written into the query
// would be a subquery, evaluated at run time, that the index cannot use.
const orQueryBody = `SELECT pg_catalog.string_agg(
		pg_catalog.chr(39) || pg_catalog.replace(pg_catalog.replace(l, pg_catalog.chr(92), pg_catalog.chr(92) || pg_catalog.chr(92)),
			pg_catalog.chr(39), pg_catalog.chr(39) || pg_catalog.chr(39)) || pg_catalog.chr(39),
		' | ')::pg_catalog.tsquery
	FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(pg_catalog.to_tsvector(cfg, query))) AS lexemes(l)`
