package pgvector

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keel-go/keel/rag"
)

// maxKeywordBytes bounds a keyword query: a search box never needs more,
// and PostgreSQL refuses a tsvector above 1 MB anyway.
const maxKeywordBytes = 64 << 10

// VectorSearch implements rag.Store. It runs in a read-only transaction
// that turns on pgvector's iterative index scan (hnsw.iterative_scan =
// relaxed_order): when the tenant, the ACL or the filter rejects the
// candidates the HNSW index offers first, the scan goes on through the
// graph until K rows pass the WHERE clause, so that a selective filter
// does not return a short page. If it still comes back short (fewer
// visible rows than K, or hnsw.max_scan_tuples reached), the same
// transaction answers with an exact scan of what the principal may see.
// Hits are ordered by cosine similarity (Score = 1 - cosine distance),
// highest first; ties by document ID and chunk index.
func (s *Store) VectorSearch(ctx context.Context, q rag.VectorQuery) ([]rag.Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	st, err := s.ready()
	if err != nil {
		return nil, err
	}
	approx, exact, args, err := s.vectorSQL(st, &q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var hits []rag.Hit
	// Repeatable read: the exact query, when it runs, sees the snapshot
	// the approximate one saw.
	settings, settingsArgs := s.searchSettings(q.K)
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The settings and the search in one round trip.
		b := &pgx.Batch{}
		b.Queue(settings, settingsArgs...)
		b.Queue(approx, args...)
		br := tx.SendBatch(ctx, b)
		var err error
		if _, err = br.Exec(); err == nil {
			hits, err = collectHits(br.Query())
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if len(hits) < q.K && !s.tune.noFallback {
			hits, err = collectHits(tx.Query(ctx, exact, args...))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgvector: vector search: %w", err)
	}
	for i := range hits {
		hits[i].Score = 1 - hits[i].Score // distance to similarity
	}
	// relaxed_order lets the index return rows slightly out of order.
	slices.SortStableFunc(hits, compareHits)
	return hits, nil
}

// vectorSQL returns a vector search's two statements and their
// parameters: the approximate one orders by the distance operator, which
// the HNSW index serves; the exact one by an expression no index serves.
func (s *Store) vectorSQL(st *statements, q *rag.VectorQuery) (approx, exact string, args []any, err error) {
	if len(q.Vector) != s.opts.Dim {
		return "", "", nil, fmt.Errorf("pgvector: query vector has %d dimensions, want %d", len(q.Vector), s.opts.Dim)
	}
	vec, err := normalized(q.Vector)
	if err != nil {
		return "", "", nil, fmt.Errorf("pgvector: query %w", err)
	}
	if err := checkQuery(&q.Query); err != nil {
		return "", "", nil, err
	}
	w := &whereBuilder{args: []any{vec}} // $1, as vectorParam says
	where, err := w.build(&q.Query)
	if err != nil {
		return "", "", nil, err
	}
	limit := " LIMIT " + w.add(q.K)
	approx = st.vectorSelect + where + " ORDER BY distance" + limit
	exact = st.vectorSelect + where + " ORDER BY (c.embedding " + st.distance + " " + vectorParam +
		"::pg_catalog.float4[]::" + st.vecType + ") + 0" + limit
	return approx, exact, w.args, nil
}

// searchSettings returns the statement that sets a vector search's
// settings for its transaction, and its parameters: values go to
// set_config as bind parameters, never into the SQL text.
func (s *Store) searchSettings(k int) (string, []any) {
	mode := "relaxed_order"
	if s.tune.iterative != "" {
		mode = s.tune.iterative
	}
	pairs := [][2]string{
		{"hnsw.iterative_scan", mode},
		// A search asks for at least K candidates, within pgvector's
		// bound; the iterative scan goes further when it needs to.
		{"hnsw.ef_search", strconv.Itoa(min(max(s.opts.EfSearch, k), maxEfSearch))},
		{"hnsw.max_scan_tuples", strconv.Itoa(s.opts.MaxScanTuples)},
		// The best plan depends on the tenant's size and the filter's
		// selectivity (an exact scan for a small tenant, the HNSW index
		// for a large one), which a generic plan cached for a prepared
		// statement cannot know: plan each search for its values.
		{"plan_cache_mode", "force_custom_plan"},
	}
	pairs = append(pairs, s.tune.settings...)
	var b strings.Builder
	args := make([]any, 0, 2*len(pairs))
	b.WriteString("SELECT ")
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "pg_catalog.set_config($%d, $%d, true)", 2*i+1, 2*i+2)
		args = append(args, p[0], p[1])
	}
	return b.String(), args
}

