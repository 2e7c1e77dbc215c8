package metric_test

import (
	"errors"
	"math"
	"testing"

	"github.com/keel-go/keel/eval/metric"
)

func TestBootstrapMeanCIConstant(t *testing.T) {
	// Every resample of a constant sample has the same mean.
	iv, err := metric.BootstrapMeanCI([]float64{0.25, 0.25, 0.25, 0.25}, metric.BootstrapOptions{Resamples: 500, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if iv.Estimate != 0.25 || iv.Lower != 0.25 || iv.Upper != 0.25 || iv.Level != metric.DefaultLevel {
		t.Errorf("got %+v, want all 0.25 at level 0.95", iv)
	}
	one, err := metric.BootstrapMeanCI([]float64{7}, metric.BootstrapOptions{})
	if err != nil || one.Lower != 7 || one.Upper != 7 {
		t.Errorf("single value: %+v, %v", one, err)
	}
}

func TestBootstrapMeanCIDeterministic(t *testing.T) {
	xs := make([]float64, 50)
	for i := range xs {
		xs[i] = math.Mod(float64(i)*0.6180339887, 1) // spread over [0, 1)
	}
	opts := metric.BootstrapOptions{Resamples: 2000, Seed: 42}
	a, err := metric.BootstrapMeanCI(xs, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := metric.BootstrapMeanCI(xs, opts)
	if a != b {
		t.Errorf("same seed, different intervals: %+v vs %+v", a, b)
	}
	opts.Seed = 43
	c, _ := metric.BootstrapMeanCI(xs, opts)
	if c == a {
		t.Errorf("seeds 42 and 43 gave the identical interval %+v", a)
	}
	for _, iv := range []metric.Interval{a, c} {
		if !(iv.Lower < iv.Estimate && iv.Estimate < iv.Upper) {
			t.Errorf("estimate outside its interval: %+v", iv)
		}
	}
}

// TestBootstrapMeanCIWidth checks the interval against the normal
// approximation it should agree with for a large symmetric sample: the
// integers 0..399 have mean 199.5 and population standard deviation
// sqrt((400²−1)/12), so the 95% interval is about 199.5 ± 1.96·σ/√400.
func TestBootstrapMeanCIWidth(t *testing.T) {
	xs := make([]float64, 400)
	for i := range xs {
		xs[i] = float64(i)
	}
	for _, level := range []float64{0.9, 0.95, 0.99} {
		iv, err := metric.BootstrapMeanCI(xs, metric.BootstrapOptions{Level: level, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		z := map[float64]float64{0.9: 1.6449, 0.95: 1.9600, 0.99: 2.5758}[level]
		half := z * math.Sqrt((400.0*400-1)/12) / math.Sqrt(400)
		if iv.Estimate != 199.5 {
			t.Errorf("estimate %v, want 199.5", iv.Estimate)
		}
		// 10% tolerance: the bootstrap's Monte Carlo error at 10,000
		// resamples is about 2% of the half-width.
		for _, got := range []float64{iv.Estimate - iv.Lower, iv.Upper - iv.Estimate} {
			if math.Abs(got-half) > 0.1*half {
				t.Errorf("level %v: half-width %v, want %v ± 10%%", level, got, half)
			}
		}
	}
}

func TestBootstrapMeanCIErrors(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		opts metric.BootstrapOptions
		want error
	}{
		{"empty", nil, metric.BootstrapOptions{}, metric.ErrEmpty},
		{"NaN", []float64{1, math.NaN()}, metric.BootstrapOptions{}, metric.ErrInvalid},
		{"Inf", []float64{math.Inf(-1)}, metric.BootstrapOptions{}, metric.ErrInvalid},
		{"overflowing sum", []float64{math.MaxFloat64, math.MaxFloat64}, metric.BootstrapOptions{Resamples: 10}, metric.ErrInvalid},
		{"level 1", []float64{1}, metric.BootstrapOptions{Level: 1}, metric.ErrInvalid},
		{"negative level", []float64{1}, metric.BootstrapOptions{Level: -0.5}, metric.ErrInvalid},
		{"NaN level", []float64{1}, metric.BootstrapOptions{Level: math.NaN()}, metric.ErrInvalid},
		{"negative resamples", []float64{1}, metric.BootstrapOptions{Resamples: -1}, metric.ErrInvalid},
		{"too many resamples", []float64{1}, metric.BootstrapOptions{Resamples: metric.MaxResamples + 1}, metric.ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := metric.BootstrapMeanCI(tt.xs, tt.opts); !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}
}
