package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/redisstore"
)

// Every replica builds its cache on the same Redis and prefix: an answer
// one replica paid for is a hit on all of them. (Not run: it needs a
// Redis.)
func ExampleNewCacheStore() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // so that the cache's StoreTimeout bounds every call
	})
	defer rdb.Close()
	store := redisstore.NewCacheStore(rdb, redisstore.CacheStoreOptions{Prefix: "checkout:cache:"})

	provider := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("Parcels ship within 2 days."), FinishReason: llm.FinishStop}, nil
	}}
	model := llm.Chain(provider, llm.Cache(llm.CacheOptions{
		Store:        store,
		TTL:          time.Hour,
		StoreTimeout: 50 * time.Millisecond,
		OnError: func(ctx context.Context, err error) {
			// Redis is down or slow: the call went upstream. Log it.
		},
	}))
	// The same store keeps embedding vectors for re-ingestion.
	embedder := llm.CacheEmbedder(llm.EmbedCacheOptions{Store: store})
	_ = embedder

	zero := 0.0
	resp, err := model.Generate(context.Background(), &llm.Request{
		Model:       "gpt-4o-mini",
		Messages:    []llm.Message{llm.UserText("When does my order ship?")},
		Temperature: &zero,
		Principal:   llm.Principal{Tenant: "acme"},
	})
	fmt.Println(resp.Text(), err)
}
