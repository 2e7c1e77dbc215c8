package tools_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/tools"
	"github.com/keel-go/keel/tools/audit"
)

const refundCall = `{"order":"ORD-7","amount":250}`

// approveAs returns an Approver that answers every request with status,
// bound to the request and valid for ttl (ttl 0: no expiry set).
func approveAs(who string, status tools.ApprovalStatus, ttl time.Duration, now func() time.Time) tools.Approver {
	return tools.ApproverFunc(func(_ context.Context, req *tools.ApprovalRequest) (tools.Approval, error) {
		a := tools.Approval{Binding: req.Binding, Status: status, Approver: who, Reason: "checked the order"}
		if ttl != 0 {
			a.ExpiresAt = now().Add(ttl)
		}
		return a, nil
	})
}

// TestApprover runs a call that needs approval past Approvers that
// answer in different ways. The audit records every answer with who gave
// it.
func TestApprover(t *testing.T) {
	clk := newClock()
	wrongBinding := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{Binding: strings.Repeat("0", 64), Status: tools.Approved, Approver: "mallory", ExpiresAt: clk.Now().Add(time.Hour)}, nil
	})
	failing := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{}, errors.New("ticket system down")
	})
	tests := []struct {
		name     string
		approver tools.Approver
		status   tools.Status
		errIs    error
		decision string // of the approval record; "" for none
		who      string
	}{
		{"approves", approveAs("alice", tools.Approved, time.Hour, clk.Now), tools.StatusOK, nil, "approved", "alice"},
		{"rejects", approveAs("bob", tools.Rejected, time.Hour, clk.Now), tools.StatusDenied, tools.ErrApprovalRejected, "rejected", "bob"},
		{"approves without expiry", approveAs("carol", tools.Approved, 0, clk.Now), tools.StatusDenied, tools.ErrApprovalExpired, "refused", "carol"},
		{"approves, already expired", approveAs("dave", tools.Approved, -time.Second, clk.Now), tools.StatusDenied, tools.ErrApprovalExpired, "refused", "dave"},
		{"approves another call", wrongBinding, tools.StatusDenied, tools.ErrApprovalMismatch, "refused", "mallory"},
		{"fails", failing, tools.StatusDenied, nil, "", ""},
		{"none configured", nil, tools.StatusDenied, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTally()
			sink := &memSink{}
			exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy),
				Approver: tt.approver, Audit: sink, AuditKey: argsKey, Now: clk.Now})
			call := &tools.Call{ID: "c-1", Name: "refund", Args: []byte(refundCall), Principal: supportAgent}
			r := exec.Execute(t.Context(), call)
			if r.Status != tt.status {
				t.Fatalf("status %s (%v), want %s", r.Status, r.Err, tt.status)
			}
			if tt.errIs != nil && !errors.Is(r.Err, tt.errIs) {
				t.Errorf("Err = %v, want %v", r.Err, tt.errIs)
			}
			if tt.status == tools.StatusDenied && r.Err == nil {
				t.Error("a refused call has no Err")
			}
			if want := map[bool]int{true: 1, false: 0}[tt.status == tools.StatusOK]; c.count("refund") != want {
				t.Errorf("refund ran %d times, want %d", c.count("refund"), want)
			}
			if call.Decision == nil || call.Decision.Rule != "refunds-need-approval" {
				t.Errorf("decision %v", call.Decision)
			}
			recs := sink.records()
			ap := eventsOf(recs, "c-1", audit.EventApproval)
			switch {
			case tt.decision == "" && len(ap) != 0:
				t.Errorf("approval records %+v, want none", ap)
			case tt.decision != "" && (len(ap) != 1 || ap[0].Decision != tt.decision || ap[0].Approver != tt.who):
				t.Errorf("approval records %+v, want one %q by %q", ap, tt.decision, tt.who)
			}
			d := eventsOf(recs, "c-1", audit.EventDecided)
			if len(d) != 1 || d[0].Decision != "approve" || d[0].Rule != "refunds-need-approval" {
				t.Errorf("decided records %+v", d)
			}
		})
	}
}

// pausedRun is a run paused on the approval of a refund.
type pausedRun struct {
	tally *tally
	sink  *memSink
	clock *clock
	reg   *tools.Registry
	model *llmtest.Model
	agent *tools.Agent
	run   *tools.Run
}

