package llm_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/keel-go/keel/llm"
)

// BenchmarkStack measures the canonical stack in full: Telemetry with the
// real OpenTelemetry SDK (always sampling, a batching processor whose
// exporter drops spans, a metric reader) → Cache (a miss: every call asks a
// new question, so the key is computed over new text and the answer stored)
// → Budget (per-tenant daily hard limit, memory store) → the reliability
// half of BenchmarkReliabilityStack (router → fallback/breaker → retry →
// rate limit → timeout) → a fake Model that answers at once, with the 2 KB
// request carrying three tool definitions. Target: under 20 µs and 80
// allocations per call.
func BenchmarkStack(b *testing.B) {
	answer := llm.Response{Message: llm.AssistantText("Your parcel left the depot this morning."), FinishReason: llm.FinishStop,
		Usage: llm.Usage{InputTokens: 480, OutputTokens: 12}, Model: "gpt-4o-mini", Provider: "fake", RequestID: "req_bench"}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
	tp, mp := telemetryBenchProviders(b)
	stack := llm.Chain(reliabilityStack(b, fake, fake),
		llm.Telemetry(llm.TelemetryOptions{TracerProvider: tp, MeterProvider: mp}),
		llm.Cache(llm.CacheOptions{Store: llm.NewMemoryCache(64 << 20), AllowNonDeterministic: true}),
		llm.Budget(llm.BudgetOptions{
			Prices: llm.DefaultPrices(),
			Limits: []llm.BudgetLimit{{Name: "tenant-daily", Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Soft: 1e11, Hard: 1e12}},
		}),
	)
	base := realisticRequest()
	const questions = 1 << 14
	reqs := make([]*llm.Request, questions)
	for i := range reqs {
		r := base.Clone()
		last := len(r.Messages) - 1
		r.Messages[last] = llm.UserText(r.Messages[last].Text() + " My order number is " + strconv.Itoa(100000+i) + ".")
		reqs[i] = r
	}
	ctx := context.Background()
	if resp, err := stack.Generate(ctx, reqs[0]); err != nil || resp.Cost == 0 || resp.Target == "" {
		b.Fatalf("stack answered %+v, %v", resp, err)
	}
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		resp, err := stack.Generate(ctx, reqs[i%questions])
		if err != nil || resp.CacheHit {
			b.Fatalf("call %d: %+v, %v", i, resp, err)
		}
		i++
		if i%questions == 0 {
			b.StopTimer()
			// A new round of questions: same texts would now be hits.
			for j := range reqs {
				reqs[j].Messages[len(reqs[j].Messages)-1] = llm.UserText(base.Messages[len(base.Messages)-1].Text() +
					" Order " + strconv.Itoa(i+j) + ".")
			}
			b.StartTimer()
		}
	}
}
