package pgvector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keel-go/keel/rag"
)

// Options configures a Store. Dim is required; the zero value of every
// other field is a documented default.
type Options struct {
	// Schema holds the store's tables; Migrate creates it if missing.
	// Empty: the connection's current schema (the first existing schema
	// of its search_path), resolved once by New.
	Schema string
	// TablePrefix starts the name of every table and index of the store
	// (default "keel_rag_"), so that several stores can share a schema.
	// Lower-case ASCII letters, digits and underscores, starting with a
	// letter or underscore.
	TablePrefix string
	// Dim is the number of dimensions of every vector, 1 to 4,000.
	// Up to 2,000 the column is pgvector's vector (float32); above, it is
	// halfvec (float16), because an HNSW index holds at most 2,000
	// dimensions of vector and 4,000 of halfvec.
	Dim int
	// Language is the PostgreSQL text search configuration (a regconfig
	// name such as "english", "german" or "simple") that the keyword side
	// parses texts and queries with. The default is "english": it drops
	// stop words and stems ("refunds" finds "refund"). Dropping stop
	// words matters more here than in a BM25 index: ts_rank_cd has no
	// inverse document frequency, so under "simple" (lower-case only,
	// every word kept, rag/memstore's default tokenizer) "the" and "to"
	// in a question weigh as much as "refund". Text in other languages
	// still matches under "english" (both sides are stemmed alike), but
	// its own configuration ranks it better. It is fixed when Migrate
	// creates the tables: New and Migrate refuse a store whose tables
	// were made with another one.
	Language string
	// EfSearch is the HNSW candidate list size per search (hnsw.ef_search,
	// 1 to 1,000; default 40, pgvector's). A search uses at least K,
	// up to 1,000: larger is slower and finds more of the exact top k.
	EfSearch int
	// MaxScanTuples bounds how many index tuples one iterative index scan
	// visits (hnsw.max_scan_tuples; default 20,000, pgvector's) before a
	// search falls back to an exact scan of the principal's tenant.
	MaxScanTuples int
	// M and EfConstruction are the HNSW index's build parameters (default
	// 16 and 64, pgvector's): more finds more of the exact top k and
	// costs memory and insert time. They apply when Migrate creates the
	// index; changing them later changes nothing.
	M, EfConstruction int
	// Timeout bounds each call of a Store method but Migrate, waiting for
	// a connection included (default 30 s), so that a stalled server
	// cannot hold a caller forever.
	Timeout time.Duration
}

// Defaults for Options.
const (
	defaultPrefix        = "keel_rag_"
	defaultLanguage      = "english"
	defaultEfSearch      = 40
	defaultMaxScanTuples = 20_000
	defaultTimeout       = 30 * time.Second

	// maxVectorDim and maxHalfvecDim are the most dimensions an HNSW
	// index takes on a vector and on a halfvec column.
	maxVectorDim  = 2000
	maxHalfvecDim = 4000
	// maxEfSearch is pgvector's upper bound for hnsw.ef_search.
	maxEfSearch = 1000
	// maxIdentifier is PostgreSQL's NAMEDATALEN-1: a longer name is
	// truncated by the server, which could make two names equal.
	maxIdentifier = 63
)

// Errors a caller acts on; the errors returned wrap them with details.
var (
	// ErrExtensionVersion: the vector extension is older than 0.8.0,
	// which brought the iterative index scans that keep a filtered
	// search from returning a short page. Upgrade it
	// (ALTER EXTENSION vector UPDATE after installing a newer pgvector).
	ErrExtensionVersion = errors.New("pgvector: the vector extension must be version 0.8.0 or later")
	// ErrSchemaMismatch: the store's tables exist but were made for other
	// settings (dimensions, text search configuration) or by a newer
	// version of this package. Use a new TablePrefix or Schema, or
	// matching Options.
	ErrSchemaMismatch = errors.New("pgvector: the tables do not match the store's options")
	// ErrNotMigrated: when New ran, the vector extension or the store's
	// tables were missing or older than this package: call Migrate
	// before using the store.
	ErrNotMigrated = errors.New("pgvector: the store's tables are missing or outdated: call Migrate first")
)

