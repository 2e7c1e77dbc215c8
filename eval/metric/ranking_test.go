package metric_test

import (
	"math"
	"testing"

	"github.com/keel-go/keel/eval/metric"
)

const tol = 1e-12

func near(got, want float64) bool {
	return math.Abs(got-want) <= tol
}

// log2 keeps the hand-written expected values below readable:
// 1/log2(i+1) is the discount of rank i.
func log2(x float64) float64 { return math.Log2(x) }

func TestRankingMetrics(t *testing.T) {
	binary := metric.Relevance{"a": 1, "c": 1, "f": 1}
	// d3 is judged non-relevant (0); e has a negative grade, x NaN, y +Inf:
	// none of them counts.
	graded := metric.Relevance{"a": 3, "b": 2, "c": 0, "d": 1, "e": -2, "x": math.NaN(), "y": math.Inf(1)}

	type metricFunc = func([]string, metric.Relevance, int) float64
	tests := []struct {
		name   string
		fn     metricFunc
		ranked []string
		rel    metric.Relevance
		k      int
		want   float64
	}{
		// binary judgements, ranking a b c d e: relevant at ranks 1 and 3,
		// f never retrieved.
		{"recall@1", metric.RecallAt, []string{"a", "b", "c", "d", "e"}, binary, 1, 1.0 / 3},
		{"recall@2", metric.RecallAt, []string{"a", "b", "c", "d", "e"}, binary, 2, 1.0 / 3},
		{"recall@3", metric.RecallAt, []string{"a", "b", "c", "d", "e"}, binary, 3, 2.0 / 3},
		{"recall@10 beyond list", metric.RecallAt, []string{"a", "b", "c", "d", "e"}, binary, 10, 2.0 / 3},
		{"recall all (k=0)", metric.RecallAt, []string{"a", "b", "c", "d", "e"}, binary, 0, 2.0 / 3},
		{"precision@1", metric.PrecisionAt, []string{"a", "b", "c", "d", "e"}, binary, 1, 1},
		{"precision@2", metric.PrecisionAt, []string{"a", "b", "c", "d", "e"}, binary, 2, 0.5},
		{"precision@3", metric.PrecisionAt, []string{"a", "b", "c", "d", "e"}, binary, 3, 2.0 / 3},
		{"precision@10 divides by k", metric.PrecisionAt, []string{"a", "b", "c", "d", "e"}, binary, 10, 2.0 / 10},
		{"precision all (k=0) divides by length", metric.PrecisionAt, []string{"a", "b", "c", "d", "e"}, binary, 0, 2.0 / 5},
		{"hit@1", metric.HitAt, []string{"a", "b", "c", "d", "e"}, binary, 1, 1},
		{"hit@2 miss", metric.HitAt, []string{"b", "d", "c"}, binary, 2, 0},
		{"hit@3", metric.HitAt, []string{"b", "d", "c"}, binary, 3, 1},
		{"rr first", metric.ReciprocalRankAt, []string{"a", "b", "c"}, binary, 0, 1},
		{"rr third", metric.ReciprocalRankAt, []string{"b", "d", "c"}, binary, 0, 1.0 / 3},
		{"rr@2 cut before first relevant", metric.ReciprocalRankAt, []string{"b", "d", "c"}, binary, 2, 0},
		// DCG@3 = 1/log2(2) + 1/log2(4); IDCG@3 = 1 + 1/log2(3) + 1/log2(4).
		{"ndcg@3", metric.NDCGAt, []string{"a", "b", "c", "d", "e"}, binary, 3,
			(1 + 0.5) / (1 + 1/log2(3) + 0.5)},
		// k=5: the ideal still has only 3 relevant documents.
		{"ndcg@5", metric.NDCGAt, []string{"a", "b", "c", "d", "e"}, binary, 5,
			(1 + 0.5) / (1 + 1/log2(3) + 0.5)},
		// k=1: only rank 1 in both.
		{"ndcg@1", metric.NDCGAt, []string{"b", "a"}, binary, 1, 0},
		{"ndcg@2", metric.NDCGAt, []string{"b", "a"}, binary, 2, (1 / log2(3)) / (1 + 1/log2(3))},
		{"ndcg binary linear equals exponential", metric.NDCGLinearAt, []string{"a", "b", "c", "d", "e"}, binary, 3,
			(1 + 0.5) / (1 + 1/log2(3) + 0.5)},

		// graded, ranking d c b a: exponential gains d=2^1−1=1, c=0, b=2^2−1=3,
		// a=2^3−1=7; the ideal order is a b d.
		{"graded ndcg@4", metric.NDCGAt, []string{"d", "c", "b", "a"}, graded, 4,
			(1 + 0 + 3/log2(4) + 7/log2(5)) / (7 + 3/log2(3) + 1/log2(4))},
		{"graded ndcg@2", metric.NDCGAt, []string{"d", "c", "b", "a"}, graded, 2,
			1 / (7 + 3/log2(3))},
		// linear gains d=1, c=0, b=2, a=3.
		{"graded linear ndcg@4", metric.NDCGLinearAt, []string{"d", "c", "b", "a"}, graded, 4,
			(1 + 0 + 2/log2(4) + 3/log2(5)) / (3 + 2/log2(3) + 1/log2(4))},
		{"graded ideal ndcg@10", metric.NDCGAt, []string{"a", "b", "d"}, graded, 10, 1},
		{"graded ideal then junk", metric.NDCGAt, []string{"a", "b", "d", "e", "x", "y"}, graded, 0, 1},
		{"graded recall ignores grade 0, negative, NaN, Inf", metric.RecallAt, []string{"c", "e", "x", "y", "d"}, graded, 0, 1.0 / 3},
		{"graded precision", metric.PrecisionAt, []string{"c", "e", "x", "y", "d"}, graded, 5, 1.0 / 5},
		// non-integer grades: gain 2^1.5 − 1 at rank 2, ideal has it at rank 1.
		{"fractional grade", metric.NDCGAt, []string{"z", "h"}, metric.Relevance{"h": 1.5}, 2,
			((math.Pow(2, 1.5) - 1) / log2(3)) / (math.Pow(2, 1.5) - 1)},

		// duplicates: a counts once, at rank 1; its copies occupy ranks 2-3.
		{"dup recall@3", metric.RecallAt, []string{"a", "a", "a", "c"}, metric.Relevance{"a": 1, "c": 1}, 3, 0.5},
		{"dup precision@3", metric.PrecisionAt, []string{"a", "a", "a", "c"}, metric.Relevance{"a": 1, "c": 1}, 3, 1.0 / 3},
		{"dup ndcg@4", metric.NDCGAt, []string{"a", "a", "a", "c"}, metric.Relevance{"a": 1, "c": 1}, 4,
			(1 + 1/log2(5)) / (1 + 1/log2(3))},
		{"dup rr", metric.ReciprocalRankAt, []string{"b", "b", "a"}, metric.Relevance{"a": 1}, 0, 1.0 / 3},

		// no relevant judgement at all: every metric is 0.
		{"no relevant recall", metric.RecallAt, []string{"a"}, metric.Relevance{"a": 0}, 1, 0},
		{"no relevant ndcg", metric.NDCGAt, []string{"a"}, metric.Relevance{}, 1, 0},
		{"nil judgements precision", metric.PrecisionAt, []string{"a"}, nil, 1, 0},
		{"no relevant hit", metric.HitAt, []string{"a"}, nil, 1, 0},
		// empty ranking.
		{"empty ranking recall", metric.RecallAt, nil, binary, 10, 0},
		{"empty ranking precision all", metric.PrecisionAt, nil, binary, 0, 0},
		{"empty ranking ndcg", metric.NDCGAt, nil, binary, 10, 0},
		{"empty ranking rr", metric.ReciprocalRankAt, nil, binary, 10, 0},
		// negative k means the whole ranking, like 0.
		{"negative k", metric.RecallAt, []string{"a", "b", "c"}, binary, -3, 2.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.fn(tt.ranked, tt.rel, tt.k)
			if !near(got, tt.want) {
				t.Errorf("got %.17g, want %.17g", got, tt.want)
			}
		})
	}
}

