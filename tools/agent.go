package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keel-go/keel/llm"
)

// Limits bound one agent run. Zero values take the defaults noted.
type Limits struct {
	// MaxSteps bounds the model calls of a run, resumes included
	// (default 10).
	MaxSteps int
	// MaxTokens bounds input plus output tokens over the run (0: none).
	MaxTokens int
	// MaxCost bounds the run's cost in US dollars, as the models report
	// it (0: none).
	MaxCost float64
	// MaxDuration bounds the wall time of one Run or Resume (0: none).
	MaxDuration time.Duration
	// MaxParallel bounds the tool calls of one step that run at once
	// (default 4).
	MaxParallel int
	// MaxRepeats is how many times the same tool may be called with the
	// same arguments before the run is stopped as a loop (default 3).
	MaxRepeats int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSteps <= 0 {
		l.MaxSteps = 10
	}
	if l.MaxParallel <= 0 {
		l.MaxParallel = 4
	}
	if l.MaxRepeats <= 0 {
		l.MaxRepeats = 3
	}
	return l
}

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Model answers; any llm.Model (a middleware stack, a fake).
	Model llm.Model
	// Executor runs the tool calls the model proposes.
	Executor *Executor
	// Limits bound each run.
	Limits Limits
	// StateKey keys the MAC of saved state. Without it a call waiting for
	// approval stops the run instead of pausing it.
	StateKey []byte
	// Taint decides whether the conversation holds untrusted content
	// (policies may refuse risky tools then); nil means Tainted.
	Taint func([]llm.Message) bool
}

// Agent runs the model ↔ tools loop: the model proposes calls, the
// Executor decides and runs them, their results go back to the model
// (marked untrusted, capped), until the model answers without calls or a
// limit stops the run. An Agent is safe for concurrent use.
type Agent struct {
	cfg AgentConfig
}

// NewAgent checks cfg and returns the Agent.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Model == nil || cfg.Executor == nil {
		return nil, errors.New("tools: AgentConfig needs a Model and an Executor")
	}
	if len(cfg.StateKey) > 0 && len(cfg.StateKey) < minStateKey {
		return nil, fmt.Errorf("tools: AgentConfig.StateKey must be at least %d bytes", minStateKey)
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Taint == nil {
		cfg.Taint = Tainted
	}
	return &Agent{cfg: cfg}, nil
}

// RunStatus says how a run ended.
type RunStatus string

// The run statuses.
const (
	// RunDone: the model gave its final answer (Run.Response).
	RunDone RunStatus = "done"
	// RunPaused: calls wait for approval; Run.State resumes the run.
	RunPaused RunStatus = "paused"
	// RunStopped: a limit, a loop, a policy or a cancellation stopped the
	// run; Run.StopReason says which.
	RunStopped RunStatus = "stopped"
)

// The reasons a run stops.
const (
	StopMaxSteps   = "max_steps"
	StopMaxTokens  = "max_tokens"
	StopMaxCost    = "max_cost"
	StopDeadline   = "deadline"
	StopCanceled   = "canceled"
	StopLoop       = "repeated_call"
	StopPolicy     = "policy"
	StopModelError = "model_error"
	StopNeedsPause = "approval_without_state_key"
)

// Run is what happened in a run, so far.
type Run struct {
	Status     RunStatus
	StopReason string
	// Response is the model's last answer.
	Response *llm.Response
	// Messages is the conversation: the request's messages, then each
	// assistant turn and tool result.
	Messages []llm.Message
	// Steps counts model calls, Usage and Cost add them up.
	Steps int
	Usage llm.Usage
	Cost  float64
	// Results are the tool results of this Run or Resume, in order.
	Results []*Result
	// Pending are the calls waiting for approval, when paused.
	Pending []*ApprovalRequest
	// State, when paused, is the saved run for Resume: JSON whose
	// integrity is checked with AgentConfig.StateKey.
	State []byte
}

// run is the state of a run in progress; it is what a pause saves.
type run struct {
	req       *llm.Request
	requestID string
	steps     int
	usage     llm.Usage
	cost      float64
	seen      map[string]int
	// step holds the calls of the last assistant turn while some wait
	// for approval.
	step []stepCall
}

// stepCall is one call of a paused step.
type stepCall struct {
	call   *Call
	result *Result // nil while it waits
}

// Run answers req, calling tools as the model asks and the policy allows.
// req.Tools defaults to the Executor's registry. The run's principal is
// req.Principal and its request id RequestIDFrom(ctx). A model error ends
// the run with the error and what happened so far; a cancelled context
// ends it cleanly with StopCanceled (or StopDeadline) and ctx.Err().
func (a *Agent) Run(ctx context.Context, req *llm.Request) (*Run, error) {
	if req == nil {
		return nil, errors.New("tools: Agent.Run: nil request")
	}
	r := &run{req: req.Clone(), requestID: RequestIDFrom(ctx), seen: map[string]int{}}
	if len(r.req.Tools) == 0 {
		r.req.Tools = a.cfg.Executor.Registry().Definitions()
	}
	return a.loop(ctx, r, &Run{})
}

