package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keel-go/keel/llm"
)

// requireTenant is a middleware that refuses requests without a tenant
// before they reach the provider.
var requireTenant = llm.Check(func(_ context.Context, req *llm.Request) error {
	if req.Principal.Tenant == "" {
		return &llm.Error{Kind: llm.KindPolicyDenied, Message: "no tenant on request"}
	}
	return nil
})

func ExampleChain() {
	// A stand-in provider that shouts the last user message back.
	echo := llm.ModelFuncs{GenerateFunc: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		last := req.Messages[len(req.Messages)-1].Text()
		return &llm.Response{
			Message:      llm.AssistantText(strings.ToUpper(last)),
			FinishReason: llm.FinishStop,
			Usage:        llm.Usage{InputTokens: 3, OutputTokens: 2},
		}, nil
	}}
	model := llm.Chain(echo, requireTenant)

	ctx := context.Background()
	resp, err := model.Generate(ctx, &llm.Request{
		Messages:  []llm.Message{llm.UserText("hello there")},
		Principal: llm.Principal{Tenant: "acme", User: "u-1"},
	})
	fmt.Println(resp.Text(), resp.Usage.TotalTokens(), err)

	_, err = model.Generate(ctx, &llm.Request{Messages: []llm.Message{llm.UserText("hi")}})
	fmt.Println(errors.Is(err, llm.KindPolicyDenied), llm.Retryable(err))
	// Output:
	// HELLO THERE 5 <nil>
	// true false
}

func ExampleCollect() {
	answer := &llm.Response{
		Message:      llm.AssistantText("Refunds take 5 days."),
		FinishReason: llm.FinishStop,
		Usage:        llm.Usage{InputTokens: 12, OutputTokens: 6},
	}
	stream := llm.StreamResponse(answer)

	// Print the text as it arrives...
	for ev, err := range stream {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if ev.Kind == llm.EventTextDelta {
			fmt.Print(ev.Text)
		}
	}
	fmt.Println()
	// ...or collect the stream into the Response Generate would return.
	resp, _ := llm.Collect(stream)
	fmt.Println(resp.FinishReason, resp.Usage.OutputTokens)
	// Output:
	// Refunds take 5 days.
	// stop 6
}

func ExampleParseRetryAfter() {
	h := http.Header{}
	h.Set("X-Ratelimit-Remaining-Tokens", "0")
	h.Set("X-Ratelimit-Reset-Tokens", "6m0s")
	h.Set("X-Ratelimit-Reset-Requests", "1s")
	wait, ok := llm.ParseRetryAfter(h, time.Now())
	fmt.Println(wait, ok)
	// Output: 6m0s true
}

func ExampleRetryable() {
	err := fmt.Errorf("answering: %w", &llm.Error{
		Kind: llm.KindRateLimited, Provider: "openai", Status: 429, RetryAfter: 1500 * time.Millisecond,
	})
	fmt.Println(errors.Is(err, llm.KindRateLimited), llm.Retryable(err), llm.RetryAfterOf(err))
	fmt.Printf("%+v\n", llm.KindQuotaExhausted.Handling())
	// Output:
	// true true 1.5s
	// {Retry:false Fallback:true Breaker:true}
}
