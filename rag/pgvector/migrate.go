package pgvector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// schemaVersion is the version of the tables this package makes: the
// number of the last migration in migrations.
const schemaVersion = 1

// migrateTimeout bounds Migrate when the caller's context has no deadline:
// it waits for the lock other processes' Migrate calls hold.
const migrateTimeout = 5 * time.Minute

// migration is one versioned step: DDL statements run in the migrating
// transaction, in order.
type migration struct {
	version     int
	description string
	ddl         func(s *Store, st *statements) []string
}

// migrations lists every step, oldest first. A step is never edited once
// released: a change to the tables is a new step.
func migrations() []migration {
	return []migration{
		{version: 1, description: "documents, chunks, HNSW, full-text and metadata indexes", ddl: (*Store).ddlV1},
	}
}

// ddlV1 creates the tables and indexes.
//
// Chunks carry copies of their document's ACL, title, URL, date and
// metadata, so that a search filters and returns them from the one row
// the HNSW scan visits, without a join per candidate; Replace and Update
// write the copies in the transaction that writes the document.
// Identifiers use the "C" collation, so that lists come out in byte
// order, as Go sorts strings.
func (s *Store) ddlV1(st *statements) []string {
	D, C, n := s.names.documents, s.names.chunks, s.names
	m, ef := s.opts.M, s.opts.EfConstruction
	if m == 0 {
		m = 16
	}
	if ef == 0 {
		ef = max(64, 2*m)
	}
	opclass := "vector_cosine_ops"
	if s.opts.Dim > maxVectorDim {
		opclass = "halfvec_cosine_ops"
	}
	return []string{
		`CREATE TABLE ` + D + ` (
			tenant      text COLLATE "C" NOT NULL,
			id          text COLLATE "C" NOT NULL,
			everyone    boolean NOT NULL,
			users       text[] NOT NULL,
			groups      text[] NOT NULL,
			title       text NOT NULL,
			source_url  text NOT NULL,
			updated_at  timestamptz NOT NULL,
			metadata    jsonb NOT NULL,
			fingerprint text NOT NULL,
			chunks      integer NOT NULL,
			CONSTRAINT ` + n.bare(nameDocumentsPK) + ` PRIMARY KEY (tenant, id)
		)`,
		`CREATE TABLE ` + C + ` (
			tenant       text COLLATE "C" NOT NULL,
			doc_id       text COLLATE "C" NOT NULL,
			idx          integer NOT NULL,
			start_offset bigint NOT NULL,
			end_offset   bigint NOT NULL,
			text         text NOT NULL,
			headings     text[] NOT NULL,
			embedding    ` + st.vecType + ` NOT NULL,
			tsv          tsvector NOT NULL,
			everyone     boolean NOT NULL,
			users        text[] NOT NULL,
			groups       text[] NOT NULL,
			title        text NOT NULL,
			source_url   text NOT NULL,
			updated_at   timestamptz NOT NULL,
			metadata     jsonb NOT NULL,
			CONSTRAINT ` + n.bare(nameChunksPK) + ` PRIMARY KEY (tenant, doc_id, idx),
			CONSTRAINT ` + n.bare(nameChunksFK) + ` FOREIGN KEY (tenant, doc_id) REFERENCES ` + D + ` (tenant, id) ON DELETE CASCADE
		)`,
		`CREATE INDEX ` + n.bare(nameEmbeddingHNSW) + ` ON ` + C + ` USING hnsw (embedding ` + st.ext + "." + opclass + `)
			WITH (m = ` + strconv.Itoa(m) + `, ef_construction = ` + strconv.Itoa(ef) + `)`,
		`CREATE INDEX ` + n.bare(nameTSVGIN) + ` ON ` + C + ` USING gin (tsv)`,
		`CREATE FUNCTION ` + n.orQuery + `(cfg pg_catalog.regconfig, query text) RETURNS pg_catalog.tsquery
			LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
			AS $$ ` + orQueryBody + ` $$`,
		// For the exact search that fills a short page: a selective
		// metadata filter finds its rows without reading the tenant's.
		`CREATE INDEX ` + n.bare(nameMetadataGIN) + ` ON ` + C + ` USING gin (metadata jsonb_path_ops)`,
	}
}

// migrateLockKey is the advisory lock every Migrate of this package takes,
// whatever its schema: migrations are rare, and one key also orders two
// stores' CREATE EXTENSION.
func migrateLockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/keel-go/keel/rag/pgvector.Migrate"))
	return int64(h.Sum64())
}

// Migrate brings the database to what this version of the package needs,
// in one transaction, under an advisory lock so that servers starting
// together migrate one after the other: it installs the vector extension
// if missing (CREATE EXTENSION needs the privilege; a DBA can install it
// beforehand) and refuses one older than 0.8.0 (ErrExtensionVersion),
// checks that Options.Language names a text search configuration,
// creates the schema if missing, and applies the migrations the
// <prefix>schema_version table does not list. Running it again is
// harmless and needs no privilege beyond reading. Tables made for other
// options (dimensions, language) or by a newer version of this package
// are refused with ErrSchemaMismatch.
func (s *Store) Migrate(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, migrateTimeout)
		defer cancel()
	}
	// Read committed, whatever the server's default: each statement after
	// the lock must see what a Migrate that held it before committed.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("pgvector: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // after Commit: a no-op
	st, err := s.migrate(ctx, tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgvector: migrate: commit: %w", err)
	}
	s.sql.Store(st)
	return nil
}

