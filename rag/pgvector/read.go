package pgvector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keel-go/keel/rag"
)

// Document implements rag.Store.
func (s *Store) Document(ctx context.Context, tenant, docID string) (rag.DocumentInfo, error) {
	if tenant == "" {
		return rag.DocumentInfo{}, rag.ErrNoPrincipal
	}
	st, err := s.ready()
	if err != nil {
		return rag.DocumentInfo{}, err
	}
	if err := checkKey(tenant, docID); err != nil {
		return rag.DocumentInfo{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	info, err := scanDocument(s.pool.QueryRow(ctx, st.getDocument, tenant, docID))
	if errors.Is(err, pgx.ErrNoRows) {
		return rag.DocumentInfo{}, rag.ErrNotFound
	}
	if err != nil {
		return rag.DocumentInfo{}, fmt.Errorf("pgvector: document %q: %w", docID, err)
	}
	return info, nil
}

// Documents implements rag.Store: every document of the tenant, ordered
// by ID (byte order, as Go compares strings).
func (s *Store) Documents(ctx context.Context, tenant string) ([]rag.DocumentInfo, error) {
	if tenant == "" {
		return nil, rag.ErrNoPrincipal
	}
	st, err := s.ready()
	if err != nil {
		return nil, err
	}
	if err := checkKey(tenant, ""); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, st.listDocuments, tenant)
	if err != nil {
		return nil, fmt.Errorf("pgvector: documents: %w", err)
	}
	defer rows.Close()
	var out []rag.DocumentInfo
	for rows.Next() {
		info, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("pgvector: documents: %w", err)
		}
		out = append(out, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgvector: documents: %w", err)
	}
	return out, nil
}

// Chunks implements rag.Store: the document's chunks in order, with their
// vectors (normalised to unit length, as stored).
func (s *Store) Chunks(ctx context.Context, tenant, docID string) ([]rag.Chunk, error) {
	if tenant == "" {
		return nil, rag.ErrNoPrincipal
	}
	st, err := s.ready()
	if err != nil {
		return nil, err
	}
	if err := checkKey(tenant, docID); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, st.getChunks, tenant, docID)
	if err != nil {
		return nil, fmt.Errorf("pgvector: chunks of %q: %w", docID, err)
	}
	defer rows.Close()
	found := false
	out := []rag.Chunk{}
	for rows.Next() {
		found = true
		c, err := scanChunk(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("pgvector: chunks of %q: %w", docID, err)
		}
		if c.Index >= 0 { // -1: the document has no chunks
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgvector: chunks of %q: %w", docID, err)
	}
	if !found {
		return nil, rag.ErrNotFound
	}
	return out, nil
}

// scanDocument reads documentColumns.
func scanDocument(row pgx.Row) (rag.DocumentInfo, error) {
	var (
		info    rag.DocumentInfo
		updated time.Time
		meta    string
		chunks  int32
	)
	err := row.Scan(&info.Tenant, &info.ID, &info.ACL.Everyone, &info.ACL.Users, &info.ACL.Groups, &info.Title,
		&info.SourceURL, &updated, &meta, &info.Fingerprint, &chunks)
	if err != nil {
		return rag.DocumentInfo{}, err
	}
	info.UpdatedAt = updated.UTC()
	info.Chunks = int(chunks)
	info.ACL.Users, info.ACL.Groups = nilIfEmpty(info.ACL.Users), nilIfEmpty(info.ACL.Groups)
	if info.Metadata, err = decodeMetadata(meta); err != nil {
		return rag.DocumentInfo{}, err
	}
	return info, nil
}

// scanChunk reads chunkColumns, and the search's score into score when
// it is not nil.
func scanChunk(rows pgx.Rows, score *float64) (rag.Chunk, error) {
	var (
		c          rag.Chunk
		idx        int32
		start, end int64
		updated    time.Time
		meta       string
	)
	dest := []any{&c.Tenant, &c.DocID, &idx, &start, &end, &c.Text, &c.Headings, &c.Vector,
		&c.ACL.Everyone, &c.ACL.Users, &c.ACL.Groups, &c.Title, &c.SourceURL, &updated, &meta}
	if score != nil {
		dest = append(dest, score)
	}
	if err := rows.Scan(dest...); err != nil {
		return rag.Chunk{}, err
	}
	c.Index, c.Start, c.End = int(idx), int(start), int(end)
	c.UpdatedAt = updated.UTC()
	c.Headings = nilIfEmpty(c.Headings)
	c.ACL.Users, c.ACL.Groups = nilIfEmpty(c.ACL.Users), nilIfEmpty(c.ACL.Groups)
	var err error
	if c.Metadata, err = decodeMetadata(meta); err != nil {
		return rag.Chunk{}, err
	}
	return c, nil
}

// decodeMetadata reads the metadata column; an empty object is nil, as
// a document without metadata was given.
func decodeMetadata(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("metadata column: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
