package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/tools"
)

func mustAgent(t testing.TB, cfg tools.AgentConfig) *tools.Agent {
	t.Helper()
	a, err := tools.NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// supportRequest is a conversation of the support desk.
func supportRequest(user string) *llm.Request {
	return &llm.Request{Principal: supportAgent, Messages: []llm.Message{
		llm.SystemMessage("You are the support assistant of ACME."),
		llm.UserText(user),
	}}
}

// toolMessages returns the tool messages of msgs.
func toolMessages(msgs []llm.Message) []llm.Message {
	var out []llm.Message
	for _, m := range msgs {
		if m.Role == llm.RoleTool {
			out = append(out, m)
		}
	}
	return out
}

func statuses(rs []*tools.Result) []tools.Status {
	out := make([]tools.Status, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

func TestAgentFinalAnswer(t *testing.T) {
	c := newTally()
	reg := mustRegistry(t, supportTools(t, c, "")...)
	model := llmtest.NewModel(llmtest.Reply("Our opening hours are 9 to 5.").WithUsage(40, 9))
	agent := mustAgent(t, tools.AgentConfig{Model: model, Executor: mustExecutor(t, tools.Config{Registry: reg, Policy: mustPolicy(t, supportPolicy)})})
	req := supportRequest("When are you open?")
	run, err := agent.Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != tools.RunDone || run.StopReason != "" || run.Response.Text() != "Our opening hours are 9 to 5." {
		t.Errorf("run = %s %q %q", run.Status, run.StopReason, run.Response.Text())
	}
	if run.Steps != 1 || run.Usage.TotalTokens() != 49 || len(run.Results) != 0 || c.total() != 0 {
		t.Errorf("steps %d, tokens %d, results %d, tool runs %d", run.Steps, run.Usage.TotalTokens(), len(run.Results), c.total())
	}
	if len(run.Messages) != 3 || run.Messages[2].Role != llm.RoleAssistant {
		t.Errorf("messages = %+v", run.Messages)
	}
	// The request lists the registry's tools, and the caller's request is
	// left as it was.
	sent := model.Requests()[0]
	var names []string
	for _, d := range sent.Tools {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, reg.Names()) {
		t.Errorf("tools sent %v, want %v", names, reg.Names())
	}
	if len(req.Messages) != 2 || req.Tools != nil {
		t.Errorf("Run modified the caller's request: %d messages, %d tools", len(req.Messages), len(req.Tools))
	}
}

func TestAgentMultiStep(t *testing.T) {
	c := newTally()
	model := llmtest.NewModel(
		llmtest.ToolCall("lookup_order", `{"order":"ORD-7"}`).WithUsage(100, 10),
		llmtest.ToolCall("search_tickets", `{"query":"ORD-7 late"}`).WithUsage(200, 20),
		llmtest.Reply("ORD-7 has shipped; ticket T-3 tracks the delay.").WithUsage(300, 30),
	)
	agent := mustAgent(t, tools.AgentConfig{Model: model,
		Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "T-3: ORD-7 delayed at customs")...), Policy: mustPolicy(t, supportPolicy)})})
	run, err := agent.Run(tools.WithRequestID(t.Context(), "req-1"), supportRequest("Where is ORD-7?"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != tools.RunDone || run.Steps != 3 || model.Calls() != 3 {
		t.Fatalf("run %s after %d steps, %d model calls", run.Status, run.Steps, model.Calls())
	}
	if run.Usage.InputTokens != 600 || run.Usage.OutputTokens != 60 {
		t.Errorf("usage = %+v, want 600 in, 60 out", run.Usage)
	}
	if got := statuses(run.Results); !slices.Equal(got, []tools.Status{tools.StatusOK, tools.StatusOK}) {
		t.Errorf("statuses = %v", got)
	}
	var roles []llm.Role
	for _, m := range run.Messages {
		roles = append(roles, m.Role)
	}
	want := []llm.Role{llm.RoleSystem, llm.RoleUser, llm.RoleAssistant, llm.RoleTool, llm.RoleAssistant, llm.RoleTool, llm.RoleAssistant}
	if !slices.Equal(roles, want) {
		t.Fatalf("roles = %v, want %v", roles, want)
	}
	// Each tool message answers the call before it, and the model saw the
	// results in its next request.
	for _, i := range []int{3, 5} {
		if call := run.Messages[i-1].ToolCalls[0]; run.Messages[i].ToolCallID != call.ID {
			t.Errorf("message %d answers %q, want %q", i, run.Messages[i].ToolCallID, call.ID)
		}
	}
	reqs := model.Requests()
	if got := reqs[1].Messages[3].Text(); got != `{"order":"ORD-7","status":"shipped"}` {
		t.Errorf("second request's tool result = %q", got)
	}
	if got := reqs[2].Messages[5].Text(); got != "T-3: ORD-7 delayed at customs" {
		t.Errorf("third request's tool result = %q", got)
	}
}

// barrier releases its waiters size at a time: with size 2, a waiter
// returns only once another has arrived, which proves that two calls ran
// at the same time.
type barrier struct {
	mu   sync.Mutex
	size int
	n    int
	ch   chan struct{}
}

func newBarrier(size int) *barrier { return &barrier{size: size, ch: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	ch := b.ch
	b.n++
	if b.n == b.size {
		close(b.ch)
		b.n, b.ch = 0, make(chan struct{})
	}
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestAgentParallelToolCalls runs the calls of one turn through a tool
// that meets a barrier: with fewer calls at once than the barrier needs
// they would time out. It also records the most calls in flight, which
// must not exceed MaxParallel. Results go back in the order of the calls
// whatever order they finish in. The bubble's fake time makes a broken
// run fail at once instead of hanging.
func TestAgentParallelToolCalls(t *testing.T) {
	tests := []struct {
		name        string
		calls       int
		maxParallel int
		together    int // barrier size
	}{
		{"two calls overlap (default limit)", 2, 0, 2},
		{"four calls, two at a time", 4, 2, 2},
		{"six calls, three at a time", 6, 3, 3},
		{"one at a time", 3, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBarrier(tt.together)
				var mu sync.Mutex
				active, most := 0, 0
				type nArgs struct {
					N int `json:"n"`
				}
				meet := mustTool(t)(tools.New(tools.Spec{Name: "meet", Risk: tools.RiskRead, Timeout: time.Minute},
					func(ctx context.Context, a nArgs) (string, error) {
						mu.Lock()
						active++
						most = max(most, active)
						mu.Unlock()
						defer func() {
							mu.Lock()
							active--
							mu.Unlock()
						}()
						if err := b.wait(ctx); err != nil {
							return "", err
						}
						// Later calls finish first.
						time.Sleep(time.Duration(tt.calls-a.N) * time.Millisecond)
						return fmt.Sprintf("met %d", a.N), nil
					}))
				var calls []llm.ToolCall
				for i := range tt.calls {
					calls = append(calls, llm.ToolCall{ID: fmt.Sprintf("c%d", i), Name: "meet", Arguments: fmt.Sprintf(`{"n":%d}`, i)})
				}
				model := llmtest.NewModel(llmtest.ToolCalls(calls...), llmtest.Reply("everyone met"))
				agent := mustAgent(t, tools.AgentConfig{Model: model, Limits: tools.Limits{MaxParallel: tt.maxParallel},
					Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, meet), Policy: mustPolicy(t, supportPolicy)})})
				run, err := agent.Run(t.Context(), supportRequest("meet"))
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range run.Results {
					if r.Status != tools.StatusOK {
						t.Fatalf("call %s: %s (%v): the calls did not overlap", r.CallID, r.Status, r.Err)
					}
				}
				limit := tt.maxParallel
				if limit == 0 {
					limit = 4
				}
				if most != min(limit, tt.calls) {
					t.Errorf("at most %d calls ran at once, want %d", most, min(limit, tt.calls))
				}
				results := toolMessages(model.Requests()[1].Messages)
				if len(results) != tt.calls {
					t.Fatalf("the model saw %d results, want %d", len(results), tt.calls)
				}
				for i, m := range results {
					if m.ToolCallID != calls[i].ID || m.Text() != fmt.Sprintf("met %d", i) {
						t.Errorf("result %d = %s %q", i, m.ToolCallID, m.Text())
					}
				}
			})
		})
	}
}

