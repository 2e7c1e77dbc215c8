package guard

import (
	"context"

	"github.com/keel-go/keel/rag"
	"github.com/keel-go/keel/tools"
)

// ToolMiddleware is the guard as a tools.Middleware (put it in
// tools.Config.Middleware, inside the policy): a call's arguments get the
// policy's Output checks (they are model output on their way out: a
// secret or an address the policy blocks cannot leave through a tool),
// and its result gets the Untrusted checks before the model sees it: a
// result the checks block is replaced by a notice, and redacted values
// are masked.
func (g *Guard) ToolMiddleware() tools.Middleware {
	return func(next tools.Handler) tools.Handler {
		return func(ctx context.Context, call *tools.Call) *tools.Result {
			pol := g.policyFor(call.Principal.Tenant, "")
			sc := scope{policy: pol, tenant: call.Principal.Tenant, where: "tool_arguments"}
			if v := g.check(ctx, sc, g.checks(sc), string(call.Args), true); v.Action == Block {
				return &tools.Result{CallID: call.ID, Name: call.Name, Status: tools.StatusDenied,
					Content: "The call was refused by a guardrail and did not run: its arguments hold data that may not leave.",
					Err:     blocked(v.Reason)}
			}
			r := next(ctx, call)
			if r.Status != tools.StatusOK {
				return r
			}
			sc.where, sc.untrusted = "tool_result", true
			v := g.check(ctx, sc, g.checks(sc), r.Content, true)
			switch {
			case v.Action == Block:
				r.Content = "The tool's result was withheld by a guardrail: it holds content that may not be shown to the model (" +
					firstType(v) + ")."
			case len(v.Redact) > 0:
				r.Content = maskFindings(g, pol, r.Content, v)
			}
			return r
		}
	}
}

// FilterHits applies the policy's Untrusted checks to retrieved chunks
// before they reach a prompt: a chunk a check blocks (an injected
// instruction, say) is dropped, and redacted values are masked in a copy
// of the chunk. The hits are not modified.
func (g *Guard) FilterHits(ctx context.Context, tenant, feature string, hits []rag.Hit) []rag.Hit {
	pol := g.policyFor(tenant, feature)
	sc := scope{policy: pol, tenant: tenant, feature: feature, where: "retrieval", untrusted: true}
	checks := g.checks(sc)
	out := make([]rag.Hit, 0, len(hits))
	for _, h := range hits {
		v := g.check(ctx, sc, checks, h.Chunk.Text, true)
		if v.Action == Block {
			continue
		}
		if len(v.Redact) > 0 {
			h.Chunk.Text = maskFindings(g, pol, h.Chunk.Text, v)
		}
		out = append(out, h)
	}
	return out
}

// maskFindings masks (or hashes, under a hashing policy) the redacted
// findings of text irreversibly: text that leaves the request has no
// answer to restore it in.
func maskFindings(g *Guard, pol *Policy, text string, v Verdict) string {
	r := g.masking[RedactMask]
	if pol.Redaction == RedactHash && g.masking[RedactHash] != nil {
		r = g.masking[RedactHash]
	}
	return r.NewVault().Redact(text, v.Redact)
}

func firstType(v Verdict) string {
	for _, e := range v.Events {
		if e.Action == Block {
			return e.Type
		}
	}
	return "blocked content"
}
