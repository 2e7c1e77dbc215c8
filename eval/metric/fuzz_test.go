package metric_test

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/keel-go/keel/eval/metric"
)

// FuzzRankingMetrics checks the invariants every ranking metric must keep on
// arbitrary rankings and judgements: values in [0, 1], no NaN, recall and
// hit monotone in k, hit and reciprocal rank consistent, and nDCG exactly 1
// for the ideal ranking.
func FuzzRankingMetrics(f *testing.F) {
	f.Add([]byte{0, 1, 2, 1, 0}, []byte{8, 0, 16, 250}, 0.5, 3)
	f.Add([]byte{}, []byte{}, 0.0, 0)
	f.Add([]byte{5, 5, 5}, []byte{0, 0, 0, 0, 0, 9}, math.NaN(), -1)
	f.Add([]byte{1, 2, 3}, []byte{0, 1}, 3000.0, 100)
	f.Add([]byte{1}, []byte{1}, math.Inf(1), 1)
	f.Fuzz(func(t *testing.T, rankBytes, gradeBytes []byte, special float64, k int) {
		// Ids come from a small alphabet so that duplicates are common.
		id := func(b byte) string { return "d" + strconv.Itoa(int(b%24)) }
		ranked := make([]string, len(rankBytes))
		for i, b := range rankBytes {
			ranked[i] = id(b)
		}
		rel := metric.Relevance{}
		for i, b := range gradeBytes {
			rel[id(byte(i))] = float64(int8(b)) / 8 // negative, zero and fractional grades
		}
		rel["special"] = special
		if len(rankBytes) > 0 && rankBytes[0]%2 == 0 {
			ranked = append(ranked, "special")
		}

		fns := map[string]metric.RankMetric{
			"recall": metric.RecallAt, "precision": metric.PrecisionAt, "hit": metric.HitAt,
			"rr": metric.ReciprocalRankAt, "ndcg": metric.NDCGAt, "ndcg-linear": metric.NDCGLinearAt,
		}
		for name, fn := range fns {
			v := fn(ranked, rel, k)
			if math.IsNaN(v) || v < 0 || v > 1 {
				t.Fatalf("%s@%d = %v, outside [0, 1]", name, k, v)
			}
		}
		if k > 0 {
			if a, b := metric.RecallAt(ranked, rel, k), metric.RecallAt(ranked, rel, k+1); a > b {
				t.Fatalf("recall@%d = %v > recall@%d = %v", k, a, k+1, b)
			}
		}
		hit, rr := metric.HitAt(ranked, rel, k), metric.ReciprocalRankAt(ranked, rel, k)
		if (hit == 1) != (rr > 0) {
			t.Fatalf("hit %v but reciprocal rank %v", hit, rr)
		}

		// The ideal ranking: every relevant document, highest grade first.
		type judged struct {
			id    string
			grade float64
		}
		var ideal []judged
		for id, g := range rel {
			if g > 0 && !math.IsInf(g, 1) {
				ideal = append(ideal, judged{id, g})
			}
		}
		if len(ideal) == 0 {
			if v := metric.NDCGAt(ranked, rel, k); v != 0 {
				t.Fatalf("no relevant judgement but nDCG %v", v)
			}
			return
		}
		slices.SortFunc(ideal, func(a, b judged) int { return cmp.Compare(b.grade, a.grade) })
		idealIDs := make([]string, len(ideal))
		for i, j := range ideal {
			idealIDs[i] = j.id
		}
		for _, fn := range []metric.RankMetric{metric.NDCGAt, metric.NDCGLinearAt} {
			if v := fn(idealIDs, rel, k); math.Abs(v-1) > 1e-12 {
				t.Fatalf("nDCG of the ideal ranking %v = %v, want 1", idealIDs, v)
			}
		}
		if v := metric.RecallAt(idealIDs, rel, 0); v != 1 {
			t.Fatalf("recall of the ideal ranking = %v, want 1", v)
		}
	})
}
