package pgvector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keel-go/keel/internal/pgtest"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

// The recall corpus: 100 tenants of 1% of the rows each, random unit
// vectors (the hardest case for a graph index: no clusters). It is sized
// for the single-session test server, where building the HNSW index over
// 10,000 rows of 32 dimensions takes about 10 s.
const (
	recallDim        = 32
	recallRows       = 10_000
	recallTenants    = 100
	recallPerDoc     = 10
	recallQueryCount = 100
	recallK          = 10
	recallMin        = 0.95
)

type recallRow struct {
	tenant, id, lang string
	vec              []float32
}

type recallQuery struct {
	q    rag.VectorQuery
	want []string // the exact top k
}

// TestRecallFiltered measures recall@10 against exact search on queries
// whose tenant holds 1% of the rows (half of them also filtered to a
// third of the tenant by metadata): through the HNSW index with
// iterative scans (what a large tenant gets), through the index without
// them (what pgvector before 0.8 did), and as the store runs by default
// (the planner's choice, with the exact fallback).
func TestRecallFiltered(t *testing.T) {
	pool := pgtest.Pool(t)
	s := newStore(t, pool, Options{Dim: recallDim})
	rows := corpus{rows: recallRows, dim: recallDim, tenants: recallTenants, perDoc: recallPerDoc}.load(t, s)
	queries := makeRecallQueries(rows)

	// The planner prefers an exact scan for a tenant this small; these
	// settings leave it only the HNSW index, whose recall is measured.
	force := [][2]string{{"enable_seqscan", "off"}, {"enable_bitmapscan", "off"}, {"enable_sort", "off"}}
	for _, tt := range []struct {
		name          string
		tune          tuning
		maxScan       int
		wantHNSW      bool    // the plan must use the index
		minRecall     float64 // 0: only reported
		wantFull      bool    // no page shorter than the exact answer
		wantShortPage bool    // shows what the setting prevents
	}{
		{name: "default", minRecall: recallMin, wantFull: true},
		{name: "hnsw iterative relaxed_order", tune: tuning{settings: force, noFallback: true}, wantHNSW: true, minRecall: recallMin, wantFull: true},
		{name: "hnsw iterative strict_order", tune: tuning{settings: force, noFallback: true, iterative: "strict_order"}, wantHNSW: true, minRecall: recallMin, wantFull: true},
		{name: "hnsw without iterative scan", tune: tuning{settings: force, noFallback: true, iterative: "off"}, wantHNSW: true, wantShortPage: true},
		// A scan cut short by max_scan_tuples: the exact fallback fills
		// the pages it leaves short; without it they stay short.
		{name: "hnsw max_scan_tuples=50, exact fallback", tune: tuning{settings: force}, maxScan: 50, wantHNSW: true, wantFull: true},
		{name: "hnsw max_scan_tuples=50, no fallback", tune: tuning{settings: force, noFallback: true}, maxScan: 50, wantHNSW: true, wantShortPage: true},
	} {
		s.tune = tt.tune
		s.opts.MaxScanTuples = defaultMaxScanTuples
		if tt.maxScan > 0 {
			s.opts.MaxScanTuples = tt.maxScan
		}
		plan := explain(t, s, &queries[0].q)
		if usesHNSW := strings.Contains(plan, nameEmbeddingHNSW); tt.wantHNSW && !usesHNSW {
			t.Fatalf("%s: the plan does not use the HNSW index, so its recall is not measured: %s", tt.name, plan)
		}
		start := time.Now()
		recall, byKind, short := measureRecall(t, s, queries)
		t.Logf("%s: recall@10=%.3f (tenant only %.3f, tenant and metadata %.3f), %d of %d pages short, %v per query",
			tt.name, recall, byKind[0], byKind[1], short, len(queries), time.Since(start)/time.Duration(len(queries)))
		if recall < tt.minRecall {
			t.Errorf("%s: recall@10 %.3f, want at least %.2f", tt.name, recall, tt.minRecall)
		}
		if tt.wantFull && short > 0 {
			t.Errorf("%s: %d short pages, want none", tt.name, short)
		}
		if tt.wantShortPage && short == 0 {
			t.Errorf("%s: no short page: the test no longer shows what the setting prevents", tt.name)
		}
	}
}

// corpus describes generated documents: rows chunks of random unit
// vectors in tenants tenants ("t0", "t1", ...), perDoc chunks a
// document, each document's metadata "lang" one of en, de, fr, and
// chunk texts of words drawn from a vocabulary of 500 when text is set.
type corpus struct {
	rows, dim, tenants, perDoc int
	text                       bool
}