// pauseRefund runs the support agent until it pauses on a refund of
// ORD-7, with extra steps scripted for the model after it.
func pauseRefund(t *testing.T, after ...llmtest.Step) *pausedRun {
	t.Helper()
	p := &pausedRun{tally: newTally(), sink: &memSink{}, clock: newClock()}
	pending := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{Status: tools.Pending}, nil
	})
	p.reg = mustRegistry(t, supportTools(t, p.tally, "")...)
	exec := mustExecutor(t, tools.Config{Registry: p.reg, Policy: mustPolicy(t, supportPolicy), Approver: pending,
		Audit: p.sink, AuditKey: argsKey, Now: p.clock.Now})
	p.model = llmtest.NewModel(append([]llmtest.Step{llmtest.ToolCall("refund", refundCall)}, after...)...)
	p.agent = mustAgent(t, tools.AgentConfig{Model: p.model, Executor: exec, StateKey: stateKey})
	run, err := p.agent.Run(tools.WithRequestID(t.Context(), "req-9"), supportRequest("Refund ORD-7, it arrived broken."))
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != tools.RunPaused || len(run.Pending) != 1 || len(run.State) == 0 {
		t.Fatalf("run %s %q, %d pending, %d bytes of state; want paused", run.Status, run.StopReason, len(run.Pending), len(run.State))
	}
	p.run = run
	return p
}

// approval approves p's pending call until ttl from now.
func (p *pausedRun) approval(ttl time.Duration) tools.Approval {
	return tools.Approval{Binding: p.run.Pending[0].Binding, Status: tools.Approved, Approver: "alice", ExpiresAt: p.clock.Now().Add(ttl)}
}

func TestPauseAndResume(t *testing.T) {
	p := pauseRefund(t, llmtest.Reply("The refund of 250 for ORD-7 is done."))
	req := p.run.Pending[0]
	if req.Tool != "refund" || string(req.Args) != refundCall || req.Principal.User != "u-42" || req.Rule != "refunds-need-approval" ||
		req.Reason != "Refunds need a second pair of eyes." || len(req.Binding) != 64 || !req.RequestedAt.Equal(p.clock.Now()) || req.Risk != tools.RiskExternal {
		t.Errorf("pending request = %+v", req)
	}
	if p.tally.count("refund") != 0 {
		t.Fatal("the refund ran before approval")
	}
	if last := p.run.Messages[len(p.run.Messages)-1]; last.Role != llm.RoleAssistant || len(last.ToolCalls) != 1 {
		t.Errorf("a paused conversation ends with %s, want the assistant's call", last.Role)
	}
	if ap := eventsOf(p.sink.records(), req.CallID, audit.EventApproval); len(ap) != 1 || ap[0].Decision != "pending" {
		t.Errorf("approval records at the pause: %+v", ap)
	}

	run, err := p.agent.Resume(t.Context(), p.run.State, p.approval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != tools.RunDone || run.Response.Text() != "The refund of 250 for ORD-7 is done." {
		t.Fatalf("resumed run %s %q", run.Status, run.StopReason)
	}
	if p.tally.count("refund") != 1 || len(run.Results) != 1 || run.Results[0].Status != tools.StatusOK {
		t.Errorf("refund ran %d times, results %v", p.tally.count("refund"), statuses(run.Results))
	}
	if run.Steps != 2 || p.model.Calls() != 2 {
		t.Errorf("steps %d (resumes count on), model calls %d", run.Steps, p.model.Calls())
	}
	msgs := p.model.Requests()[1].Messages
	if last := msgs[len(msgs)-1]; last.Role != llm.RoleTool || last.ToolCallID != req.CallID || last.Text() != "refunded ORD-7: 250.00" {
		t.Errorf("the model's next request ends with %s %q %q", last.Role, last.ToolCallID, last.Text())
	}
	recs := p.sink.records()
	ap := eventsOf(recs, req.CallID, audit.EventApproval)
	if len(ap) != 2 || ap[1].Decision != "approved" || ap[1].Approver != "alice" || ap[1].RequestID != "req-9" {
		t.Errorf("approval records %+v", ap)
	}
	if out := eventsOf(recs, req.CallID, audit.EventOutcome); len(out) != 2 || out[0].Outcome != "pending_approval" || out[1].Outcome != "ok" {
		t.Errorf("outcome records %+v", out)
	}
}

// TestPauseWithParallelCalls pauses a turn in which one call ran and
// one waits: resuming runs only the waiting one, and the model gets both
// results in the order of the calls.
func TestPauseWithParallelCalls(t *testing.T) {
	c := newTally()
	clk := newClock()
	pending := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{Status: tools.Pending}, nil
	})
	exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy), Approver: pending, Now: clk.Now})
	model := llmtest.NewModel(
		llmtest.ToolCalls(llm.ToolCall{ID: "a", Name: "lookup_order", Arguments: `{"order":"ORD-7"}`}, llm.ToolCall{ID: "b", Name: "refund", Arguments: refundCall}),
		llmtest.Reply("done"),
	)
	agent := mustAgent(t, tools.AgentConfig{Model: model, Executor: exec, StateKey: stateKey})
	run, err := agent.Run(t.Context(), supportRequest("look up and refund ORD-7"))
	if err != nil || run.Status != tools.RunPaused {
		t.Fatalf("run %v, %v", run, err)
	}
	if got := statuses(run.Results); !slices.Equal(got, []tools.Status{tools.StatusOK, tools.StatusPending}) {
		t.Errorf("statuses at the pause = %v", got)
	}
	run, err = agent.Resume(t.Context(), run.State, tools.Approval{Binding: run.Pending[0].Binding, Status: tools.Approved, Approver: "alice", ExpiresAt: clk.Now().Add(time.Minute)})
	if err != nil || run.Status != tools.RunDone {
		t.Fatalf("resume %v, %v", run, err)
	}
	if c.count("lookup_order") != 1 || c.count("refund") != 1 {
		t.Errorf("lookup ran %d times, refund %d", c.count("lookup_order"), c.count("refund"))
	}
	tm := toolMessages(model.Requests()[1].Messages)
	if len(tm) != 2 || tm[0].ToolCallID != "a" || tm[1].ToolCallID != "b" || !strings.Contains(tm[0].Text(), "shipped") {
		t.Errorf("tool messages %+v", tm)
	}
}

