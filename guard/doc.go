// Package guard keeps sensitive data and hostile instructions away from a
// model and out of its answers: the checks that run on what goes into a
// model and what comes out of it. Its detectors live in package
// guard/detect and are usable on their own; this package turns their
// findings into actions (allow, flag, redact, block) under a Policy, which
// is data (ParsePolicy, LoadPolicy) and can be swapped at run time
// (PolicySource); llm.SafeMode tightens it (Policy.Tightened). Every
// decision emits a safety Event, without the sensitive text.
//
// # Where it runs
//
// Build a Guard from a PolicySource, a detector set (DefaultDetectors: PII
// and secrets in one pass, and the injection heuristics) and options, then
// use it as:
//
//   - an llm.Middleware (Guard.Middleware) in the canonical position,
//     outside the cache: input checks (the user's text under
//     Policy.Input, explicitly untrusted parts and tool results under the
//     stricter Policy.Untrusted), pseudonymization, restore, and output
//     checks and filters on the answer, streamed or not;
//   - a tools.Middleware (Guard.ToolMiddleware): arguments under
//     Policy.Output, results under Policy.Untrusted;
//   - a filter on retrieved chunks (Guard.FilterHits);
//   - a plain function (Guard.Check), for pipelines and tests.
//
// For example:
//
//	src, _ := guard.NewPolicySource(policy) // or guard.LoadPolicy("guard.yaml")
//	ds, _ := guard.DefaultDetectors()
//	g, _ := guard.New(guard.Config{Policy: src, Detectors: ds, Events: guard.ZapEvents(log),
//		Filters: []guard.OutputFilter{guard.Exfiltration{AllowedHosts: []string{"docs.acme.example"}}}})
//	model := llm.Chain(provider, g.Middleware(), llm.Cache(cacheOpts)) // the guard outside the cache
//
// Spotlighting (NewSpotlight) wraps untrusted content in delimiters the
// content cannot close, or datamarks it, for the system prompt to point
// at. The injection heuristics can be combined with a model-based
// Classifier (LLMClassifier), consulted only when they are unsure
// (InjectionCheck).
//
// # Redaction
//
// A Redactor, built once from a RedactConfig, says how each type of
// finding (see package guard/detect) is replaced in text sent to a model:
//
//   - RedactPseudonymize (the default) replaces a value with a numbered
//     placeholder such as <EMAIL_1>, keeps the mapping in a per-request
//     Vault, and restores the real value in the model's answer;
//   - RedactMask replaces it with <EMAIL>, or with **** followed by a few
//     trailing characters (****4242);
//   - RedactHash replaces it with a keyed HMAC-SHA256 prefix such as
//     <EMAIL:3fa9c1d2>, the same in every request, so logs can be joined
//     on it without holding the value.
//
// One Vault serves one request: redact everything the request sends, call
// the model, restore everything it answers.
//
//	v := redactor.NewVault()
//	sent := req.Clone()
//	sent.Messages = v.RedactMessages(req.Messages, scan) // copies; req is untouched
//	resp, err := next.Generate(ctx, sent)
//	if err != nil {
//		return nil, err
//	}
//	return v.RestoreResponse(resp, req.ResponseFormat), nil
//
// and for a stream, v.RestoreStream(next.Stream(ctx, sent),
// req.ResponseFormat). Placed outside the cache, as in the canonical
// stack, this means the provider, the cache, and any log or audit record
// written below the guard only ever see placeholders.
//
// Restoration covers text, streamed text (a placeholder split across
// chunks is held back until it is complete, never more than the longest
// placeholder), tool-call arguments and structured output. In JSON, each
// restored value is JSON-escaped inside the string that held its
// placeholder, so a name with a quote in it cannot end the string early,
// break Generate[T] or add a field. Text in the input that already looks
// like a placeholder is itself pseudonymized, so an echo of it is restored
// to what the user wrote and never to someone's e-mail address.
//
// # Moderation
//
// ModerationPolicy turns any llm.Moderator's category scores
// into violations by per-category thresholds, and LLMModerator is a
// Moderator over any llm.Model, for providers without a moderation
// endpoint.
//
//	mod, _ := guard.NewLLMModerator(model, "gpt-4o-mini", nil)
//	resp, err := mod.Moderate(ctx, &llm.ModerationRequest{Inputs: []string{text}})
//	policy := guard.ModerationPolicy{Thresholds: map[string]float64{"*": 0.5, "self-harm": 0.2}}
//	violations := policy.Judge(resp.Results[0])
package guard
