package pgtest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

// minVector is the oldest pgvector keel supports: 0.8.0 brought iterative
// index scans, without which a filtered nearest-neighbour query can return
// fewer rows than its LIMIT.
var minVector = [3]int{0, 8, 0}

// parseVersion reads "major.minor.patch" (a missing patch is 0).
func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, fmt.Errorf("version %q is not major.minor[.patch]", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("version %q: part %q is not a number", s, p)
		}
		v[i] = n
	}
	return v, nil
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    [3]int
		wantErr bool
	}{
		{in: "0.8.0", want: [3]int{0, 8, 0}},
		{in: "0.8.7", want: [3]int{0, 8, 7}},
		{in: "0.10", want: [3]int{0, 10, 0}},
		{in: "1.2.3.4", wantErr: true},
		{in: "0", wantErr: true},
		{in: "0.x.1", wantErr: true},
		{in: "0.-1.0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want && !tt.wantErr {
			t.Errorf("parseVersion(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// cosineDistance is pgvector's <=> computed in Go, to check the server's
// answers against.
func cosineDistance(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return 1 - dot/math.Sqrt(na*nb)
}

type pgvRow struct {
	id  int64
	vec []float32
}

// pgvRows are 24 vectors whose components are multiples of 1/8, so that
// float16 (halfvec) holds them exactly and both columns rank them alike.
// 24 rows is below HNSW's default ef_search (40), so an index scan over a
// connected graph visits every row and its answer is exact.
func pgvRows() []pgvRow {
	rows := make([]pgvRow, 24)
	for i := range rows {
		rows[i] = pgvRow{id: int64(i + 1), vec: []float32{1, float32(i) / 8, float32(i%3) / 4}}
	}
	return rows
}

// nearest returns the ids of rows ordered by cosine distance to q, keeping
// those for which keep is true.
func nearest(rows []pgvRow, q []float32, keep func(id int64) bool) []int64 {
	var ids []int64
	for _, r := range rows {
		if keep(r.id) {
			ids = append(ids, r.id)
		}
	}
	dist := map[int64]float64{}
	for _, r := range rows {
		dist[r.id] = cosineDistance(r.vec, q)
	}
	slices.SortFunc(ids, func(a, b int64) int {
		if dist[a] < dist[b] {
			return -1
		}
		if dist[a] > dist[b] {
			return 1
		}
		return 0
	})
	return ids
}

// TestPGVector checks the server in KEEL_PG_DSN does what keel's pgvector
// store needs: pgvector 0.8 or later, vector and halfvec columns with HNSW
// cosine indexes, values passed with pgvector-go's binary codecs, and
// iterative index scans.
func TestPGVector(t *testing.T) {
	cfg := Config(t)
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// Runs before OpenInSchema's search_path change, so the extension
		// goes to the server's default schema, and its types are registered
		// for binary transfer on every connection.
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
			return fmt.Errorf("create extension vector: %w", err)
		}
		return pgxvec.RegisterTypes(ctx, conn)
	}
	pool, schema := OpenInSchema(t, cfg)
	ctx := t.Context()

	var extversion string
	if err := pool.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").Scan(&extversion); err != nil {
		t.Fatal(err)
	}
	v, err := parseVersion(extversion)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Compare(v[:], minVector[:]) < 0 {
		t.Fatalf("pgvector %s is older than %d.%d.%d, which keel needs for iterative index scans", extversion, minVector[0], minVector[1], minVector[2])
	}
	t.Logf("pgvector %s, schema %s", extversion, schema)

	for _, stmt := range []string{
		"CREATE TABLE items (id bigint PRIMARY KEY, embedding vector(3) NOT NULL, half halfvec(3) NOT NULL)",
		"CREATE INDEX items_embedding ON items USING hnsw (embedding vector_cosine_ops)",
		"CREATE INDEX items_half ON items USING hnsw (half halfvec_cosine_ops)",
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// The table must be in the test's schema, not where search_path's
	// second entry would have put it.
	var where string
	if err := pool.QueryRow(ctx, "SELECT schemaname FROM pg_tables WHERE tablename = 'items' AND schemaname = $1", schema).Scan(&where); err != nil {
		t.Fatalf("table items is not in schema %s: %v", schema, err)
	}

	rows := pgvRows()
	batch := &pgx.Batch{}
	for _, r := range rows {
		batch.Queue("INSERT INTO items (id, embedding, half) VALUES ($1, $2, $3)",
			r.id, pgvector.NewVector(r.vec), pgvector.NewHalfVector(r.vec))
	}
	if err := pool.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatalf("insert: %v", err)
	}

	query := []float32{1, 1.1, 0.3}
	all := func(int64) bool { return true }
	even := func(id int64) bool { return id%2 == 0 }
	tests := []struct {
		name   string
		column string
		index  string
		// settings are SET LOCAL before the query.
		settings []string
		where    string
		keep     func(int64) bool
	}{
		{name: "vector", column: "embedding", index: "items_embedding", keep: all},
		{name: "halfvec", column: "half", index: "items_half", keep: all},
		{
			// With ef_search 1 a plain index scan yields one candidate, so
			// a filter leaves at most one row; an iterative scan keeps
			// going until LIMIT is met.
			name: "vector filtered, iterative scan", column: "embedding", index: "items_embedding",
			settings: []string{"SET LOCAL hnsw.iterative_scan = relaxed_order", "SET LOCAL hnsw.ef_search = 1"},
			where:    "WHERE id % 2 = 0", keep: even,
		},
		{
			name: "halfvec filtered, iterative scan", column: "half", index: "items_half",
			settings: []string{"SET LOCAL hnsw.iterative_scan = strict_order", "SET LOCAL hnsw.ef_search = 1"},
			where:    "WHERE id % 2 = 0", keep: even,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A halfvec parameter arrives rounded to float16: rank against
			// what the server sees.
			q := query
			var arg any = pgvector.NewVector(query)
			if tt.column == "half" {
				q = half32(query)
				arg = pgvector.NewHalfVector(query)
			}
			sql := fmt.Sprintf("SELECT id, embedding, half, %[1]s <=> $1 FROM items %[2]s ORDER BY %[1]s <=> $1 LIMIT 3", tt.column, tt.where)
			var plan []string
			var got []int64
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				// Few rows make a sequential scan cheaper: rule it out so
				// the HNSW index is what answers.
				for _, s := range append([]string{"SET LOCAL enable_seqscan = off"}, tt.settings...) {
					if _, err := tx.Exec(ctx, s); err != nil {
						return fmt.Errorf("%s: %w", s, err)
					}
				}
				explain, err := tx.Query(ctx, "EXPLAIN "+sql, arg)
				if err != nil {
					return err
				}
				plan, err = pgx.CollectRows(explain, pgx.RowTo[string])
				if err != nil {
					return err
				}
				res, err := tx.Query(ctx, sql, arg)
				if err != nil {
					return err
				}
				got, err = pgx.CollectRows(res, func(row pgx.CollectableRow) (int64, error) {
					var id int64
					var emb pgvector.Vector
					var half pgvector.HalfVector
					var dist float64
					if err := row.Scan(&id, &emb, &half, &dist); err != nil {
						return 0, err
					}
					if id < 1 || int(id) > len(rows) {
						return 0, fmt.Errorf("id %d was never inserted", id)
					}
					want := rows[id-1].vec
					if !slices.Equal(emb.Slice(), want) || !slices.Equal(half.Slice(), want) {
						t.Errorf("row %d came back as %v / %v, want %v", id, emb.Slice(), half.Slice(), want)
					}
					if w := cosineDistance(want, q); math.Abs(dist-w) > 1e-5 {
						t.Errorf("row %d: distance %g, want %g", id, dist, w)
					}
					return id, nil
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(plan, "\n"), tt.index) {
				t.Errorf("plan does not use index %s:\n%s", tt.index, strings.Join(plan, "\n"))
			}
			want := nearest(rows, q, tt.keep)[:3]
			if tt.settings != nil {
				// relaxed_order may return the rows slightly out of order;
				// the set is what an iterative scan guarantees here.
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("nearest ids = %v, want %v", got, want)
			}
		})
	}

	t.Run("iterative scan off", func(t *testing.T) {
		// The control for the filtered cases above: without iterative
		// scans the same query returns fewer rows than its LIMIT.
		var n int
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, s := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL hnsw.iterative_scan = off", "SET LOCAL hnsw.ef_search = 1"} {
				if _, err := tx.Exec(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT id FROM items WHERE id % 2 = 0 ORDER BY embedding <=> $1 LIMIT 3) AS nearest",
				pgvector.NewVector(query)).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			t.Errorf("with ef_search 1 and no iterative scan the query returned %d rows, want at most 1", n)
		}
	})
}

// half32 rounds each component to the nearest float16, as a halfvec
// parameter is on its way in. It handles the normal range, which is all the
// test's query uses.
func half32(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		if f == 0 {
			continue
		}
		exp := math.Floor(math.Log2(math.Abs(float64(f))))
		step := math.Exp2(exp - 10) // float16 keeps 10 bits after the leading one
		out[i] = float32(math.RoundToEven(float64(f)/step) * step)
	}
	return out
}
