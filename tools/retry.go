package tools

import "context"

// retryTimeouts runs a call again when it timed out and its tool is
// idempotent, up to Config.TimeoutRetries more times. A timed-out call of
// any other tool may still be running or may have had its effect, so it
// is never repeated: the model is told it timed out.
func (e *Executor) retryTimeouts(next Handler) Handler {
	return func(ctx context.Context, call *Call) *Result {
		r := next(ctx, call)
		for i := 0; i < e.cfg.TimeoutRetries && r.Status == StatusTimeout &&
			call.Tool != nil && call.Tool.spec.Idempotent && ctx.Err() == nil; i++ {
			r = next(ctx, call)
		}
		return r
	}
}
