package tools_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/structured"
	"github.com/keel-go/keel/tools"
	"github.com/keel-go/keel/tools/policy"
)

// WeatherArgs are the arguments of the get_weather tool; the tags become
// its JSON Schema.
type WeatherArgs struct {
	City  string `json:"city" jsonschema:"description=City name, such as Paris"`
	Units string `json:"units" jsonschema:"enum=metric,enum=imperial"`
}

func ExampleNew() {
	weather, err := tools.New(tools.Spec{Name: "get_weather", Description: "Current weather in a city", Risk: tools.RiskRead},
		func(ctx context.Context, a WeatherArgs) (string, error) {
			return "18 °C and sunny in " + a.City, nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(weather.Name(), weather.Spec().Risk, weather.Definition().Strict)

	// The executor decodes the model's arguments like this before
	// anything runs: validated against the schema, then strictly decoded.
	v, _, err := weather.DecodeArgs([]byte(`{"city":"Paris","units":"metric"}`))
	fmt.Printf("%+v %v\n", v, err)

	// A bad call gets an error meant for the model, so it can correct it.
	_, _, err = weather.DecodeArgs([]byte(`{"city":"Paris","units":"kelvin","days":3}`))
	var verr *structured.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// get_weather read true
	// {City:Paris Units:metric} <nil>
	// at /: additional properties 'days' not allowed
	// at /units: value must be one of 'metric', 'imperial'
}

func ExampleAgent_Run() {
	type orderArgs struct {
		Order string `json:"order"`
	}
	type refundArgs struct {
		Order  string  `json:"order"`
		Amount float64 `json:"amount"`
	}
	lookup, _ := tools.New(tools.Spec{Name: "lookup_order", Description: "Look up an order", Risk: tools.RiskRead},
		func(ctx context.Context, a orderArgs) (string, error) {
			return a.Order + " was delivered on 3 May", nil
		})
	refund, _ := tools.New(tools.Spec{Name: "refund", Description: "Refund an order", Risk: tools.RiskExternal},
		func(ctx context.Context, a refundArgs) (string, error) { return "refunded", nil })
	reg, _ := tools.NewRegistry(lookup, refund)

	// Read tools for anyone in a tenant; refunds up to 100 for support
	// staff. Everything else, and anything risky once untrusted content
	// (such as a tool's output) is in the conversation, is refused.
	pol, err := policy.ParseYAML([]byte(`
rules:
  - name: read-tools
    effect: allow
    tools: ["*"]
    max_risk: read
    when: [exists(principal.tenant)]
  - name: small-refunds
    effect: allow
    tools: [refund]
    roles: [support]
    when: [amount <= 100]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	exec, _ := tools.NewExecutor(tools.Config{Registry: reg, Policy: pol})

	// A scripted model stands in for the provider.
	model := llmtest.NewModel(
		llmtest.ToolCall("lookup_order", `{"order":"ORD-7"}`),
		llmtest.ToolCall("refund", `{"order":"ORD-7","amount":80}`),
		llmtest.Reply("ORD-7 was delivered on 3 May. I cannot refund it myself; a colleague will follow up."),
	)
	agent, _ := tools.NewAgent(tools.AgentConfig{Model: model, Executor: exec, Limits: tools.Limits{MaxSteps: 5}})
	run, err := agent.Run(context.Background(), &llm.Request{
		Principal: llm.Principal{Tenant: "acme", User: "u-42", Roles: []string{"support"}},
		Messages: []llm.Message{
			llm.SystemMessage("You are the support assistant of ACME."),
			llm.UserText("ORD-7 arrived broken, please refund it."),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range run.Results {
		fmt.Println(r.Name, r.Status)
	}
	fmt.Println(run.Status, run.Steps)
	fmt.Println(run.Response.Text())
	// Output:
	// lookup_order ok
	// refund denied
	// done 3
	// ORD-7 was delivered on 3 May. I cannot refund it myself; a colleague will follow up.
}