// TestPendingWithoutStateKey stops, instead of pausing, a run that has
// nowhere to save its state.
func TestPendingWithoutStateKey(t *testing.T) {
	c := newTally()
	pending := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{Status: tools.Pending}, nil
	})
	exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy), Approver: pending})
	agent := mustAgent(t, tools.AgentConfig{Model: llmtest.NewModel(llmtest.ToolCall("refund", refundCall)), Executor: exec})
	run, err := agent.Run(t.Context(), supportRequest("refund ORD-7"))
	if err != nil || run.Status != tools.RunStopped || run.StopReason != tools.StopNeedsPause || run.State != nil || c.count("refund") != 0 {
		t.Errorf("run %+v, %v", run, err)
	}
}

// editState changes the state inside a saved envelope and keeps its MAC.
func editState(t *testing.T, saved []byte, edit func(st map[string]any)) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(saved, &env); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(env["state"]))
	dec.UseNumber()
	var st map[string]any
	if err := dec.Decode(&st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	var err error
	if env["state"], err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// field returns the object at path in a decoded state.
func field(st map[string]any, path ...any) map[string]any {
	var v any = st
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

// TestResumeTamperedState edits saved state the way an attacker holding
// it would; Resume refuses every edit with ErrStateTampered before
// anything runs, even with a valid approval for the original call.
func TestResumeTamperedState(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, state []byte) []byte
	}{
		{"arguments", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) {
				field(st, "step", 0)["args"] = map[string]any{"order": "ORD-7", "amount": 25000}
			})
		}},
		{"tool", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) { field(st, "step", 0)["name"] = "send_email" })
		}},
		{"principal swapped", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) {
				field(st, "request")["Principal"] = map[string]any{"Tenant": "globex", "User": "u-666", "Roles": []any{"support"}}
			})
		}},
		{"role added", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) { field(st, "request", "Principal")["Roles"] = []any{"support", "admin"} })
		}},
		{"untrusted flag flipped", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) { field(st, "step", 0)["untrusted"] = true })
		}},
		{"step count reset", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) { st["steps"] = 0 })
		}},
		{"loop memory dropped", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(st map[string]any) { delete(st, "seen") })
		}},
		{"re-encoded, nothing changed", func(t *testing.T, s []byte) []byte {
			return editState(t, s, func(map[string]any) {})
		}},
		{"MAC changed", func(t *testing.T, s []byte) []byte {
			raw := map[string]json.RawMessage{}
			if err := json.Unmarshal(s, &raw); err != nil {
				t.Fatal(err)
			}
			var mac string
			if err := json.Unmarshal(raw["mac"], &mac); err != nil {
				t.Fatal(err)
			}
			flipped := []byte(mac)
			flipped[10] ^= 1
			raw["mac"], _ = json.Marshal(string(flipped))
			out, _ := json.Marshal(raw)
			return out
		}},
		{"MAC missing", func(t *testing.T, s []byte) []byte {
			raw := map[string]json.RawMessage{}
			if err := json.Unmarshal(s, &raw); err != nil {
				t.Fatal(err)
			}
			delete(raw, "mac")
			out, _ := json.Marshal(raw)
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pauseRefund(t, llmtest.Reply("done"))
			state := tt.edit(t, p.run.State)
			if bytes.Equal(state, p.run.State) {
				t.Fatal("the edit changed nothing")
			}
			run, err := p.agent.Resume(t.Context(), state, p.approval(time.Hour))
			if !errors.Is(err, tools.ErrStateTampered) || run != nil {
				t.Fatalf("Resume = %v, %v; want ErrStateTampered", run, err)
			}
			if p.tally.total() != 0 || p.model.Calls() != 1 {
				t.Errorf("after a refused resume: %d tool runs, %d model calls", p.tally.total(), p.model.Calls())
			}
		})
	}

	// State saved under another key is refused the same way.
	p := pauseRefund(t, llmtest.Reply("done"))
	other := mustAgent(t, tools.AgentConfig{Model: p.model, StateKey: []byte("another-key-0123456789abcdefghij"),
		Executor: mustExecutor(t, tools.Config{Registry: p.reg, Policy: mustPolicy(t, supportPolicy)})})
	if _, err := other.Resume(t.Context(), p.run.State, p.approval(time.Hour)); !errors.Is(err, tools.ErrStateTampered) || p.tally.total() != 0 {
		t.Errorf("another key: %v", err)
	}
}

