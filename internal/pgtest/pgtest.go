package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvDSN is the environment variable that names the test database: a
// PostgreSQL connection string, as a URL or in key=value form.
const EnvDSN = "KEEL_PG_DSN"

// ConnectTimeout bounds opening one connection when the DSN sets no
// connect_timeout. It is long because it includes waiting for the server:
// a server that serves one session at a time makes each test package wait
// while another package's test holds it.
const ConnectTimeout = 2 * time.Minute

// cleanupTimeout bounds dropping a test's schema at cleanup, when the test's
// own context is already cancelled.
const cleanupTimeout = time.Minute

// DSN returns the connection string in KEEL_PG_DSN. When it is unset the
// test is skipped with a message naming the variable, or fails when CI is
// "true", where a missing database means a broken set-up.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		const msg = EnvDSN + " is not set: start PostgreSQL with pgvector (cd .ci/pg && npm ci && node server.mjs --port 5499) and set " +
			EnvDSN + "='postgres://postgres@127.0.0.1:5499/postgres?sslmode=disable'"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dsn
}

// Config parses DSN(tb) into a pool configuration that holds at most one
// connection, because the server .ci/run starts serves one session at a
// time (a real server takes more: raise MaxConns before [Open] to test
// concurrency there). Without connect_timeout in the DSN, connecting is
// bounded by [ConnectTimeout].
func Config(tb testing.TB) *pgxpool.Config {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(DSN(tb))
	if err != nil {
		// The error can quote the DSN, password included: say only where it is.
		tb.Fatalf("pgtest: %s is not a valid PostgreSQL connection string", EnvDSN)
	}
	cfg.MaxConns = 1
	cfg.MinConns = 0
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	return cfg
}

// Open opens a pool with cfg, checks that it reaches the server, and closes
// it when the test and its subtests have finished. Open one pool per test
// and share it: see the package documentation for why a second one waits.
func Open(tb testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.NewWithConfig(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("pgtest: open a pool on %s: %v", EnvDSN, err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(tb.Context()); err != nil {
		tb.Fatalf("pgtest: cannot reach the database in %s: %v "+
			"(a server that serves one session at a time makes this wait for every other open pool, this test's included)",
			EnvDSN, err)
	}
	return pool
}

// Pool opens a pool on DSN(tb) with [Config] and [Open]: at most one
// connection, closed when the test ends.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return Open(tb, Config(tb))
}

// Schema creates a new schema with a unique name for this test and drops it,
// with everything in it, when the test ends; it returns the schema's name.
// The pool must stay open until then, as one from [Pool] or [Open] does.
// Name objects in it with [Qualify], or use [OpenInSchema] to have
// unqualified names resolve there.
func Schema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	name := newSchemaName(tb.Name())
	createSchema(tb, pool, name)
	return name
}

// OpenInSchema is [Open] for a test that uses unqualified names: it creates a
// schema as [Schema] does, and every connection of the pool puts that schema
// first in its search_path, before the server's default path (so types and
// functions of extensions installed there, such as vector, still resolve).
// cfg.AfterConnect, when set, runs first, with the default search_path; cfg
// itself is not modified. It returns the pool and the schema's name.
func OpenInSchema(tb testing.TB, cfg *pgxpool.Config) (*pgxpool.Pool, string) {
	tb.Helper()
	name := newSchemaName(tb.Name())
	cfg = cfg.Copy()
	first := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if first != nil {
			if err := first(ctx, conn); err != nil {
				return err
			}
		}
		// A schema missing from search_path is skipped by the server, so
		// this holds before createSchema below has run.
		const q = `SELECT set_config('search_path',
			CASE current_setting('search_path') WHEN '' THEN $1 ELSE $1 || ', ' || current_setting('search_path') END,
			false)`
		if _, err := conn.Exec(ctx, q, pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("pgtest: set search_path to schema %s: %w", name, err)
		}
		return nil
	}
	pool := Open(tb, cfg)
	createSchema(tb, pool, name)
	return pool, name
}

// Qualify returns name in schema as a quoted SQL identifier, "schema"."name",
// ready to be put into a statement.
func Qualify(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

func createSchema(tb testing.TB, pool *pgxpool.Pool, name string) {
	tb.Helper()
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := pool.Exec(tb.Context(), "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		// The test's context is cancelled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
}

// schemaPrefix starts every schema this package creates, so that schemas
// left behind by a killed test run are easy to find and drop.
const schemaPrefix = "keel_test_"

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer names are truncated
// by the server, which could make two unique names equal.
const maxIdentifierLen = 63

// newSchemaName returns a schema name made of schemaPrefix, the test's name
// reduced to lower-case letters, digits and underscores (for a person
// looking at the database), and 64 random bits (for uniqueness across test
// runs and processes sharing a server).
func newSchemaName(testName string) string {
	var random [8]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never returns an error
	suffix := "_" + hex.EncodeToString(random[:])
	var b strings.Builder
	b.WriteString(schemaPrefix)
	room := maxIdentifierLen - len(schemaPrefix) - len(suffix)
	for _, r := range strings.ToLower(testName) {
		if b.Len()-len(schemaPrefix) >= room {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteString(suffix)
	return b.String()
}
