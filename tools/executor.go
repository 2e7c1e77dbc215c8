package tools

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/tools/audit"
	"github.com/keel-go/keel/tools/policy"
)

// Config configures an Executor.
type Config struct {
	// Registry holds the tools calls may name. Required.
	Registry *Registry
	// Policy decides every call. Required: there is no "allow all"
	// default; a policy with no rules denies everything.
	Policy *policy.Policy
	// Approver answers calls the policy sends for approval; without one
	// those calls are refused.
	Approver Approver
	// Ledger makes each approval single-use; nil means a new
	// NewMemoryLedger for this Executor.
	Ledger ApprovalLedger
	// SafeMode, when active, makes the policy refuse tools above its
	// safe-mode risk level.
	SafeMode *llm.SafeMode
	// Audit receives a record for each step of each call (proposed,
	// decided, approval, outcome); nil keeps no audit trail.
	Audit audit.Sink
	// AuditKey keys the argument digests in audit records (see
	// audit.Digest); required with Audit.
	AuditKey []byte
	// AuditFullArgs opts in to full arguments in audit records, for the
	// named tools ("*" for all). By default records hold a keyed digest
	// and a summary without values.
	AuditFullArgs []string
	// Observe wraps every call, outside all the stages (telemetry, see
	// Telemetry): it sees refused and invalid calls too.
	Observe []Middleware
	// Middleware wraps the tool's run, inside the policy: guards see only
	// calls that were allowed, with decoded arguments.
	Middleware []Middleware
	// TimeoutRetries is how many more times a call that timed out is run
	// when its tool is idempotent (Spec.Idempotent): 0 means once more, a
	// negative value never. Other tools are never retried.
	TimeoutRetries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Executor runs proposed tool calls through a fixed order of stages:
//
//	Config.Observe → audit → resolve and validate arguments →
//	policy and approval → Config.Middleware →
//	the tool (timeout, retry of idempotent tools, panic recovery, result cap)
//
// so that nothing runs because a model asked: it runs because the policy
// allowed it for this principal, with these arguments, in this context.
// An Executor is safe for concurrent use.
type Executor struct {
	cfg     Config
	handler Handler
}

// NewExecutor checks cfg and builds the Executor.
func NewExecutor(cfg Config) (*Executor, error) {
	if cfg.Registry == nil {
		return nil, errors.New("tools: Config.Registry is required")
	}
	if cfg.Policy == nil {
		return nil, errors.New("tools: Config.Policy is required (tools are denied unless a policy allows them)")
	}
	if cfg.Audit != nil && len(cfg.AuditKey) == 0 {
		return nil, errors.New("tools: Config.AuditKey is required with Config.Audit (argument digests are keyed)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ledger == nil {
		cfg.Ledger = newMemoryLedger(cfg.Now)
	}
	switch {
	case cfg.TimeoutRetries == 0:
		cfg.TimeoutRetries = 1
	case cfg.TimeoutRetries < 0:
		cfg.TimeoutRetries = 0
	}
	e := &Executor{cfg: cfg}
	mws := append([]Middleware(nil), cfg.Observe...)
	if cfg.Audit != nil {
		mws = append(mws, auditMiddleware(cfg))
	}
	mws = append(mws, e.validate, e.enforce)
	mws = append(mws, cfg.Middleware...)
	e.handler = Chain(e.retryTimeouts(e.invoke), mws...)
	return e, nil
}

// Registry returns the executor's registry.
func (e *Executor) Registry() *Registry { return e.cfg.Registry }

// Execute runs call through the stages and returns its result, never nil.
func (e *Executor) Execute(ctx context.Context, call *Call) *Result {
	start := e.cfg.Now()
	ctx = ContextWithPrincipal(ctx, call.Principal)
	r := e.handler(ctx, call)
	if r == nil {
		r = errorResult(call, StatusFailed, "The tool layer returned no result.", errors.New("tools: a middleware returned a nil result"))
	}
	r.Duration = e.cfg.Now().Sub(start)
	if r.Decision == nil && call.Decision != nil {
		d := *call.Decision
		r.Decision = &d
	}
	return r
}

type principalKey struct{}

// PrincipalFrom returns the principal a tool function runs for: the
// Executor puts the call's principal on the context it passes down, so a
// tool can check, for example, that a record belongs to the caller's
// tenant (defence in depth behind the policy). ok is false outside a call.
func PrincipalFrom(ctx context.Context) (p llm.Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(llm.Principal)
	return p, ok
}

// ContextWithPrincipal returns ctx carrying p as PrincipalFrom reads it;
// the Executor uses it for every call, and tests of tool functions can
// too.
func ContextWithPrincipal(ctx context.Context, p llm.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// validate resolves the tool and decodes the arguments; a failure goes
// back to the model as an error it can correct.
func (e *Executor) validate(next Handler) Handler {
	return func(ctx context.Context, call *Call) *Result {
		t, ok := e.cfg.Registry.Get(call.Name)
		if !ok {
			return errorResult(call, StatusUnknownTool,
				fmt.Sprintf("There is no tool named %q. Use one of the tools you were given.", call.Name), nil)
		}
		call.Tool = t
		v, generic, err := t.DecodeArgs(call.Args)
		if err != nil {
			return errorResult(call, StatusInvalidArgs,
				"The arguments were not valid, so the tool did not run. Fix them and call it again. "+err.Error(), err)
		}
		call.Value, call.Generic = v, generic
		return next(ctx, call)
	}
}

// enforce asks the policy, and the approver when the policy says so.
func (e *Executor) enforce(next Handler) Handler {
	return func(ctx context.Context, call *Call) *Result {
		d := e.cfg.Policy.Decide(&policy.Input{
			Principal: call.Principal,
			Tool:      call.Name,
			Risk:      call.Tool.spec.Risk,
			Args:      call.Generic,
			Untrusted: call.Untrusted,
			SafeMode:  e.cfg.SafeMode.Active(),
		})
		call.Decision = &d
		switch d.Effect {
		case policy.Allow:
			return next(ctx, call)
		case policy.Approve:
			return e.approve(ctx, call, next)
		default:
			return errorResult(call, StatusDenied, refusal(d), fmt.Errorf("tools: %s denied by policy rule %q: %s", call.Name, d.Rule, d.Reason))
		}
	}
}

// refusal is what the model is told about a policy refusal: enough to
// stop retrying, nothing about how to get around it.
func refusal(d policy.Decision) string {
	return fmt.Sprintf("The call was refused by policy (rule %q) and did not run. Do not retry it; tell the user it is not allowed.", d.Rule)
}

// approve handles a call that needs approval: an approval carried by the
// call (when resuming) or the Approver's answer.
func (e *Executor) approve(ctx context.Context, call *Call, next Handler) *Result {
	binding := BindingOf(call)
	a := call.Approval
	if a == nil {
		if e.cfg.Approver == nil {
			return errorResult(call, StatusDenied, "The call needs a human's approval and none can be asked for here, so it did not run.",
				fmt.Errorf("tools: %s needs approval (rule %q) and no Approver is configured", call.Name, call.Decision.Rule))
		}
		req := &ApprovalRequest{CallID: call.ID, Tool: call.Name, Risk: call.Tool.spec.Risk, Args: call.Args, Principal: call.Principal,
			Rule: call.Decision.Rule, Reason: call.Decision.Reason, Binding: binding, RequestedAt: e.cfg.Now()}
		got, err := e.cfg.Approver.Approve(ctx, req)
		if err != nil {
			return errorResult(call, StatusDenied, "Approval could not be obtained, so the call did not run.", fmt.Errorf("tools: approver: %w", err))
		}
		if got.Status == Pending {
			r := errorResult(call, StatusPending, "The call is waiting for a human's approval.", nil)
			r.Pending = req
			return r
		}
		a = &got
	}
	call.answer = a
	if err := a.check(binding, e.cfg.Now()); err != nil {
		return errorResult(call, StatusDenied, "The call was not approved, so it did not run. Do not retry it.", err)
	}
	if fresh, err := e.cfg.Ledger.Use(ctx, binding, a.ExpiresAt); err != nil || !fresh {
		if err == nil {
			err = ErrApprovalUsed
		}
		return errorResult(call, StatusDenied, "The call was not approved, so it did not run. Do not retry it.", err)
	}
	call.Approver, call.approved = a.Approver, true
	return next(ctx, call)
}

// invoke runs the tool with its timeout, turning errors, timeouts and
// panics into results.
func (e *Executor) invoke(ctx context.Context, call *Call) *Result {
	t := call.Tool
	if t == nil {
		return errorResult(call, StatusUnknownTool, fmt.Sprintf("There is no tool named %q.", call.Name), nil)
	}
	if err := ctx.Err(); err != nil {
		return errorResult(call, StatusCanceled, "The call was canceled before it ran.", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.spec.Timeout)
	defer cancel()
	type outcome struct {
		v     any
		err   error
		panic any
		stack []byte
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{panic: p, stack: debug.Stack()}
			}
		}()
		v, err := t.run(ctx, call.Value)
		done <- outcome{v: v, err: err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		// The function may ignore its context; its result is dropped.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errorResult(call, StatusTimeout, fmt.Sprintf("The tool did not answer within %v.", t.spec.Timeout), ctx.Err())
		}
		return errorResult(call, StatusCanceled, "The call was canceled.", ctx.Err())
	}
	switch {
	case o.panic != nil:
		return errorResult(call, StatusPanic, "The tool failed unexpectedly.", fmt.Errorf("tools: %s panicked: %v\n%s", call.Name, o.panic, o.stack))
	case o.err != nil:
		if errors.Is(o.err, context.DeadlineExceeded) {
			return errorResult(call, StatusTimeout, fmt.Sprintf("The tool did not answer within %v.", t.spec.Timeout), o.err)
		}
		if errors.Is(o.err, context.Canceled) && ctx.Err() != nil {
			// A tool that returns as soon as its context is canceled
			// ends the same way as one the select above gave up on.
			return errorResult(call, StatusCanceled, "The call was canceled.", o.err)
		}
		return errorResult(call, StatusFailed, "The tool failed: "+o.err.Error(), o.err)
	}
	content, truncated, err := encodeResult(o.v, t.spec.MaxResultBytes)
	if err != nil {
		return errorResult(call, StatusFailed, "The tool's result could not be encoded.", err)
	}
	return &Result{CallID: call.ID, Name: call.Name, Status: StatusOK, Content: content, Truncated: truncated}
}
