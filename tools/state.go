package tools

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keel-go/keel/llm"
)

// ErrStateTampered is returned by Resume for saved state whose MAC does
// not match: it was edited, truncated, or saved under another key.
var ErrStateTampered = errors.New("tools: saved agent state failed its integrity check")

// stateVersion is the saved state's format.
const stateVersion = 1

// maxStateBytes bounds the saved state Resume reads.
const maxStateBytes = 64 << 20

// savedEnvelope is the saved state: the state as exact JSON bytes and
// their HMAC-SHA256 under AgentConfig.StateKey.
type savedEnvelope struct {
	State json.RawMessage `json:"state"`
	MAC   string          `json:"mac"`
}

type savedState struct {
	Version   int            `json:"version"`
	SavedAt   time.Time      `json:"saved_at"`
	Request   *llm.Request   `json:"request"`
	RequestID string         `json:"request_id,omitempty"`
	Steps     int            `json:"steps"`
	Usage     llm.Usage      `json:"usage"`
	Cost      float64        `json:"cost"`
	Seen      map[string]int `json:"seen"`
	Step      []savedCall    `json:"step"`
}

type savedCall struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Args         json.RawMessage `json:"args"`
	Untrusted    bool            `json:"untrusted"`
	Conversation string          `json:"conversation"`
	// Result is set for calls that finished; the others wait.
	Result *savedResult `json:"result,omitempty"`
}

type savedResult struct {
	Status    Status `json:"status"`
	Content   string `json:"content"`
	Truncated bool   `json:"truncated,omitempty"`
}

// pause saves r into out.State and returns the paused run.
func (a *Agent) pause(r *run, out *Run) (*Run, error) {
	st := savedState{Version: stateVersion, SavedAt: time.Now().UTC(), Request: r.req, RequestID: r.requestID,
		Steps: r.steps, Usage: r.usage, Cost: r.cost, Seen: r.seen}
	for _, s := range r.step {
		sc := savedCall{ID: s.call.ID, Name: s.call.Name, Args: json.RawMessage(s.call.Args), Untrusted: s.call.Untrusted, Conversation: s.call.Conversation}
		if !json.Valid(sc.Args) {
			// Arguments that are not JSON cannot be waiting (they failed
			// validation), but keep the field valid JSON regardless.
			sc.Args, _ = json.Marshal(string(s.call.Args))
		}
		if s.result != nil {
			sc.Result = &savedResult{Status: s.result.Status, Content: s.result.Content, Truncated: s.result.Truncated}
		}
		st.Step = append(st.Step, sc)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("tools: saving agent state: %w", err)
	}
	env, err := json.Marshal(savedEnvelope{State: raw, MAC: hex.EncodeToString(stateMAC(a.cfg.StateKey, raw))})
	if err != nil {
		return nil, fmt.Errorf("tools: saving agent state: %w", err)
	}
	out.Status, out.State = RunPaused, env
	out.Messages = r.req.Messages
	out.Steps, out.Usage, out.Cost = r.steps, r.usage, r.cost
	return out, nil
}

func stateMAC(key, raw []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keel/tools/state/v1\x00"))
	m.Write(raw)
	return m.Sum(nil)
}

// Resume continues a paused run from its saved state with the answers to
// its pending approvals (matched to calls by their Binding). State whose
// MAC does not verify is refused with ErrStateTampered before anything
// else is read; every waiting call must have an answer bound to it, or
// Resume fails with ErrApprovalMismatch and nothing runs. The calls are
// decided again by the policy, and each approval must be bound to its
// exact call and unexpired, or the call is refused (the model is told).
func (a *Agent) Resume(ctx context.Context, state []byte, approvals ...Approval) (*Run, error) {
	if len(a.cfg.StateKey) == 0 {
		return nil, errors.New("tools: Resume needs AgentConfig.StateKey")
	}
	if len(state) > maxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes is more than a saved state can be", ErrStateTampered, len(state))
	}
	var env savedEnvelope
	if err := json.Unmarshal(state, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStateTampered, err)
	}
	mac, err := hex.DecodeString(env.MAC)
	if err != nil || !hmac.Equal(mac, stateMAC(a.cfg.StateKey, env.State)) {
		return nil, ErrStateTampered
	}
	var st savedState
	if err := json.Unmarshal(env.State, &st); err != nil || st.Version != stateVersion || st.Request == nil {
		return nil, fmt.Errorf("tools: saved agent state is not version %d: %v", stateVersion, err)
	}
	r := &run{req: st.Request, requestID: st.RequestID, steps: st.Steps, usage: st.Usage, cost: st.Cost, seen: st.Seen}
	if r.seen == nil {
		r.seen = map[string]int{}
	}
	if r.requestID == "" {
		r.requestID = RequestIDFrom(ctx)
	}
	byBinding := map[string]*Approval{}
	for i := range approvals {
		byBinding[approvals[i].Binding] = &approvals[i]
	}
	for _, sc := range st.Step {
		c := &Call{ID: sc.ID, Name: sc.Name, Args: []byte(sc.Args), Principal: r.req.Principal, RequestID: r.requestID,
			Untrusted: sc.Untrusted, Conversation: sc.Conversation}
		s := stepCall{call: c}
		if sc.Result != nil {
			s.result = &Result{CallID: sc.ID, Name: sc.Name, Status: sc.Result.Status, Content: sc.Result.Content, Truncated: sc.Result.Truncated}
		} else {
			// The binding is computed from the call as saved, and the
			// executor computes it again from the decoded arguments.
			if t, ok := a.cfg.Executor.Registry().Get(c.Name); ok {
				if _, generic, err := t.DecodeArgs(c.Args); err == nil {
					c.Generic = generic
				}
			}
			ap, ok := byBinding[BindingOf(c)]
			c.Generic = nil
			if !ok {
				// An approval bound to another principal, other arguments
				// or another conversation lands here too: it names no
				// waiting call.
				return nil, fmt.Errorf("%w: no approval given for the waiting call %s (%s)", ErrApprovalMismatch, c.ID, c.Name)
			}
			c.Approval = ap
		}
		r.step = append(r.step, s)
	}
	out := &Run{}
	if reason, paused, done := a.runStep(ctx, r, out); done {
		if paused {
			return a.pause(r, out)
		}
		out.Status, out.StopReason = RunStopped, reason
		out.Messages, out.Steps, out.Usage, out.Cost = r.req.Messages, r.steps, r.usage, r.cost
		return out, ctx.Err()
	}
	return a.loop(ctx, r, out)
}