// TestResumeApprovalBinding resumes with approvals bound to a call that
// differs from the waiting one in a single respect: each is refused with
// ErrApprovalMismatch and nothing runs. Arguments that differ only in
// spacing and key order are the same call.
func TestResumeApprovalBinding(t *testing.T) {
	tests := []struct {
		name     string
		change   func(c *tools.Call)
		mismatch bool
	}{
		{"the waiting call itself", func(*tools.Call) {}, false},
		{"same arguments, other spacing and order", func(c *tools.Call) { c.Args = []byte(` { "amount" : 250 , "order" : "ORD-7" } `) }, false},
		{"same amount written 250.0", func(c *tools.Call) { c.Args = []byte(`{"order":"ORD-7","amount":250.0}`) }, true},
		{"other user", func(c *tools.Call) { c.Principal.User = "u-43" }, true},
		{"other tenant", func(c *tools.Call) { c.Principal.Tenant = "globex" }, true},
		{"extra role", func(c *tools.Call) { c.Principal.Roles = []string{"support", "admin"} }, true},
		{"other amount", func(c *tools.Call) { c.Args = []byte(`{"order":"ORD-7","amount":2500}`) }, true},
		{"other order", func(c *tools.Call) { c.Args = []byte(`{"order":"ORD-8","amount":250}`) }, true},
		{"other tool", func(c *tools.Call) { c.Name = "send_email" }, true},
		{"other conversation", func(c *tools.Call) {
			c.Conversation = tools.ConversationDigest([]llm.Message{llm.UserText("Refund ORD-7 twice.")})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pauseRefund(t, llmtest.Reply("done"))
			req := p.run.Pending[0]
			refund, _ := p.reg.Get("refund")
			// The waiting call as BindingOf sees it: the conversation up
			// to the proposal is the paused run's.
			call := tools.Call{Name: req.Tool, Args: req.Args, Principal: req.Principal, Conversation: tools.ConversationDigest(p.run.Messages)}
			call.Principal.Roles = slices.Clone(req.Principal.Roles)
			if got := bindingOf(t, refund, call); got != req.Binding {
				t.Fatalf("BindingOf(the waiting call) = %s, the request says %s", got, req.Binding)
			}
			tt.change(&call)
			a := tools.Approval{Binding: bindingOf(t, refund, call), Status: tools.Approved, Approver: "alice", ExpiresAt: p.clock.Now().Add(time.Hour)}
			run, err := p.agent.Resume(t.Context(), p.run.State, a)
			if !tt.mismatch {
				if err != nil || run.Status != tools.RunDone || p.tally.count("refund") != 1 {
					t.Errorf("Resume = %v, %v; refund ran %d times", run, err, p.tally.count("refund"))
				}
				return
			}
			if !errors.Is(err, tools.ErrApprovalMismatch) || run != nil {
				t.Errorf("Resume = %v, %v; want ErrApprovalMismatch", run, err)
			}
			if p.tally.total() != 0 || p.model.Calls() != 1 {
				t.Errorf("%d tool runs, %d model calls", p.tally.total(), p.model.Calls())
			}
		})
	}
}

