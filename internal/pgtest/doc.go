// Package pgtest gives tests a PostgreSQL database: a connection pool on the
// server named by the environment variable KEEL_PG_DSN, and a schema of
// their own in it so that tests and test packages running at the same time
// do not see each other's tables.
//
// Without KEEL_PG_DSN a test that asks for the database is skipped with a
// message naming the variable, except when CI is "true": there a missing
// database is a broken set-up, and the test fails. .ci/run starts a server
// with the pgvector extension and sets the variable; to do the same locally:
//
//	(cd .ci/pg && npm ci && node server.mjs --port 5499) &
//	KEEL_PG_DSN='postgres://postgres@127.0.0.1:5499/postgres?sslmode=disable' go test ./...
//
// Any PostgreSQL server with pgvector 0.8 or later will do as well.
//
// # One connection per pool
//
// The server that .ci/run starts is PGlite, the real PostgreSQL compiled to
// WebAssembly, behind the wire protocol. It is a single backend, so it serves
// one session at a time: a client that connects while another is served
// waits until that one disconnects. The pools made here therefore hold at
// most one connection, and a test should open one pool and share it with its
// subtests: a second pool opened while the first is still open waits for a
// session that only its own test could release, and fails after the connect
// timeout ([ConnectTimeout] unless the DSN sets connect_timeout). Code under
// test must not assume it can hold two connections at once; against a real
// server that takes more, raise MaxConns on the [Config] before [Open].
//
// Typical use:
//
//	func TestStore(t *testing.T) {
//		pool, schema := pgtest.OpenInSchema(t, pgtest.Config(t))
//		// Unqualified names now resolve in schema first, then the
//		// server's default search_path (where the vector type lives).
//		if _, err := pool.Exec(t.Context(), "CREATE TABLE docs (id bigint PRIMARY KEY, embedding vector(3))"); err != nil {
//			t.Fatal(err)
//		}
//		_ = schema // or name tables explicitly: pgtest.Qualify(schema, "docs")
//	}
package pgtest