// KeywordSearch implements rag.Store with PostgreSQL full-text search: a
// chunk matches when its title, headings or text share a lexeme with the
// query (as Options.Language normalises words; any one of them, not all),
// and hits are ordered by ts_rank_cd, PostgreSQL's cover density ranking.
// Its scores are not BM25 (no inverse document frequency, no length
// saturation): they order one search's hits and mean nothing across
// searches or backends; compare ranks. Operators in the query text
// (quotes, "or", "-") are plain words here. A query with no words
// returns no hits.
func (s *Store) KeywordSearch(ctx context.Context, q rag.KeywordQuery) ([]rag.Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	st, err := s.ready()
	if err != nil {
		return nil, err
	}
	if len(q.Text) > maxKeywordBytes {
		return nil, fmt.Errorf("pgvector: keyword query of %d bytes: at most %d", len(q.Text), maxKeywordBytes)
	}
	if err := checkQuery(&q.Query); err != nil {
		return nil, err
	}
	// A user's text is searched, not stored: what PostgreSQL cannot read
	// becomes a word break rather than an error.
	text := strings.ReplaceAll(strings.ToValidUTF8(q.Text, " "), "\x00", " ")
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	w := &whereBuilder{args: []any{text}} // $1 in keywordQuery
	where, err := w.build(&q.Query)
	if err != nil {
		return nil, err
	}
	sql := st.keywordSelect + where + " ORDER BY score DESC, c.doc_id, c.idx LIMIT " + w.add(q.K)
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	// An unnamed statement is planned for its values every time, so the
	// tsquery is a constant the GIN index serves (see orQueryBody); a
	// cached generic plan would call or_query for every matching row.
	hits, err := collectHits(s.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, w.args...)...))
	if err != nil {
		return nil, fmt.Errorf("pgvector: keyword search: %w", err)
	}
	return hits, nil
}

// collectHits reads a search's hits, the score (or distance) last.
func collectHits(rows pgx.Rows, err error) ([]rag.Hit, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hits []rag.Hit
	for rows.Next() {
		var h rag.Hit
		if h.Chunk, err = scanChunk(rows, &h.Score); err != nil {
			return nil, err
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// compareHits orders by score, highest first, then by document and index.
func compareHits(a, b rag.Hit) int {
	switch {
	case a.Score > b.Score:
		return -1
	case a.Score < b.Score:
		return 1
	}
	if c := strings.Compare(a.Chunk.DocID, b.Chunk.DocID); c != 0 {
		return c
	}
	return a.Chunk.Index - b.Chunk.Index
}

// checkQuery refuses strings in a query that PostgreSQL cannot read.
func checkQuery(q *rag.Query) error {
	check := func(what, s string) error {
		if err := checkText(what, s); err != nil {
			return fmt.Errorf("pgvector: query: %w", err)
		}
		return nil
	}
	p, f := &q.Principal, &q.Filter
	if err := check("tenant", p.Tenant); err != nil {
		return err
	}
	if err := check("user", p.User); err != nil {
		return err
	}
	for _, g := range p.Groups {
		if err := check("group", g); err != nil {
			return err
		}
	}
	for k, v := range f.Equals {
		if err := check("filter key", k); err != nil {
			return err
		}
		if err := check("filter value", v); err != nil {
			return err
		}
	}
	for k, vs := range f.In {
		if err := check("filter key", k); err != nil {
			return err
		}
		for _, v := range vs {
			if err := check("filter value", v); err != nil {
				return err
			}
		}
	}
	for _, id := range f.DocIDs {
		if err := check("filter document ID", id); err != nil {
			return err
		}
	}
	return nil
}

// whereBuilder writes a search's WHERE clause: the tenant, the ACL and
// the filter, every value a bind parameter. The text of the clause
// depends only on which conditions are set and how many In keys there
// are, so the server's statement cache serves repeated shapes.
type whereBuilder struct {
	args []any
}

// add appends a parameter and returns its placeholder.
func (w *whereBuilder) add(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *whereBuilder) build(q *rag.Query) (string, error) {
	p, f := &q.Principal, &q.Filter
	var b strings.Builder
	b.WriteString("c.tenant = " + w.add(p.Tenant) + "::text")
	// rag.ACL.Allows: everyone, the user (when the principal has one),
	// or any shared group.
	b.WriteString(" AND (c.everyone")
	if p.User != "" {
		b.WriteString(" OR " + w.add(p.User) + "::text = ANY (c.users)")
	}
	if len(p.Groups) > 0 {
		b.WriteString(" OR c.groups && " + w.add(p.Groups) + "::text[]")
	}
	b.WriteString(")")
	if len(f.Equals) > 0 {
		meta, err := metadataJSON(f.Equals)
		if err != nil {
			return "", fmt.Errorf("pgvector: filter: %w", err)
		}
		b.WriteString(" AND c.metadata @> " + w.add(meta) + "::text::jsonb")
	}
	keys := make([]string, 0, len(f.In))
	for k := range f.In {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(" AND c.metadata ->> " + w.add(k) + "::text = ANY (" + w.add(f.In[k]) + "::text[])")
	}
	if len(f.DocIDs) > 0 {
		b.WriteString(" AND c.doc_id = ANY (" + w.add(f.DocIDs) + "::text[])")
	}
	if !f.UpdatedFrom.IsZero() {
		b.WriteString(" AND c.updated_at >= " + w.add(f.UpdatedFrom) + "::timestamptz")
	}
	if !f.UpdatedBefore.IsZero() {
		b.WriteString(" AND c.updated_at < " + w.add(f.UpdatedBefore) + "::timestamptz")
	}
	return b.String(), nil
}
