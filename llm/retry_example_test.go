package llm_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleRetry() {
	// A provider that fails twice before answering: a 503, then a 429
	// asking the client to wait 10ms.
	provider := llmtest.NewModel(
		llmtest.ServerError(503),
		llmtest.RateLimited("Retry-After-Ms", "10"),
		llmtest.Reply("Paris."),
	)
	// One budget per provider, shared by the Retry of each of its models:
	// retries may add 10% to the traffic, plus 1 per second.
	budget := llm.NewRetryBudget(0.1, 10*time.Second, 1)
	model := llm.Chain(provider, llm.Retry(llm.RetryOptions{
		MaxAttempts: 3,
		BaseDelay:   time.Millisecond,
		Budget:      budget,
		OnRetry: func(_ context.Context, attempt int, err error, wait time.Duration) {
			fmt.Printf("attempt %d: %v, waiting at least %v\n", attempt, llm.KindOf(err), llm.RetryAfterOf(err))
		},
	}))

	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{llm.UserText("Capital of France?")}}
	resp, err := model.Generate(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s after %d attempts\n", resp.Text(), resp.Attempts)
	st := budget.Stats()
	fmt.Printf("budget: %d requests, %d retries\n", st.Requests, st.Retries)

	// Quota exhaustion is never retried.
	model = llm.Chain(llmtest.NewModel(llmtest.QuotaExhausted()), llm.Retry(llm.RetryOptions{}))
	_, err = model.Generate(context.Background(), req)
	var e *llm.Error
	if errors.As(err, &e) {
		fmt.Printf("%v after %d attempt\n", e.Kind, e.Attempts)
	}
	// Output:
	// attempt 1: unavailable, waiting at least 0s
	// attempt 2: rate_limited, waiting at least 10ms
	// Paris. after 3 attempts
	// budget: 1 requests, 2 retries
	// quota_exhausted after 1 attempt
}
