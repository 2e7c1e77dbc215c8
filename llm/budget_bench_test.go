package llm_test

import (
	"context"
	"testing"

	"github.com/keel-go/keel/llm"
)

// BenchmarkBudget measures the middleware alone on the in-memory store
// with limits that are never hit: a per-tenant daily and monthly hard
// limit and a per-feature soft limit (three counters), the reservation
// from EstimateInputTokens, settlement, soft-limit check and the spend
// record, over a fake that returns a fresh Response, with a 2 KB request
// carrying three tool definitions.
func BenchmarkBudget(b *testing.B) {
	answer := llm.Response{Message: llm.AssistantText("Your parcel left the depot this morning."), FinishReason: llm.FinishStop,
		Usage: llm.Usage{InputTokens: 480, CachedInputTokens: 256, OutputTokens: 12}, Model: "gpt-4o-mini-2024-07-18"}
	inner := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
	m := llm.Chain(inner, llm.Budget(llm.BudgetOptions{
		Limits: []llm.BudgetLimit{
			{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Soft: 1e6, Hard: 1e7},
			{Scope: llm.BudgetPerTenant, Period: llm.BudgetMonthly, Hard: 1e8},
			{Scope: llm.BudgetPerFeature, Period: llm.BudgetDaily, Soft: 1e9},
		},
		SafeMode: llm.NewSafeMode(),
	}))
	req := realisticRequest()
	ctx := context.Background()
	if resp, err := m.Generate(ctx, req); err != nil || resp.Cost == 0 {
		b.Fatalf("%+v, %v", resp, err)
	}
	benchMiddleware(b, m, inner, req)
}