// Store is a rag.Store on PostgreSQL with pgvector: chunks with their
// vectors in an HNSW index (cosine distance) and their text in a GIN
// full-text index, searched with the tenant, the ACL and the filter in
// the SQL, before the top k is cut. Safe for concurrent use; it holds no
// connection between calls and never more than one at a time.
type Store struct {
	pool  *pgxpool.Pool
	opts  Options
	names names
	// sql is nil until the tables are known to exist: the statements
	// name the vector extension's schema, which Migrate may only just
	// have created.
	sql atomic.Pointer[statements]
	// tune changes how searches run, for tests that measure the index
	// alone; the zero value is what every caller gets.
	tune tuning
}

// tuning is set only by this package's tests.
type tuning struct {
	// settings are extra set_config pairs for a vector search's
	// transaction (for example enable_sort=off to force the HNSW path).
	settings [][2]string
	// iterative replaces the hnsw.iterative_scan mode when not empty.
	iterative string
	// noFallback skips the exact search that fills a short page.
	noFallback bool
}

// New returns a Store on pool. It checks opts, resolves the schema, and
// checks what is already installed: a vector extension older than 0.8.0
// (ErrExtensionVersion) or tables made for other options
// (ErrSchemaMismatch) are refused. It creates nothing: until Migrate has
// run on this Store, a Store whose tables were missing or outdated
// returns ErrNotMigrated. Call Migrate at start-up: it is idempotent and
// cheap once the tables exist. The pool may hold any number of
// connections; the Store never needs more than one at a time.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgvector: nil pool")
	}
	if err := normalize(&opts); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	s := &Store{pool: pool, opts: opts}
	if opts.Schema == "" {
		var schema *string
		if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return nil, fmt.Errorf("pgvector: current schema: %w", err)
		}
		if schema == nil {
			return nil, errors.New("pgvector: no schema of the search_path exists: set Options.Schema")
		}
		s.opts.Schema = *schema
	}
	s.names = newNames(s.opts.Schema, s.opts.TablePrefix)
	ext, err := extension(ctx, pool)
	if err != nil {
		return nil, err
	}
	if ext.schema == "" {
		return s, nil // Migrate installs it.
	}
	if err := checkVersion(ext.version); err != nil {
		return nil, err
	}
	set, err := s.readSettings(ctx, pool)
	if err != nil {
		return nil, err
	}
	if set == nil {
		return s, nil // Migrate creates the tables.
	}
	if err := s.match(set); err != nil {
		return nil, err
	}
	if set.version == schemaVersion {
		s.sql.Store(s.statements(ext.schema))
	}
	return s, nil
}

// normalize checks opts and fills in the defaults.
func normalize(o *Options) error {
	if o.Dim <= 0 || o.Dim > maxHalfvecDim {
		return fmt.Errorf("pgvector: Dim is %d: want 1 to %d (an HNSW index holds at most %d dimensions of vector, %d of halfvec)",
			o.Dim, maxHalfvecDim, maxVectorDim, maxHalfvecDim)
	}
	if o.Schema != "" {
		if err := checkIdentifier("Schema", o.Schema); err != nil {
			return err
		}
	}
	if o.TablePrefix == "" {
		o.TablePrefix = defaultPrefix
	}
	if !isWord(o.TablePrefix) {
		return fmt.Errorf("pgvector: TablePrefix %q: want lower-case ASCII letters, digits and underscores, not starting with a digit", o.TablePrefix)
	}
	if n := len(o.TablePrefix) + len(longestName); n > maxIdentifier {
		return fmt.Errorf("pgvector: TablePrefix %q is too long: the name %q would exceed PostgreSQL's %d bytes",
			o.TablePrefix, o.TablePrefix+longestName, maxIdentifier)
	}
	if o.Language == "" {
		o.Language = defaultLanguage
	}
	// PostgreSQL folds unquoted names to lower case: "English" is english.
	o.Language = strings.ToLower(o.Language)
	if !isLanguage(o.Language) {
		return fmt.Errorf("pgvector: Language %q is not a text search configuration name", o.Language)
	}
	switch {
	case o.EfSearch == 0:
		o.EfSearch = defaultEfSearch
	case o.EfSearch < 1 || o.EfSearch > maxEfSearch:
		return fmt.Errorf("pgvector: EfSearch is %d: want 1 to %d", o.EfSearch, maxEfSearch)
	}
	switch {
	case o.MaxScanTuples == 0:
		o.MaxScanTuples = defaultMaxScanTuples
	case o.MaxScanTuples < 1:
		return fmt.Errorf("pgvector: MaxScanTuples is %d: want a positive number", o.MaxScanTuples)
	}
	// pgvector's bounds for the index's build parameters.
	if o.M != 0 && (o.M < 2 || o.M > 100) {
		return fmt.Errorf("pgvector: M is %d: want 2 to 100", o.M)
	}
	if o.EfConstruction != 0 && (o.EfConstruction < 4 || o.EfConstruction > 1000) {
		return fmt.Errorf("pgvector: EfConstruction is %d: want 4 to 1000", o.EfConstruction)
	}
	if m, ef := max(o.M, 16), o.EfConstruction; ef != 0 && ef < 2*m {
		return fmt.Errorf("pgvector: EfConstruction is %d: want at least twice M (%d)", ef, m)
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = defaultTimeout
	case o.Timeout < 0:
		return fmt.Errorf("pgvector: Timeout is %v: want a positive duration", o.Timeout)
	}
	return nil
}

