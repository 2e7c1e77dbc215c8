package llm_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/keel-go/keel/llm"
)

// ExampleNewRouter sends large prompts to a long-context model and splits
// the rest of the chat traffic 90/10 between the stable model and a canary,
// sticky per user. In a real stack each Model is a provider behind its own
// fallback, retry, rate limit and timeout middlewares, and the router sits
// under telemetry, guard, cache and budget:
//
//	model := llm.Chain(router, telemetry, guard, cache, budget)
func ExampleNewRouter() {
	// Stand-in providers that answer with their own name.
	provider := func(name string) llm.Model {
		return llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
			return &llm.Response{Model: name, Message: llm.AssistantText("hello")}, nil
		}}
	}
	safeMode := llm.NewSafeMode()
	router, err := llm.NewRouter(llm.RouterOptions{
		Rules: []llm.RouteRule{
			{Name: "long-context", MinInputTokens: 16_000, Model: provider("gpt-4.1")},
			{Name: "chat", Features: []string{"chat"}, Arms: []llm.RouteArm{
				{Name: "stable", Weight: 90, Model: provider("gpt-4o-mini")},
				{Name: "canary", Weight: 10, Model: provider("gpt-4.1-mini")},
			}},
		},
		SafeMode:  safeMode,
		SafeRoute: "chat/stable",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	ask := func(user, text string) *llm.Response {
		resp, err := router.Generate(ctx, &llm.Request{
			Messages:  []llm.Message{llm.UserText(text)},
			Principal: llm.Principal{Tenant: "acme", User: user},
			Feature:   "chat",
		})
		if err != nil {
			fmt.Println(err)
			return nil
		}
		return resp
	}

	resp := ask("u-1", strings.Repeat("Summarise this contract. ", 1000))
	fmt.Println(resp.Route, resp.Model)

	// Each user keeps their arm on every call, in every process; about one
	// user in ten is on the canary.
	for _, user := range []string{"u-3", "u-7"} {
		var routes []string
		for range 3 {
			routes = append(routes, ask(user, "hi").Route)
		}
		fmt.Println(user, strings.Join(routes, " "))
	}
	canary := 0
	for i := range 10_000 {
		if ask(fmt.Sprintf("u-%d", i), "hi").Route == "chat/canary" {
			canary++
		}
	}
	fmt.Println("users on the canary:", canary, "of 10000")

	// During an incident, safe mode sends everything to the stable model.
	safeMode.Enable("canary error rate")
	resp = ask("u-1", strings.Repeat("Summarise this contract. ", 1000))
	fmt.Println(resp.Route, resp.Model)
	// Output:
	// long-context gpt-4.1
	// u-3 chat/stable chat/stable chat/stable
	// u-7 chat/canary chat/canary chat/canary
	// users on the canary: 995 of 10000
	// chat/stable gpt-4o-mini
}
