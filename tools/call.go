package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/tools/policy"
)

// Call is one proposed tool call on its way through an Executor. The
// caller fills the first group of fields; the Executor's stages fill the
// rest as they go, so later stages (and the audit) see what earlier ones
// decided.
type Call struct {
	// ID is the model's id for the call (llm.ToolCall.ID).
	ID string
	// Name is the tool the model asked for.
	Name string
	// Args are the arguments exactly as the model sent them.
	Args json.RawMessage
	// Principal is who the conversation runs for.
	Principal llm.Principal
	// RequestID is the application's request id, for the audit.
	RequestID string
	// Untrusted says the conversation holds untrusted third-party content
	// (see Tainted): policies may refuse risky tools then.
	Untrusted bool
	// Conversation is a digest of the conversation up to the proposal
	// (see ConversationDigest); approvals are bound to it.
	Conversation string
	// Approval is a decision already given for this call, when an agent
	// resumes after a pause; the Executor checks it is bound to this
	// exact call and has not expired.
	Approval *Approval

	// Tool is the registered tool (set by the Executor; nil if unknown).
	Tool *Tool
	// Value is the decoded arguments the tool's function takes, and
	// Generic their generic form for policies (set once validated).
	Value, Generic any
	// Decision is the policy's decision (set by the policy stage).
	Decision *policy.Decision
	// Approver names who approved the call, when one did.
	Approver string

	// answer is the approval the approval stage checked (the one carried
	// by the call or the Approver's), and approved whether it let the
	// call run: the audit records every answer, a refusal included.
	answer   *Approval
	approved bool
}

// Status says how a call ended.
type Status string

// The statuses.
const (
	StatusOK          Status = "ok"
	StatusUnknownTool Status = "unknown_tool"
	StatusInvalidArgs Status = "invalid_arguments"
	StatusDenied      Status = "denied"
	StatusPending     Status = "pending_approval"
	StatusFailed      Status = "failed"
	StatusTimeout     Status = "timeout"
	StatusPanic       Status = "panic"
	StatusCanceled    Status = "canceled"
)

// Result is the outcome of a call: what the model will see, and what the
// application needs to know.
type Result struct {
	// CallID and Name repeat the call's.
	CallID, Name string
	// Status says how the call ended.
	Status Status
	// Content is what the model sees: the tool's result, or a short
	// explanation of why there is none that the model can act on.
	Content string
	// Err is the underlying error for the application, when there is one.
	Err error
	// Truncated says Content was cut to the tool's result cap.
	Truncated bool
	// Duration is how long the call took through the Executor.
	Duration time.Duration
	// Decision is the policy's decision, once one was made (calls that
	// fail validation never reach the policy).
	Decision *policy.Decision
	// Pending is the approval request when Status is StatusPending.
	Pending *ApprovalRequest
	// Halt asks the agent loop to stop after this step (a policy may
	// set it for a refusal that should end the run).
	Halt bool
}

// IsError reports whether the model should read Content as an error.
func (r *Result) IsError() bool { return r.Status != StatusOK }

// Handler runs a call and returns its result. Handlers never return nil:
// every failure is a Result the model can react to.
type Handler func(ctx context.Context, call *Call) *Result

// Middleware wraps a Handler, one level below llm.Middleware: policy,
// audit, guards and telemetry wrap every tool call the same way.
type Middleware func(next Handler) Handler

// Chain applies middlewares so the first is outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// errorResult is a refusal or failure the model sees as text.
func errorResult(call *Call, status Status, content string, err error) *Result {
	return &Result{CallID: call.ID, Name: call.Name, Status: status, Content: content, Err: err}
}
