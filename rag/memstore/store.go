package memstore

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/keel-go/keel/internal/vec"
	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/rag/bm25"
)

// Options configures a Store.
type Options struct {
	// Dim is the vectors' dimensions; required.
	Dim int
	// Quantize keeps an int8 copy of every vector (a quarter of the
	// memory traffic) and searches it first, then rescores the best
	// Rescore candidates exactly with the float32 vectors.
	Quantize bool
	// Rescore is how many candidates an int8 search rescores exactly:
	// at least this many, and at least 10×K (default 100).
	Rescore int
	// Workers is how many goroutines scan vectors in parallel (default
	// GOMAXPROCS). Small tenants are scanned by the caller alone.
	Workers int
	// Tokenizer and BM25 configure the keyword side; a zero BM25 means
	// bm25.DefaultParams (k1 0.9, b 0.4). The zero Tokenizer lowercases,
	// folds accents, keeps stop words and does not stem.
	Tokenizer bm25.Tokenizer
	BM25      bm25.Params
}

// Store is the embedded rag.Store: exact search, a BM25 index per tenant,
// everything in memory, with Save and Load to keep it across restarts.
// Tenants are stored apart (their own vectors, their own keyword index
// and term statistics), so a search never reads another tenant's data and
// one tenant's documents never shift another's ranking. Safe for
// concurrent use; a replace holds its tenant's write lock, so searches see
// a document before or after, never between.
type Store struct {
	opts    Options
	mu      sync.RWMutex
	tenants map[string]*tenant
	scratch sync.Pool // *scratch
}

