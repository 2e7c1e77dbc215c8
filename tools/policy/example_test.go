package policy_test

import (
	"fmt"
	"log"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/tools/policy"
)

func ExampleNew() {
	p, err := policy.New(policy.Config{
		Lists: map[string][]any{"approved_recipients": {"billing@acme.example"}},
		Rules: []policy.Rule{
			{Name: "refunds-small", Effect: policy.Allow, Tools: []string{"refund"}, Roles: []string{"support"},
				When: []string{"amount <= 100", "ticket.tenant == principal.tenant"}},
			{Name: "refunds-large", Effect: policy.Approve, Tools: []string{"refund"}, Roles: []string{"support"},
				When: []string{"amount > 100"}},
			{Name: "mail-known", Effect: policy.Allow, Tools: []string{"send_email"},
				When: []string{"to in lists.approved_recipients"}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	agent := llm.Principal{Tenant: "acme", User: "u-7", Roles: []string{"support"}}
	for _, amount := range []string{"40", "250"} {
		args, _ := policy.DecodeArgs([]byte(`{"amount": ` + amount + `, "ticket": {"tenant": "acme"}}`))
		d := p.Decide(&policy.Input{Principal: agent, Tool: "refund", Risk: policy.RiskExternal, Args: args})
		fmt.Println(amount, d.Effect, d.Rule)
	}
	// The same refund, once a retrieved document is in the conversation.
	args, _ := policy.DecodeArgs([]byte(`{"amount": 40, "ticket": {"tenant": "acme"}}`))
	d := p.Decide(&policy.Input{Principal: agent, Tool: "refund", Risk: policy.RiskExternal, Args: args, Untrusted: true})
	fmt.Println(d)
	// Output:
	// 40 allow refunds-small
	// 250 approve refunds-large
	// deny (untrusted-context): untrusted content is in the conversation and the tool's risk is above read; overrides rule "refunds-small" (allow)
}

func ExampleParseYAML() {
	p, err := policy.ParseYAML([]byte(`
untrusted:
  effect: approve        # once untrusted content is in: ask a person
rules:
  - name: search
    effect: allow
    tools: [search_docs]
    max_risk: read
  - name: tickets-own-tenant
    effect: allow
    tools: [update_ticket]
    when: [ticket.tenant == principal.tenant]
`))
	if err != nil {
		log.Fatal(err)
	}
	safeMode := llm.NewSafeMode()
	alice := llm.Principal{Tenant: "acme", User: "alice"}
	update := func(untrusted bool) policy.Decision {
		return p.Decide(&policy.Input{
			Principal: alice,
			Tool:      "update_ticket",
			Risk:      policy.RiskWrite,
			Args:      map[string]any{"ticket": map[string]any{"tenant": "acme"}},
			Untrusted: untrusted,
			SafeMode:  safeMode.Active(),
		})
	}
	fmt.Println(update(false).Rule, update(false).Effect)
	fmt.Println(update(true).Rule, update(true).Effect)
	safeMode.Enable("incident 42")
	fmt.Println(update(false).Rule, update(false).Effect)
	// Output:
	// tickets-own-tenant allow
	// untrusted-context approve
	// safe-mode deny
}

func ExampleParseYAML_error() {
	_, err := policy.ParseYAML([]byte(`
rules:
  - name: refunds
    effect: allow
    tools: [refund]
    when: ["'amount' <= 100"]
`))
	fmt.Println(err)
	// Output:
	// policy: line 6, column 12: rule "refunds": when[0]: "'amount' <= 100": at character 1: both sides are constants; a path into the arguments is written without quotes
}

func ExampleLoadFile() {
	p, err := policy.LoadFile("testdata/support.yaml")
	if err != nil {
		log.Fatal(err)
	}
	d := p.Decide(&policy.Input{
		Principal: llm.Principal{Tenant: "acme", User: "bob", Roles: []string{"agent"}},
		Tool:      "send_email",
		Risk:      policy.RiskExternal,
		Args:      map[string]any{"to": "finance@globex.example"},
	})
	fmt.Println(d)
	// Output:
	// allow (mail-approved-recipients): rule "mail-approved-recipients" allows the call
}