// bindingOf is tools.BindingOf of call with its arguments decoded as the
// executor decodes them for tool.
func bindingOf(t *testing.T, tool *tools.Tool, call tools.Call) string {
	t.Helper()
	_, generic, err := tool.DecodeArgs(call.Args)
	if err != nil {
		t.Fatalf("decoding %s: %v", call.Args, err)
	}
	call.Generic = generic
	return tools.BindingOf(&call)
}

// TestResumeRefusedApproval resumes with approvals that are bound to the
// waiting call but do not let it run: the call is refused, the model is
// told, and the run goes on to its answer.
func TestResumeRefusedApproval(t *testing.T) {
	tests := []struct {
		name   string
		answer func(p *pausedRun) tools.Approval
		errIs  error
		record string
	}{
		{"expired", func(p *pausedRun) tools.Approval { return p.approval(-time.Second) }, tools.ErrApprovalExpired, "refused"},
		{"expires now", func(p *pausedRun) tools.Approval { return p.approval(0) }, tools.ErrApprovalExpired, "refused"},
		{"no expiry", func(p *pausedRun) tools.Approval {
			a := p.approval(time.Hour)
			a.ExpiresAt = time.Time{}
			return a
		}, tools.ErrApprovalExpired, "refused"},
		{"rejected", func(p *pausedRun) tools.Approval {
			a := p.approval(time.Hour)
			a.Status, a.Approver = tools.Rejected, "bob"
			return a
		}, tools.ErrApprovalRejected, "rejected"},
		{"still pending", func(p *pausedRun) tools.Approval {
			a := p.approval(time.Hour)
			a.Status = tools.Pending
			return a
		}, nil, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pauseRefund(t, llmtest.Reply("I could not refund ORD-7."))
			a := tt.answer(p)
			run, err := p.agent.Resume(t.Context(), p.run.State, a)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != tools.RunDone || len(run.Results) != 1 || run.Results[0].Status != tools.StatusDenied {
				t.Fatalf("run %s, results %v; want done with the refund denied", run.Status, statuses(run.Results))
			}
			if tt.errIs != nil && !errors.Is(run.Results[0].Err, tt.errIs) {
				t.Errorf("Err = %v, want %v", run.Results[0].Err, tt.errIs)
			}
			if p.tally.count("refund") != 0 {
				t.Error("the refund ran")
			}
			msgs := p.model.Requests()[1].Messages
			if last := msgs[len(msgs)-1]; !strings.Contains(last.Text(), "not approved") {
				t.Errorf("the model read %q", last.Text())
			}
			ap := eventsOf(p.sink.records(), p.run.Pending[0].CallID, audit.EventApproval)
			if len(ap) != 2 || ap[1].Decision != tt.record || ap[1].Approver != a.Approver {
				t.Errorf("approval records %+v, want a %q one by %q", ap, tt.record, a.Approver)
			}
		})
	}
}

