package llm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleNewBreaker() {
	breaker := llm.NewBreaker(llm.BreakerOptions{
		Name:                "openai",
		ConsecutiveFailures: 2,
		Cooldown:            30 * time.Second,
		OnStateChange: func(c llm.BreakerChange) {
			fmt.Printf("breaker %s: %s -> %s (%s)\n", c.Name, c.From, c.To, c.Reason)
		},
	})
	// A provider that is down: two 503s, then it would answer.
	provider := llmtest.NewModel(llmtest.ServerError(503).Times(2), llmtest.Reply("ok"))
	model := llm.Chain(provider, breaker.Middleware())

	req := &llm.Request{Messages: []llm.Message{llm.UserText("hi")}}
	for range 3 {
		_, err := model.Generate(context.Background(), req)
		fmt.Println(llm.KindOf(err))
	}
	// The third call failed at once, without reaching the provider.
	fmt.Println(breaker.State(), provider.Calls())
	// Output:
	// unavailable
	// breaker openai: closed -> open (2 consecutive failures)
	// unavailable
	// circuit_open
	// open 2
}
