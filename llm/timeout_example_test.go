package llm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleTimeout() {
	// The first attempt hangs; the second answers at once.
	provider := llmtest.NewModel(llmtest.Timeout(0), llmtest.Reply("Paris."))
	model := llm.Chain(provider,
		// Outermost: a limit for the whole call, retries included.
		llm.Timeout(llm.TimeoutOptions{Total: 10 * time.Second}),
		llm.Retry(llm.RetryOptions{
			BaseDelay: time.Millisecond,
			OnRetry: func(_ context.Context, attempt int, err error, _ time.Duration) {
				fmt.Printf("attempt %d: %v\n", attempt, err)
			},
		}),
		// Innermost: a limit per attempt.
		llm.Timeout(llm.TimeoutOptions{Total: 20 * time.Millisecond}),
	)
	req := &llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{llm.UserText("Capital of France?")}}
	resp, err := model.Generate(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s after %d attempts\n", resp.Text(), resp.Attempts)

	// Streams can also limit the time to the first token and between
	// events.
	slow := llmtest.NewModel(llmtest.Reply("Paris.").Delay(time.Minute))
	stream := llm.Timeout(llm.TimeoutOptions{FirstToken: 20 * time.Millisecond, Idle: 5 * time.Second})(slow)
	for _, err := range stream.Stream(context.Background(), req) {
		if err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// attempt 1: llm: llmtest gpt-4o-mini: timeout: total time limit of 20ms exceeded
	// Paris. after 2 attempts
	// llm: llmtest gpt-4o-mini: timeout: first-token time limit of 20ms exceeded
}
