package memstore

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/keel-go/keel/internal/vec"
	"github.com/keel-go/keel/rag"
)

// parallelRows is the tenant size from which a vector search is split
// across Workers goroutines; below it the caller scans alone (a
// goroutine costs more than it saves).
const parallelRows = 8192

// scanBlock is how many rows a scan scores at a time: the unit in which
// workers claim rows, and the size of their score buffers (4 KB, which
// stays in L1 between the kernel that writes it and the selection that
// reads it).
const scanBlock = 1024

// scratch is the per-search memory a Store reuses, so that a search
// allocates little but its result.
type scratch struct {
	visible []bool // by document slot
	query   []float32
	qquery  []int8
	workers []worker
	merged  []ranked  // the workers' heaps, merged
	rows    []int     // int8 search: the candidates' rows, ascending
	exact   []float32 // int8 search: their exact scores
	final   topK      // int8 search: the exact top k of the candidates
}

// worker is one scanning goroutine's state.
type worker struct {
	best    topK
	scores  []float32 // one block's scores
	iscores []int32   // one block's int8 dot products
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
	// Every document of t belongs to q's tenant (t was found by that
	// name), so with a zero filter only the ACL remains to check, and for
	// documents open to everyone t.open answers without reading the
	// document: on a tenant of thousands of documents, following each
	// slot's pointer costs more than a search's int8 scan.
	zero := q.Filter.IsZero()
	any := false
	for i, d := range t.slots {
		var v bool
		switch {
		case d == nil:
		case zero && t.open[i]:
			v = true
		case zero:
			v = d.info.ACL.Allows(q.Principal)
		default:
			c := rag.Chunk{DocID: d.info.ID, Tenant: d.info.Tenant, ACL: d.info.ACL, UpdatedAt: d.info.UpdatedAt, Metadata: d.info.Metadata}
			v = q.Visible(&c)
		}
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
// best first, in scratch memory.
func (s *Store) searchFloat(t *tenant, sc *scratch, k int) []ranked {
	dim := s.opts.Dim
	ws := sc.startWorkers(scanWorkers(len(t.rows), s.opts.Workers), k)
	parallel(ws, len(t.rows), func(w *worker, lo, hi int) {
		visibleRuns(t, sc.visible, lo, hi, func(r, end int) {
			out := w.scores[:end-r]
			vec.DotBatch(sc.query, t.vectors[r*dim:end*dim], dim, out)
			w.best.pushRun(int32(r), out)
		})
	})
	sc.merged = mergeHeaps(sc.merged, ws, k)
	return sc.merged
}

// searchInt8 scans the int8 copy for candidates and rescores them
// exactly; it returns the top k, best first, in scratch memory.
func (s *Store) searchInt8(t *tenant, sc *scratch, k int) []ranked {
	dim := s.opts.Dim
	sc.qquery = grow(sc.qquery, dim)
	qscale := vec.QuantizeInt8Into(sc.qquery, sc.query)
	cand := max(s.opts.Rescore, 10*k)
	ws := sc.startWorkers(scanWorkers(len(t.rows), s.opts.Workers), cand)
	parallel(ws, len(t.rows), func(w *worker, lo, hi int) {
		visibleRuns(t, sc.visible, lo, hi, func(r, end int) {
			dots, out, scales := w.iscores[:end-r], w.scores[:end-r], t.qscales[r:end]
			vec.DotInt8Batch(sc.qquery, t.qvectors[r*dim:end*dim], dim, dots)
			for i, d := range dots {
				out[i] = float32(d) * scales[i] * qscale
			}
			w.best.pushRun(int32(r), out)
		})
	})
	candidates := mergeHeaps(sc.merged, ws, cand)
	sc.merged = candidates
	// Exact rescoring of the candidates, in row order: the kernel
	// prefetches each row while it scores the one before, and nearby
	// rows share pages.
	sc.rows = sc.rows[:0]
	for _, c := range candidates {
		sc.rows = append(sc.rows, int(c.row))
	}
	slices.Sort(sc.rows)
	sc.exact = grow(sc.exact, len(sc.rows))
	vec.DotRows(sc.query, t.vectors, dim, sc.rows, sc.exact)
	sc.final.reset(k)
	sc.final.pushRows(sc.rows, sc.exact)
	// The candidates' memory is free again: sort the final k into it.
	return sc.final.sortedInto(candidates[:0])
}

// scanWorkers is how many goroutines scan n rows: one below
// parallelRows, where a goroutine costs more than it saves.
func scanWorkers(n, max int) int {
	if n < parallelRows {
		return 1
	}
	return min(max, n/(parallelRows/2))
}

// startWorkers readies n workers, each keeping the k best rows it sees.
func (sc *scratch) startWorkers(n, k int) []worker {
	if cap(sc.workers) < n {
		sc.workers = append(sc.workers[:cap(sc.workers)], make([]worker, n-cap(sc.workers))...)
	}
	ws := sc.workers[:n]
	for i := range ws {
		w := &ws[i]
		w.best.reset(k)
		if w.scores == nil {
			w.scores = make([]float32, scanBlock)
			w.iscores = make([]int32, scanBlock)
		}
	}
	return ws
}

// visibleRuns calls f for each run [r, end) of visible rows in [lo, hi),
// so that the batch kernels score long contiguous blocks: a document's
// rows are contiguous.
func visibleRuns(t *tenant, visible []bool, lo, hi int, f func(r, end int)) {
	slots := t.rowSlot[lo:hi]
	for i := 0; i < len(slots); {
		if !visible[slots[i]] {
			i++
			continue
		}
		end := i + 1
		for end < len(slots) && visible[slots[end]] {
			end++
		}
		f(lo+i, lo+end)
		i = end
	}
}

// parallel runs scan over [0, n) in blocks of at most scanBlock rows,
// on len(ws) goroutines (the caller's and len(ws)-1 more) that claim the
// blocks in turn. Claiming rather than cutting [0, n) in equal parts
// keeps both cores busy to the end when a filter admits more rows in
// one part than in another, or when another process holds a core for a
// while.
func parallel(ws []worker, n int, scan func(w *worker, lo, hi int)) {
	var next atomic.Int64
	run := func(w *worker) {
		for {
			lo := int(next.Add(scanBlock)) - scanBlock
			if lo >= n {
				return
			}
			scan(w, lo, min(lo+scanBlock, n))
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(ws); i++ {
		wg.Go(func() { run(&ws[i]) })
	}
	run(&ws[0])
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
