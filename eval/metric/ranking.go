package metric

import (
	"cmp"
	"math"
	"slices"
)

// Relevance holds the judgements of one query: the relevance grade of each
// judged document, by document id. Only positive, finite grades count as
// relevant (see the package documentation).
type Relevance map[string]float64

// Qrels holds the judgements of a test collection, by query id (the name
// comes from TREC's "query relevance" files).
type Qrels map[string]Relevance

// Run holds a system's ranking for each query, by query id, best first.
type Run map[string][]string

// RankMetric is the shape every per-query ranking metric in this package
// has, so that Average can take any of them.
type RankMetric func(ranked []string, rel Relevance, k int) float64

// relevantGrade reports the grade of a judgement and whether it counts as
// relevant: a positive finite number.
func relevantGrade(g float64) (float64, bool) {
	if g > 0 && !math.IsInf(g, 1) { // NaN fails g > 0
		return g, true
	}
	return 0, false
}

// cutoff turns k into the number of positions to examine.
func cutoff(n, k int) int {
	if k <= 0 || k > n {
		return n
	}
	return k
}

// numRelevant counts the relevant judgements and returns the largest grade.
func numRelevant(rel Relevance) (n int, maxGrade float64) {
	for _, g := range rel {
		if g, ok := relevantGrade(g); ok {
			n++
			maxGrade = max(maxGrade, g)
		}
	}
	return n, maxGrade
}

// smallSeen is how many relevant hits dedup tracks in a linear scan before
// it switches to a map: rankings rarely hold more relevant documents than
// this, and a scan of a few strings beats hashing.
const smallSeen = 16

// dedup remembers the relevant documents already counted in a ranking, so
// that a repeated id counts only at its first occurrence. Only relevant ids
// are remembered, so it stays as small as the judgements.
type dedup struct {
	n     int
	small [smallSeen]string
	big   map[string]struct{}
}

// first records id and reports whether it was not seen before.
func (d *dedup) first(id string) bool {
	if d.big != nil {
		if _, ok := d.big[id]; ok {
			return false
		}
		d.big[id] = struct{}{}
		return true
	}
	for _, s := range d.small[:d.n] {
		if s == id {
			return false
		}
	}
	if d.n < smallSeen {
		d.small[d.n] = id
		d.n++
		return true
	}
	d.big = make(map[string]struct{}, 2*smallSeen)
	for _, s := range d.small {
		d.big[s] = struct{}{}
	}
	d.big[id] = struct{}{}
	return true
}

// hits calls fn with the 0-based position and grade of each relevant
// document among the first k positions of ranked, first occurrences only,
// and stops early when fn returns false.
func hits(ranked []string, rel Relevance, k int, fn func(pos int, grade float64) bool) {
	var seen dedup
	for i, id := range ranked[:cutoff(len(ranked), k)] {
		g, ok := relevantGrade(rel[id])
		if !ok || !seen.first(id) {
			continue
		}
		if !fn(i, g) {
			return
		}
	}
}

// countHits returns how many distinct relevant documents appear in the
// first k positions.
func countHits(ranked []string, rel Relevance, k int) int {
	n := 0
	hits(ranked, rel, k, func(int, float64) bool { n++; return true })
	return n
}

// RecallAt returns the fraction of the relevant documents that appear in the
// first k positions of ranked: |relevant ∩ top k| / |relevant|. It is 0 when
// the judgements hold no relevant document.
func RecallAt(ranked []string, rel Relevance, k int) float64 {
	total, _ := numRelevant(rel)
	if total == 0 {
		return 0
	}
	return float64(countHits(ranked, rel, k)) / float64(total)
}

// PrecisionAt returns the fraction of the first k positions that hold a
// relevant document: |relevant ∩ top k| / k. As in trec_eval, the divisor is
// k even when the ranking is shorter, so a system that returns fewer
// documents is not rewarded for it. With k <= 0 the divisor is the length of
// the ranking (0 for an empty ranking gives 0).
func PrecisionAt(ranked []string, rel Relevance, k int) float64 {
	div := k
	if k <= 0 {
		div = len(ranked)
	}
	if div == 0 {
		return 0
	}
	return float64(countHits(ranked, rel, k)) / float64(div)
}

