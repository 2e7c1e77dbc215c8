// Package guard holds keel's guardrails: the checks that run on what goes
// into a model and what comes out of it. Its detectors live in package
// guard/detect and are usable on their own; this package turns their
// findings into actions (allow, flag, redact, block) under a policy.
//
// Moderation: ModerationPolicy turns any llm.Moderator's category scores
// into violations by per-category thresholds, and LLMModerator is a
// Moderator over any llm.Model, for providers without a moderation
// endpoint.
//
//	mod, _ := guard.NewLLMModerator(model, "gpt-4o-mini", nil)
//	resp, err := mod.Moderate(ctx, &llm.ModerationRequest{Inputs: []string{text}})
//	policy := guard.ModerationPolicy{Thresholds: map[string]float64{"*": 0.5, "self-harm": 0.2}}
//	violations := policy.Judge(resp.Results[0])
package guard
