package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleRetryEmbedder() {
	// A stand-in provider whose first call is refused with a 429 asking
	// the client to wait 10ms; in production, the llm/openai Embedder.
	fake := llmtest.NewEmbedder()
	calls := 0
	provider := llm.EmbedderFunc(func(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		calls++
		if calls == 1 {
			return nil, llm.HTTPError("openai", req.Model, http.StatusTooManyRequests,
				http.Header{"Retry-After-Ms": {"10"}}, "rate_limit_exceeded", "Rate limit reached for requests", time.Now())
		}
		return fake.Embed(ctx, req)
	})
	// The provider's retry budget, shared with the Retry of its chat
	// models: retries may add 10% to the traffic, plus 1 per second.
	budget := llm.NewRetryBudget(0.1, 10*time.Second, 1)
	embedder := llm.ChainEmbedder(provider, llm.RetryEmbedder(llm.RetryOptions{
		BaseDelay: time.Millisecond,
		Budget:    budget,
		OnRetry: func(_ context.Context, attempt int, err error, wait time.Duration) {
			fmt.Printf("attempt %d: %v, waiting at least %v\n", attempt, llm.KindOf(err), llm.RetryAfterOf(err))
		},
	}))

	ctx := context.Background()
	resp, err := embedder.Embed(ctx, &llm.EmbedRequest{
		Model:  "text-embedding-3-small",
		Inputs: []string{"Refunds take five business days.", "Orders ship within 24 hours."},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d vectors after %d calls\n", len(resp.Vectors), calls)

	// A caller mistake (here an empty input) is never retried.
	_, err = embedder.Embed(ctx, &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{""}})
	var e *llm.Error
	if errors.As(err, &e) {
		fmt.Printf("%v after %d attempt\n", e.Kind, e.Attempts)
	}
	st := budget.Stats()
	fmt.Printf("budget: %d requests, %d retries\n", st.Requests, st.Retries)
	// Output:
	// attempt 1: rate_limited, waiting at least 10ms
	// 2 vectors after 2 calls
	// invalid_request after 1 attempt
	// budget: 2 requests, 1 retries
}

func ExampleRateLimitEmbedder() {
	// A stand-in provider that reports about one token per four bytes;
	// in production, the llm/openai Embedder.
	provider := llmtest.NewEmbedder()
	embedder := llm.ChainEmbedder(provider, llm.RateLimitEmbedder(llm.RateLimitOptions{
		Name: "openai/text-embedding-3-small",
		// Tiny for the example; set these a little under the provider's
		// limits for the embedding model.
		Limits: llm.RateLimits{RequestsPerMinute: 3000, TokensPerMinute: 1000},
	}))

	// Batches of six 100-byte chunks. Each reserves its 600 bytes (every
	// token covers at least one byte) and uses 150 tokens; the rest is
	// refunded, so three batches fit where the reservations alone would
	// have admitted one.
	chunks := make([]string, 6)
	for i := range chunks {
		chunks[i] = strings.Repeat("abcd", 25)
	}
	ctx := context.Background()
	for batch := 1; batch <= 4; batch++ {
		resp, err := embedder.Embed(ctx, &llm.EmbedRequest{
			Model:     "text-embedding-3-small",
			Inputs:    chunks,
			Principal: llm.Principal{Tenant: "acme"},
		})
		switch {
		case err == nil:
			fmt.Printf("batch %d: %d vectors, %d tokens\n", batch, len(resp.Vectors), resp.Usage.InputTokens)
		case errors.Is(err, llm.KindLocalRateLimited):
			fmt.Printf("batch %d: refused, retry after %v\n", batch, llm.RetryAfterOf(err).Round(time.Second))
		default:
			fmt.Println(err)
		}
	}
	// Output:
	// batch 1: 6 vectors, 150 tokens
	// batch 2: 6 vectors, 150 tokens
	// batch 3: 6 vectors, 150 tokens
	// batch 4: refused, retry after 3s
}

func ExampleTimeoutEmbedder() {
	// A stand-in provider that hangs until its context ends.
	provider := llm.EmbedderFunc(func(ctx context.Context, req *llm.EmbedRequest) (*llm.EmbedResponse, error) {
		<-ctx.Done()
		return nil, llm.TransportError("openai", req.Model, ctx.Err())
	})
	embedder := llm.ChainEmbedder(provider, llm.TimeoutEmbedder(20*time.Millisecond))

	_, err := embedder.Embed(context.Background(), &llm.EmbedRequest{Model: "text-embedding-3-small", Inputs: []string{"hello"}})
	fmt.Println(err)
	fmt.Println("timeout:", errors.Is(err, llm.KindTimeout), "canceled:", errors.Is(err, llm.KindCanceled))
	// Output:
	// llm: openai text-embedding-3-small: timeout: total time limit of 20ms exceeded
	// timeout: true canceled: false
}