func (a *Agent) loop(ctx context.Context, r *run, out *Run) (*Run, error) {
	lim := a.cfg.Limits
	if lim.MaxDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, lim.MaxDuration)
		defer cancel()
	}
	finish := func(status RunStatus, reason string, err error) (*Run, error) {
		out.Status, out.StopReason = status, reason
		out.Messages = r.req.Messages
		out.Steps, out.Usage, out.Cost = r.steps, r.usage, r.cost
		return out, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return finish(RunStopped, stopReason(err), err)
		}
		if r.steps >= lim.MaxSteps {
			return finish(RunStopped, StopMaxSteps, nil)
		}
		resp, err := a.cfg.Model.Generate(ctx, r.req)
		if err != nil {
			if ctx.Err() != nil {
				return finish(RunStopped, stopReason(ctx.Err()), ctx.Err())
			}
			return finish(RunStopped, StopModelError, fmt.Errorf("tools: agent step %d: %w", r.steps+1, err))
		}
		out.Response = resp
		r.steps++
		r.usage = r.usage.Add(resp.Usage)
		r.cost += resp.Cost
		r.req.Messages = append(r.req.Messages, resp.Message)
		if len(resp.Message.ToolCalls) == 0 {
			return finish(RunDone, "", nil)
		}
		if lim.MaxTokens > 0 && r.usage.TotalTokens() > lim.MaxTokens {
			return finish(RunStopped, StopMaxTokens, nil)
		}
		if lim.MaxCost > 0 && r.cost > lim.MaxCost {
			return finish(RunStopped, StopMaxCost, nil)
		}
		untrusted := a.cfg.Taint(r.req.Messages)
		conv := ConversationDigest(r.req.Messages)
		r.step = r.step[:0]
		for _, tc := range resp.Message.ToolCalls {
			key := tc.Name + "\x00" + compactJSON(tc.Arguments)
			r.seen[key]++
			if r.seen[key] > lim.MaxRepeats {
				return finish(RunStopped, StopLoop, nil)
			}
			r.step = append(r.step, stepCall{call: &Call{ID: tc.ID, Name: tc.Name, Args: []byte(tc.Arguments),
				Principal: r.req.Principal, RequestID: r.requestID, Untrusted: untrusted, Conversation: conv}})
		}
		if reason, paused, done := a.runStep(ctx, r, out); done {
			if paused {
				return a.pause(r, out)
			}
			return finish(RunStopped, reason, ctx.Err())
		}
	}
}

// runStep runs the calls of r.step that have no result yet, concurrently
// within the limit, and appends the results to the conversation when
// none waits for approval. It reports whether the loop must end (paused,
// or stopped for reason).
func (a *Agent) runStep(ctx context.Context, r *run, out *Run) (reason string, paused, done bool) {
	var g errgroup.Group
	g.SetLimit(a.cfg.Limits.MaxParallel)
	for i := range r.step {
		if r.step[i].result != nil {
			continue
		}
		g.Go(func() error {
			r.step[i].result = a.cfg.Executor.Execute(ctx, r.step[i].call)
			return nil
		})
	}
	_ = g.Wait()
	halt, waiting := false, false
	for _, s := range r.step {
		out.Results = append(out.Results, s.result)
		halt = halt || s.result.Halt
		waiting = waiting || s.result.Status == StatusPending
	}
	if waiting && !halt {
		if len(a.cfg.StateKey) == 0 {
			return StopNeedsPause, false, true
		}
		for i := range r.step {
			if r.step[i].result.Status == StatusPending {
				out.Pending = append(out.Pending, r.step[i].result.Pending)
				r.step[i].result = nil
			}
		}
		return "", true, true
	}
	for _, s := range r.step {
		m := llm.ToolResult(s.call.ID, s.result.Content)
		// Name the source, as for any untrusted part, so guards and
		// audits can tell which tool's output is in the conversation.
		m.Parts[0].Source = "tool:" + s.call.Name
		r.req.Messages = append(r.req.Messages, m)
	}
	r.step = r.step[:0]
	switch {
	case halt:
		return StopPolicy, false, true
	case ctx.Err() != nil:
		return stopReason(ctx.Err()), false, true
	}
	return "", false, false
}

func stopReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return StopDeadline
	}
	return StopCanceled
}

// RequestIDFrom returns the application's request id carried by ctx
// (see WithRequestID), or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying the application's request id, which
// agents put on every call and audit record.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

type requestIDKey struct{}

// minStateKey is the shortest StateKey accepted: a MAC key needs the
// entropy of a random 128-bit value.
const minStateKey = 16

// compactJSON is s without insignificant whitespace when it is JSON, so
// the same call spaced differently still counts as a repeat.
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}
