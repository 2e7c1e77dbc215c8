package rag

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/keel-go/keel/llm"
)

// Reranker reorders candidate hits for a query, best first, and may drop
// some. Scores it returns replace the hits' scores.
type Reranker interface {
	Rerank(ctx context.Context, query string, hits []Hit) ([]Hit, error)
}

// Retriever finds the passages for a question: keyword search, vector
// search, or both fused with reciprocal rank fusion, then optionally
// diversified with maximal marginal relevance and reranked. Every search
// runs for the principal of the request, inside the store.
type Retriever struct {
	Store Store
	// Embedder embeds the query for vector search (nil: keyword only).
	// Use the same model and dimensions as the Ingester.
	Embedder   llm.Embedder
	Model      string
	Dimensions int
	// Mode chooses the searches; the zero value is Hybrid (keyword only
	// when there is no Embedder).
	Mode Mode
	// KeywordWeight and VectorWeight weigh the two lists in the fusion
	// (both 1 when zero). RRFK is the fusion constant k (default 60, as in
	// Cormack et al. 2009).
	KeywordWeight, VectorWeight float64
	RRFK                        float64
	// Candidates is how many hits each search returns before fusion,
	// MMR and reranking (default 4×K, at least 20).
	Candidates int
	// MMRLambda, when in (0, 1], diversifies the results with maximal
	// marginal relevance: lambda 1 is pure relevance, lower values favour
	// passages unlike those already chosen. Needs vectors (vector or
	// hybrid mode).
	MMRLambda float64
	// Reranker, when set, reorders the candidates last.
	Reranker Reranker
	// Feature attributes the query embedding's cost.
	Feature string
}

// Mode is a Retriever's choice of searches.
type Mode uint8

// The modes.
const (
	Hybrid Mode = iota
	KeywordOnly
	VectorOnly
)

// Retrieve returns up to k passages for query that principal may see,
// best first, filtered by filter.
func (r *Retriever) Retrieve(ctx context.Context, principal llm.Principal, query string, k int, filter Filter) ([]Hit, error) {
	if r.Store == nil {
		return nil, errors.New("rag: Retriever needs a Store")
	}
	q := Query{Principal: principal, K: k, Filter: filter}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	mode := r.Mode
	if mode == Hybrid && r.Embedder == nil {
		mode = KeywordOnly
	}
	if mode == VectorOnly && r.Embedder == nil {
		return nil, errors.New("rag: vector retrieval needs an Embedder")
	}
	cand := r.Candidates
	if cand <= 0 {
		cand = max(4*k, 20)
	}
	cand = max(cand, k)
	cq := Query{Principal: principal, K: min(cand, maxK), Filter: filter}

	var keyword, vector []Hit
	var qvec []float32
	g, gctx := errgroup.WithContext(ctx)
	if mode != VectorOnly {
		g.Go(func() error {
			var err error
			keyword, err = r.Store.KeywordSearch(gctx, KeywordQuery{Query: cq, Text: query})
			return err
		})
	}
	if mode != KeywordOnly {
		g.Go(func() error {
			resp, err := r.Embedder.Embed(gctx, &llm.EmbedRequest{Model: r.Model, Inputs: []string{query}, Dimensions: r.Dimensions, Principal: principal, Feature: r.Feature})
			if err != nil {
				return err
			}
			if len(resp.Vectors) != 1 {
				return fmt.Errorf("rag: the embedder returned %d vectors for one query", len(resp.Vectors))
			}
			qvec = resp.Vectors[0]
			vector, err = r.Store.VectorSearch(gctx, VectorQuery{Query: cq, Vector: qvec})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var hits []Hit
	switch mode {
	case KeywordOnly:
		hits = keyword
	case VectorOnly:
		hits = vector
	default:
		hits = FuseRRF(r.RRFK, []float64{weight(r.KeywordWeight), weight(r.VectorWeight)}, keyword, vector)
	}
	if r.MMRLambda > 0 && r.MMRLambda <= 1 && qvec != nil {
		hits = MMR(qvec, hits, len(hits), r.MMRLambda)
	}
	if r.Reranker != nil && len(hits) > 0 {
		var err error
		if hits, err = r.Reranker.Rerank(ctx, query, hits); err != nil {
			return nil, fmt.Errorf("rag: rerank: %w", err)
		}
	}
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits, nil
}

func weight(w float64) float64 {
	if w == 0 {
		return 1
	}
	return w
}

// FuseRRF fuses ranked lists with weighted reciprocal rank fusion: a
// chunk's score is the sum over lists of weight/(k + rank), rank from 1.
// k is 60 when zero. Hits are identified by chunk (tenant, document,
// index); the first list a chunk appears in supplies its Chunk. Ties keep
// the order of first appearance.
func FuseRRF(k float64, weights []float64, lists ...[]Hit) []Hit {
	if k <= 0 {
		k = 60
	}
	type entry struct {
		hit   Hit
		score float64
		order int
	}
	byID := map[string]*entry{}
	var order []*entry
	for li, list := range lists {
		w := 1.0
		if li < len(weights) {
			w = weights[li]
		}
		for rank, h := range list {
			id := h.Chunk.Tenant + "\x00" + h.Chunk.ID()
			e, ok := byID[id]
			if !ok {
				e = &entry{hit: h, order: len(order)}
				byID[id] = e
				order = append(order, e)
			}
			e.score += w / (k + float64(rank+1))
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].score > order[j].score })
	out := make([]Hit, len(order))
	for i, e := range order {
		out[i] = e.hit
		out[i].Score = e.score
	}
	return out
}

// MMR reorders hits by maximal marginal relevance (Carbonell and Goldstein
// 1998) and keeps n: each step picks the hit maximising
// lambda·sim(query, hit) − (1−lambda)·max sim(hit, chosen), with cosine
// similarity of the chunks' vectors. Hits without vectors keep their
// order after the others.
func MMR(query []float32, hits []Hit, n int, lambda float64) []Hit {
	var withVec, without []Hit
	for _, h := range hits {
		if len(h.Chunk.Vector) == len(query) && len(query) > 0 {
			withVec = append(withVec, h)
		} else {
			without = append(without, h)
		}
	}
	rel := make([]float64, len(withVec))
	for i := range withVec {
		rel[i] = cosine(query, withVec[i].Chunk.Vector)
	}
	chosen := make([]Hit, 0, min(n, len(hits)))
	used := make([]bool, len(withVec))
	maxSim := make([]float64, len(withVec))
	for len(chosen) < n && len(chosen) < len(withVec) {
		best, bestScore := -1, math.Inf(-1)
		for i := range withVec {
			if used[i] {
				continue
			}
			score := lambda*rel[i] - (1-lambda)*maxSim[i]
			if len(chosen) == 0 {
				score = rel[i]
			}
			if score > bestScore {
				best, bestScore = i, score
			}
		}
		used[best] = true
		chosen = append(chosen, withVec[best])
		for i := range withVec {
			if !used[i] {
				maxSim[i] = math.Max(maxSim[i], cosine(withVec[best].Chunk.Vector, withVec[i].Chunk.Vector))
			}
		}
	}
	for _, h := range without {
		if len(chosen) >= n {
			break
		}
		chosen = append(chosen, h)
	}
	return chosen
}

// cosine returns the cosine similarity of a and b (0 for a zero vector).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
