package memstore

import (
	"context"
	"sync"

	"github.com/keel-go/keel/internal/vec"
	"github.com/keel-go/keel/rag"
)

// parallelRows is the tenant size from which a vector search is split
// across Workers goroutines; below it the caller scans alone (a
// goroutine costs more than it saves).
const parallelRows = 8192

// scratch is the per-search memory a Store reuses, so that a search
// allocates nothing but its result.
type scratch struct {
	visible []bool    // by document slot
	scores  []float32 // by row
	iscores []int32   // by row, int8 search
	query   []float32
	qquery  []int8
	heaps   []topK
}

func (s *Store) getScratch() *scratch {
	if sc, ok := s.scratch.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

// visibility fills sc.visible for the documents of t that q's principal
// may see under its filter. The caller holds t.mu.
func (sc *scratch) visibility(t *tenant, q *rag.Query) bool {
	sc.visible = grow(sc.visible, len(t.slots))
	any := false
	for i, d := range t.slots {
		if d == nil {
			sc.visible[i] = false
			continue
		}
		c := rag.Chunk{DocID: d.info.ID, Tenant: d.info.Tenant, ACL: d.info.ACL, UpdatedAt: d.info.UpdatedAt, Metadata: d.info.Metadata}
		v := q.Visible(&c)
		sc.visible[i] = v
		any = any || v
	}
	return any
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// VectorSearch implements rag.Store: an exact scan of the tenant's rows
// that the principal may see, scored by cosine similarity (vectors are
// normalised), the top K kept in a heap; with Quantize, an int8 scan picks
// candidates that are rescored exactly.
func (s *Store) VectorSearch(ctx context.Context, q rag.VectorQuery) ([]rag.Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if len(q.Vector) != s.opts.Dim {
		return nil, s.errDim(len(q.Vector))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := s.tenant(q.Principal.Tenant, false)
	if t == nil {
		return nil, nil
	}
	sc := s.getScratch()
	defer s.scratch.Put(sc)
	sc.query = grow(sc.query, s.opts.Dim)
	copy(sc.query, q.Vector)
	vec.Normalize(sc.query)

	t.mu.RLock()
	defer t.mu.RUnlock()
	if !sc.visibility(t, &q.Query) {
		return nil, nil
	}
	var best []ranked
	if s.opts.Quantize && len(t.qscales) == len(t.rows) {
		best = s.searchInt8(t, sc, q.K)
	} else {
		best = s.searchFloat(t, sc, q.K)
	}
	hits := make([]rag.Hit, len(best))
	for i, b := range best {
		hits[i] = rag.Hit{Chunk: s.chunk(t, b.row), Score: float64(b.score)}
	}
	return hits, nil
}

// searchFloat scores every visible row exactly and returns the top k,
// best first.
func (s *Store) searchFloat(t *tenant, sc *scratch, k int) []ranked {
	n, dim := len(t.rows), s.opts.Dim
	sc.scores = grow(sc.scores, n)
	workers := scanWorkers(n, s.opts.Workers)
	sc.heaps = growHeaps(sc.heaps, workers, k)
	scan := func(w, lo, hi int) {
		h := &sc.heaps[w]
		visibleRuns(t, sc, lo, hi, func(r, end int) {
			vec.DotBatch(sc.query, t.vectors[r*dim:end*dim], dim, sc.scores[r:end])
			for i := r; i < end; i++ {
				h.push(int32(i), sc.scores[i])
			}
		})
	}
	parallel(workers, n, scan)
	return mergeHeaps(sc.heaps[:workers], k)
}

// scanWorkers is how many goroutines scan n rows: one below
// parallelRows, where a goroutine costs more than it saves.
func scanWorkers(n, max int) int {
	if n < parallelRows {
		return 1
	}
	return min(max, n/(parallelRows/2))
}

// visibleRuns calls f for each run [r, end) of visible rows in [lo, hi),
// so that the batch kernels score long contiguous blocks: a document's
// rows are contiguous.
func visibleRuns(t *tenant, sc *scratch, lo, hi int, f func(r, end int)) {
	for r := lo; r < hi; {
		if !sc.visible[t.rowSlot[r]] {
			r++
			continue
		}
		end := r + 1
		for end < hi && sc.visible[t.rowSlot[end]] {
			end++
		}
		f(r, end)
		r = end
	}
}

// searchInt8 scans the int8 copy for candidates and rescores them exactly.
func (s *Store) searchInt8(t *tenant, sc *scratch, k int) []ranked {
	n, dim := len(t.rows), s.opts.Dim
	sc.qquery = grow(sc.qquery, dim)
	qscale := vec.QuantizeInt8Into(sc.qquery, sc.query)
	sc.iscores = grow(sc.iscores, n)
	cand := max(s.opts.Rescore, 10*k)
	workers := scanWorkers(n, s.opts.Workers)
	sc.heaps = growHeaps(sc.heaps, workers, cand)
	scan := func(w, lo, hi int) {
		h := &sc.heaps[w]
		visibleRuns(t, sc, lo, hi, func(r, end int) {
			vec.DotInt8Batch(sc.qquery, t.qvectors[r*dim:end*dim], dim, sc.iscores[r:end])
			for i := r; i < end; i++ {
				h.push(int32(i), float32(sc.iscores[i])*t.qscales[i]*qscale)
			}
		})
	}
	parallel(workers, n, scan)
	candidates := mergeHeaps(sc.heaps[:workers], cand)
	// Exact rescoring of the candidates.
	sc.heaps = growHeaps(sc.heaps, 1, k)
	h := &sc.heaps[0]
	for _, c := range candidates {
		h.push(c.row, vec.Dot(sc.query, t.vectors[int(c.row)*dim:int(c.row+1)*dim]))
	}
	return h.sorted()
}

// parallel runs scan over [0, n) split into workers contiguous ranges.
func parallel(workers, n int, scan func(w, lo, hi int)) {
	if workers <= 1 {
		scan(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := 1; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, n)
		wg.Go(func() { scan(w, lo, hi) })
	}
	scan(0, 0, min(per, n))
	wg.Wait()
}

// KeywordSearch implements rag.Store with the tenant's BM25 index; the
// principal's visibility is checked inside the index's top-k selection.
func (s *Store) KeywordSearch(ctx context.Context, q rag.KeywordQuery) ([]rag.Hit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := s.tenant(q.Principal.Tenant, false)
	if t == nil {
		return nil, nil
	}
	sc := s.getScratch()
	defer s.scratch.Put(sc)
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !sc.visibility(t, &q.Query) {
		return nil, nil
	}
	results := t.keywords.Search(q.Text, q.K, func(key string) bool {
		r, ok := t.byKey[key]
		return ok && sc.visible[t.rowSlot[r]]
	})
	hits := make([]rag.Hit, 0, len(results))
	for _, res := range results {
		r, ok := t.byKey[res.DocID]
		if !ok {
			continue
		}
		hits = append(hits, rag.Hit{Chunk: s.chunk(t, r), Score: res.Score})
	}
	return hits, nil
}