// TestAgentToolProblemsReachModel checks that every way a call can go
// wrong becomes a tool result the model reads in its next request, and
// that the run goes on to the model's answer.
func TestAgentToolProblemsReachModel(t *testing.T) {
	tests := []struct {
		name    string
		tool    string
		args    string
		status  tools.Status
		content string
	}{
		{"tool error", "fails", `{}`, tools.StatusFailed, "inventory service unavailable"},
		{"tool panic", "panics", `{}`, tools.StatusPanic, "failed unexpectedly"},
		{"tool timeout", "hangs", `{}`, tools.StatusTimeout, "did not answer within 5s"},
		{"invalid arguments", "lookup_order", `{"id":"ORD-1"}`, tools.StatusInvalidArgs, "Fix them and call it again"},
		{"unknown tool", "wire_money", `{}`, tools.StatusUnknownTool, `no tool named "wire_money"`},
		{"policy refusal", "delete_record", `{"ticket":"T-1","note":"n"}`, tools.StatusDenied, `rule "no-deletes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newTally()
				raw := func(name string, fn func(ctx context.Context) (any, error)) *tools.Tool {
					return mustTool(t)(tools.NewRaw(tools.Spec{Name: name, Risk: tools.RiskRead, Timeout: 5 * time.Second},
						[]byte(`{"type":"object"}`), func(ctx context.Context, _ json.RawMessage) (any, error) { return fn(ctx) }))
				}
				ts := append(supportTools(t, c, ""),
					raw("fails", func(context.Context) (any, error) { return nil, errors.New("inventory service unavailable") }),
					raw("panics", func(context.Context) (any, error) { panic("index out of range") }),
					raw("hangs", func(ctx context.Context) (any, error) { <-ctx.Done(); return nil, ctx.Err() }),
				)
				model := llmtest.NewModel(llmtest.ToolCall(tt.tool, tt.args), llmtest.Reply("Sorry, I could not do that."))
				agent := mustAgent(t, tools.AgentConfig{Model: model,
					Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, ts...), Policy: mustPolicy(t, supportPolicy)})})
				run, err := agent.Run(t.Context(), supportRequest("please"))
				if err != nil {
					t.Fatal(err)
				}
				if run.Status != tools.RunDone || run.Steps != 2 || run.Response.Text() != "Sorry, I could not do that." {
					t.Fatalf("run %s %q after %d steps", run.Status, run.StopReason, run.Steps)
				}
				if len(run.Results) != 1 || run.Results[0].Status != tt.status {
					t.Fatalf("results %v, want one %s", statuses(run.Results), tt.status)
				}
				msgs := model.Requests()[1].Messages
				last := msgs[len(msgs)-1]
				if last.Role != llm.RoleTool || last.ToolCallID != run.Results[0].CallID || !strings.Contains(last.Text(), tt.content) {
					t.Errorf("the model's next request ends with %s %q %q, want the result containing %q", last.Role, last.ToolCallID, last.Text(), tt.content)
				}
				if c.count("delete_record") != 0 {
					t.Error("a refused tool ran")
				}
			})
		})
	}
}

// scriptedLoop answers each request with a call of lookup_order for a new
// order (unless same is set), reporting usage and cost per response.
func scriptedLoop(same bool, usage llm.Usage, cost float64) llmtest.ReplyFunc {
	return func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		n := 0
		for _, m := range req.Messages {
			if m.Role == llm.RoleAssistant {
				n++
			}
		}
		if same {
			n = 0
		}
		call := llm.ToolCall{Name: "lookup_order", Arguments: fmt.Sprintf(`{"order":"ORD-%d"}`, n)}
		return &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{call}}, Usage: usage, Cost: cost}, nil
	}
}

// TestAgentLimits runs models that never stop calling tools against each
// limit. Runs happen in a synctest bubble, so the time limits take no
// real time.
func TestAgentLimits(t *testing.T) {
	slowTool := func(t *testing.T) *tools.Tool {
		return mustTool(t)(tools.New(tools.Spec{Name: "slow_report", Risk: tools.RiskRead, Timeout: time.Hour},
			func(ctx context.Context, _ queryArgs) (string, error) {
				select {
				case <-ctx.Done():
					return "", ctx.Err()
				case <-time.After(10 * time.Minute):
					return "report", nil
				}
			}))
	}
	tests := []struct {
		name     string
		model    func() *llmtest.Model
		limits   tools.Limits
		reason   string
		steps    int
		calls    int // model calls, when not steps (a call that failed)
		runs     int // runs of lookup_order
		errIs    error
		tokens   int
		cost     float64
		extra    func(t *testing.T) *tools.Tool
		statuses []tools.Status
	}{
		{name: "max steps", limits: tools.Limits{MaxSteps: 3},
			model:  func() *llmtest.Model { return llmtest.NewModelFunc(scriptedLoop(false, llm.Usage{}, 0)) },
			reason: tools.StopMaxSteps, steps: 3, runs: 3},
		{name: "default max steps", model: func() *llmtest.Model { return llmtest.NewModelFunc(scriptedLoop(false, llm.Usage{}, 0)) },
			reason: tools.StopMaxSteps, steps: 10, runs: 10},
		{name: "max tokens", limits: tools.Limits{MaxTokens: 1000},
			model: func() *llmtest.Model {
				return llmtest.NewModelFunc(scriptedLoop(false, llm.Usage{InputTokens: 400, OutputTokens: 50}, 0))
			},
			reason: tools.StopMaxTokens, steps: 3, runs: 2, tokens: 1350},
		{name: "max cost", limits: tools.Limits{MaxCost: 0.05},
			model:  func() *llmtest.Model { return llmtest.NewModelFunc(scriptedLoop(false, llm.Usage{}, 0.02)) },
			reason: tools.StopMaxCost, steps: 3, runs: 2, cost: 0.06},
		{name: "repeated call", limits: tools.Limits{MaxRepeats: 2},
			model:  func() *llmtest.Model { return llmtest.NewModelFunc(scriptedLoop(true, llm.Usage{}, 0)) },
			reason: tools.StopLoop, steps: 3, runs: 2},
		{name: "repeated call, default", model: func() *llmtest.Model { return llmtest.NewModelFunc(scriptedLoop(true, llm.Usage{}, 0)) },
			reason: tools.StopLoop, steps: 4, runs: 3},
		{name: "repeated within one turn", limits: tools.Limits{MaxRepeats: 2},
			model: func() *llmtest.Model {
				same := llm.ToolCall{Name: "lookup_order", Arguments: `{"order":"ORD-1"}`}
				return llmtest.NewModel(llmtest.ToolCalls(same, same, same))
			},
			reason: tools.StopLoop, steps: 1, runs: 0},
		{name: "max duration, slow model", limits: tools.Limits{MaxDuration: time.Minute},
			model:  func() *llmtest.Model { return llmtest.NewModel(llmtest.Reply("late").Delay(2 * time.Minute)) },
			reason: tools.StopDeadline, steps: 0, calls: 1, errIs: context.DeadlineExceeded},
		{name: "max duration, slow tool", limits: tools.Limits{MaxDuration: time.Minute}, extra: slowTool,
			model: func() *llmtest.Model {
				return llmtest.NewModel(llmtest.ToolCall("slow_report", `{"query":"q"}`), llmtest.Reply("never asked"))
			},
			reason: tools.StopDeadline, steps: 1, errIs: context.DeadlineExceeded, statuses: []tools.Status{tools.StatusTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newTally()
				ts := supportTools(t, c, "")
				if tt.extra != nil {
					ts = append(ts, tt.extra(t))
				}
				model := tt.model()
				agent := mustAgent(t, tools.AgentConfig{Model: model, Limits: tt.limits,
					Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, ts...), Policy: mustPolicy(t, supportPolicy)})})
				run, err := agent.Run(t.Context(), supportRequest("go"))
				if !errors.Is(err, tt.errIs) || (tt.errIs == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tt.errIs)
				}
				if run == nil || run.Status != tools.RunStopped || run.StopReason != tt.reason {
					t.Fatalf("run = %+v, want stopped for %s", run, tt.reason)
				}
				calls := tt.steps
				if tt.calls != 0 {
					calls = tt.calls
				}
				if run.Steps != tt.steps || model.Calls() != calls {
					t.Errorf("steps %d, model calls %d; want %d, %d", run.Steps, model.Calls(), tt.steps, calls)
				}
				if c.count("lookup_order") != tt.runs {
					t.Errorf("lookup_order ran %d times, want %d", c.count("lookup_order"), tt.runs)
				}
				if tt.tokens != 0 && run.Usage.TotalTokens() != tt.tokens {
					t.Errorf("tokens = %d, want %d", run.Usage.TotalTokens(), tt.tokens)
				}
				if tt.cost != 0 && (run.Cost < tt.cost-1e-9 || run.Cost > tt.cost+1e-9) {
					t.Errorf("cost = %v, want %v", run.Cost, tt.cost)
				}
				if tt.statuses != nil && !slices.Equal(statuses(run.Results), tt.statuses) {
					t.Errorf("statuses = %v, want %v", statuses(run.Results), tt.statuses)
				}
				if len(run.Messages) < 2 || run.Messages[1].Text() != "go" {
					t.Errorf("the run's conversation lost its start: %d messages", len(run.Messages))
				}
			})
		})
	}
}

// TestAgentCanceled cancels the run's context while a tool runs: the run
// ends with what happened so far, StopCanceled and the context's error,
// and the model is not asked again.
func TestAgentCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := newTally()
	wait := mustTool(t)(tools.New(tools.Spec{Name: "export_report", Risk: tools.RiskRead},
		func(ctx context.Context, _ queryArgs) (string, error) {
			cancel() // the user closed the page
			<-ctx.Done()
			return "", ctx.Err()
		}))
	model := llmtest.NewModel(llmtest.ToolCall("lookup_order", `{"order":"ORD-1"}`), llmtest.ToolCall("export_report", `{"query":"all"}`), llmtest.Reply("never"))
	agent := mustAgent(t, tools.AgentConfig{Model: model,
		Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, append(supportTools(t, c, ""), wait)...), Policy: mustPolicy(t, supportPolicy)})})
	run, err := agent.Run(ctx, supportRequest("export everything"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if run.Status != tools.RunStopped || run.StopReason != tools.StopCanceled || run.Steps != 2 || model.Calls() != 2 {
		t.Errorf("run %s %q, %d steps, %d model calls", run.Status, run.StopReason, run.Steps, model.Calls())
	}
	if got := statuses(run.Results); !slices.Equal(got, []tools.Status{tools.StatusOK, tools.StatusCanceled}) {
		t.Errorf("statuses = %v", got)
	}
	if tm := toolMessages(run.Messages); len(tm) != 2 || c.count("lookup_order") != 1 {
		t.Errorf("%d tool results in the conversation, lookup ran %d times", len(tm), c.count("lookup_order"))
	}

	// A context canceled before the run starts asks nobody.
	model = llmtest.NewModel(llmtest.Reply("never"))
	agent = mustAgent(t, tools.AgentConfig{Model: model, Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t), Policy: mustPolicy(t, supportPolicy)})})
	run, err = agent.Run(ctx, supportRequest("hi"))
	if !errors.Is(err, context.Canceled) || run.StopReason != tools.StopCanceled || model.Calls() != 0 {
		t.Errorf("pre-canceled: %v, %q, %d model calls", err, run.StopReason, model.Calls())
	}
}

// TestAgentToolResultsUntrusted checks that tool output enters the
// conversation marked untrusted with its source, capped at the tool's
// limit, and that it taints the calls proposed after it.
func TestAgentToolResultsUntrusted(t *testing.T) {
	const max = 200
	big := strings.Repeat("Zeile ünd Spalte; ", 500)
	c := newTally()
	report := mustTool(t)(tools.New(tools.Spec{Name: "export_report", Risk: tools.RiskRead, MaxResultBytes: max},
		func(context.Context, queryArgs) (string, error) { return big, nil }))
	model := llmtest.NewModel(
		llmtest.ToolCall("export_report", `{"query":"all"}`),
		llmtest.ToolCall("update_ticket", `{"ticket":"T-1","note":"exported"}`),
		llmtest.Reply("done"),
	)
	sink := &memSink{}
	agent := mustAgent(t, tools.AgentConfig{Model: model, Executor: mustExecutor(t, tools.Config{
		Registry: mustRegistry(t, append(supportTools(t, c, ""), report)...), Policy: mustPolicy(t, supportPolicy), Audit: sink, AuditKey: argsKey})})
	req := supportRequest("export")
	if tools.Tainted(req.Messages) {
		t.Fatal("the user's own text counts as untrusted third-party content")
	}
	run, err := agent.Run(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	m := toolMessages(model.Requests()[1].Messages)[0]
	if !m.HasUntrusted() || len(m.Parts) != 1 || m.Parts[0].Provenance != llm.Untrusted || m.Parts[0].Source != "tool:export_report" {
		t.Errorf("tool message parts = %+v, want one untrusted part from tool:export_report", m.Parts)
	}
	kept, _, found := strings.Cut(m.Text(), "\n[result truncated: ")
	if !found || len(kept) > max || !strings.HasPrefix(big, kept) || !utf8.ValidString(m.Text()) || !run.Results[0].Truncated {
		t.Errorf("tool message (%d bytes) not capped at %d: %.80q", len(m.Text()), max, m.Text())
	}
	if !tools.Tainted(model.Requests()[1].Messages) {
		t.Error("a conversation with a tool result is not tainted")
	}
	// The write proposed after the tool output is refused by the
	// untrusted-context rule, although support-updates allows it.
	if got := statuses(run.Results); !slices.Equal(got, []tools.Status{tools.StatusOK, tools.StatusDenied}) {
		t.Errorf("statuses = %v", got)
	}
	if d := eventsOf(sink.records(), run.Results[1].CallID, "decided"); len(d) != 1 || d[0].Rule != "untrusted-context" {
		t.Errorf("decided records = %+v", d)
	}
	if c.count("update_ticket") != 0 {
		t.Error("update_ticket ran on a tainted conversation")
	}
}

// TestAgentModelError ends a run on a model failure with the error and
// what happened before it.
func TestAgentModelError(t *testing.T) {
	c := newTally()
	model := llmtest.NewModel(llmtest.ToolCall("lookup_order", `{"order":"ORD-1"}`), llmtest.ServerError(503))
	agent := mustAgent(t, tools.AgentConfig{Model: model, Executor: mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy)})})
	run, err := agent.Run(t.Context(), supportRequest("where is ORD-1"))
	var lerr *llm.Error
	if !errors.As(err, &lerr) || lerr.Status != 503 {
		t.Fatalf("err = %v, want the model's 503", err)
	}
	if run.Status != tools.RunStopped || run.StopReason != tools.StopModelError || run.Steps != 1 || len(run.Results) != 1 {
		t.Errorf("run %s %q, %d steps, %d results", run.Status, run.StopReason, run.Steps, len(run.Results))
	}
}

func TestNewAgentErrors(t *testing.T) {
	exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t), Policy: mustPolicy(t, supportPolicy)})
	model := llmtest.NewModel()
	for _, cfg := range []tools.AgentConfig{{Executor: exec}, {Model: model}, {}} {
		if a, err := tools.NewAgent(cfg); err == nil || a != nil {
			t.Errorf("NewAgent(%+v) = %v, %v; want an error", cfg, a, err)
		}
	}
	agent := mustAgent(t, tools.AgentConfig{Model: model, Executor: exec})
	if run, err := agent.Run(t.Context(), nil); err == nil || run != nil {
		t.Errorf("Run(nil) = %v, %v; want an error", run, err)
	}
	if run, err := agent.Resume(t.Context(), []byte(`{}`)); err == nil || run != nil {
		t.Errorf("Resume without a StateKey = %v, %v; want an error", run, err)
	}
}