func (s *Store) migrate(ctx context.Context, tx pgx.Tx) (*statements, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock($1)", migrateLockKey()); err != nil {
		return nil, fmt.Errorf("pgvector: migrate: lock: %w", err)
	}
	ext, err := extension(ctx, tx)
	if err != nil {
		return nil, err
	}
	if ext.schema == "" {
		// Checked first: CREATE EXTENSION IF NOT EXISTS would ask for
		// the privilege even when the extension is there.
		if _, err := tx.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector"); err != nil {
			return nil, fmt.Errorf("pgvector: migrate: install the vector extension (or have a superuser run CREATE EXTENSION vector): %w", err)
		}
		if ext, err = extension(ctx, tx); err != nil {
			return nil, err
		}
		if ext.schema == "" {
			return nil, errors.New("pgvector: migrate: CREATE EXTENSION vector left no extension behind")
		}
	}
	if err := checkVersion(ext.version); err != nil {
		return nil, err
	}
	var ok bool
	cfgSchema, cfgName, qualified := strings.Cut(s.opts.Language, ".")
	if !qualified {
		cfgSchema, cfgName = "", s.opts.Language
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_ts_config c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
			WHERE c.cfgname = $2 AND CASE WHEN $1 = '' THEN pg_catalog.pg_ts_config_is_visible(c.oid) ELSE n.nspname = $1 END)`,
		cfgSchema, cfgName).Scan(&ok); err != nil {
		return nil, fmt.Errorf("pgvector: migrate: look up text search configuration %q: %w", s.opts.Language, err)
	}
	if !ok {
		return nil, fmt.Errorf("pgvector: Language %q is not a text search configuration of the server (see \\dF in psql)", s.opts.Language)
	}
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", s.opts.Schema).Scan(&ok); err != nil {
		return nil, fmt.Errorf("pgvector: migrate: look up schema: %w", err)
	}
	if !ok {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+s.names.schema); err != nil {
			return nil, fmt.Errorf("pgvector: migrate: create schema %q: %w", s.opts.Schema, err)
		}
	}
	current, err := s.readSettings(ctx, tx)
	if err != nil {
		return nil, err
	}
	if current == nil {
		if _, err := tx.Exec(ctx, `CREATE TABLE `+s.names.version+` (
			version     integer NOT NULL,
			description text NOT NULL,
			dim         integer NOT NULL,
			language    text NOT NULL,
			applied_at  timestamptz NOT NULL DEFAULT now(),
			CONSTRAINT `+s.names.bare(nameVersionPK)+` PRIMARY KEY (version)
		)`); err != nil {
			return nil, fmt.Errorf("pgvector: migrate: create %s: %w", s.names.version, err)
		}
		current = &settings{}
	} else if err := s.match(current); err != nil {
		return nil, err
	}
	st := s.statements(ext.schema)
	for _, m := range migrations() {
		if m.version <= current.version {
			continue
		}
		for _, ddl := range m.ddl(s, st) {
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return nil, fmt.Errorf("pgvector: migrate to version %d (%s): %w", m.version, m.description, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.names.version+` (version, description, dim, language) VALUES ($1, $2, $3, $4)`,
			m.version, m.description, s.opts.Dim, s.opts.Language); err != nil {
			return nil, fmt.Errorf("pgvector: migrate: record version %d: %w", m.version, err)
		}
	}
	return st, nil
}

// settings are what the latest row of the schema_version table records.
type settings struct {
	version  int
	dim      int
	language string
}

// readSettings returns the latest migration's row, or nil when the
// store's tables were never created.
func (s *Store) readSettings(ctx context.Context, q querier) (*settings, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT pg_catalog.to_regclass($1) IS NOT NULL", s.names.version).Scan(&exists); err != nil {
		return nil, fmt.Errorf("pgvector: look up %s: %w", s.names.version, err)
	}
	if !exists {
		return nil, nil
	}
	var set settings
	err := q.QueryRow(ctx, `SELECT version, dim, language FROM `+s.names.version+` ORDER BY version DESC LIMIT 1`).
		Scan(&set.version, &set.dim, &set.language)
	if errors.Is(err, pgx.ErrNoRows) {
		return &settings{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgvector: read %s: %w", s.names.version, err)
	}
	return &set, nil
}

// match refuses tables made for other options or by a newer package.
func (s *Store) match(set *settings) error {
	switch {
	case set.version > schemaVersion:
		return fmt.Errorf("%w: %s is at version %d, this package knows up to %d: upgrade keel",
			ErrSchemaMismatch, s.names.version, set.version, schemaVersion)
	case set.version == 0:
		return nil
	case set.dim != s.opts.Dim:
		return fmt.Errorf("%w: the tables hold %d dimensions, Options.Dim is %d", ErrSchemaMismatch, set.dim, s.opts.Dim)
	case set.language != s.opts.Language:
		return fmt.Errorf("%w: the keyword index uses text search configuration %q, Options.Language is %q",
			ErrSchemaMismatch, set.language, s.opts.Language)
	}
	return nil
}
