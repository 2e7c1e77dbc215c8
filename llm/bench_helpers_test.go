package llm_test

import (
	"context"
	"testing"

	"github.com/keel-go/keel/llm"
)

// benchMiddleware runs the sub-benchmarks every middleware benchmark here
// reports: Generate and Stream through m, Generate in parallel, and the
// inner Model's own Generate and Stream as baselines, so the middleware's
// cost is the difference.
func benchMiddleware(b *testing.B, m, inner llm.Model, req *llm.Request) {
	ctx := context.Background()
	b.Run("Generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Generate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, err := range m.Stream(ctx, req) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Generate(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Baseline", func(b *testing.B) { // the inner Model alone
		b.ReportAllocs()
		for b.Loop() {
			_, _ = inner.Generate(ctx, req)
		}
	})
	b.Run("StreamBaseline", func(b *testing.B) { // the inner Model's stream alone
		b.ReportAllocs()
		for b.Loop() {
			for range inner.Stream(ctx, req) {
			}
		}
	})
}