// isWord reports whether s is an SQL word that needs no quoting:
// lower-case ASCII letters, digits and underscores, not starting with a
// digit, at most maxIdentifier bytes.
func isWord(s string) bool {
	if s == "" || len(s) > maxIdentifier || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isLanguage reports whether s can name a text search configuration,
// bare ("english") or schema-qualified ("public.my_english"): words only,
// so that it can be written into the statements as a literal.
func isLanguage(s string) bool {
	schema, name, qualified := strings.Cut(s, ".")
	if qualified {
		return isWord(schema) && isWord(name)
	}
	return isWord(s)
}

// checkIdentifier checks a name that goes into SQL quoted: PostgreSQL
// cannot hold a NUL or invalid UTF-8 in one, and truncates long ones.
func checkIdentifier(field, s string) error {
	if s == "" || len(s) > maxIdentifier || !utf8.ValidString(s) || containsNUL(s) {
		return fmt.Errorf("pgvector: %s %q: want 1 to %d bytes of UTF-8 without NUL", field, s, maxIdentifier)
	}
	return nil
}

// extensionInfo is where the vector extension lives and its version;
// both empty when it is not installed.
type extensionInfo struct{ schema, version string }

func extension(ctx context.Context, q querier) (extensionInfo, error) {
	var ext extensionInfo
	err := q.QueryRow(ctx, `SELECT n.nspname, e.extversion FROM pg_catalog.pg_extension e
		JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`).Scan(&ext.schema, &ext.version)
	if errors.Is(err, pgx.ErrNoRows) {
		return extensionInfo{}, nil
	}
	if err != nil {
		return extensionInfo{}, fmt.Errorf("pgvector: look up the vector extension: %w", err)
	}
	return ext, nil
}

// querier is what both a pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// checkVersion refuses a vector extension older than 0.8.0.
func checkVersion(v string) error {
	parsed, err := parseVersion(v)
	if err != nil {
		return fmt.Errorf("%w: cannot read the installed version: %v", ErrExtensionVersion, err)
	}
	if parsed[0] == 0 && parsed[1] < 8 {
		return fmt.Errorf("%w: %s is installed (install a newer pgvector, then ALTER EXTENSION vector UPDATE)", ErrExtensionVersion, v)
	}
	return nil
}

// parseVersion reads "major.minor[.patch]" with an optional pre-release
// or build suffix ("0.9.0-dev").
func parseVersion(s string) ([3]int, error) {
	var v [3]int
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, fmt.Errorf("version %q is not major.minor[.patch]", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strings.HasPrefix(p, "+") {
			return v, fmt.Errorf("version %q: part %q is not a number", s, p)
		}
		v[i] = n
	}
	return v, nil
}

func containsNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// ready returns the statements, or ErrNotMigrated.
func (s *Store) ready() (*statements, error) {
	st := s.sql.Load()
	if st == nil {
		return nil, ErrNotMigrated
	}
	return st, nil
}

// Dim returns the number of dimensions of the store's vectors.
func (s *Store) Dim() int { return s.opts.Dim }

// Schema returns the schema holding the store's tables.
func (s *Store) Schema() string { return s.opts.Schema }

var _ rag.Store = (*Store)(nil)
