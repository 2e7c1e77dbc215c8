package pgvector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keel-go/keel/internal/pgtest"
	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/rag"
)

// TestMigrate checks the migrations against the server: they create what
// the store needs, run again (and concurrently) without harm, and refuse
// tables made for other options.
func TestMigrate(t *testing.T) {
	pool := pgtest.Pool(t)
	t.Run("Fresh", func(t *testing.T) {
		// A schema that does not exist yet: Migrate creates it.
		schema := pgtest.Schema(t, pool) + "_new"
		t.Cleanup(func() { dropSchema(t, pool, schema) })
		s, err := New(t.Context(), pool, Options{Schema: schema, Dim: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Documents(t.Context(), "acme"); !errors.Is(err, ErrNotMigrated) {
			t.Fatalf("before Migrate: %v, want ErrNotMigrated", err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if docs, err := s.Documents(t.Context(), "acme"); err != nil || len(docs) != 0 {
			t.Fatalf("after Migrate: %v, %v", docs, err)
		}
		if got := versions(t, pool, s); len(got) != 1 || got[0] != schemaVersion {
			t.Errorf("schema_version lists %v, want [%d]", got, schemaVersion)
		}
		want := map[string]string{
			"keel_rag_chunks_embedding_hnsw": "USING hnsw (embedding vector_cosine_ops)",
			"keel_rag_chunks_tsv_gin":        "USING gin (tsv)",
			"keel_rag_chunks_metadata_gin":   "USING gin (metadata jsonb_path_ops)",
			"keel_rag_chunks_pkey":           "(tenant, doc_id, idx)",
			"keel_rag_documents_pkey":        "(tenant, id)",
		}
		got := indexes(t, pool, schema)
		for name, part := range want {
			if !strings.Contains(got[name], part) {
				t.Errorf("index %s: %q, want it to contain %q", name, got[name], part)
			}
		}
	})
	t.Run("Twice", func(t *testing.T) {
		schema := pgtest.Schema(t, pool)
		s := newStore(t, pool, Options{Schema: schema, Dim: 4})
		info := rag.DocumentInfo{ID: "d", Tenant: "acme", ACL: rag.ACL{Everyone: true}}
		if err := s.Replace(t.Context(), info, []rag.Chunk{{Text: "kept", End: 4, Vector: []float32{1, 0, 0, 0}}}); err != nil {
			t.Fatal(err)
		}
		// Again on this store, on a new one, and from two goroutines at
		// once: the advisory lock orders them, the version table makes
		// them no-ops, and the data stays.
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		s2, err := New(t.Context(), pool, Options{Schema: schema, Dim: 4})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, st := range []*Store{s, s2} {
			wg.Go(func() {
				if err := st.Migrate(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := versions(t, pool, s); len(got) != 1 {
			t.Errorf("schema_version lists %v after four migrations", got)
		}
		if chunks, err := s2.Chunks(t.Context(), "acme", "d"); err != nil || len(chunks) != 1 || chunks[0].Text != "kept" {
			t.Errorf("after migrating again: %+v, %v", chunks, err)
		}
	})
	t.Run("Mismatch", func(t *testing.T) {
		schema := pgtest.Schema(t, pool)
		s := newStore(t, pool, Options{Schema: schema, Dim: 4})
		for name, opts := range map[string]Options{
			"dimensions": {Schema: schema, Dim: 8},
			"language":   {Schema: schema, Dim: 4, Language: "simple"},
		} {
			if _, err := New(t.Context(), pool, opts); !errors.Is(err, ErrSchemaMismatch) {
				t.Errorf("%s: New: %v, want ErrSchemaMismatch", name, err)
			}
			other := &Store{pool: pool, opts: opts}
			if err := normalize(&other.opts); err != nil {
				t.Fatal(err)
			}
			other.names = newNames(schema, other.opts.TablePrefix)
			if err := other.Migrate(t.Context()); !errors.Is(err, ErrSchemaMismatch) {
				t.Errorf("%s: Migrate: %v, want ErrSchemaMismatch", name, err)
			}
		}
		// Another prefix in the same schema is another store.
		if _, err := New(t.Context(), pool, Options{Schema: schema, Dim: 8, TablePrefix: "other_"}); err != nil {
			t.Errorf("another prefix: %v", err)
		}
		// Tables from a newer version of the package.
		if _, err := pool.Exec(t.Context(), `INSERT INTO `+s.names.version+` (version, description, dim, language) VALUES (99, 'future', 4, 'english')`); err != nil {
			t.Fatal(err)
		}
		_, err := New(t.Context(), pool, Options{Schema: schema, Dim: 4})
		if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), "version 99") {
			t.Errorf("newer tables: %v, want ErrSchemaMismatch naming version 99", err)
		}
	})
	t.Run("UnknownLanguage", func(t *testing.T) {
		schema := pgtest.Schema(t, pool)
		s, err := New(t.Context(), pool, Options{Schema: schema, Dim: 4, Language: "klingon"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(t.Context()); err == nil || !strings.Contains(err.Error(), `"klingon" is not a text search configuration`) {
			t.Errorf("Migrate with an unknown language: %v", err)
		}
	})
	t.Run("Halfvec", func(t *testing.T) {
		// Above 2,000 dimensions the column is halfvec, which an HNSW
		// index takes up to 4,000.
		const dim = 2048
		s := newStore(t, pool, Options{Dim: dim})
		var typ string
		if err := pool.QueryRow(t.Context(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = $1::regclass AND attname = 'embedding'`, s.names.chunks).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != "halfvec(2048)" {
			t.Errorf("embedding column is %s, want halfvec(2048)", typ)
		}
		if got := indexes(t, pool, s.Schema())["keel_rag_chunks_embedding_hnsw"]; !strings.Contains(got, "halfvec_cosine_ops") {
			t.Errorf("HNSW index: %s", got)
		}
		vec := func(i int) []float32 {
			v := make([]float32, dim)
			v[i] = 1
			v[dim-1] = 0.5
			return v
		}
		info := rag.DocumentInfo{ID: "wide", Tenant: "acme", ACL: rag.ACL{Everyone: true}}
		chunks := []rag.Chunk{{Index: 0, Text: "a", End: 1, Vector: vec(0)}, {Index: 1, Text: "b", End: 1, Vector: vec(1)}}
		chunks[1].Start, chunks[1].End = 1, 2
		if err := s.Replace(t.Context(), info, chunks); err != nil {
			t.Fatal(err)
		}
		hits, err := s.VectorSearch(t.Context(), rag.VectorQuery{Query: rag.Query{Principal: llm.Principal{Tenant: "acme"}, K: 2}, Vector: vec(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 2 || hits[0].Chunk.ID() != "wide#1" || hits[0].Score < 0.999 || len(hits[0].Chunk.Vector) != dim {
			t.Errorf("halfvec search: %d hits, first %s (%.4f)", len(hits), hits[0].Chunk.ID(), hits[0].Score)
		}
	})
}

// TestOptions covers what New refuses before asking the server, and the
// defaults.
func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"no dimensions", Options{}, "Dim is 0"},
		{"too many dimensions", Options{Dim: 4001}, "Dim is 4001"},
		{"prefix with a quote", Options{Dim: 4, TablePrefix: `x"; DROP TABLE y; --`}, "TablePrefix"},
		{"prefix upper case", Options{Dim: 4, TablePrefix: "Keel_"}, "TablePrefix"},
		{"prefix too long", Options{Dim: 4, TablePrefix: strings.Repeat("a", 50)}, "too long"},
		{"language injection", Options{Dim: 4, Language: "english'::regconfig; DROP"}, "Language"},
		{"language three parts", Options{Dim: 4, Language: "a.b.c"}, "Language"},
		{"schema with NUL", Options{Dim: 4, Schema: "a\x00b"}, "Schema"},
		{"schema too long", Options{Dim: 4, Schema: strings.Repeat("s", 64)}, "Schema"},
		{"ef_search", Options{Dim: 4, EfSearch: 1001}, "EfSearch"},
		{"max scan tuples", Options{Dim: 4, MaxScanTuples: -1}, "MaxScanTuples"},
		{"m", Options{Dim: 4, M: 1}, "M is 1"},
		{"ef_construction below 2m", Options{Dim: 4, M: 32, EfConstruction: 40}, "twice M"},
		{"timeout", Options{Dim: 4, Timeout: -time.Second}, "Timeout"},
	} {
		if err := normalize(&tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(t.Context(), nil, Options{Dim: 4}); err == nil {
		t.Error("nil pool accepted")
	}
	opts := Options{Dim: 4}
	if err := normalize(&opts); err != nil || opts.Language != "english" || opts.TablePrefix != defaultPrefix ||
		opts.EfSearch != defaultEfSearch || opts.MaxScanTuples != defaultMaxScanTuples || opts.Timeout != defaultTimeout {
		t.Errorf("defaults: %+v, %v", opts, err)
	}
	if opts := (Options{Dim: 4, Language: "public.my_cfg"}); normalize(&opts) != nil {
		t.Error("a schema-qualified language was refused")
	}
	if opts := (Options{Dim: 4, Language: "German"}); normalize(&opts) != nil || opts.Language != "german" {
		t.Errorf("language not folded to lower case as PostgreSQL does: %q", opts.Language)
	}
}

func TestCheckVersion(t *testing.T) {
	for _, tt := range []struct {
		version string
		ok      bool
	}{
		{"0.8.0", true}, {"0.8.7", true}, {"0.10.1", true}, {"1.0", true}, {"0.9.0-dev", true},
		{"0.7.4", false}, {"0.5", false}, {"", false}, {"abc", false}, {"0.8.x", false}, {"0.-8.0", false},
	} {
		err := checkVersion(tt.version)
		if (err == nil) != tt.ok {
			t.Errorf("checkVersion(%q) = %v, want ok %v", tt.version, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrExtensionVersion) {
			t.Errorf("checkVersion(%q) = %v, not ErrExtensionVersion", tt.version, err)
		}
	}
	if err := checkVersion("0.7.4"); err == nil || !strings.Contains(err.Error(), "0.7.4 is installed") || !strings.Contains(err.Error(), "0.8.0 or later") {
		t.Errorf("message: %v", err)
	}
}

func versions(t *testing.T, pool *pgxpool.Pool, s *Store) []int {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT version FROM "+s.names.version+" ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// indexes returns the definitions of the indexes in schema, by name.
func indexes(t *testing.T, pool *pgxpool.Pool, schema string) map[string]string {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dropSchema(t *testing.T, pool *pgxpool.Pool, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}
