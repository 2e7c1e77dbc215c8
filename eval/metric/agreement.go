package metric

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Errors returned for input no statistic can be computed from. They are
// wrapped with details; test with errors.Is.
var (
	// ErrLengthMismatch: two labelings of the same items differ in length.
	ErrLengthMismatch = errors.New("metric: labelings differ in length")
	// ErrEmpty: there is nothing to compute a statistic from.
	ErrEmpty = errors.New("metric: no items")
	// ErrUndefined: the statistic has no value for this input, such as
	// Cohen's kappa when both raters gave every item the same label.
	ErrUndefined = errors.New("metric: statistic undefined for this input")
	// ErrInvalid: a parameter or value is outside its domain (NaN
	// values, a confidence level outside (0, 1), too many resamples).
	ErrInvalid = errors.New("metric: invalid input")
)

// ConfusionMatrix counts how the labels of one rater (truth, for instance
// human judgements) pair with those of another (pred, for instance an LLM
// judge) over the same items.
type ConfusionMatrix[L cmp.Ordered] struct {
	// Labels are the distinct labels that either rater used, sorted.
	Labels []L
	// Counts[i][j] is the number of items labelled Labels[i] by truth and
	// Labels[j] by pred.
	Counts [][]int
}

// NewConfusionMatrix builds the confusion matrix of two labelings of the
// same items, item i being labelled truth[i] and pred[i]. It returns
// ErrLengthMismatch when the slices differ in length, ErrEmpty when they
// are empty and ErrInvalid for a NaN label.
func NewConfusionMatrix[L cmp.Ordered](truth, pred []L) (*ConfusionMatrix[L], error) {
	if len(truth) != len(pred) {
		return nil, fmt.Errorf("%w: %d and %d labels", ErrLengthMismatch, len(truth), len(pred))
	}
	if len(truth) == 0 {
		return nil, ErrEmpty
	}
	// Distinct labels first (few), then sort those: cheaper than sorting
	// every item's label.
	index := make(map[L]int, 8)
	var labels []L
	for _, side := range [2][]L{truth, pred} {
		for _, l := range side {
			if l != l { // only NaN differs from itself; it cannot be a map key
				return nil, fmt.Errorf("%w: NaN label", ErrInvalid)
			}
			if _, ok := index[l]; !ok {
				index[l] = 0
				labels = append(labels, l)
			}
		}
	}
	slices.Sort(labels)
	for i, l := range labels {
		index[l] = i
	}
	counts := make([][]int, len(labels))
	cells := make([]int, len(labels)*len(labels)) // one allocation for all rows
	for i := range counts {
		counts[i] = cells[i*len(labels) : (i+1)*len(labels) : (i+1)*len(labels)]
	}
	for i := range truth {
		counts[index[truth[i]]][index[pred[i]]]++
	}
	return &ConfusionMatrix[L]{Labels: labels, Counts: counts}, nil
}

// Count returns the number of items labelled truth by the first rater and
// pred by the second (0 for labels neither used).
func (m *ConfusionMatrix[L]) Count(truth, pred L) int {
	i, ok := slices.BinarySearch(m.Labels, truth)
	if !ok {
		return 0
	}
	j, ok := slices.BinarySearch(m.Labels, pred)
	if !ok {
		return 0
	}
	return m.Counts[i][j]
}

// Total returns the number of items.
func (m *ConfusionMatrix[L]) Total() int {
	n := 0
	for _, row := range m.Counts {
		for _, c := range row {
			n += c
		}
	}
	return n
}

// Accuracy returns the fraction of items on which the two raters agree (the
// diagonal over the total), 0 for an empty matrix.
func (m *ConfusionMatrix[L]) Accuracy() float64 {
	n := m.Total()
	if n == 0 {
		return 0
	}
	agree := 0
	for i := range m.Counts {
		agree += m.Counts[i][i]
	}
	return float64(agree) / float64(n)
}

// Kappa returns Cohen's kappa, the agreement of the two raters corrected for
// the agreement expected by chance from their label frequencies:
//
//	κ = (p_o − p_e) / (1 − p_e)
//	p_o = Σ_i C[i][i] / n                 (observed agreement)
//	p_e = Σ_i (row_i / n) · (col_i / n)   (chance agreement)
//
// κ is 1 for perfect agreement, 0 for chance level and negative below it.
// When p_e = 1 (both raters gave every item the same single label) κ is 0/0;
// Kappa then returns ErrUndefined rather than a number, since a sample in
// which nobody ever disagreed could not have shown disagreement.
func (m *ConfusionMatrix[L]) Kappa() (float64, error) {
	n := m.Total()
	if n == 0 {
		return 0, ErrEmpty
	}
	var agree, chance float64
	for i := range m.Counts {
		row, col := 0, 0
		for j := range m.Counts {
			row += m.Counts[i][j]
			col += m.Counts[j][i]
		}
		agree += float64(m.Counts[i][i])
		chance += float64(row) * float64(col)
	}
	nf := float64(n)
	po := agree / nf
	pe := chance / (nf * nf)
	if pe == 1 {
		return 0, fmt.Errorf("%w: both raters used a single label for all %d items (kappa is 0/0)", ErrUndefined, n)
	}
	return (po - pe) / (1 - pe), nil
}

// Accuracy returns the fraction of items i with truth[i] == pred[i]. It
// returns ErrLengthMismatch when the slices differ in length and ErrEmpty
// when they are empty.
func Accuracy[L comparable](truth, pred []L) (float64, error) {
	if len(truth) != len(pred) {
		return 0, fmt.Errorf("%w: %d and %d labels", ErrLengthMismatch, len(truth), len(pred))
	}
	if len(truth) == 0 {
		return 0, ErrEmpty
	}
	agree := 0
	for i := range truth {
		if truth[i] == pred[i] {
			agree++
		}
	}
	return float64(agree) / float64(len(truth)), nil
}

// CohenKappa returns Cohen's kappa for two labelings of the same items; see
// ConfusionMatrix.Kappa for the formula and the undefined case. The order of
// the two labelings does not matter.
func CohenKappa[L cmp.Ordered](a, b []L) (float64, error) {
	m, err := NewConfusionMatrix(a, b)
	if err != nil {
		return 0, err
	}
	return m.Kappa()
}
