package llm_test

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleLogging() {
	// An observing core stands in for the application's zap logger, so
	// that the example can print the lines.
	core, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(core)

	// A stand-in provider that answers once and is then rate limited.
	provider := llmtest.NewModel(
		llmtest.Response(&llm.Response{
			Message:  llm.AssistantText("Your parcel left the depot this morning."),
			Usage:    llm.Usage{InputTokens: 480, OutputTokens: 12},
			Provider: "openai",
		}),
		llmtest.RateLimited(),
	)
	model := llm.Chain(provider, llm.Logging(logger, llm.LoggingOptions{}))

	req := &llm.Request{
		Model:     "gpt-4o-mini",
		Messages:  []llm.Message{llm.UserText("Where is my parcel?")},
		Principal: llm.Principal{Tenant: "acme", User: "u-42"},
		Feature:   "support-answer",
	}
	ctx := context.Background()
	_, _ = model.Generate(ctx, req)
	_, _ = model.Generate(ctx, req)

	// One line per call, without the prompt, the answer or the user id.
	for _, e := range logs.All() {
		fmt.Println(e.Level, e.Message)
		fields := e.ContextMap()
		delete(fields, "latency") // varies from run to run
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			fmt.Printf("  %s=%v\n", k, fields[k])
		}
	}
	// Output:
	// info llm call
	//   cache_hit=false
	//   cost_usd=0
	//   feature=support-answer
	//   finish_reason=stop
	//   input_tokens=480
	//   model=gpt-4o-mini
	//   output_tokens=12
	//   provider=openai
	//   response_model=gpt-4o-mini
	//   tenant=acme
	// warn llm call failed
	//   cache_hit=false
	//   cost_usd=0
	//   error=llm: llmtest gpt-4o-mini: rate_limited (HTTP 429, rate_limit_exceeded): Rate limit reached for requests. Please try again later.
	//   error_kind=rate_limited
	//   feature=support-answer
	//   input_tokens=0
	//   model=gpt-4o-mini
	//   output_tokens=0
	//   provider=llmtest
	//   tenant=acme
}
