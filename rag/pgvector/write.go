package pgvector

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/keel-go/keel/rag"
)

// Replace implements rag.Store. One transaction writes the document's row
// first (which locks it, so that two replaces of one document run one
// after the other), then deletes its chunks and inserts the new ones,
// all sent in one round trip. Vectors are stored normalised to unit
// length; a vector of zero length or with a NaN or an infinity is
// refused, since it has no cosine distance. Texts must be valid UTF-8
// without NUL bytes, which PostgreSQL's text type cannot hold.
func (s *Store) Replace(ctx context.Context, info rag.DocumentInfo, chunks []rag.Chunk) error {
	if err := rag.CheckDocument(&info, chunks, s.opts.Dim); err != nil {
		return err
	}
	st, err := s.ready()
	if err != nil {
		return err
	}
	meta, err := checkInfo(&info)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(st.upsertDocument, info.Tenant, info.ID, info.ACL.Everyone, nonNil(info.ACL.Users), nonNil(info.ACL.Groups),
		info.Title, info.SourceURL, info.UpdatedAt, meta, info.Fingerprint, len(chunks))
	b.Queue(st.deleteChunks, info.Tenant, info.ID)
	for i := range chunks {
		c := &chunks[i]
		if err := checkText("chunk text", c.Text); err != nil {
			return fmt.Errorf("pgvector: document %q chunk %d: %w", info.ID, i, err)
		}
		for _, h := range c.Headings {
			if err := checkText("heading", h); err != nil {
				return fmt.Errorf("pgvector: document %q chunk %d: %w", info.ID, i, err)
			}
		}
		v, err := normalized(c.Vector)
		if err != nil {
			return fmt.Errorf("pgvector: document %q chunk %d: %w", info.ID, i, err)
		}
		b.Queue(st.insertChunk, info.Tenant, info.ID, c.Index, c.Start, c.End, c.Text, nonNil(c.Headings), v)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return fmt.Errorf("pgvector: replace document %q: %w", info.ID, err)
	}
	return nil
}

// Update implements rag.Store: one transaction updates the document's row
// and the copies of its fields in its chunks (and their keyword text when
// the title changed); texts and vectors stay as they are. PostgreSQL
// writes a new version of each chunk row whose copies change, so an ACL
// change costs about what rewriting the chunks' index entries costs.
func (s *Store) Update(ctx context.Context, info rag.DocumentInfo) error {
	if err := rag.CheckDocument(&info, nil, 0); err != nil {
		return err
	}
	st, err := s.ready()
	if err != nil {
		return err
	}
	meta, err := checkInfo(&info)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, st.updateDocument, info.Tenant, info.ID, info.ACL.Everyone, nonNil(info.ACL.Users),
			nonNil(info.ACL.Groups), info.Title, info.SourceURL, info.UpdatedAt, meta, info.Fingerprint)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return rag.ErrNotFound
		}
		_, err = tx.Exec(ctx, st.updateChunks, info.Tenant, info.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgvector: update document %q: %w", info.ID, err)
	}
	return nil
}

// Delete implements rag.Store; the chunks go with the document (a
// foreign key with ON DELETE CASCADE), in one statement.
func (s *Store) Delete(ctx context.Context, tenant, docID string) error {
	if tenant == "" {
		return rag.ErrNoPrincipal
	}
	st, err := s.ready()
	if err != nil {
		return err
	}
	if err := checkKey(tenant, docID); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, st.deleteDocument, tenant, docID); err != nil {
		return fmt.Errorf("pgvector: delete document %q: %w", docID, err)
	}
	return nil
}

// checkInfo checks the strings of info and returns its metadata as JSON.
func checkInfo(info *rag.DocumentInfo) (string, error) {
	fields := []struct{ name, value string }{
		{"tenant", info.Tenant}, {"ID", info.ID}, {"title", info.Title},
		{"source URL", info.SourceURL}, {"fingerprint", info.Fingerprint},
	}
	for _, f := range fields {
		if err := checkText(f.name, f.value); err != nil {
			return "", fmt.Errorf("pgvector: document %q: %w", info.ID, err)
		}
	}
	for _, list := range [][]string{info.ACL.Users, info.ACL.Groups} {
		for _, v := range list {
			if err := checkText("ACL entry", v); err != nil {
				return "", fmt.Errorf("pgvector: document %q: %w", info.ID, err)
			}
		}
	}
	meta, err := metadataJSON(info.Metadata)
	if err != nil {
		return "", fmt.Errorf("pgvector: document %q: %w", info.ID, err)
	}
	return meta, nil
}

// metadataJSON encodes metadata as a JSON object, after checking that
// encoding/json will not replace bytes of it (it turns invalid UTF-8
// into U+FFFD) and that jsonb will take it (it refuses \u0000).
func metadataJSON(m map[string]string) (string, error) {
	for k, v := range m {
		if err := checkText("metadata key", k); err != nil {
			return "", err
		}
		if err := checkText("metadata value", v); err != nil {
			return "", err
		}
	}
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	return string(b), nil
}

// checkText refuses what PostgreSQL's text type cannot hold.
func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if containsNUL(s) {
		return fmt.Errorf("%s contains a NUL byte, which PostgreSQL text cannot hold", what)
	}
	return nil
}

// checkKey checks a tenant and a document ID given to a lookup.
func checkKey(tenant, docID string) error {
	if err := checkText("tenant", tenant); err != nil {
		return fmt.Errorf("pgvector: %w", err)
	}
	if err := checkText("document ID", docID); err != nil {
		return fmt.Errorf("pgvector: %w", err)
	}
	return nil
}

// normalized returns v scaled to unit length, or an error for a vector
// without a direction.
func normalized(v []float32) ([]float32, error) {
	var n float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("vector has a NaN or infinite component")
		}
		n += f * f
	}
	if n == 0 {
		return nil, fmt.Errorf("vector has zero length: it has no cosine distance")
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out, nil
}

// nonNil returns s, or an empty slice for nil: pgx sends a nil slice as
// NULL, and the array columns are NOT NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
