package metric

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Defaults and limits of BootstrapMeanCI.
const (
	// DefaultResamples is the number of bootstrap resamples when
	// BootstrapOptions.Resamples is 0: enough for the 2.5% and 97.5%
	// percentiles to move by well under a standard error between seeds.
	DefaultResamples = 10000
	// DefaultLevel is the confidence level when BootstrapOptions.Level is 0.
	DefaultLevel = 0.95
	// MaxResamples bounds BootstrapOptions.Resamples, so that a typo cannot
	// make a report allocate gigabytes.
	MaxResamples = 1_000_000
)

// BootstrapOptions configures BootstrapMeanCI. The zero value means
// DefaultResamples resamples, a 95% interval and seed 0.
type BootstrapOptions struct {
	// Resamples is the number of bootstrap resamples (0: DefaultResamples).
	Resamples int
	// Level is the confidence level, strictly between 0 and 1 (0:
	// DefaultLevel).
	Level float64
	// Seed seeds the generator; the same seed and data give the same
	// interval, bit for bit, on every platform and Go release.
	Seed uint64
}

// Interval is a confidence interval around an estimate.
type Interval struct {
	// Estimate is the statistic on the original sample (here, its mean).
	Estimate float64
	// Lower and Upper bound the interval.
	Lower, Upper float64
	// Level is the confidence level the interval was computed for.
	Level float64
}

// BootstrapMeanCI returns the percentile bootstrap confidence interval for
// the mean of xs (Efron & Tibshirani 1993, ch. 13): it draws
// opts.Resamples samples of len(xs) values from xs with replacement,
// computes each sample's mean, and takes the (1−Level)/2 and (1+Level)/2
// quantiles of those means, interpolating linearly between order statistics
// (the definition numpy and R use by default).
//
// Draws come from a PCG generator (math/rand/v2's PCG, whose output is
// specified) seeded with opts.Seed, mapped to indexes with Lemire's
// unbiased method implemented here, so results never change with the Go
// release. It returns ErrEmpty for no values, and ErrInvalid for NaN or
// infinite values (or values whose sum overflows), a level outside (0, 1),
// or Resamples outside [0, MaxResamples].
func BootstrapMeanCI(xs []float64, opts BootstrapOptions) (Interval, error) {
	if len(xs) == 0 {
		return Interval{}, ErrEmpty
	}
	resamples := opts.Resamples
	if resamples == 0 {
		resamples = DefaultResamples
	}
	if resamples < 0 || resamples > MaxResamples {
		return Interval{}, fmt.Errorf("%w: %d resamples (want 1 to %d)", ErrInvalid, resamples, MaxResamples)
	}
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("%w: confidence level %v (want strictly between 0 and 1)", ErrInvalid, level)
	}
	sum := 0.0
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Interval{}, fmt.Errorf("%w: value %d is %v", ErrInvalid, i, x)
		}
		sum += x
	}
	n := uint64(len(xs))
	nf := float64(len(xs))

	// The second PCG word is a fixed odd constant (the golden ratio), so
	// one seed is all a caller needs to record.
	rng := rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15)
	means := make([]float64, resamples)
	for r := range means {
		s := 0.0
		for range n {
			s += xs[uniformIndex(rng, n)]
		}
		means[r] = s / nf
	}
	slices.Sort(means)
	if math.IsInf(means[0], 0) || math.IsInf(means[len(means)-1], 0) || math.IsInf(sum, 0) {
		return Interval{}, fmt.Errorf("%w: values so large that their sum overflows", ErrInvalid)
	}
	alpha := (1 - level) / 2
	return Interval{
		Estimate: sum / nf,
		Lower:    quantile(means, alpha),
		Upper:    quantile(means, 1-alpha),
		Level:    level,
	}, nil
}

// uniformIndex returns a uniform integer in [0, n) for n > 0, by Lemire's
// multiply-and-reject method ("Fast Random Integer Generation in an
// Interval", 2019): unbiased, and usually without a division.
func uniformIndex(rng *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), n)
	if lo < n {
		threshold := -n % n // 2^64 mod n
		for lo < threshold {
			hi, lo = bits.Mul64(rng.Uint64(), n)
		}
	}
	return hi
}

// quantile returns the p-quantile of sorted values by linear interpolation
// between the order statistics at (len−1)·p (Hyndman & Fan type 7).
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}
