package metric_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/keel-go/keel/eval/metric"
)

// repeatPairs builds two labelings holding n copies of each (a, b) pair.
func repeatPairs(pairs []struct {
	a, b string
	n    int
}) (as, bs []string) {
	for _, p := range pairs {
		for range p.n {
			as = append(as, p.a)
			bs = append(bs, p.b)
		}
	}
	return as, bs
}

func TestCohenKappa(t *testing.T) {
	type pair = struct {
		a, b string
		n    int
	}
	tests := []struct {
		name     string
		pairs    []pair
		wantAcc  float64
		wantK    float64
		wantErr  error
		wantDiag int
	}{
		{
			// p_o = 35/50 = 0.7; A says yes 25/50, B 30/50:
			// p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = 0.2/0.5 = 0.4.
			name:    "two raters, moderate agreement",
			pairs:   []pair{{"yes", "yes", 20}, {"yes", "no", 5}, {"no", "yes", 10}, {"no", "no", 15}},
			wantAcc: 0.7, wantK: 0.4, wantDiag: 20,
		},
		{
			// p_o = 60/100; A yes 60%, B yes 70%: p_e = 0.42 + 0.12 = 0.54;
			// κ = 0.06/0.46.
			name:    "high agreement, skewed marginals",
			pairs:   []pair{{"yes", "yes", 45}, {"yes", "no", 15}, {"no", "yes", 25}, {"no", "no", 15}},
			wantAcc: 0.6, wantK: (0.6 - 0.54) / (1 - 0.54), wantDiag: 45,
		},
		{
			// three labels: a-a 1, a-b 1, b-b 2, c-c 1, c-a 1. p_o = 4/6.
			// rows a2 b2 c2, columns a2 b3 c1: p_e = (4+6+2)/36 = 1/3;
			// κ = (2/3 − 1/3)/(2/3) = 0.5.
			name:    "three categories",
			pairs:   []pair{{"a", "a", 1}, {"a", "b", 1}, {"b", "b", 2}, {"c", "c", 1}, {"c", "a", 1}},
			wantAcc: 4.0 / 6, wantK: 0.5, wantDiag: 1,
		},
		{
			name:    "perfect agreement",
			pairs:   []pair{{"pass", "pass", 3}, {"fail", "fail", 2}},
			wantAcc: 1, wantK: 1, wantDiag: 0,
		},
		{
			// p_o = 0, p_e = 0.25 + 0.25 = 0.5: κ = −1.
			name:    "systematic disagreement",
			pairs:   []pair{{"pass", "fail", 1}, {"fail", "pass", 1}},
			wantAcc: 0, wantK: -1, wantDiag: 0,
		},
		{
			// p_o = 0.5, p_e = 1·0.5 = 0.5: κ = 0, chance level.
			name:    "one rater constant",
			pairs:   []pair{{"pass", "pass", 1}, {"pass", "fail", 1}},
			wantAcc: 0.5, wantK: 0, wantDiag: 0,
		},
		{
			name:    "both raters constant: undefined",
			pairs:   []pair{{"pass", "pass", 4}},
			wantAcc: 1, wantErr: metric.ErrUndefined,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := repeatPairs(tt.pairs)
			acc, err := metric.Accuracy(a, b)
			if err != nil || !near(acc, tt.wantAcc) {
				t.Errorf("Accuracy = %v, %v; want %v", acc, err, tt.wantAcc)
			}
			k, err := metric.CohenKappa(a, b)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CohenKappa error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !near(k, tt.wantK) {
				t.Errorf("CohenKappa = %.17g, %v; want %.17g", k, err, tt.wantK)
			}
			// Kappa is symmetric in the two raters.
			if k2, _ := metric.CohenKappa(b, a); !near(k2, k) {
				t.Errorf("CohenKappa(b, a) = %v, want %v", k2, k)
			}
			m, err := metric.NewConfusionMatrix(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Total() != len(a) || !near(m.Accuracy(), tt.wantAcc) {
				t.Errorf("matrix total %d accuracy %v; want %d, %v", m.Total(), m.Accuracy(), len(a), tt.wantAcc)
			}
			first := tt.pairs[0]
			if first.a == first.b && tt.wantDiag > 0 && m.Count(first.a, first.b) != tt.wantDiag {
				t.Errorf("Count(%q, %q) = %d, want %d", first.a, first.b, m.Count(first.a, first.b), tt.wantDiag)
			}
		})
	}
}

func TestConfusionMatrixLayout(t *testing.T) {
	truth := []int{3, 1, 2, 2, 1}
	pred := []int{3, 2, 2, 1, 5}
	m, err := metric.NewConfusionMatrix(truth, pred)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 5}; !slices.Equal(m.Labels, want) {
		t.Fatalf("Labels = %v, want %v", m.Labels, want)
	}
	// rows are truth, columns pred, both in label order 1 2 3 5.
	want := [][]int{
		{0, 1, 0, 1}, // truth 1: predicted 2 once, 5 once
		{1, 1, 0, 0}, // truth 2: predicted 1 once, 2 once
		{0, 0, 1, 0}, // truth 3: predicted 3
		{0, 0, 0, 0}, // nobody's truth is 5
	}
	for i := range want {
		if !slices.Equal(m.Counts[i], want[i]) {
			t.Errorf("row %d = %v, want %v", i, m.Counts[i], want[i])
		}
	}
	if got := m.Count(1, 5); got != 1 {
		t.Errorf("Count(1, 5) = %d, want 1", got)
	}
	if got := m.Count(7, 1); got != 0 {
		t.Errorf("Count of an unknown label = %d, want 0", got)
	}
	if got := m.Accuracy(); !near(got, 2.0/5) {
		t.Errorf("Accuracy = %v, want 0.4", got)
	}
}

func TestAgreementErrors(t *testing.T) {
	if _, err := metric.CohenKappa([]string{"a"}, []string{"a", "b"}); !errors.Is(err, metric.ErrLengthMismatch) {
		t.Errorf("length mismatch: %v", err)
	}
	if _, err := metric.Accuracy([]string{"a"}, nil); !errors.Is(err, metric.ErrLengthMismatch) {
		t.Errorf("accuracy length mismatch: %v", err)
	}
	if _, err := metric.CohenKappa[string](nil, nil); !errors.Is(err, metric.ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	if _, err := metric.Accuracy[string](nil, nil); !errors.Is(err, metric.ErrEmpty) {
		t.Errorf("accuracy empty: %v", err)
	}
	if _, err := metric.NewConfusionMatrix([]float64{1, math.NaN()}, []float64{1, 1}); !errors.Is(err, metric.ErrInvalid) {
		t.Errorf("NaN label: %v", err)
	}
	var empty metric.ConfusionMatrix[string]
	if _, err := empty.Kappa(); !errors.Is(err, metric.ErrEmpty) {
		t.Errorf("zero matrix kappa: %v", err)
	}
	if got := empty.Accuracy(); got != 0 {
		t.Errorf("zero matrix accuracy = %v", got)
	}
}