// load fills s with the corpus through Replace and returns its rows.
// The HNSW index is dropped first and built again at the end with the
// DDL Migrate used: building it at once takes a fraction of the time of
// growing it row by row on the single-session test server, and makes the
// same kind of graph.
func (c corpus) load(tb testing.TB, s *Store) []recallRow {
	ctx := tb.Context()
	if _, err := s.pool.Exec(ctx, "DROP INDEX "+s.names.schema+"."+s.names.bare(nameEmbeddingHNSW)); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	langs := []string{"en", "de", "fr"}
	start := time.Now()
	var rows []recallRow
	for d := range c.rows / c.perDoc {
		info := rag.DocumentInfo{ID: fmt.Sprintf("doc%05d", d), Tenant: "t" + strconv.Itoa(d%c.tenants),
			ACL: rag.ACL{Everyone: true}, Metadata: map[string]string{"lang": langs[(d/c.tenants)%len(langs)]}}
		chunks := make([]rag.Chunk, c.perDoc)
		off := 0
		for i := range chunks {
			var text string
			if c.text {
				words := make([]string, 40)
				for j := range words {
					words[j] = "w" + strconv.Itoa(rng.IntN(500))
				}
				text = strings.Join(words, " ")
			}
			chunks[i] = rag.Chunk{Index: i, Start: off, End: off + len(text), Text: text, Vector: randomUnit(rng, c.dim)}
			off += len(text)
			rows = append(rows, recallRow{info.Tenant, info.ID + "#" + strconv.Itoa(i), info.Metadata["lang"], chunks[i].Vector})
		}
		if err := s.Replace(ctx, info, chunks); err != nil {
			tb.Fatal(err)
		}
	}
	loaded := time.Since(start)
	start = time.Now()
	st, err := s.ready()
	if err != nil {
		tb.Fatal(err)
	}
	for _, ddl := range s.ddlV1(st) {
		if strings.Contains(ddl, "USING hnsw") {
			if _, err := s.pool.Exec(ctx, ddl); err != nil {
				tb.Fatal(err)
			}
		}
	}
	// VACUUM also moves the GIN indexes' pending entries into the index
	// proper, as autovacuum would.
	if _, err := s.pool.Exec(ctx, "VACUUM ANALYZE "+s.names.chunks); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%d rows of %d dimensions in %d tenants: loaded through Replace in %v, HNSW index built in %v",
		len(rows), c.dim, c.tenants, loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return rows
}

// makeRecallQueries makes the queries and their exact answers, computed in Go.
func makeRecallQueries(rows []recallRow) []recallQuery {
	rng := rand.New(rand.NewPCG(13, 17))
	var out []recallQuery
	for i := range recallQueryCount {
		tenant := "t" + strconv.Itoa(rng.IntN(recallTenants))
		q := rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: tenant, User: "u1"}, K: recallK}, Vector: randomUnit(rng, recallDim)}
		if i%2 == 1 {
			q.Filter.Equals = map[string]string{"lang": "de"}
		}
		type scored struct {
			id    string
			score float64
		}
		var visible []scored
		for _, r := range rows {
			if r.tenant == tenant && (q.Filter.Equals == nil || r.lang == q.Filter.Equals["lang"]) {
				visible = append(visible, scored{r.id, dot(r.vec, q.Vector)})
			}
		}
		slices.SortFunc(visible, func(a, b scored) int {
			if a.score != b.score {
				if a.score > b.score {
					return -1
				}
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		var want []string
		for _, v := range visible[:min(recallK, len(visible))] {
			want = append(want, v.id)
		}
		out = append(out, recallQuery{q, want})
	}
	return out
}

// measureRecall returns the mean recall@k of s on queries, the mean on
// the even (tenant only) and odd (tenant and metadata) queries, and how
// many pages came back with fewer hits than the exact answer has.
func measureRecall(t *testing.T, s *Store, queries []recallQuery) (float64, [2]float64, int) {
	var sum float64
	var byKind [2]float64
	short := 0
	for i, q := range queries {
		hits, err := s.VectorSearch(t.Context(), q.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) < len(q.want) {
			short++
		}
		found := 0
		for _, h := range hits {
			if slices.Contains(q.want, h.Chunk.ID()) {
				found++
			}
		}
		r := float64(found) / float64(len(q.want))
		sum += r
		byKind[i%2] += r / float64((len(queries)+1-i%2)/2)
	}
	return sum / float64(len(queries)), byKind, short
}

// explain returns the plan of q's approximate statement under the
// store's search settings, on one line.
func explain(t *testing.T, s *Store, q *rag.VectorQuery) string {
	st, err := s.ready()
	if err != nil {
		t.Fatal(err)
	}
	approx, _, args, err := s.vectorSQL(st, q)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	err = pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error {
		settings, settingsArgs := s.searchSettings(q.K)
		if _, err := tx.Exec(t.Context(), settings, settingsArgs...); err != nil {
			return err
		}
		rows, err := tx.Query(t.Context(), "EXPLAIN (COSTS OFF) "+approx, args...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}

func randomUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	if out, err := normalized(v); err == nil {
		return out
	}
	return v // all zero: not a sample NormFloat64 draws in practice

}

func dot(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}
