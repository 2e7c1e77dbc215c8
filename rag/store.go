package rag

import (
	"context"
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm"
)

// Store holds a corpus's chunks with both their vector side and their
// keyword side, so that replacing a document is one atomic step inside
// the backend (one lock, or one transaction). Every search takes the
// principal it runs for and applies the tenant, the ACL and the filter
// inside the store, before the top k are cut: a page is never emptied or
// shortened by permissions applied afterwards.
//
// Implementations: rag/memstore (embedded) and rag/pgvector (PostgreSQL).
// Both pass the suite in rag/storetest. A Store is safe for concurrent use.
type Store interface {
	// Replace atomically replaces every chunk of the document info.ID in
	// info.Tenant with chunks and records info. Chunks carry their
	// vectors; the store stamps them with info's document fields.
	Replace(ctx context.Context, info DocumentInfo, chunks []Chunk) error
	// Update changes a document's fields (ACL, title, URL, dates,
	// metadata, fingerprint) and those of its chunks, without touching
	// texts or vectors. It returns ErrNotFound for an unknown document.
	Update(ctx context.Context, info DocumentInfo) error
	// Delete removes a document and its chunks; a missing document is not
	// an error.
	Delete(ctx context.Context, tenant, docID string) error
	// Document returns what the store holds about a document, or
	// ErrNotFound.
	Document(ctx context.Context, tenant, docID string) (DocumentInfo, error)
	// Documents lists a tenant's documents, ordered by ID.
	Documents(ctx context.Context, tenant string) ([]DocumentInfo, error)
	// Chunks returns a document's chunks in order, vectors included, or
	// ErrNotFound.
	Chunks(ctx context.Context, tenant, docID string) ([]Chunk, error)
	// VectorSearch returns up to q.K chunks the principal may see, most
	// similar to q.Vector first (Score: cosine similarity).
	VectorSearch(ctx context.Context, q VectorQuery) ([]Hit, error)
	// KeywordSearch returns up to q.K chunks the principal may see, best
	// keyword match first. Scores are the backend's own (BM25 in memory,
	// PostgreSQL's ts_rank_cd in rag/pgvector): compare ranks across
	// backends, not scores.
	KeywordSearch(ctx context.Context, q KeywordQuery) ([]Hit, error)
}

// Query is what every search needs.
type Query struct {
	// Principal is who the search runs for. Its tenant is required: a
	// search without one is an error (ErrNoPrincipal), never "all
	// tenants".
	Principal llm.Principal
	// K is how many hits to return, at most; it must be positive.
	K int
	// Filter narrows the chunks searched.
	Filter Filter
}

// VectorQuery is a similarity search.
type VectorQuery struct {
	Query
	// Vector is the query embedding, of the store's dimensions.
	Vector []float32
}

// KeywordQuery is a keyword search.
type KeywordQuery struct {
	Query
	// Text is the query as the user wrote it.
	Text string
}

// Hit is one search result.
type Hit struct {
	Chunk Chunk
	// Score orders the hits of one search, higher first; see Store.
	Score float64
}

// Errors a caller acts on.
var (
	// ErrNoPrincipal: a search, or an ingestion, named no tenant.
	ErrNoPrincipal = errors.New("rag: no tenant: every search and document belongs to one")
	// ErrNotFound: the document is not in the store.
	ErrNotFound = errors.New("rag: document not found")
)

// maxK bounds Query.K, so that a caller's mistake cannot ask a store to
// sort the whole corpus into memory.
const maxK = 10_000

// Validate checks the parts of a query every store checks the same way.
func (q *Query) Validate() error {
	if q.Principal.Tenant == "" {
		return ErrNoPrincipal
	}
	if q.K <= 0 || q.K > maxK {
		return fmt.Errorf("rag: K is %d: want 1 to %d", q.K, maxK)
	}
	return q.Filter.Validate()
}

// Visible reports whether the principal of q may see c under q's filter:
// the check a store that filters in Go applies to each candidate before
// ranking.
func (q *Query) Visible(c *Chunk) bool {
	return c.Tenant == q.Principal.Tenant && c.ACL.Allows(q.Principal) && q.Filter.Matches(c)
}

// CheckDocument checks what Replace and Update are given: a tenant, an id,
// and chunks that belong to the document, in order, with vectors of dim
// dimensions (dim 0: any, but all alike).
func CheckDocument(info *DocumentInfo, chunks []Chunk, dim int) error {
	if info.Tenant == "" {
		return ErrNoPrincipal
	}
	if info.ID == "" {
		return errors.New("rag: document without an ID")
	}
	for i := range chunks {
		c := &chunks[i]
		if c.Index != i {
			return fmt.Errorf("rag: document %q: chunk %d has index %d", info.ID, i, c.Index)
		}
		if c.Start < 0 || c.End < c.Start || c.End-c.Start != len(c.Text) {
			return fmt.Errorf("rag: document %q: chunk %d: offsets [%d,%d) do not fit its %d bytes of text", info.ID, i, c.Start, c.End, len(c.Text))
		}
		if dim == 0 && i > 0 {
			dim = len(chunks[0].Vector)
		}
		if dim != 0 && len(c.Vector) != dim {
			return fmt.Errorf("rag: document %q: chunk %d has %d dimensions, want %d", info.ID, i, len(c.Vector), dim)
		}
	}
	return nil
}
