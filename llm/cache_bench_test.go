package llm_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/keel-go/keel/llm"
)

// cacheBenchModel answers at once with a fresh Response, as a provider
// does.
func cacheBenchModel() llm.Model {
	answer := llm.Response{Message: llm.AssistantText("Your parcel left the depot this morning and should arrive tomorrow."),
		FinishReason: llm.FinishStop, Usage: llm.Usage{InputTokens: 480, OutputTokens: 16}, Model: "gpt-4o-mini", Provider: "fake"}
	return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
}

// BenchmarkCacheHit measures a hit in the default MemoryCache, key
// computation included, for the realistic 2 KB request with three tool
// definitions: a request repeated while it is hot, whose key the memo
// knows. The target is under 3 µs. ColdQuestion is a hit whose question
// the memo has forgotten, so its text is hashed again.
func BenchmarkCacheHit(b *testing.B) {
	m := llm.Chain(cacheBenchModel(), llm.Cache(llm.CacheOptions{AllowNonDeterministic: true}))
	ctx := context.Background()
	req := realisticRequest()
	if r, err := m.Generate(ctx, req); err != nil || r.CacheHit {
		b.Fatal(r, err)
	}
	if r, err := m.Generate(ctx, req); err != nil || !r.CacheHit {
		b.Fatal(r, err)
	}
	b.Run("Generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Generate(ctx, req); err != nil {
				b.Fatal(err)
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
	// A hit whose user message the key's memo has not seen: the fresh
	// text is hashed in full, as on a real repeat minutes later.
	b.Run("ColdQuestion", func(b *testing.B) {
		const n = 1 << 14
		reqs := make([]*llm.Request, n)
		for i := range reqs {
			r := realisticRequest()
			r.Messages[1] = llm.UserText(strconv.Itoa(i) + r.Messages[1].Text())
			reqs[i] = r
			_, _ = m.Generate(ctx, r)
		}
		// Push the questions out of the memo (it keeps at most 4 MB).
		for i := range 8 << 10 {
			r := realisticRequest()
			r.Messages[1] = llm.UserText("flush " + strconv.Itoa(i) + r.Messages[1].Text())
			_, _ = m.Generate(ctx, r)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Generate(ctx, reqs[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkCacheMiss measures a miss in the default MemoryCache: key,
// lookup, the collapsed upstream call (a fake that answers at once) and
// storing the answer, in a steady state where every store evicts an old
// entry. Each call is for another tenant, so the key's memo helps with the
// shared prompt but the lookup always misses.
func BenchmarkCacheMiss(b *testing.B) {
	m := llm.Chain(cacheBenchModel(), llm.Cache(llm.CacheOptions{AllowNonDeterministic: true, Store: llm.NewMemoryCache(8 << 20)}))
	ctx := context.Background()
	const n = 1 << 16 // far more entries than the store holds
	tenants := make([]string, n)
	for i := range tenants {
		tenants[i] = "tenant-" + strconv.Itoa(i)
	}
	req := realisticRequest()
	for i := range n { // fill the store: every later call evicts
		req.Principal.Tenant = tenants[i]
		_, _ = m.Generate(ctx, req)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req.Principal.Tenant = tenants[i%n]
		r, err := m.Generate(ctx, req)
		if err != nil || r.CacheHit {
			b.Fatal(r, err)
		}
		i++
	}
}
