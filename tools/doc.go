// Package tools lets a model use an application's functions only within
// policy, with an audit trail: the model proposes, the application
// decides.
//
// A Tool is a Go function with typed arguments (New) or a JSON Schema with
// a handler (NewRaw, for tools from MCP servers, OpenAPI or configuration),
// plus a Spec: risk level, timeout, result cap, idempotency. A Registry
// holds tools and lists them for llm.Request. An Executor runs each
// proposed call through fixed stages: an audit record of the proposal;
// argument validation against the schema (jsonschema/v6) and strict
// decoding, a failure going back to the model as an error it can correct;
// a decision by a policy (package tools/policy: deny by default, rules by
// principal, tool, risk and argument constraints, stricter once untrusted
// content is in the conversation, llm.SafeMode honoured); human approval
// where the policy asks for it, bound to a hash of the exact call and
// expiring; the application's middlewares (guards, telemetry); and the
// tool itself under its timeout, with panics and errors turned into
// results. Package tools/audit keeps the trail in a keyed hash chain.
//
// An Agent runs the model ↔ tools loop with limits on steps, tokens, cost
// and time, stops a call repeated in a loop, runs parallel calls
// concurrently, and pauses on a pending approval: Run.State is saved JSON
// with a MAC, and Resume refuses it if it was edited.
//
//	refund, _ := tools.New(tools.Spec{Name: "refund", Description: "Refund an order", Risk: tools.RiskExternal},
//		func(ctx context.Context, a RefundArgs) (string, error) { return payments.Refund(ctx, a.Order, a.Amount) })
//	reg, _ := tools.NewRegistry(refund)
//	pol, _ := policy.LoadFile("policy.yaml")
//	exec, _ := tools.NewExecutor(tools.Config{Registry: reg, Policy: pol, Approver: approver, Audit: log, AuditKey: key})
//	agent, _ := tools.NewAgent(tools.AgentConfig{Model: model, Executor: exec, StateKey: stateKey})
//	run, err := agent.Run(ctx, &llm.Request{Principal: p, Messages: msgs})
package tools