// TestNDCGHugeGrades: grades far beyond 2^1023 must not overflow into NaN.
// Gains scale by 2^{-M}: the grade-2000 document has gain ≈ 1 and the
// grade-1 document a gain of 2^{-1999} ≈ 0, so nDCG is the discount of the
// rank the top document sits at.
func TestNDCGHugeGrades(t *testing.T) {
	rel := metric.Relevance{"big": 2000, "small": 1}
	got := metric.NDCGAt([]string{"small", "big"}, rel, 2)
	if want := 1 / log2(3); !near(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = metric.NDCGLinearAt([]string{"small", "big"}, metric.Relevance{"big": 1e308, "small": 1e308}, 2)
	if !near(got, 1) {
		t.Errorf("linear with 1e308 grades: got %v, want 1", got)
	}
}

func TestDuplicatesBeyondSmallSet(t *testing.T) {
	// 40 relevant documents, each repeated: exercises the switch from the
	// linear scan to the map in the duplicate tracker.
	rel := metric.Relevance{}
	var ranked []string
	for i := range 40 {
		id := string(rune('A' + i))
		rel[id] = 1
		ranked = append(ranked, id, id)
	}
	if got := metric.RecallAt(ranked, rel, 0); !near(got, 1) {
		t.Errorf("recall = %v, want 1", got)
	}
	if got := metric.PrecisionAt(ranked, rel, 0); !near(got, 0.5) {
		t.Errorf("precision = %v, want 0.5", got)
	}
	// Ranks 1, 3, 5, ... hold the first copies; the ideal packs them at 1..40.
	dcg, idcg := 0.0, 0.0
	for i := range 40 {
		dcg += 1 / log2(float64(2*i+2))
		idcg += 1 / log2(float64(i+2))
	}
	if got := metric.NDCGAt(ranked, rel, 0); !near(got, dcg/idcg) {
		t.Errorf("ndcg = %v, want %v", got, dcg/idcg)
	}
}

func TestAverage(t *testing.T) {
	qrels := metric.Qrels{
		"q1": {"a": 1},
		"q2": {"b": 1},
		"q3": {"c": 0}, // no relevant judgement: skipped
		"q4": {"d": 1}, // missing from the run: counts as 0
	}
	run := metric.Run{
		"q1": {"a", "x"},
		"q2": {"x", "b"},
		"q3": {"c"},
		"q9": {"z"}, // not judged: ignored
	}
	tests := []struct {
		name string
		fn   metric.RankMetric
		k    int
		want float64
	}{
		{"mrr", metric.ReciprocalRankAt, 0, (1 + 0.5 + 0) / 3},
		{"hit@1", metric.HitAt, 1, (1 + 0 + 0) / 3.0},
		{"recall@2", metric.RecallAt, 2, (1 + 1 + 0) / 3.0},
		{"ndcg@2", metric.NDCGAt, 2, (1 + 1/log2(3) + 0) / 3},
	}
	for _, tt := range tests {
		if got := metric.Average(qrels, run, tt.k, tt.fn); !near(got, tt.want) {
			t.Errorf("%s: got %.17g, want %.17g", tt.name, got, tt.want)
		}
	}
	if got := metric.Average(metric.Qrels{"q": {}}, run, 10, metric.NDCGAt); got != 0 {
		t.Errorf("no qualifying query: got %v, want 0", got)
	}
	if got := metric.Average(nil, nil, 10, metric.NDCGAt); got != 0 {
		t.Errorf("nil qrels: got %v, want 0", got)
	}
}
