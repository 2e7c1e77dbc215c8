package guard_test

import (
	"context"
	"os"
	"testing"

	"github.com/keel-go/keel/guard"
)

// benchGuard is the default input guard: every PII and secret detector
// and the injection heuristics, each blocking or redacting.
func benchGuard(b *testing.B) *guard.Guard {
	ds, err := guard.DefaultDetectors()
	if err != nil {
		b.Fatal(err)
	}
	src, err := guard.NewPolicySource(&guard.Policy{Name: "bench", Input: []guard.Check{
		{Detector: "pii-secrets", Action: guard.Redact},
		{Detector: "injection", Action: guard.Flag},
	}})
	if err != nil {
		b.Fatal(err)
	}
	g, err := guard.New(guard.Config{Policy: src, Detectors: ds})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// mixedText is guard/detect's benchmark text: 65,571 bytes of support
// chat and e-mail with 134 PII values, 27 secrets, 6 injection phrases
// and 13 near misses (see guard/detect/testdata/mixed_labels.tsv).
func mixedText(b *testing.B) string {
	data, err := os.ReadFile("detect/testdata/mixed.txt")
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// BenchmarkInputGuard checks the mixed text with the default input guard
// (all PII and secret detectors and the injection heuristics): the
// target is at least 50 MB/s on one core.
func BenchmarkInputGuard(b *testing.B) {
	g, text := benchGuard(b), mixedText(b)
	ctx := context.Background()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Check(ctx, text, "input", "acme", "chat"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInputGuard2KB checks typical 2 KB prompts (successive slices
// of the mixed text): the target is under 50 µs each.
func BenchmarkInputGuard2KB(b *testing.B) {
	g, text := benchGuard(b), mixedText(b)
	ctx := context.Background()
	var prompts []string
	for i := 0; i+2048 <= len(text); i += 2048 {
		prompts = append(prompts, text[i:i+2048])
	}
	b.SetBytes(2048)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := g.Check(ctx, prompts[i%len(prompts)], "input", "acme", "chat"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
