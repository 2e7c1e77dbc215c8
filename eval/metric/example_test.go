package metric_test

import (
	"fmt"

	"github.com/keel-go/keel/eval/metric"
)

func ExampleNDCGAt() {
	// Graded judgements: d1 is highly relevant (2), d2 somewhat (1).
	rel := metric.Relevance{"d1": 2, "d2": 1}
	ranked := []string{"d2", "d9", "d1"}
	fmt.Printf("nDCG@3   %.4f\n", metric.NDCGAt(ranked, rel, 3))
	fmt.Printf("recall@2 %.2f\n", metric.RecallAt(ranked, rel, 2))
	fmt.Printf("MRR      %.2f\n", metric.ReciprocalRankAt(ranked, rel, 0))
	// Output:
	// nDCG@3   0.6885
	// recall@2 0.50
	// MRR      1.00
}

func ExampleAverage() {
	qrels := metric.Qrels{
		"q1": {"a": 1},
		"q2": {"b": 1, "c": 1},
	}
	run := metric.Run{
		"q1": {"a", "x", "y"},
		"q2": {"x", "c", "y"},
	}
	fmt.Printf("nDCG@10 %.4f\n", metric.Average(qrels, run, 10, metric.NDCGAt))
	fmt.Printf("hit@1   %.2f\n", metric.Average(qrels, run, 1, metric.HitAt))
	// Output:
	// nDCG@10 0.6934
	// hit@1   0.50
}

func ExampleCohenKappa() {
	human := []string{"pass", "pass", "fail", "pass", "fail", "fail", "pass", "pass"}
	judge := []string{"pass", "pass", "fail", "fail", "fail", "pass", "pass", "pass"}
	acc, _ := metric.Accuracy(human, judge)
	kappa, _ := metric.CohenKappa(human, judge)
	fmt.Printf("accuracy %.2f, kappa %.2f\n", acc, kappa)

	m, _ := metric.NewConfusionMatrix(human, judge)
	fmt.Println(m.Labels, m.Counts)
	// Output:
	// accuracy 0.75, kappa 0.47
	// [fail pass] [[2 1] [1 4]]
}

func ExampleBootstrapMeanCI() {
	// Per-query nDCG of a small evaluation run.
	scores := []float64{0.9, 0.7, 1, 0.4, 0.8, 0.6, 1, 0.3, 0.9, 0.75}
	iv, err := metric.BootstrapMeanCI(scores, metric.BootstrapOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("mean %.3f, %.0f%% CI [%.3f, %.3f]\n", iv.Estimate, iv.Level*100, iv.Lower, iv.Upper)
	// Output:
	// mean 0.735, 95% CI [0.590, 0.870]
}
