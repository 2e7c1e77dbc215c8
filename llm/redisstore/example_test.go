package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/redisstore"
)

// Every replica builds the same limiter on the same Redis: together they
// stay within the limits. (Not run: it needs a Redis.)
func ExampleNewLimitStore() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // so that RateLimit's StoreTimeout bounds every call
	})
	defer rdb.Close()

	limit := llm.RateLimit(llm.RateLimitOptions{
		Name:         "openai/gpt-4o-mini",
		Limits:       llm.RateLimits{RequestsPerMinute: 4500, TokensPerMinute: 1_800_000},
		TenantLimits: llm.RateLimits{TokensPerMinute: 300_000},
		MaxWait:      2 * time.Second,
		Store:        redisstore.NewLimitStore(rdb, redisstore.LimitStoreOptions{Prefix: "checkout:rl:"}),
		OnStoreError: llm.FailOpen, // while Redis is down, each replica limits itself...
		LocalShare:   0.25,         // ...to a quarter of the limits (four replicas)
	})
	provider := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("ok")}, nil
	}}
	model := llm.Chain(provider, limit)

	resp, err := model.Generate(context.Background(), &llm.Request{
		Model:     "gpt-4o-mini",
		Messages:  []llm.Message{llm.UserText("hello")},
		Principal: llm.Principal{Tenant: "acme"},
	})
	fmt.Println(resp.Text(), err)
}
