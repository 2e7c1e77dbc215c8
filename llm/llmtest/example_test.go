package llmtest_test

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleModel() {
	m := llmtest.NewModel(
		llmtest.ToolCall("get_weather", `{"city":"Paris"}`),
		llmtest.Reply("It is sunny in Paris.").WithUsage(42, 6),
	)
	ctx := context.Background()
	req := &llm.Request{Model: "gpt-test", Messages: []llm.Message{llm.UserText("Weather in Paris?")}}

	// First call: the model asks for a tool.
	resp, _ := m.Generate(ctx, req)
	call := resp.Message.ToolCalls[0]
	fmt.Println(resp.FinishReason, call.ID, call.Name, call.Arguments)

	// Second call, streamed: the text arrives in several deltas.
	req.Messages = append(req.Messages, resp.Message, llm.ToolResult(call.ID, `{"sky":"clear"}`))
	deltas := 0
	var acc llm.Accumulator
	for ev, err := range m.Stream(ctx, req) {
		if err != nil {
			panic(err)
		}
		if ev.Kind == llm.EventTextDelta {
			deltas++
		}
		acc.Add(ev)
	}
	final := acc.Response()
	fmt.Printf("%q in %d deltas, %d tokens\n", final.Text(), deltas, final.Usage.TotalTokens())

	// The script is used up: a third call fails clearly instead of panicking.
	_, err := m.Generate(ctx, req)
	fmt.Println(errors.Is(err, llmtest.ErrNoMoreSteps), llm.KindOf(err).String())

	fmt.Println(m.Calls(), len(m.Requests()[1].Messages))
	// Output:
	// tool_calls call_1 get_weather {"city":"Paris"}
	// "It is sunny in Paris." in 6 deltas, 48 tokens
	// true invalid_request
	// 3 3
}

func ExampleRateLimited() {
	m := llmtest.NewModel(
		llmtest.RateLimited("Retry-After", "1.5"),
		llmtest.QuotaExhausted(),
		llmtest.Reply("ok"),
	)
	ctx := context.Background()
	req := &llm.Request{Model: "gpt-test", Messages: []llm.Message{llm.UserText("hi")}}

	_, err := m.Generate(ctx, req)
	fmt.Println(llm.KindOf(err).String(), llm.RetryAfterOf(err), llm.Retryable(err))
	_, err = m.Generate(ctx, req)
	fmt.Println(llm.KindOf(err).String(), llm.Retryable(err))
	resp, err := m.Generate(ctx, req)
	fmt.Println(resp.Text(), err)
	// Output:
	// rate_limited 1.5s true
	// quota_exhausted false
	// ok <nil>
}

func ExampleEmbedder() {
	e := llmtest.NewEmbedder()
	resp, err := e.Embed(context.Background(), &llm.EmbedRequest{Inputs: []string{
		"How do I get a refund for my subscription?",
		"Refunds for subscriptions",
		"The server room is on the third floor",
	}})
	if err != nil {
		panic(err)
	}
	v := resp.Vectors
	fmt.Println(len(v), len(v[0]))
	fmt.Println("similar beats unrelated:", cosine(v[0], v[1]) > cosine(v[0], v[2])+0.2)
	// Output:
	// 3 256
	// similar beats unrelated: true
}

func ExampleModerator() {
	m := llmtest.NewModerator(map[string][]string{"violence": {"kill", "hurt"}})
	resp, _ := m.Moderate(context.Background(), &llm.ModerationRequest{Inputs: []string{
		"I will hurt you",
		"What a lovely day",
	}})
	for _, r := range resp.Results {
		fmt.Println(r.Flagged, r.Scores["violence"])
	}
	// Output:
	// true 0.75
	// false 0
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}
