package pgvector

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keel-go/keel/internal/pgtest"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/storetest"
)

// newStore makes a migrated store in a schema of the test's own on pool.
func newStore(t testing.TB, pool *pgxpool.Pool, opts Options) *Store {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = pgtest.Schema(t, pool)
	}
	s, err := New(t.Context(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestContract runs the suite every rag.Store passes. One pool serves
// every subtest: the test server serves one session at a time.
func TestContract(t *testing.T) {
	pool := pgtest.Pool(t)
	storetest.Run(t, func(t *testing.T, dim int) rag.Store {
		return newStore(t, pool, Options{Dim: dim})
	}, storetest.Options{MinRecall: 0.95})
}

var (
	acme  = llm.Principal{Tenant: "acme", User: "alice", Groups: []string{"support"}}
	epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// doc1 is a document of one chunk with text and vector v.
func doc1(tenant, id, text string, meta map[string]string, v ...float32) (rag.DocumentInfo, []rag.Chunk) {
	return rag.DocumentInfo{ID: id, Tenant: tenant, ACL: rag.ACL{Everyone: true}, Title: "Title " + id, UpdatedAt: epoch, Metadata: meta},
		[]rag.Chunk{{Text: text, End: len(text), Vector: v}}
}

// TestStore covers what the contract suite leaves to each backend.
func TestStore(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	t.Run("HostileInput", func(t *testing.T) {
		s := newStore(t, pool, Options{Dim: 2})
		// Keys, values and ids that would break SQL put into it.
		inject := `x' OR '1'='1`
		info, chunks := doc1("acme", `doc"; DROP TABLE x; --`, "parcel", map[string]string{inject: `"quoted" \ value`, "lang": "en"}, 1, 0)
		if err := s.Replace(ctx, info, chunks); err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]rag.Filter{
			"equals": {Equals: map[string]string{inject: `"quoted" \ value`}},
			"in":     {In: map[string][]string{inject: {"no", `"quoted" \ value`}}},
			"doc id": {DocIDs: []string{info.ID}},
		} {
			hits, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: acme, K: 3, Filter: f}, Vector: []float32{1, 0}})
			if err != nil || len(hits) != 1 || hits[0].Chunk.DocID != info.ID || hits[0].Chunk.Metadata[inject] != `"quoted" \ value` {
				t.Errorf("%s: %+v, %v", name, hits, err)
			}
		}
		hits, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: acme, K: 3,
			Filter: rag.Filter{Equals: map[string]string{"lang": inject}}}, Vector: []float32{1, 0}})
		if err != nil || len(hits) != 0 {
			t.Errorf("an injected value matched: %+v, %v", hits, err)
		}
		// Keyword queries with tsquery syntax, quotes, backslashes,
		// invalid UTF-8 and NUL: words or nothing, never an error.
		for _, text := range []string{
			`parcel & !x`, `'parcel'`, `parcel:*`, `"parcel" OR -x`, `a\`, `\'`, `'' | ''`, `(((`, `<->`, "\xff\xfeparcel",
			"par\x00cel", strings.Repeat("parcel ", 5000), "!!!", "   ",
		} {
			hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 3}, Text: text})
			if err != nil {
				t.Errorf("keyword query %.40q: %v", text, err)
			}
			if strings.Contains(text, "parcel") && !strings.Contains(text, "\x00") && len(hits) != 1 {
				t.Errorf("keyword query %.40q: %d hits, want 1", text, len(hits))
			}
		}
		if _, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 3}, Text: strings.Repeat("x", maxKeywordBytes+1)}); err == nil {
			t.Error("a keyword query above the bound was accepted")
		}
		// What PostgreSQL cannot store is refused with a clear error.
		for name, mutate := range map[string]func(*rag.DocumentInfo, []rag.Chunk){
			"NUL in text":         func(_ *rag.DocumentInfo, c []rag.Chunk) { c[0].Text, c[0].End = "a\x00b", 3 },
			"invalid UTF-8 title": func(i *rag.DocumentInfo, _ []rag.Chunk) { i.Title = "\xff" },
			"NUL in metadata":     func(i *rag.DocumentInfo, _ []rag.Chunk) { i.Metadata = map[string]string{"k": "\x00"} },
			"NUL in ACL":          func(i *rag.DocumentInfo, _ []rag.Chunk) { i.ACL.Users = []string{"\x00"} },
			"zero vector":         func(_ *rag.DocumentInfo, c []rag.Chunk) { c[0].Vector = []float32{0, 0} },
			"NaN":                 func(_ *rag.DocumentInfo, c []rag.Chunk) { c[0].Vector = []float32{float32(math.NaN()), 1} },
			"infinity":            func(_ *rag.DocumentInfo, c []rag.Chunk) { c[0].Vector = []float32{float32(math.Inf(1)), 1} },
		} {
			info, chunks := doc1("acme", "bad", "x", nil, 1, 0)
			mutate(&info, chunks)
			if err := s.Replace(ctx, info, chunks); err == nil || !strings.HasPrefix(err.Error(), "pgvector: ") {
				t.Errorf("%s: %v, want a pgvector error", name, err)
			}
		}
		if _, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: acme, K: 3}, Vector: []float32{0, 0}}); err == nil {
			t.Error("a zero query vector was accepted")
		}
		if _, err := s.VectorSearch(ctx, rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "a\x00"}, K: 3}, Vector: []float32{1, 0}}); err == nil {
			t.Error("a tenant with NUL was accepted")
		}
		if _, err := s.Document(ctx, "", "x"); !errors.Is(err, rag.ErrNoPrincipal) {
			t.Errorf("Document without tenant: %v", err)
		}
		if _, err := s.Documents(ctx, ""); !errors.Is(err, rag.ErrNoPrincipal) {
			t.Errorf("Documents without tenant: %v", err)
		}
		if err := s.Delete(ctx, "", "x"); !errors.Is(err, rag.ErrNoPrincipal) {
			t.Errorf("Delete without tenant: %v", err)
		}
	})
	t.Run("UpdateRewritesOnlyWhatChanged", func(t *testing.T) {
		s := newStore(t, pool, Options{Dim: 2})
		info, chunks := doc1("acme", "d", "parcel tracking", map[string]string{"team": "a"}, 1, 0)
		if err := s.Replace(ctx, info, chunks); err != nil {
			t.Fatal(err)
		}
		xmin := func() string {
			var x string
			if err := pool.QueryRow(ctx, "SELECT xmin::text FROM "+s.names.chunks).Scan(&x); err != nil {
				t.Fatal(err)
			}
			return x
		}
		before := xmin()
		info.Fingerprint = "new"
		if err := s.Update(ctx, info); err != nil {
			t.Fatal(err)
		}
		if xmin() != before {
			t.Error("a fingerprint change rewrote the chunk rows")
		}
		if got, _ := s.Document(ctx, "acme", "d"); got.Fingerprint != "new" || got.Chunks != 1 {
			t.Errorf("after update: %+v", got)
		}
		// A new title is searchable: the keyword text is rebuilt.
		info.Title = "Shipment handbook"
		if err := s.Update(ctx, info); err != nil {
			t.Fatal(err)
		}
		if xmin() == before {
			t.Error("a title change left the chunk rows as they were")
		}
		hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 3}, Text: "handbook"})
		if err != nil || len(hits) != 1 || hits[0].Chunk.Title != "Shipment handbook" {
			t.Errorf("search for the new title: %+v, %v", hits, err)
		}
		if hits, _ := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 3}, Text: "Title"}); len(hits) != 0 {
			t.Errorf("the old title still matches: %+v", hits)
		}
	})
	t.Run("EmptyDocument", func(t *testing.T) {
		s := newStore(t, pool, Options{Dim: 2})
		info := rag.DocumentInfo{ID: "empty", Tenant: "acme", UpdatedAt: epoch}
		if err := s.Replace(ctx, info, nil); err != nil {
			t.Fatal(err)
		}
		chunks, err := s.Chunks(ctx, "acme", "empty")
		if err != nil || chunks == nil || len(chunks) != 0 {
			t.Errorf("chunks of an empty document: %#v, %v", chunks, err)
		}
		got, err := s.Document(ctx, "acme", "empty")
		if err != nil || got.Chunks != 0 || !got.UpdatedAt.Equal(epoch) || got.Metadata != nil || got.ACL.Users != nil {
			t.Errorf("document: %+v, %v", got, err)
		}
	})
	t.Run("Language", func(t *testing.T) {
		// The default configuration stems and drops stop words; "simple"
		// keeps every word as written, lower-cased.
		for _, tt := range []struct {
			language string
			query    string
			want     int
		}{
			{"", "the refund", 1},
			{"", "the", 0},
			{"simple", "refund", 0},
			{"simple", "refunds", 1},
			{"simple", "the", 0},
			{"simple", "are", 1},
		} {
			s := newStore(t, pool, Options{Dim: 2, Language: tt.language})
			info, chunks := doc1("acme", "d", "Refunds are paid within five days.", nil, 1, 0)
			if err := s.Replace(ctx, info, chunks); err != nil {
				t.Fatal(err)
			}
			hits, err := s.KeywordSearch(ctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 3}, Text: tt.query})
			if err != nil || len(hits) != tt.want {
				t.Errorf("language %q, query %q: %d hits (%v), want %d", tt.language, tt.query, len(hits), err, tt.want)
			}
		}
	})
	t.Run("Documents", func(t *testing.T) {
		s := newStore(t, pool, Options{Dim: 2})
		// Byte order, as Go sorts strings: upper case before lower.
		for _, id := range []string{"b", "B", "a", "ä"} {
			info, chunks := doc1("acme", id, "x", nil, 1, 0)
			if err := s.Replace(ctx, info, chunks); err != nil {
				t.Fatal(err)
			}
		}
		docs, err := s.Documents(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		if want := []string{"B", "a", "b", "ä"}; !slices.Equal(ids, want) {
			t.Errorf("documents %v, want %v", ids, want)
		}
	})
	t.Run("KeywordPlan", func(t *testing.T) {
		// The keyword query is a constant when the statement is planned
		// (or_query is immutable), so the GIN index on tsv serves it.
		s := newStore(t, pool, Options{Dim: 2})
		rng := rand.New(rand.NewPCG(1, 2))
		for d := range 100 {
			var chunks []rag.Chunk
			off := 0
			for i := range 10 {
				var words []string
				for range 12 {
					words = append(words, "w"+strconv.Itoa(rng.IntN(500)))
				}
				text := strings.Join(words, " ")
				chunks = append(chunks, rag.Chunk{Index: i, Start: off, End: off + len(text), Text: text, Vector: []float32{1, float32(i)}})
				off += len(text)
			}
			if err := s.Replace(ctx, rag.DocumentInfo{ID: strconv.Itoa(d), Tenant: "acme", ACL: rag.ACL{Everyone: true}}, chunks); err != nil {
				t.Fatal(err)
			}
		}
		// VACUUM moves the GIN index's pending entries into the index
		// proper, as autovacuum does on a server that has it.
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+s.names.chunks); err != nil {
			t.Fatal(err)
		}
		st, err := s.ready()
		if err != nil {
			t.Fatal(err)
		}
		q := rag.Query{Principal: acme, K: 10}
		w := &whereBuilder{args: []any{"w7 w300"}}
		where, err := w.build(&q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			// One tenant holds every row here: keep the planner off the
			// sequential scan it would pick for so small a table.
			if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+st.keywordSelect+where+" ORDER BY score DESC LIMIT "+w.add(q.K), w.args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if text := strings.Join(plan, "\n"); !strings.Contains(text, nameTSVGIN) || !strings.Contains(text, `''w300'' | ''w7''`) {
			t.Errorf("the keyword search does not use the GIN index with a constant query:\n%s", text)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		s := newStore(t, pool, Options{Dim: 2})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		info, chunks := doc1("acme", "d", "x", nil, 1, 0)
		if err := s.Replace(cctx, info, chunks); !errors.Is(err, context.Canceled) {
			t.Errorf("Replace: %v", err)
		}
		if _, err := s.VectorSearch(cctx, rag.VectorQuery{Query: rag.Query{Principal: acme, K: 1}, Vector: []float32{1, 0}}); !errors.Is(err, context.Canceled) {
			t.Errorf("VectorSearch: %v", err)
		}
		if _, err := s.KeywordSearch(cctx, rag.KeywordQuery{Query: rag.Query{Principal: acme, K: 1}, Text: "x"}); !errors.Is(err, context.Canceled) {
			t.Errorf("KeywordSearch: %v", err)
		}
	})
}
