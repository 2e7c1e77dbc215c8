package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/keel-go/keel/llm"
)

// ApprovalStatus is a human's answer to an approval request.
type ApprovalStatus string

// The approval statuses.
const (
	// Approved lets the call run, until the approval expires.
	Approved ApprovalStatus = "approved"
	// Rejected refuses it.
	Rejected ApprovalStatus = "rejected"
	// Pending means nobody has answered yet: the agent pauses and can be
	// resumed with the answer later.
	Pending ApprovalStatus = "pending"
)

// ApprovalRequest is what an Approver is asked to decide.
type ApprovalRequest struct {
	// CallID, Tool and Risk identify the call.
	CallID string
	Tool   string
	Risk   Risk
	// Args are the arguments as the model sent them, for the human to
	// read.
	Args json.RawMessage
	// Principal is who the conversation runs for.
	Principal llm.Principal
	// Rule and Reason are the policy's: why approval is needed.
	Rule, Reason string
	// Binding is the hash of the exact call (tool, arguments, principal,
	// conversation) an approval must carry; see BindingOf.
	Binding string
	// RequestedAt is when approval was asked for.
	RequestedAt time.Time
}

// Approval is an answer to an ApprovalRequest.
type Approval struct {
	// Binding must be the request's: an approval is for one exact call.
	Binding string
	// Status is the answer.
	Status ApprovalStatus
	// Approver identifies who answered, for the audit.
	Approver string
	// Reason is the approver's note.
	Reason string
	// ExpiresAt bounds an approval's use; the zero time is refused for
	// Approved (an approval must expire).
	ExpiresAt time.Time
}

// Approver decides approval requests: a human in the loop (a terminal
// prompt, a ticket, a chat message) or a rule. Returning Pending pauses
// the agent until the answer is given to Agent.Resume.
type Approver interface {
	Approve(ctx context.Context, req *ApprovalRequest) (Approval, error)
}

// ApproverFunc adapts a function to Approver.
type ApproverFunc func(ctx context.Context, req *ApprovalRequest) (Approval, error)

// Approve calls f.
func (f ApproverFunc) Approve(ctx context.Context, req *ApprovalRequest) (Approval, error) {
	return f(ctx, req)
}

// Errors that refuse an approval; a refused approval refuses the call.
var (
	ErrApprovalMismatch = errors.New("tools: the approval is for a different call (tool, arguments, principal or conversation changed)")
	ErrApprovalExpired  = errors.New("tools: the approval has expired")
	ErrApprovalRejected = errors.New("tools: the approver rejected the call")
	ErrApprovalUsed     = errors.New("tools: the approval was already used")
)

// check reports whether a lets the call bound to binding run at now.
func (a *Approval) check(binding string, now time.Time) error {
	switch {
	case a.Binding != binding:
		return ErrApprovalMismatch
	case a.Status == Rejected:
		return ErrApprovalRejected
	case a.Status != Approved:
		return errors.New("tools: the approval has not been given")
	case a.ExpiresAt.IsZero() || !now.Before(a.ExpiresAt):
		return ErrApprovalExpired
	}
	return nil
}

// BindingOf returns the hash an approval of call must carry: SHA-256 over
// the tool name, the arguments in canonical form (keys sorted, no
// insignificant space), the principal (tenant, user, sorted roles and
// groups) and the conversation digest, each length-prefixed. Any change
// to any of them gives another binding.
func BindingOf(call *Call) string {
	h := sha256.New()
	put := func(s string) { putString(h, s) }
	put("keel/tools/approval/v1")
	put(call.Name)
	put(canonicalArgs(call))
	put(call.Principal.Tenant)
	put(call.Principal.User)
	roles := slices.Clone(call.Principal.Roles)
	slices.Sort(roles)
	groups := slices.Clone(call.Principal.Groups)
	slices.Sort(groups)
	put(string(mustJSON(roles)))
	put(string(mustJSON(groups)))
	put(call.Conversation)
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalArgs is the arguments re-encoded from their generic form, so
// spacing and key order do not matter; raw bytes when they are not
// decoded.
func canonicalArgs(call *Call) string {
	if call.Generic != nil {
		if b, err := json.Marshal(call.Generic); err == nil {
			return string(b)
		}
	}
	return string(call.Args)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
