package llm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleFallback() {
	// In production each target is a provider wrapped in its own retry,
	// rate-limit and timeout middlewares; fakes stand in for them here.
	primary := llmtest.NewModel(llmtest.ServerError(503))    // down
	secondary := llmtest.NewModel(llmtest.Reply("Paris."))   // healthy
	longContext := llmtest.NewModel(llmtest.Reply("unused")) // a bigger window
	model := llm.Fallback(llm.FallbackOptions{
		// Also move on when the input is too long for a target.
		AlsoOn: []llm.Kind{llm.KindContextLength},
	},
		llm.Target{Name: "primary", Model: primary},
		llm.Target{Name: "secondary", Model: secondary},
		llm.Target{Name: "long-context", Model: longContext},
	)

	ctx := context.Background()
	req := &llm.Request{Messages: []llm.Message{llm.UserText("Capital of France?")}}
	resp, err := model.Generate(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Target, resp.Attempts, resp.Text())

	// When every target fails, the error lists each attempt.
	model = llm.Fallback(llm.FallbackOptions{},
		llm.Target{Name: "a", Model: llmtest.NewModel(llmtest.ServerError(502))},
		llm.Target{Name: "b", Model: llmtest.NewModel(llmtest.RateLimited())},
	)
	_, err = model.Generate(ctx, req)
	var fe *llm.FallbackError
	if errors.As(err, &fe) {
		for _, a := range fe.Attempts {
			fmt.Println(a.Target, llm.KindOf(a.Err))
		}
	}
	fmt.Println(llm.KindOf(err))
	// Output:
	// secondary 2 Paris.
	// a unavailable
	// b rate_limited
	// rate_limited
}
