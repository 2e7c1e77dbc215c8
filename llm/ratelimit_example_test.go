package llm_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
)

func ExampleRateLimit() {
	// A stand-in provider; in production, the llm/openai Model.
	provider := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{
			Message: llm.AssistantText("ok"),
			Usage:   llm.Usage{InputTokens: 12, OutputTokens: 3},
		}, nil
	}}
	model := llm.Chain(provider, llm.RateLimit(llm.RateLimitOptions{
		Name: "openai/gpt-4o-mini",
		// The target as a whole, a little under the provider's limits.
		Limits: llm.RateLimits{RequestsPerMinute: 500, TokensPerMinute: 200_000},
		// Each tenant's share: two requests a minute, for the example.
		TenantLimits: llm.RateLimits{RequestsPerMinute: 2},
		// Fail fast (MaxWait 0): the caller or a fallback decides.
	}))

	ctx := context.Background()
	ask := func(tenant string) {
		_, err := model.Generate(ctx, &llm.Request{
			Model:     "gpt-4o-mini",
			Messages:  []llm.Message{llm.UserText("Summarise my order status.")},
			Principal: llm.Principal{Tenant: tenant},
		})
		switch {
		case err == nil:
			fmt.Println(tenant, "ok")
		case errors.Is(err, llm.KindLocalRateLimited):
			fmt.Println(tenant, "refused, retry after", llm.RetryAfterOf(err).Round(time.Second))
		default:
			fmt.Println(tenant, err)
		}
	}
	ask("acme")
	ask("acme")
	ask("acme")   // acme's batch job has used its share...
	ask("globex") // ...which does not starve globex
	// Output:
	// acme ok
	// acme ok
	// acme refused, retry after 30s
	// globex ok
}
