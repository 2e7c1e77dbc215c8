package llm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleCache() {
	// A stand-in provider that counts its calls; in production, the
	// llm/openai Model below the rest of the stack.
	calls := 0
	provider := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		calls++
		return &llm.Response{Message: llm.AssistantText("Parcels ship within 2 days."), FinishReason: llm.FinishStop}, nil
	}}
	model := llm.Chain(provider, llm.Cache(llm.CacheOptions{
		TTL: 10 * time.Minute,
		// Store: redisstore.NewCacheStore(rdb, ...) shares answers across replicas.
	}))

	zero := 0.0
	ask := func(tenant string) {
		resp, err := model.Generate(context.Background(), &llm.Request{
			Model:       "gpt-4o-mini",
			Messages:    []llm.Message{llm.SystemMessage("Answer from the shipping policy."), llm.UserText("When does my order ship?")},
			Temperature: &zero, // only deterministic requests are cached by default
			Principal:   llm.Principal{Tenant: tenant},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %q cache hit: %v\n", tenant, resp.Text(), resp.CacheHit)
	}
	ask("acme")
	ask("acme")   // served from the cache
	ask("globex") // another tenant never shares acme's entries
	fmt.Println("provider calls:", calls)
	// Output:
	// acme: "Parcels ship within 2 days." cache hit: false
	// acme: "Parcels ship within 2 days." cache hit: true
	// globex: "Parcels ship within 2 days." cache hit: false
	// provider calls: 2
}

func ExampleCacheOptions_Key() {
	store := llm.NewMemoryCache(16 << 20)
	opts := llm.CacheOptions{Store: store}
	model := llm.Chain(llmtest.NewModel(llmtest.Reply("A wrong answer."), llmtest.Reply("The right answer.")), llm.Cache(opts))

	zero := 0.0
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{llm.UserText("Question?")},
		Temperature: &zero, Principal: llm.Principal{Tenant: "acme"}}
	ctx := context.Background()
	resp, _ := model.Generate(ctx, req)
	fmt.Println(resp.Text())

	// Remove the wrong answer: the next call goes upstream again.
	_ = store.Delete(ctx, opts.Key(req))
	resp, _ = model.Generate(ctx, req)
	fmt.Println(resp.Text(), resp.CacheHit)
	// Output:
	// A wrong answer.
	// The right answer. false
}

func ExampleCacheEmbedder() {
	// A stand-in embedding model; in production, the llm/openai embedder.
	upstream := llmtest.NewEmbedder()
	embedder := llm.ChainEmbedder(upstream, llm.CacheEmbedder(llm.EmbedCacheOptions{}))

	ctx := context.Background()
	embed := func(chunks ...string) {
		resp, err := embedder.Embed(ctx, &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: chunks})
		if err != nil {
			fmt.Println(err)
			return
		}
		sent := upstream.Requests()[upstream.Calls()-1].Inputs
		fmt.Printf("%d vectors, upstream embedded %q\n", len(resp.Vectors), sent)
	}
	embed("Returns are free.", "Parcels ship in 2 days.")
	// Re-ingestion after one chunk changed: only the new chunk goes upstream.
	embed("Returns are free.", "Parcels ship in 1 day.")
	// Output:
	// 2 vectors, upstream embedded ["Returns are free." "Parcels ship in 2 days."]
	// 2 vectors, upstream embedded ["Parcels ship in 1 day."]
}

func ExampleSemanticCache() {
	provider := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText("Use the 'Forgot password' link."), FinishReason: llm.FinishStop}, nil
	}}
	model := llm.Chain(provider, llm.SemanticCache(llm.SemanticCacheOptions{
		Embedder:  llmtest.NewEmbedder(), // in production, an llm/openai embedder
		Threshold: 0.8,                   // suits the fake embedder; measure for a real one
	}))
	ask := func(tenant, question string) {
		resp, _ := model.Generate(context.Background(), &llm.Request{
			Model:            "gpt-4o-mini",
			Messages:         []llm.Message{llm.SystemMessage("Answer account questions."), llm.UserText(question)},
			Principal:        llm.Principal{Tenant: tenant},
			AllowApproximate: true, // this feature accepts a similar question's answer
		})
		fmt.Printf("%s %q: cache hit %v\n", tenant, question, resp.CacheHit)
	}
	ask("acme", "How do I reset my password?")
	ask("acme", "How can I reset my password?")  // similar enough
	ask("acme", "What is your refund policy?")   // not similar
	ask("globex", "How do I reset my password?") // never across tenants
	// Output:
	// acme "How do I reset my password?": cache hit false
	// acme "How can I reset my password?": cache hit true
	// acme "What is your refund policy?": cache hit false
	// globex "How do I reset my password?": cache hit false
}
