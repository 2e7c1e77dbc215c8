package tools_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/structured"
	"github.com/keel-go/keel/tools"
	"github.com/keel-go/keel/tools/audit"
	"github.com/keel-go/keel/tools/policy"
)

// The fixtures below are shared by the package's tests: a support desk
// with a few tools of each risk level and a policy over them.

// supportAgent is the principal most tests run for.
var supportAgent = llm.Principal{Tenant: "acme", User: "u-42", Roles: []string{"support"}}

// Keys of the tests: the audit chain, argument digests, saved state.
var (
	chainKey = []byte("0123456789abcdef0123456789abcdef")
	argsKey  = []byte("fedcba9876543210fedcba9876543210")
	stateKey = []byte("state-key-0123456789abcdef-state")
)

// supportPolicy allows read tools to anyone in a tenant, e-mail and ticket
// updates to support staff, refunds only after approval, and no deletes.
// Untrusted content and safe mode keep their defaults: nothing above read
// risk.
const supportPolicy = `
rules:
  - name: read-tools
    effect: allow
    tools: ["*"]
    max_risk: read
    when: [exists(principal.tenant)]
  - name: support-mail
    effect: allow
    reason: Support staff e-mail customers.
    tools: [send_email]
    roles: [support]
  - name: support-updates
    effect: allow
    tools: [update_ticket]
    roles: [support]
  - name: refunds-need-approval
    effect: approve
    reason: Refunds need a second pair of eyes.
    tools: [refund]
    roles: [support]
  - name: no-deletes
    effect: deny
    tools: [delete_record]
`

type orderArgs struct {
	Order string `json:"order" jsonschema:"description=Order id,pattern=^ORD-[0-9]+$"`
}

type orderInfo struct {
	Order  string `json:"order"`
	Status string `json:"status"`
}