// TestResumeReplayAfterExpiry resumes saved state with its approval once,
// then replays both after the approval expired: the replay is refused and
// the refund does not run twice.
func TestResumeReplayAfterExpiry(t *testing.T) {
	p := pauseRefund(t, llmtest.Reply("Refunded."), llmtest.Reply("Could not refund."))
	a := p.approval(5 * time.Minute)
	run, err := p.agent.Resume(t.Context(), p.run.State, a)
	if err != nil || run.Results[0].Status != tools.StatusOK || p.tally.count("refund") != 1 {
		t.Fatalf("first resume: %v, %v", run, err)
	}
	p.clock.Advance(10 * time.Minute)
	run, err = p.agent.Resume(t.Context(), p.run.State, a)
	if err != nil {
		t.Fatal(err)
	}
	if r := run.Results[0]; r.Status != tools.StatusDenied || !errors.Is(r.Err, tools.ErrApprovalExpired) {
		t.Errorf("replay: %s %v; want denied, ErrApprovalExpired", r.Status, r.Err)
	}
	if p.tally.count("refund") != 1 {
		t.Errorf("the refund ran %d times", p.tally.count("refund"))
	}
}

// TestResumeReplayWithinValidity resumes saved state twice with one
// unexpired approval: the approval is single-use, so the second resume is
// refused and the refund runs once.
func TestResumeReplayWithinValidity(t *testing.T) {
	p := pauseRefund(t, llmtest.Reply("Refunded."), llmtest.Reply("Could not refund."))
	a := p.approval(time.Hour)
	if run, err := p.agent.Resume(t.Context(), p.run.State, a); err != nil || run.Results[0].Status != tools.StatusOK {
		t.Fatalf("first resume: %v, %v", run, err)
	}
	run, err := p.agent.Resume(t.Context(), p.run.State, a)
	if err != nil {
		t.Fatal(err)
	}
	if r := run.Results[0]; r.Status != tools.StatusDenied || !errors.Is(r.Err, tools.ErrApprovalUsed) {
		t.Errorf("replay: %s %v; want denied, ErrApprovalUsed", r.Status, r.Err)
	}
	if p.tally.count("refund") != 1 {
		t.Errorf("the refund ran %d times", p.tally.count("refund"))
	}
}

// TestResumeBadState gives Resume state that is not saved state at all:
// each gets an error, nothing panics, nothing runs.
func TestResumeBadState(t *testing.T) {
	p := pauseRefund(t, llmtest.Reply("done"))
	good := p.run.State
	tests := []struct {
		name  string
		state []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"garbage", []byte("\x00\xff not json at all")},
		{"JSON null", []byte("null")},
		{"empty object", []byte("{}")},
		{"array", []byte("[1,2,3]")},
		{"state not an object", []byte(`{"state":"x","mac":"00"}`)},
		{"mac not hex", []byte(`{"state":{},"mac":"zz"}`)},
		{"cut in half", good[:len(good)/2]},
		{"last byte missing", good[:len(good)-1]},
		{"first byte missing", good[1:]},
		{"doubled", append(slices.Clone(good), good...)},
		{"deeply nested", []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := p.agent.Resume(t.Context(), tt.state, p.approval(time.Hour))
			if err == nil || run != nil {
				t.Errorf("Resume = %v, %v; want an error", run, err)
			}
		})
	}
	if p.tally.total() != 0 || p.model.Calls() != 1 {
		t.Errorf("%d tool runs, %d model calls", p.tally.total(), p.model.Calls())
	}
}

// fuzzAgent is an agent whose only tool, refund, needs approval, with a
// state saved while it waits.
type fuzzAgent struct {
	exec    *tools.Executor
	runs    *atomic.Int64
	state   []byte
	expired tools.Approval
	resumer *tools.Agent
}

// answerModel answers every request with "done" and keeps no record, so
// that millions of fuzz runs cost no memory.
type answerModel struct{}

func (answerModel) Generate(context.Context, *llm.Request) (*llm.Response, error) {
	return &llm.Response{Message: llm.AssistantText("done"), FinishReason: llm.FinishStop}, nil
}

func (m answerModel) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	return func(yield func(llm.Event, error) bool) {
		resp, _ := m.Generate(ctx, req)
		if yield(llm.Event{Kind: llm.EventTextDelta, Text: resp.Message.Text()}, nil) {
			yield(llm.Event{Kind: llm.EventFinish, FinishReason: resp.FinishReason}, nil)
		}
	}
}

