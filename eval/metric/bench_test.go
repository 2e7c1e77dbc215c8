package metric_test

import (
	"strconv"
	"testing"

	"github.com/keel-go/keel/eval/metric"
)

// benchQuery is a realistic evaluation input: a top-100 ranking and five
// relevant judgements, two of them retrieved.
func benchQuery() ([]string, metric.Relevance) {
	ranked := make([]string, 100)
	for i := range ranked {
		ranked[i] = "doc-" + strconv.Itoa(1000+i*7)
	}
	rel := metric.Relevance{ranked[2]: 2, ranked[40]: 1, "doc-x": 1, "doc-y": 3, "doc-z": 1}
	return ranked, rel
}

func BenchmarkNDCGAt10(b *testing.B) {
	ranked, rel := benchQuery()
	b.ReportAllocs()
	for b.Loop() {
		metric.NDCGAt(ranked, rel, 10)
	}
}

func BenchmarkRecallAt100(b *testing.B) {
	ranked, rel := benchQuery()
	b.ReportAllocs()
	for b.Loop() {
		metric.RecallAt(ranked, rel, 100)
	}
}

func BenchmarkReciprocalRank(b *testing.B) {
	ranked, rel := benchQuery()
	b.ReportAllocs()
	for b.Loop() {
		metric.ReciprocalRankAt(ranked, rel, 0)
	}
}

// BenchmarkAverageNDCG300 averages nDCG@10 over 300 queries, the size of
// the SciFact test split.
func BenchmarkAverageNDCG300(b *testing.B) {
	ranked, rel := benchQuery()
	qrels, run := metric.Qrels{}, metric.Run{}
	for i := range 300 {
		q := strconv.Itoa(i)
		qrels[q], run[q] = rel, ranked
	}
	b.ReportAllocs()
	for b.Loop() {
		metric.Average(qrels, run, 10, metric.NDCGAt)
	}
}

func BenchmarkCohenKappa1000(b *testing.B) {
	labels := []string{"pass", "fail", "partial"}
	x, y := make([]string, 1000), make([]string, 1000)
	for i := range x {
		x[i] = labels[i%3]
		y[i] = labels[(i*7/5)%3]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metric.CohenKappa(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBootstrapMeanCI300 resamples 300 per-query scores 10,000 times,
// what a report on the SciFact test split would do.
func BenchmarkBootstrapMeanCI300(b *testing.B) {
	xs := make([]float64, 300)
	for i := range xs {
		xs[i] = float64(i%17) / 16
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metric.BootstrapMeanCI(xs, metric.BootstrapOptions{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