type emailArgs struct {
	To      string `json:"to" jsonschema:"description=Recipient address"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

type refundArgs struct {
	Order  string  `json:"order"`
	Amount float64 `json:"amount" jsonschema:"minimum=0"`
}

type queryArgs struct {
	Query string `json:"query"`
}

type ticketArgs struct {
	Ticket string `json:"ticket"`
	Note   string `json:"note"`
}

// tally counts the runs of each tool and keeps their arguments.
type tally struct {
	mu   sync.Mutex
	runs map[string][]any
}

func newTally() *tally { return &tally{runs: map[string][]any{}} }

func (c *tally) add(tool string, args any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[tool] = append(c.runs[tool], args)
}

// count returns how many times tool ran.
func (c *tally) count(tool string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.runs[tool])
}

// total returns how many tool runs there were.
func (c *tally) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.runs {
		n += len(r)
	}
	return n
}

// mustTool returns a function that fails t on an error from tools.New or
// tools.NewRaw: mustTool(t)(tools.New(...)).
func mustTool(t testing.TB) func(*tools.Tool, error) *tools.Tool {
	t.Helper()
	return func(tool *tools.Tool, err error) *tools.Tool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tool
	}
}

// supportTools returns the support desk's tools, counted by c;
// search_tickets answers with searchResult.
func supportTools(t testing.TB, c *tally, searchResult string) []*tools.Tool {
	t.Helper()
	return []*tools.Tool{
		mustTool(t)(tools.New(tools.Spec{Name: "lookup_order", Description: "Look up an order", Risk: tools.RiskRead},
			func(_ context.Context, a orderArgs) (orderInfo, error) {
				c.add("lookup_order", a)
				return orderInfo{Order: a.Order, Status: "shipped"}, nil
			})),
		mustTool(t)(tools.New(tools.Spec{Name: "search_tickets", Description: "Search support tickets", Risk: tools.RiskRead},
			func(_ context.Context, a queryArgs) (string, error) {
				c.add("search_tickets", a)
				return searchResult, nil
			})),
		mustTool(t)(tools.New(tools.Spec{Name: "update_ticket", Description: "Add a note to a ticket", Risk: tools.RiskWrite},
			func(_ context.Context, a ticketArgs) (string, error) {
				c.add("update_ticket", a)
				return "updated " + a.Ticket, nil
			})),
		mustTool(t)(tools.New(tools.Spec{Name: "send_email", Description: "Send an e-mail", Risk: tools.RiskExternal},
			func(_ context.Context, a emailArgs) (string, error) {
				c.add("send_email", a)
				return "sent to " + a.To, nil
			})),
		mustTool(t)(tools.New(tools.Spec{Name: "refund", Description: "Refund an order", Risk: tools.RiskExternal},
			func(_ context.Context, a refundArgs) (string, error) {
				c.add("refund", a)
				return fmt.Sprintf("refunded %s: %.2f", a.Order, a.Amount), nil
			})),
		mustTool(t)(tools.New(tools.Spec{Name: "delete_record", Description: "Delete a record", Risk: tools.RiskExternal},
			func(_ context.Context, a ticketArgs) (string, error) {
				c.add("delete_record", a)
				return "deleted", nil
			})),
	}
}

func mustRegistry(t testing.TB, ts ...*tools.Tool) *tools.Registry {
	t.Helper()
	reg, err := tools.NewRegistry(ts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func mustPolicy(t testing.TB, yaml string) *policy.Policy {
	t.Helper()
	p, err := policy.ParseYAML([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustExecutor(t testing.TB, cfg tools.Config) *tools.Executor {
	t.Helper()
	e, err := tools.NewExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// memSink keeps audit records in memory.
type memSink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (s *memSink) Write(_ context.Context, r audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	return nil
}

func (s *memSink) records() []audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Record(nil), s.recs...)
}

// eventsOf returns the records of recs for callID and event, in order.
func eventsOf(recs []audit.Record, callID string, event audit.Event) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if r.CallID == callID && r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

// readAuditLog returns every record of the file log in dir, in order.
func readAuditLog(t testing.TB, dir string) []audit.Record {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, audit.MaxLineBytes)
		for sc.Scan() {
			var r audit.Record
			if err := r.UnmarshalJSON(sc.Bytes()); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			recs = append(recs, r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestExecutorStages(t *testing.T) {
	anonymous := llm.Principal{Tenant: "acme", User: "u-7"}
	tests := []struct {
		name      string
		principal llm.Principal
		tool      string
		args      string
		status    tools.Status
		content   []string // substrings of Result.Content
		rule      string   // the deciding rule; "" when the policy was not asked
		runs      int      // runs of the tool
		schemaErr bool     // Result.Err is a *structured.ValidationError
	}{
		{name: "unknown tool", tool: "transfer_funds", args: `{}`,
			status: tools.StatusUnknownTool, content: []string{`"transfer_funds"`}},
		{name: "missing argument", tool: "lookup_order", args: `{}`,
			status: tools.StatusInvalidArgs, content: []string{"did not run", "missing property 'order'"}, schemaErr: true},
		{name: "wrong type", tool: "lookup_order", args: `{"order":5}`,
			status: tools.StatusInvalidArgs, content: []string{"/order", "want string"}, schemaErr: true},
		{name: "unknown field", tool: "lookup_order", args: `{"order":"ORD-1","force":true}`,
			status: tools.StatusInvalidArgs, content: []string{"'force'"}, schemaErr: true},
		{name: "pattern", tool: "lookup_order", args: `{"order":"1; DROP TABLE orders"}`,
			status: tools.StatusInvalidArgs, content: []string{"/order"}, schemaErr: true},
		{name: "not JSON", tool: "lookup_order", args: `order ORD-1`,
			status: tools.StatusInvalidArgs, content: []string{"not valid JSON"}},
		{name: "trailing data", tool: "lookup_order", args: `{"order":"ORD-1"} {"order":"ORD-2"}`,
			status: tools.StatusInvalidArgs},
		{name: "no rule allows", principal: anonymous, tool: "send_email", args: `{"to":"a@b.example","subject":"s","body":"b"}`,
			status: tools.StatusDenied, content: []string{policy.RuleDefaultDeny, "Do not retry"}, rule: policy.RuleDefaultDeny},
		{name: "deny rule", tool: "delete_record", args: `{"ticket":"T-1","note":"x"}`,
			status: tools.StatusDenied, content: []string{"no-deletes"}, rule: "no-deletes"},
		{name: "approval needed, no approver", tool: "refund", args: `{"order":"ORD-1","amount":20}`,
			status: tools.StatusDenied, content: []string{"approval"}, rule: "refunds-need-approval"},
		{name: "allowed read", tool: "lookup_order", args: `{"order":"ORD-1"}`,
			status: tools.StatusOK, content: []string{`{"order":"ORD-1","status":"shipped"}`}, rule: "read-tools", runs: 1},
		{name: "allowed read, spaced arguments", tool: "lookup_order", args: " { \"order\" : \"ORD-2\" } ",
			status: tools.StatusOK, content: []string{`"ORD-2"`}, rule: "read-tools", runs: 1},
		{name: "allowed write", tool: "update_ticket", args: `{"ticket":"T-9","note":"called back"}`,
			status: tools.StatusOK, content: []string{"updated T-9"}, rule: "support-updates", runs: 1},
		{name: "allowed external", tool: "send_email", args: `{"to":"c@customer.example","subject":"s","body":"b"}`,
			status: tools.StatusOK, content: []string{"sent to c@customer.example"}, rule: "support-mail", runs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTally()
			exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy)})
			p := tt.principal
			if p.IsZero() {
				p = supportAgent
			}
			call := &tools.Call{ID: "call-1", Name: tt.tool, Args: []byte(tt.args), Principal: p}
			r := exec.Execute(t.Context(), call)
			if r.Status != tt.status {
				t.Fatalf("status = %s (%q, %v), want %s", r.Status, r.Content, r.Err, tt.status)
			}
			if r.CallID != "call-1" || r.Name != tt.tool {
				t.Errorf("result names call %q tool %q", r.CallID, r.Name)
			}
			if r.IsError() != (tt.status != tools.StatusOK) {
				t.Errorf("IsError() = %v", r.IsError())
			}
			for _, want := range tt.content {
				if !strings.Contains(r.Content, want) {
					t.Errorf("content %q does not contain %q", r.Content, want)
				}
			}
			switch {
			case tt.rule == "" && call.Decision != nil:
				t.Errorf("the policy was asked (%v) for a call that never reached it", call.Decision)
			case tt.rule != "" && (call.Decision == nil || call.Decision.Rule != tt.rule):
				t.Errorf("decision = %v, want rule %q", call.Decision, tt.rule)
			}
			var verr *structured.ValidationError
			if tt.status == tools.StatusInvalidArgs && (r.Err == nil || errors.As(r.Err, &verr) != tt.schemaErr) {
				t.Errorf("Err = %v, want an error (a schema error: %v)", r.Err, tt.schemaErr)
			}
			if tt.status == tools.StatusDenied && (r.Err == nil || !strings.Contains(r.Err.Error(), tt.rule)) {
				t.Errorf("Err = %v, want one naming rule %q", r.Err, tt.rule)
			}
			if got := c.count(tt.tool); got != tt.runs {
				t.Errorf("%s ran %d times, want %d", tt.tool, got, tt.runs)
			}
			if c.total() != tt.runs {
				t.Errorf("%d tool runs in all, want %d", c.total(), tt.runs)
			}
		})
	}
}

// TestExecutorToolFailures runs tools that block, ignore their context,
// panic and fail; each becomes a result, and the test process survives.
// The calls run in a synctest bubble, so timeouts take no real time.
func TestExecutorToolFailures(t *testing.T) {
	const timeout = 2 * time.Second
	secret := "sk-live-0000SECRET"
	tests := []struct {
		name    string
		fn      func(ctx context.Context) (any, error)
		cancel  bool // cancel the call's context before it runs
		status  tools.Status
		content string
		errHas  string // substring of Result.Err
		hidden  string // must not be in Result.Content
		elapsed time.Duration
	}{
		{name: "blocks until its timeout", fn: func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, status: tools.StatusTimeout, content: "did not answer within 2s", elapsed: timeout},
		{name: "ignores its context", fn: func(context.Context) (any, error) {
			time.Sleep(time.Hour)
			return "too late", nil
		}, status: tools.StatusTimeout, content: "did not answer within 2s", elapsed: timeout},
		{name: "panics", fn: func(context.Context) (any, error) {
			panic("lost connection with token " + secret)
		}, status: tools.StatusPanic, content: "failed unexpectedly", errHas: "panicked", hidden: secret},
		{name: "panics with an error value", fn: func(context.Context) (any, error) {
			var m map[string]int
			m["x"]++ // a nil map write: a runtime panic
			return nil, nil
		}, status: tools.StatusPanic, errHas: "assignment to entry in nil map"},
		{name: "returns an error", fn: func(context.Context) (any, error) {
			return nil, errors.New("order service: 503")
		}, status: tools.StatusFailed, content: "order service: 503", errHas: "503"},
		{name: "its own deadline", fn: func(context.Context) (any, error) {
			return nil, fmt.Errorf("fetching: %w", context.DeadlineExceeded)
		}, status: tools.StatusTimeout},
		{name: "result does not encode", fn: func(context.Context) (any, error) {
			return map[string]any{"ch": make(chan int)}, nil
		}, status: tools.StatusFailed, content: "could not be encoded", errHas: "JSON"},
		{name: "nil result", fn: func(context.Context) (any, error) {
			return nil, nil
		}, status: tools.StatusOK, content: "null"},
		{name: "canceled before it runs", cancel: true, fn: func(context.Context) (any, error) {
			return "ran", nil
		}, status: tools.StatusCanceled, content: "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// A tool that ignores its context outlives the call; the
				// bubble must end with it.
				finished := make(chan struct{})
				defer func() {
					if !tt.cancel {
						<-finished
					}
				}()
				tool := mustTool(t)(tools.NewRaw(tools.Spec{Name: "flaky", Risk: tools.RiskRead, Timeout: timeout},
					[]byte(`{"type":"object"}`), func(ctx context.Context, _ json.RawMessage) (any, error) {
						defer close(finished)
						return tt.fn(ctx)
					}))
				exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, tool), Policy: mustPolicy(t, supportPolicy)})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.cancel {
					cancel()
				}
				r := exec.Execute(ctx, &tools.Call{ID: "c", Name: "flaky", Args: []byte(`{}`), Principal: supportAgent})
				if r.Status != tt.status {
					t.Fatalf("status = %s (%q, %v), want %s", r.Status, r.Content, r.Err, tt.status)
				}
				if !strings.Contains(r.Content, tt.content) {
					t.Errorf("content %q does not contain %q", r.Content, tt.content)
				}
				if tt.status != tools.StatusOK && r.Err == nil {
					t.Error("no Err for a failed call")
				}
				if tt.errHas != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tt.errHas)) {
					t.Errorf("Err = %v, want it to contain %q", r.Err, tt.errHas)
				}
				if tt.hidden != "" && strings.Contains(r.Content, tt.hidden) {
					t.Errorf("content %q shows %q to the model", r.Content, tt.hidden)
				}
				// Fake time: the executor gave up at the tool's timeout
				// instead of waiting for it.
				if tt.elapsed != 0 && r.Duration != tt.elapsed {
					t.Errorf("Duration = %v, want %v", r.Duration, tt.elapsed)
				}
			})
		})
	}
}

// TestExecutorCanceledTool checks that a tool returning as soon as its
// context is canceled is reported as canceled, not failed, however the
// race between its return and the cancellation goes.
func TestExecutorCanceledTool(t *testing.T) {
	for i := range 50 {
		ctx, cancel := context.WithCancel(t.Context())
		started := make(chan struct{})
		tool := mustTool(t)(tools.NewRaw(tools.Spec{Name: "waits", Risk: tools.RiskRead}, []byte(`{"type":"object"}`),
			func(ctx context.Context, _ json.RawMessage) (any, error) {
				close(started)
				<-ctx.Done()
				return nil, ctx.Err()
			}))
		exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, tool), Policy: mustPolicy(t, supportPolicy)})
		go func() {
			<-started
			cancel()
		}()
		r := exec.Execute(ctx, &tools.Call{ID: "c", Name: "waits", Args: []byte(`{}`), Principal: supportAgent})
		if r.Status != tools.StatusCanceled || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("run %d: status %s, err %v; want canceled, context.Canceled", i, r.Status, r.Err)
		}
	}
}

func TestExecutorResultCap(t *testing.T) {
	const marker = "\n[result truncated: "
	tests := []struct {
		name   string
		result any
		max    int
	}{
		{"ascii under the cap", "hello", 16},
		{"ascii at the cap", "0123456789", 10},
		{"ascii over the cap", strings.Repeat("abc", 100), 10},
		{"two-byte runes", strings.Repeat("é", 50), 11},
		{"three-byte runes", strings.Repeat("€", 50), 10},
		{"four-byte runes", strings.Repeat("𝄞", 50), 7},
		{"cap inside the first rune", "𝄞 clef", 2},
		{"cap of one byte", "ünïcode", 1},
		{"mixed", "Grüße aus Köln — 東京 🎌 " + strings.Repeat("x", 40), 23},
		{"JSON result", orderInfo{Order: "ORD-1", Status: strings.Repeat("ß", 40)}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool := mustTool(t)(tools.NewRaw(tools.Spec{Name: "report", Risk: tools.RiskRead, MaxResultBytes: tt.max},
				[]byte(`{"type":"object"}`), func(context.Context, json.RawMessage) (any, error) { return tt.result, nil }))
			exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, tool), Policy: mustPolicy(t, supportPolicy)})
			r := exec.Execute(t.Context(), &tools.Call{ID: "c", Name: "report", Args: []byte(`{}`), Principal: supportAgent})
			if r.Status != tools.StatusOK {
				t.Fatalf("status %s: %v", r.Status, r.Err)
			}
			full, ok := tt.result.(string)
			if !ok {
				full = `{"order":"ORD-1","status":"` + strings.Repeat("ß", 40) + `"}`
			}
			if !utf8.ValidString(r.Content) {
				t.Fatalf("content is not valid UTF-8: %q", r.Content)
			}
			if len(full) <= tt.max {
				if r.Truncated || r.Content != full {
					t.Fatalf("content %q (truncated %v), want %q untouched", r.Content, r.Truncated, full)
				}
				return
			}
			kept, tail, found := strings.Cut(r.Content, marker)
			if !r.Truncated || !found {
				t.Fatalf("content %q (truncated %v), want it cut and marked", r.Content, r.Truncated)
			}
			// The kept part is the longest whole-rune prefix within the cap.
			want := ""
			for _, rn := range full {
				if len(want)+utf8.RuneLen(rn) > tt.max {
					break
				}
				want += string(rn)
			}
			if kept != want {
				t.Errorf("kept %q, want %q", kept, want)
			}
			if wantTail := fmt.Sprintf("%d of %d bytes shown]", len(want), len(full)); tail != wantTail {
				t.Errorf("marker ends %q, want %q", tail, wantTail)
			}
		})
	}
}

// TestExecutorSafeMode flips an llm.SafeMode while the executor serves
// calls: write and external tools stop at once, read tools keep working,
// and everything is back when it is disabled.
func TestExecutorSafeMode(t *testing.T) {
	calls := []struct {
		tool, args string
		risk       tools.Risk
	}{
		{"lookup_order", `{"order":"ORD-1"}`, tools.RiskRead},
		{"update_ticket", `{"ticket":"T-1","note":"n"}`, tools.RiskWrite},
		{"send_email", `{"to":"c@customer.example","subject":"s","body":"b"}`, tools.RiskExternal},
	}
	sm := llm.NewSafeMode()
	c := newTally()
	exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy), SafeMode: sm})
	phases := []struct {
		name   string
		flip   func()
		active bool
	}{
		{"before", func() {}, false},
		{"enabled", func() { sm.Enable("incident 4711: mail provider compromised") }, true},
		{"disabled", sm.Disable, false},
	}
	for _, ph := range phases {
		ph.flip()
		for _, cl := range calls {
			t.Run(ph.name+"/"+cl.tool, func(t *testing.T) {
				before := c.count(cl.tool)
				call := &tools.Call{ID: "c", Name: cl.tool, Args: []byte(cl.args), Principal: supportAgent}
				r := exec.Execute(t.Context(), call)
				refused := ph.active && cl.risk > tools.RiskRead
				if refused {
					if r.Status != tools.StatusDenied || call.Decision.Rule != policy.RuleSafeMode {
						t.Errorf("status %s, decision %v; want denied by %s", r.Status, call.Decision, policy.RuleSafeMode)
					}
					if c.count(cl.tool) != before {
						t.Error("the tool ran in safe mode")
					}
					return
				}
				if r.Status != tools.StatusOK || c.count(cl.tool) != before+1 {
					t.Errorf("status %s (%v), runs %d→%d; want it to run", r.Status, r.Err, before, c.count(cl.tool))
				}
			})
		}
	}
}

// TestExecutorMiddleware checks that Config.Middleware wraps only calls
// the policy allowed, sees their decoded arguments and decision, and can
// refuse a call itself.
func TestExecutorMiddleware(t *testing.T) {
	c := newTally()
	var seen []string
	var mu sync.Mutex
	guard := func(next tools.Handler) tools.Handler {
		return func(ctx context.Context, call *tools.Call) *tools.Result {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %T %s", call.Name, call.Value, call.Decision.Rule))
			mu.Unlock()
			if a, ok := call.Value.(emailArgs); ok && strings.HasSuffix(a.To, "@competitor.example") {
				return &tools.Result{CallID: call.ID, Name: call.Name, Status: tools.StatusDenied, Content: "blocked by guard"}
			}
			return next(ctx, call)
		}
	}
	exec := mustExecutor(t, tools.Config{Registry: mustRegistry(t, supportTools(t, c, "")...), Policy: mustPolicy(t, supportPolicy),
		Middleware: []tools.Middleware{guard}})
	tests := []struct {
		tool, args string
		status     tools.Status
		seen       string
	}{
		{"lookup_order", `{"order":"ORD-3"}`, tools.StatusOK, "lookup_order tools_test.orderArgs read-tools"},
		{"delete_record", `{"ticket":"T-1","note":"n"}`, tools.StatusDenied, ""},
		{"lookup_order", `{"order":"bad"}`, tools.StatusInvalidArgs, ""},
		{"send_email", `{"to":"x@competitor.example","subject":"s","body":"b"}`, tools.StatusDenied, "send_email tools_test.emailArgs support-mail"},
	}
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		r := exec.Execute(t.Context(), &tools.Call{ID: "c", Name: tt.tool, Args: []byte(tt.args), Principal: supportAgent})
		if r.Status != tt.status {
			t.Errorf("%s %s: status %s, want %s", tt.tool, tt.args, r.Status, tt.status)
		}
		mu.Lock()
		got := strings.Join(seen, ";")
		mu.Unlock()
		if got != tt.seen {
			t.Errorf("%s %s: middleware saw %q, want %q", tt.tool, tt.args, got, tt.seen)
		}
	}
	if c.count("send_email") != 0 || c.count("delete_record") != 0 || c.count("lookup_order") != 1 {
		t.Errorf("runs = %v", c.runs)
	}
}

func TestNewExecutorConfigErrors(t *testing.T) {
	reg := mustRegistry(t)
	pol := mustPolicy(t, supportPolicy)
	tests := []struct {
		name string
		cfg  tools.Config
		want string
	}{
		{"no registry", tools.Config{Policy: pol}, "Registry"},
		{"no policy", tools.Config{Registry: reg}, "Policy is required"},
		{"audit without key", tools.Config{Registry: reg, Policy: pol, Audit: &memSink{}}, "AuditKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tools.NewExecutor(tt.cfg)
			if err == nil || e != nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewExecutor = %v, %v; want an error about %s", e, err, tt.want)
			}
		})
	}
	if _, err := tools.NewExecutor(tools.Config{Registry: reg, Policy: pol, Audit: &memSink{}, AuditKey: argsKey}); err != nil {
		t.Errorf("a complete config: %v", err)
	}
}

func TestToolDefinitionErrors(t *testing.T) {
	ok := func(context.Context, orderArgs) (string, error) { return "", nil }
	raw := func(context.Context, json.RawMessage) (any, error) { return nil, nil }
	tests := []struct {
		name string
		make func() (*tools.Tool, error)
	}{
		{"bad name", func() (*tools.Tool, error) {
			return tools.New(tools.Spec{Name: "send email", Risk: tools.RiskRead}, ok)
		}},
		{"empty name", func() (*tools.Tool, error) { return tools.New(tools.Spec{Risk: tools.RiskRead}, ok) }},
		{"unknown risk", func() (*tools.Tool, error) { return tools.New(tools.Spec{Name: "t", Risk: tools.RiskExternal + 1}, ok) }},
		{"negative timeout", func() (*tools.Tool, error) {
			return tools.New(tools.Spec{Name: "t", Risk: tools.RiskRead, Timeout: -time.Second}, ok)
		}},
		{"nil function", func() (*tools.Tool, error) {
			return tools.New[orderArgs, string](tools.Spec{Name: "t", Risk: tools.RiskRead}, nil)
		}},
		{"arguments not a struct", func() (*tools.Tool, error) {
			return tools.New(tools.Spec{Name: "t", Risk: tools.RiskRead}, func(context.Context, string) (string, error) { return "", nil })
		}},
		{"raw schema not an object", func() (*tools.Tool, error) {
			return tools.NewRaw(tools.Spec{Name: "t", Risk: tools.RiskRead}, []byte(`{"type":"string"}`), raw)
		}},
		{"raw schema not JSON", func() (*tools.Tool, error) {
			return tools.NewRaw(tools.Spec{Name: "t", Risk: tools.RiskRead}, []byte(`{"type":`), raw)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tool, err := tt.make(); err == nil || tool != nil {
				t.Errorf("got %v, %v; want an error", tool, err)
			}
		})
	}
	// A tool that declares no risk is treated as the riskiest.
	if tool, err := tools.New(tools.Spec{Name: "undeclared"}, ok); err != nil || tool.Spec().Risk != tools.RiskExternal {
		t.Errorf("undeclared risk: got %v, %v; want RiskExternal", tool, err)
	}
	lookup := mustTool(t)(tools.New(tools.Spec{Name: "lookup_order", Risk: tools.RiskRead}, ok))
	if _, err := tools.NewRegistry(lookup, lookup); err == nil {
		t.Error("a registry took two tools with one name")
	}
	if s := lookup.Spec(); s.Timeout != tools.DefaultTimeout || s.MaxResultBytes != tools.DefaultMaxResultBytes {
		t.Errorf("defaults not filled in: %+v", s)
	}
}