func newFuzzAgent(f *testing.F) *fuzzAgent {
	fa := &fuzzAgent{runs: &atomic.Int64{}}
	refund := mustTool(f)(tools.New(tools.Spec{Name: "refund", Risk: tools.RiskExternal}, func(_ context.Context, a refundArgs) (string, error) {
		fa.runs.Add(1)
		return "refunded", nil
	}))
	pending := tools.ApproverFunc(func(context.Context, *tools.ApprovalRequest) (tools.Approval, error) {
		return tools.Approval{Status: tools.Pending}, nil
	})
	fa.exec = mustExecutor(f, tools.Config{Registry: mustRegistry(f, refund), Policy: mustPolicy(f, supportPolicy), Approver: pending})
	run, err := fa.agent(llmtest.NewModel(llmtest.ToolCall("refund", refundCall))).Run(context.Background(), supportRequest("refund ORD-7"))
	if err != nil || run.Status != tools.RunPaused {
		f.Fatalf("no paused run to start from: %v, %v", run, err)
	}
	fa.state = run.State
	// Bound to the waiting call, so an unedited state gets as far as the
	// executor, which refuses it as expired.
	fa.expired = tools.Approval{Binding: run.Pending[0].Binding, Status: tools.Approved, Approver: "alice", ExpiresAt: time.Now().Add(-time.Hour)}
	fa.resumer = fa.agent(answerModel{})
	return fa
}

func (fa *fuzzAgent) agent(model llm.Model) *tools.Agent {
	a, err := tools.NewAgent(tools.AgentConfig{Model: model, Executor: fa.exec, StateKey: stateKey})
	if err != nil {
		panic(err)
	}
	return a
}

// resume resumes state with the expired approval; the model answers
// every request.
func (fa *fuzzAgent) resume(t *testing.T, state []byte) {
	run, err := fa.resumer.Resume(context.Background(), state, fa.expired)
	if err == nil && run == nil {
		t.Fatal("Resume returned neither a run nor an error")
	}
	if n := fa.runs.Load(); n != 0 {
		t.Fatalf("the tool ran %d times", n)
	}
}

// FuzzResume feeds arbitrary bytes to Resume: it never panics and never
// runs the tool.
func FuzzResume(f *testing.F) {
	fa := newFuzzAgent(f)
	f.Add(fa.state)
	f.Add(fa.state[:len(fa.state)/2])
	f.Add([]byte(`{"state":{"version":1,"request":{},"step":[{"id":"x","name":"refund","args":{}}]},"mac":"00"}`))
	f.Add([]byte(`{"state":null,"mac":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, state []byte) {
		fa.resume(t, state)
	})
}

// signState wraps inner in an envelope with a valid MAC, as Agent.pause
// does: HMAC-SHA256 under the state key over a domain prefix and the
// exact state bytes.
func signState(inner []byte) []byte {
	m := hmac.New(sha256.New, stateKey)
	m.Write([]byte("keel/tools/state/v1\x00"))
	m.Write(inner)
	return []byte(`{"state":` + string(inner) + `,"mac":"` + hex.EncodeToString(m.Sum(nil)) + `"}`)
}

// FuzzResumeSignedState feeds arbitrary state with a valid MAC to Resume,
// as if the code that saved it had a bug or the key leaked: Resume still
// never panics, and the tool, which needs an approval, never runs.
func FuzzResumeSignedState(f *testing.F) {
	fa := newFuzzAgent(f)
	var env struct {
		State json.RawMessage `json:"state"`
		MAC   string          `json:"mac"`
	}
	if err := json.Unmarshal(fa.state, &env); err != nil {
		f.Fatal(err)
	}
	if !bytes.Equal(signState(env.State), fa.state) {
		f.Fatal("signState no longer matches the saved state format; update it with Agent.pause")
	}
	f.Add([]byte(env.State))
	f.Add([]byte(`{"version":1,"request":{},"step":[{"id":"x","name":"refund","args":null}]}`))
	f.Add([]byte(`{"version":1,"request":{"Messages":null},"steps":-5,"step":[{"id":"x","name":"refund","args":{},"result":{"status":"pending_approval"}}]}`))
	f.Add([]byte(`{"version":1,"request":{},"seen":null,"step":[{"name":"refund","args":"{\"order\":\"ORD-7\",\"amount\":250}","result":{"status":"ok","content":"x"}}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, inner []byte) {
		if !json.Valid(inner) {
			// Not a state the key could have signed; FuzzResume covers it.
			return
		}
		fa.resume(t, signState(inner))
	})
}