// New returns an empty Store. It panics if opts.Dim is not positive,
// which is a programming error.
func New(opts Options) *Store {
	if opts.Dim <= 0 {
		panic("memstore: Options.Dim must be positive")
	}
	if opts.BM25 == (bm25.Params{}) {
		opts.BM25 = bm25.DefaultParams()
	}
	if err := bm25.New(opts.Tokenizer).SetParams(opts.BM25); err != nil {
		panic("memstore: " + err.Error())
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Rescore <= 0 {
		opts.Rescore = 100
	}
	return &Store{opts: opts, tenants: map[string]*tenant{}}
}

// tenant holds one tenant's corpus.
type tenant struct {
	mu   sync.RWMutex
	docs map[string]*docEntry
	// slots holds the documents by slot, for per-query visibility arrays;
	// free lists slots to reuse.
	slots []*docEntry
	free  []int32
	// open[i] reports that slot i holds a document whose ACL admits
	// everyone: with a zero filter, a search decides such a document's
	// visibility from this compact array instead of following the slot's
	// pointer, which on a large tenant is a cache miss per document.
	open []bool
	// rows are the chunks; row i's vector is vectors[i*dim:(i+1)*dim].
	rows []row
	// rowSlot[i] is the document slot of row i: the scans test visibility
	// through this compact array rather than through the row structs.
	rowSlot []int32
	vectors []float32
	// qvectors and qscales are the int8 copy, with Quantize.
	qvectors []int8
	qscales  []float32
	keywords *bm25.Index
	// byKey maps a chunk key ("doc#index") to its row.
	byKey map[string]int32
}

type docEntry struct {
	info rag.DocumentInfo
	slot int32
	rows []int32 // its rows, in chunk order
}

type row struct {
	doc   *docEntry
	chunk rag.Chunk // without Vector and document fields (in doc.info)
}

func (s *Store) tenant(name string, create bool) *tenant {
	s.mu.RLock()
	t := s.tenants[name]
	s.mu.RUnlock()
	if t != nil || !create {
		return t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t = s.tenants[name]; t == nil {
		kw := bm25.New(s.opts.Tokenizer)
		_ = kw.SetParams(s.opts.BM25) // checked by New
		t = &tenant{docs: map[string]*docEntry{}, keywords: kw, byKey: map[string]int32{}}
		s.tenants[name] = t
	}
	return t
}

// Replace implements rag.Store.
func (s *Store) Replace(ctx context.Context, info rag.DocumentInfo, chunks []rag.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := rag.CheckDocument(&info, chunks, s.opts.Dim); err != nil {
		return err
	}
	info.Chunks = len(chunks)
	info = info.Clone() // the caller keeps its maps and slices
	// Normalise outside the lock.
	vecs := make([]float32, len(chunks)*s.opts.Dim)
	for i := range chunks {
		v := vecs[i*s.opts.Dim : (i+1)*s.opts.Dim]
		copy(v, chunks[i].Vector)
		vec.Normalize(v)
	}
	t := s.tenant(info.Tenant, true)
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.docs[info.ID]; old != nil {
		s.removeDoc(t, old)
	}
	d := &docEntry{info: info}
	if n := len(t.free); n > 0 {
		d.slot, t.free = t.free[n-1], t.free[:n-1]
		t.slots[d.slot] = d
		t.open[d.slot] = info.ACL.Everyone
	} else {
		d.slot = int32(len(t.slots))
		t.slots = append(t.slots, d)
		t.open = append(t.open, info.ACL.Everyone)
	}
	t.docs[info.ID] = d
	for i := range chunks {
		c := chunks[i]
		c.Vector, c.DocID, c.Tenant = nil, info.ID, info.Tenant
		c.ACL, c.Title, c.SourceURL, c.Metadata = rag.ACL{}, "", "", nil
		c.Headings = slices.Clone(c.Headings)
		r := int32(len(t.rows))
		t.rows = append(t.rows, row{doc: d, chunk: c})
		t.rowSlot = append(t.rowSlot, d.slot)
		v := vecs[i*s.opts.Dim : (i+1)*s.opts.Dim]
		t.vectors = append(t.vectors, v...)
		if s.opts.Quantize {
			q := make([]int8, s.opts.Dim)
			t.qscales = append(t.qscales, vec.QuantizeInt8Into(q, v))
			t.qvectors = append(t.qvectors, q...)
		}
		d.rows = append(d.rows, r)
		key := c.ID()
		t.byKey[key] = r
		if err := t.keywords.Add(key, keywordText(&info, &c)); err != nil {
			// Only a full index fails: leave no half document behind.
			s.removeDoc(t, d)
			return fmt.Errorf("memstore: %w", err)
		}
	}
	return nil
}

// keywordText is what the keyword index reads for a chunk: its text, its
// heading path and the document title.
func keywordText(info *rag.DocumentInfo, c *rag.Chunk) string {
	text := c.Text
	for _, h := range c.Headings {
		text = h + "\n" + text
	}
	if info.Title != "" {
		text = info.Title + "\n" + text
	}
	return text
}

// removeDoc deletes d's rows by moving the last rows into their places.
// The caller holds t.mu.
func (s *Store) removeDoc(t *tenant, d *docEntry) {
	dim := s.opts.Dim
	// Highest rows first, so that a moved row is never one still to go.
	rows := slices.Clone(d.rows)
	slices.Sort(rows)
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		key := t.rows[r].chunk.ID()
		t.keywords.Remove(key)
		delete(t.byKey, key)
		last := int32(len(t.rows) - 1)
		if r != last {
			moved := t.rows[last]
			t.rows[r] = moved
			t.rowSlot[r] = t.rowSlot[last]
			copy(t.vectors[int(r)*dim:int(r+1)*dim], t.vectors[int(last)*dim:int(last+1)*dim])
			if s.opts.Quantize {
				copy(t.qvectors[int(r)*dim:int(r+1)*dim], t.qvectors[int(last)*dim:int(last+1)*dim])
				t.qscales[r] = t.qscales[last]
			}
			for j, mr := range moved.doc.rows {
				if mr == last {
					moved.doc.rows[j] = r
				}
			}
			t.byKey[moved.chunk.ID()] = r
		}
		t.rows[last] = row{}
		t.rows = t.rows[:last]
		t.rowSlot = t.rowSlot[:last]
		t.vectors = t.vectors[:int(last)*dim]
		if s.opts.Quantize {
			t.qvectors = t.qvectors[:int(last)*dim]
			t.qscales = t.qscales[:last]
		}
	}
	delete(t.docs, d.info.ID)
	t.slots[d.slot] = nil
	t.open[d.slot] = false
	t.free = append(t.free, d.slot)
}

// Update implements rag.Store.
func (s *Store) Update(ctx context.Context, info rag.DocumentInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if info.Tenant == "" {
		return rag.ErrNoPrincipal
	}
	t := s.tenant(info.Tenant, false)
	if t == nil {
		return rag.ErrNotFound
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.docs[info.ID]
	if d == nil {
		return rag.ErrNotFound
	}
	info.Chunks = d.info.Chunks
	info = info.Clone() // the caller keeps its maps and slices
	titleChanged := info.Title != d.info.Title
	d.info = info
	t.open[d.slot] = info.ACL.Everyone
	if titleChanged {
		// The title is part of each chunk's keyword text.
		for _, r := range d.rows {
			c := &t.rows[r].chunk
			key := c.ID()
			// Add replaces the entry under key; it fails only when the
			// index is full, which a replacement cannot make it.
			_ = t.keywords.Add(key, keywordText(&info, c))
		}
	}
	return nil
}

// Delete implements rag.Store.
func (s *Store) Delete(ctx context.Context, tenantName, docID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tenantName == "" {
		return rag.ErrNoPrincipal
	}
	t := s.tenant(tenantName, false)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.docs[docID]; d != nil {
		s.removeDoc(t, d)
	}
	return nil
}

// Document implements rag.Store.
func (s *Store) Document(ctx context.Context, tenantName, docID string) (rag.DocumentInfo, error) {
	if tenantName == "" {
		return rag.DocumentInfo{}, rag.ErrNoPrincipal
	}
	t := s.tenant(tenantName, false)
	if t == nil {
		return rag.DocumentInfo{}, rag.ErrNotFound
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.docs[docID]
	if d == nil {
		return rag.DocumentInfo{}, rag.ErrNotFound
	}
	return d.info.Clone(), nil
}

// Documents implements rag.Store.
func (s *Store) Documents(ctx context.Context, tenantName string) ([]rag.DocumentInfo, error) {
	if tenantName == "" {
		return nil, rag.ErrNoPrincipal
	}
	t := s.tenant(tenantName, false)
	if t == nil {
		return nil, nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]rag.DocumentInfo, 0, len(t.docs))
	for _, d := range t.docs {
		out = append(out, d.info.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Chunks implements rag.Store.
func (s *Store) Chunks(ctx context.Context, tenantName, docID string) ([]rag.Chunk, error) {
	if tenantName == "" {
		return nil, rag.ErrNoPrincipal
	}
	t := s.tenant(tenantName, false)
	if t == nil {
		return nil, rag.ErrNotFound
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.docs[docID]
	if d == nil {
		return nil, rag.ErrNotFound
	}
	out := make([]rag.Chunk, len(d.rows))
	for i, r := range d.rows {
		out[i] = s.chunk(t, r)
	}
	return out, nil
}

// chunk returns row r as a rag.Chunk with its vector and document fields.
// The caller holds t.mu.
func (s *Store) chunk(t *tenant, r int32) rag.Chunk {
	rw := &t.rows[r]
	c := rw.chunk
	info := &rw.doc.info
	c.ACL, c.Title, c.SourceURL, c.UpdatedAt = info.ACL.Clone(), info.Title, info.SourceURL, info.UpdatedAt
	c.Metadata = maps.Clone(info.Metadata)
	c.Headings = slices.Clone(c.Headings)
	c.Vector = slices.Clone(t.vectors[int(r)*s.opts.Dim : int(r+1)*s.opts.Dim])
	return c
}

// errDim reports a query vector of the wrong size.
func (s *Store) errDim(n int) error {
	return fmt.Errorf("memstore: query vector has %d dimensions, want %d", n, s.opts.Dim)
}

// Len returns how many chunks the store holds across tenants.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, t := range s.tenants {
		t.mu.RLock()
		n += len(t.rows)
		t.mu.RUnlock()
	}
	return n
}
