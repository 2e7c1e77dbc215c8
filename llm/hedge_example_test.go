package llm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func ExampleHedge() {
	// The primary is stuck on a slow request; the secondary is quick.
	slow := llmtest.NewModel(llmtest.Reply("slow answer").Delay(time.Minute))
	fast := llmtest.NewModel(llmtest.Reply("fast answer"))
	model := llm.Hedge(llm.HedgeOptions{
		// Until enough latencies are known, hedge after 20ms; then after
		// the primary's p95.
		InitialDelay: 20 * time.Millisecond,
	},
		llm.Target{Name: "primary", Model: slow},
		llm.Target{Name: "secondary", Model: fast},
	)

	req := &llm.Request{Messages: []llm.Message{llm.UserText("hi")}}
	resp, err := model.Generate(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The secondary won; the primary's call was canceled.
	fmt.Println(resp.Target, resp.Attempts, resp.Text())
	// Output:
	// secondary 2 fast answer
}
