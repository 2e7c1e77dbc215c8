// Package keel is a toolkit for shipping LLM features inside Go services the
// way a strong lead engineer would build them: provider calls that survive
// outages and stay inside a cost budget, typed structured output, tools an
// agent may only use within policy and with an audit trail, retrieval that
// never crosses a tenant boundary, guardrails on what goes in and comes out,
// and evaluations that gate a release like any other test.
//
// This root package holds no code; it documents the module. The work is done
// in its packages, arranged in layers that only import downwards:
//
//	llm            core types, the Model and Embedder interfaces, Middleware,
//	               Principal, Provenance, SafeMode, Moderator, typed errors
//	llm/openai     the OpenAI (and OpenAI-compatible, and Azure) provider
//	llm/llmtest    fakes, fault injection and record/replay for tests
//	llm/redisstore Redis backends for rate limits, caches and budgets
//	llm/structured typed structured output: Generator[T], strict schemas,
//	               validation with repair, streaming partial values
//	llm/prompt     versioned prompt files, a registry with canaries
//	rag            retrieval: ingestion, hybrid search, citations (layer 1)
//
// # The one idea
//
// Everything is an llm.Model or a middleware around one. A provider is the
// innermost Model; retries, fallback, routing, caching, budgets, guardrails
// and telemetry wrap it, and the whole stack is one expression:
//
//	provider, err := openai.New() // reads OPENAI_API_KEY
//	if err != nil {
//		return err
//	}
//	model := llm.Chain(provider, myLogging, myTenantCheck)
//	resp, err := model.Generate(ctx, &llm.Request{
//		Model:     "gpt-4o-mini",
//		Messages:  []llm.Message{llm.SystemMessage("Answer briefly."), llm.UserText(q)},
//		Principal: llm.Principal{Tenant: "acme", User: "u-42"},
//	})
//
// Streaming is a range loop over the same Model:
//
//	for ev, err := range model.Stream(ctx, req) {
//		if err != nil {
//			return err
//		}
//		fmt.Print(ev.Text)
//	}
//
// Every failure is an *llm.Error with a Kind whose retry, fallback and
// circuit-breaker handling is one row of a documented table (see package
// llm). In tests, llm/llmtest stands in for the provider, with no network.
package keel
