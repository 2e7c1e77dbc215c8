package tools

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keel-go/keel/llm/structured"
	"github.com/keel-go/keel/tools/audit"
)

// auditMiddleware writes the audit records of each call: proposed (with
// the arguments as a keyed digest and a summary, or in full where the
// application opted in), decided, approval and outcome. A sink error does
// not stop the call: the outcome record carries it as far as it can, and
// the application's sink is expected to alert.
func auditMiddleware(cfg Config) Middleware {
	full := func(tool string) bool {
		return slices.Contains(cfg.AuditFullArgs, "*") || slices.Contains(cfg.AuditFullArgs, tool)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, call *Call) *Result {
			base := audit.Record{Tenant: call.Principal.Tenant, User: call.Principal.User, RequestID: call.RequestID,
				CallID: call.ID, Tool: call.Name}
			if t, ok := cfg.Registry.Get(call.Name); ok {
				base.Risk = t.spec.Risk.String()
			}
			start := cfg.Now()
			rec := base
			rec.Event, rec.Time = audit.EventProposed, start
			rec.SetArgs(cfg.AuditKey, call.Args, full(call.Name))
			_ = cfg.Audit.Write(ctx, rec)

			r := next(ctx, call)

			if call.Decision != nil {
				rec := base
				rec.Event, rec.Time = audit.EventDecided, cfg.Now()
				rec.Decision, rec.Rule = call.Decision.Effect.String(), call.Decision.Rule
				if call.Decision.Reason != "" {
					rec.Detail = map[string]string{"reason": call.Decision.Reason}
				}
				_ = cfg.Audit.Write(ctx, rec)
			}
			if call.answer != nil || r.Pending != nil {
				// Every answer is recorded with who gave it, a rejection
				// or a refused (expired, mismatched) approval as much as
				// a granted one.
				rec := base
				rec.Event, rec.Time = audit.EventApproval, cfg.Now()
				switch {
				case r.Pending != nil:
					rec.Decision = string(Pending)
				case call.approved:
					rec.Decision, rec.Approver = string(Approved), call.Approver
				case call.answer.Status == Rejected:
					rec.Decision, rec.Approver = string(Rejected), call.answer.Approver
				default:
					rec.Decision, rec.Approver = "refused", call.answer.Approver
				}
				_ = cfg.Audit.Write(ctx, rec)
			}
			rec = base
			rec.Event, rec.Time = audit.EventOutcome, cfg.Now()
			rec.Outcome, rec.Duration = string(r.Status), rec.Time.Sub(start)
			if call.Decision != nil {
				rec.Rule = call.Decision.Rule
			}
			if r.Err != nil {
				rec.Error = auditError(r, full(call.Name))
			}
			_ = cfg.Audit.Write(ctx, rec)
			return r
		}
	}
}

// auditError is the error an outcome record carries: its first line
// (no stack traces), and for invalid arguments only where they were
// wrong, since validation messages quote the values, unless the
// application opted in to full arguments.
func auditError(r *Result, fullArgs bool) string {
	msg := r.Err.Error()
	var ve *structured.ValidationError
	if r.Status == StatusInvalidArgs && !fullArgs {
		if !errors.As(r.Err, &ve) {
			return "invalid arguments: not JSON"
		}
		paths := make([]string, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			path := p.Path
			if path == "" {
				path = "/"
			}
			if !slices.Contains(paths, path) {
				paths = append(paths, path)
			}
		}
		return "invalid arguments at " + strings.Join(paths, ", ")
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