// HitAt returns 1 when at least one relevant document appears in the first k
// positions and 0 otherwise. Its average over queries (Average) is the hit
// rate, also called success@k.
func HitAt(ranked []string, rel Relevance, k int) float64 {
	hit := 0.0
	hits(ranked, rel, k, func(int, float64) bool { hit = 1; return false })
	return hit
}

// ReciprocalRankAt returns 1/r, where r is the 1-based rank of the first
// relevant document among the first k positions, or 0 when there is none.
// Its average over queries is the mean reciprocal rank (MRR@k; k <= 0 gives
// the uncut MRR).
func ReciprocalRankAt(ranked []string, rel Relevance, k int) float64 {
	rr := 0.0
	hits(ranked, rel, k, func(pos int, _ float64) bool {
		rr = 1 / float64(pos+1)
		return false
	})
	return rr
}

// NDCGAt returns the normalised discounted cumulative gain at k with the
// exponential gain 2^grade − 1, as defined in the package documentation. It
// is 1 for an ideal ranking and 0 when no relevant document is retrieved or
// none is judged.
func NDCGAt(ranked []string, rel Relevance, k int) float64 {
	return ndcg(ranked, rel, k, true)
}

// NDCGLinearAt returns nDCG@k with the linear gain (the grade itself), which
// is what trec_eval's ndcg_cut and pytrec_eval (hence the BEIR benchmark)
// compute. It equals NDCGAt for binary judgements.
func NDCGLinearAt(ranked []string, rel Relevance, k int) float64 {
	return ndcg(ranked, rel, k, false)
}

// ndcg computes both gains. 2^g − 1 is exact for integer grades and
// computed as expm1(g·ln 2) otherwise, which stays accurate for tiny grades. Grades above 512 would overflow the sums,
// so then every gain is scaled by 2^{−M}, M the largest grade: the factor
// cancels in the ratio, and 2^{g−M} − 2^{−M} needs no huge intermediate.
// The linear gain is scaled by 1/M for the same reason.
func ndcg(ranked []string, rel Relevance, k int, exponential bool) float64 {
	total, maxGrade := numRelevant(rel)
	if total == 0 {
		return 0
	}
	gain := func(g float64) float64 {
		switch {
		case !exponential:
			return g / maxGrade
		case maxGrade <= 512 && g == math.Trunc(g):
			return math.Exp2(g) - 1 // exact for integer grades
		case maxGrade <= 512:
			return math.Expm1(g * math.Ln2)
		default:
			return math.Exp2(g-maxGrade) - math.Exp2(-maxGrade)
		}
	}

	dcg := 0.0
	hits(ranked, rel, k, func(pos int, g float64) bool {
		dcg += gain(g) / math.Log2(float64(pos+2))
		return true
	})
	if dcg == 0 {
		return 0
	}

	grades := make([]float64, 0, total)
	for _, g := range rel {
		if g, ok := relevantGrade(g); ok {
			grades = append(grades, g)
		}
	}
	slices.SortFunc(grades, func(a, b float64) int { return cmp.Compare(b, a) })
	n := total
	if k > 0 {
		n = min(n, k)
	}
	idcg := 0.0
	for i, g := range grades[:n] {
		idcg += gain(g) / math.Log2(float64(i+2))
	}
	// The ideal ranking holds every relevant document in grade order, so
	// dcg <= idcg in exact arithmetic; min guards against the last bit.
	return min(dcg/idcg, 1)
}

// Average returns the mean of metric over the queries of qrels that have at
// least one relevant judgement, with cutoff k. A query missing from run
// counts as an empty ranking (scores 0), as with trec_eval -c; queries with
// no relevant judgement are skipped, since no ranking could score on them.
// It returns 0 when no query qualifies. Queries are summed in sorted order,
// so the result does not depend on map iteration order.
func Average(qrels Qrels, run Run, k int, metric RankMetric) float64 {
	ids := make([]string, 0, len(qrels))
	for id, rel := range qrels {
		if n, _ := numRelevant(rel); n > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	slices.Sort(ids)
	sum := 0.0
	for _, id := range ids {
		sum += metric(run[id], qrels[id], k)
	}
	return sum / float64(len(ids))
}
