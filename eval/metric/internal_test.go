package metric

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4}
	tests := []struct{ p, want float64 }{
		{0, 1},
		{1, 4},
		{0.5, 2.5},   // h = 3·0.5 = 1.5: halfway between 2 and 3
		{0.25, 1.75}, // h = 0.75
		{0.9, 3.7},   // h = 2.7
	}
	for _, tt := range tests {
		if got := quantile(sorted, tt.p); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := quantile([]float64{5}, 0.975); got != 5 {
		t.Errorf("single value: %v", got)
	}
}

// TestUniformIndex checks that every index is drawn about equally often,
// including for n that do not divide 2^64, where a plain modulo is biased.
func TestUniformIndex(t *testing.T) {
	for _, n := range []uint64{1, 3, 7, 10} {
		rng := rand.NewPCG(1, 2)
		counts := make([]int, n)
		const draws = 70000
		for range draws {
			i := uniformIndex(rng, n)
			if i >= n {
				t.Fatalf("n=%d: index %d out of range", n, i)
			}
			counts[i]++
		}
		want := float64(draws) / float64(n)
		for i, c := range counts {
			// 5 standard deviations of a binomial count.
			if math.Abs(float64(c)-want) > 5*math.Sqrt(want) {
				t.Errorf("n=%d: index %d drawn %d times, want about %.0f", n, i, c, want)
			}
		}
	}
}
