package llm_test

import (
	"context"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
)

// reliabilityStack builds the lower half of the canonical stack over two
// Models: a router with five rules and a 90/10 canary, in front of a
// fallback whose targets each have retry (with a shared budget), rate
// limits per model and per tenant, and a per-attempt timeout.
func reliabilityStack(tb testing.TB, primary, secondary llm.Model) llm.Model {
	safe := llm.NewSafeMode()
	budget := llm.NewRetryBudget(0.1, 10*time.Second, 1)
	attempt := func(m llm.Model, name string) llm.Target {
		return llm.Target{Name: name, Model: llm.Chain(m,
			llm.Retry(llm.RetryOptions{Budget: budget}),
			llm.RateLimit(llm.RateLimitOptions{
				Name:         name,
				Limits:       llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
				TenantLimits: llm.RateLimits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15},
				SafeMode:     safe,
			}),
			llm.Timeout(llm.TimeoutOptions{Total: 30 * time.Second, FirstToken: 5 * time.Second, Idle: 5 * time.Second}),
		)}
	}
	fallback := llm.Fallback(llm.FallbackOptions{SafeMode: safe}, attempt(primary, "primary"), attempt(secondary, "secondary"))
	canary := llm.Fallback(llm.FallbackOptions{SafeMode: safe}, attempt(secondary, "canary"), attempt(primary, "canary-fallback"))
	router, err := llm.NewRouter(llm.RouterOptions{
		Rules: []llm.RouteRule{
			{Name: "enterprise", Tenants: []string{"globex", "initech", "umbrella"}, Model: fallback},
			{Name: "vision", Images: llm.PresenceRequired, Model: fallback},
			{Name: "long-context", MinInputTokens: 32_000, Model: fallback},
			{Name: "high-risk", Risks: []string{"high"}, Model: fallback},
			{Name: "support", Features: []string{"support-answer"}, Arms: []llm.RouteArm{
				{Name: "stable", Weight: 90, Model: fallback},
				{Name: "canary", Weight: 10, Model: canary},
			}},
		},
		Default:   &llm.RouteRule{Model: fallback},
		SafeMode:  safe,
		SafeRoute: "support/stable",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return router
}

// BenchmarkReliabilityStack measures retry + timeout + fallback + breaker +
// route + rate limit over a fake Model that answers at once (returning a
// fresh Response, as a provider does), with a 2 KB request carrying three
// tool definitions. The target is under 3 µs and 20 allocations per call.
func BenchmarkReliabilityStack(b *testing.B) {
	answer := llm.Response{Message: llm.AssistantText("Your parcel left the depot this morning."), FinishReason: llm.FinishStop,
		Usage: llm.Usage{InputTokens: 480, OutputTokens: 12}, Model: "gpt-4o-mini", Provider: "fake"}
	fake := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		r := answer
		return &r, nil
	}}
	stack := reliabilityStack(b, fake, fake)
	req := realisticRequest()
	ctx := context.Background()
	resp, err := stack.Generate(ctx, req)
	if err != nil || resp.Route == "" || resp.Target == "" {
		b.Fatalf("stack answered %+v, %v", resp, err)
	}
	b.Run("Generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stack.Generate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, err := range stack.Stream(ctx, req) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
