package llm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keel-go/keel/llm"
)

func ExampleBudget() {
	// A stand-in provider that reports realistic usage: about a quarter
	// of the prompt's upper-bound estimate, and 200 output tokens.
	provider := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		return &llm.Response{
			Message: llm.AssistantText("Your parcel left the depot this morning."),
			Model:   "gpt-4o-mini-2024-07-18",
			Usage:   llm.Usage{InputTokens: llm.EstimateInputTokens(req) / 4, OutputTokens: 200},
		}, nil
	}}
	store := llm.NewMemoryBudgetStore()
	model := llm.Chain(provider, llm.Budget(llm.BudgetOptions{
		// Every tenant may spend 0.1 cents a day; say so at 0.05 cents.
		Limits: []llm.BudgetLimit{{Scope: llm.BudgetPerTenant, Period: llm.BudgetDaily, Soft: 0.0005, Hard: 0.001}},
		Store:  store, // also the default; named here for the report below
		OnSoftLimit: func(_ context.Context, a llm.BudgetAlert) {
			fmt.Printf("alert: tenant %s has spent %v today\n", a.Tenant, a.Spent)
		},
	}))

	ctx := context.Background()
	ask := func(tenant string) {
		resp, err := model.Generate(ctx, &llm.Request{
			Model:           "gpt-4o-mini",
			Messages:        []llm.Message{llm.UserText(strings.Repeat("Where is my parcel? ", 100))},
			MaxOutputTokens: 300,
			Principal:       llm.Principal{Tenant: tenant, User: "u-1"},
			Feature:         "support-answer",
		})
		var e *llm.Error
		switch {
		case err == nil:
			fmt.Printf("%s: answered for $%.6f\n", tenant, resp.Cost)
		case errors.As(err, &e) && e.Kind == llm.KindBudgetExceeded:
			fmt.Printf("%s: refused before the call; the budget resets within a day: %v\n", tenant, e.RetryAfter <= 24*time.Hour)
		default:
			fmt.Println(tenant, err)
		}
	}
	// The fourth call is refused: $0.00058545 spent plus what it might
	// cost (its prompt's upper-bound estimate and all 300 output tokens)
	// could pass the limit.
	for range 5 {
		ask("acme")
	}
	ask("globex")

	today := time.Now().UTC()
	totals, _ := llm.SpendReport(ctx, store, today.Add(-time.Hour), today.Add(time.Second), llm.ByTenant)
	for _, t := range totals {
		fmt.Printf("%s spent %v in %d calls\n", t.Tenant, t.Cost, t.Calls)
	}
	// Output:
	// acme: answered for $0.000195
	// acme: answered for $0.000195
	// alert: tenant acme has spent $0.00058545 today
	// acme: answered for $0.000195
	// acme: refused before the call; the budget resets within a day: true
	// acme: refused before the call; the budget resets within a day: true
	// globex: answered for $0.000195
	// acme spent $0.00058545 in 3 calls
	// globex spent $0.00019515 in 1 calls
}

func ExampleBudgetEmbedder() {
	embedder := llm.EmbedderFunc(func(_ context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		vectors := make([][]float32, len(req.Inputs))
		for i := range vectors {
			vectors[i] = []float32{1, 0}
		}
		return &llm.EmbedResponse{Vectors: vectors, Model: req.Model, Usage: llm.Usage{InputTokens: 500_000 * len(req.Inputs)}}, nil
	})
	store := llm.NewMemoryBudgetStore() // share it with the chat Budget
	e := llm.ChainEmbedder(embedder, llm.BudgetEmbedder(llm.BudgetOptions{Store: store}))

	ctx := context.Background()
	_, err := e.Embed(ctx, &llm.EmbedRequest{
		Model:     "text-embedding-3-small",
		Inputs:    []string{"Refunds take five days.", "Parcels ship within a day."},
		Principal: llm.Principal{Tenant: "acme"},
		Feature:   "ingest",
	})
	today := time.Now().UTC()
	totals, _ := llm.SpendReport(ctx, store, today.Add(-time.Hour), today.Add(time.Second), llm.ByFeature, llm.ByModel)
	fmt.Println(err, totals[0].Feature, totals[0].Model, totals[0].Cost)
	// Output:
	// <nil> ingest text-embedding-3-small $0.02
}

func ExamplePriceTable_Cost() {
	prices := llm.DefaultPrices().WithPrices(map[string]llm.Price{
		// A negotiated rate overrides the list price.
		"gpt-4.1": {Input: llm.PerMillion(1.60), CachedInput: llm.PerMillion(0.40), Output: llm.PerMillion(6.40)},
	})
	usage := llm.Usage{InputTokens: 12_000, CachedInputTokens: 10_000, OutputTokens: 800, ReasoningTokens: 500}

	for _, model := range []string{"gpt-4o-mini-2024-07-18", "openai/gpt-4.1", "o4-mini", "my-fine-tune"} {
		usd, known := prices.Cost(model, usage)
		fmt.Printf("%-22s $%.6f %v\n", model, usd, known)
	}
	// Output:
	// gpt-4o-mini-2024-07-18 $0.001530 true
	// openai/gpt-4.1         $0.012320 true
	// o4-mini                $0.008470 true
	// my-fine-tune           $0.000000 false
}

func ExampleLoadLiteLLMPrices() {
	// In production: f, _ := os.Open("model_prices_and_context_window.json").
	const litellm = `{
	  "sample_spec": {"input_cost_per_token": 0.0, "mode": "one of: chat, embedding, ..."},
	  "claude-sonnet-4-5": {
	    "input_cost_per_token": 3e-06,
	    "cache_creation_input_token_cost": 3.75e-06,
	    "cache_read_input_token_cost": 3e-07,
	    "output_cost_per_token": 1.5e-05,
	    "litellm_provider": "anthropic",
	    "mode": "chat"
	  }
	}`
	loaded, err := llm.LoadLiteLLMPrices(strings.NewReader(litellm))
	if err != nil {
		fmt.Println(err)
		return
	}
	prices := llm.DefaultPrices().Merge(loaded) // the loaded map wins where both have a model

	p, _ := prices.Lookup("claude-sonnet-4-5")
	fmt.Printf("input $%.2f/M, cache write $%.2f/M, cache read $%.2f/M, output $%.2f/M\n",
		p.Input.DollarsPerMillion(), p.CacheWrite.DollarsPerMillion(), p.CachedInput.DollarsPerMillion(), p.Output.DollarsPerMillion())
	usd, _ := prices.Cost("claude-sonnet-4-5", llm.Usage{InputTokens: 50_000, CacheWriteTokens: 40_000, OutputTokens: 1_000})
	fmt.Printf("a first call writing the cache: $%.4f\n", usd)
	usd, _ = prices.Cost("claude-sonnet-4-5", llm.Usage{InputTokens: 50_000, CachedInputTokens: 40_000, OutputTokens: 1_000})
	fmt.Printf("the next one, reading it: $%.4f\n", usd)
	// Output:
	// input $3.00/M, cache write $3.75/M, cache read $0.30/M, output $15.00/M
	// a first call writing the cache: $0.1950
	// the next one, reading it: $0.0570
}
