package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/tools"
	"github.com/keel-go/keel/tools/audit"
	"github.com/keel-go/keel/tools/policy"
)

var testKey = bytes.Repeat([]byte{0x5a}, 32)

// offlineRun runs the example as main does without a terminal (or, with
// interactive, as if a person typed input), and returns its output, the
// desk, the scripted model and the audit directory.
func offlineRun(t *testing.T, interactive bool, input string) (string, *desk, *llmtest.Model, string) {
	t.Helper()
	d, model, dir := newDesk(), scriptedModel(), t.TempDir()
	var out bytes.Buffer
	err := run(context.Background(), &out, options{
		model: model, modelName: "scripted", modelDesc: "scripted (test)",
		auditDir: dir, auditKey: testKey,
		in: strings.NewReader(input), interactive: interactive, approver: "test-approver",
		desk: d,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return out.String(), d, model, dir
}

// readAudit returns the records of the audit log in dir, in file order.
func readAudit(t *testing.T, dir string) []audit.Record {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no audit files in %s (%v)", dir, err)
	}
	var recs []audit.Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, audit.MaxLineBytes)
		for sc.Scan() {
			var r audit.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// record returns the record of event for the call with id.
func record(t *testing.T, recs []audit.Record, callID string, event audit.Event) audit.Record {
	t.Helper()
	for _, r := range recs {
		if r.CallID == callID && r.Event == event {
			return r
		}
	}
	t.Fatalf("no %s record for call %s", event, callID)
	return audit.Record{}
}

func TestRunOffline(t *testing.T) {
	out, d, model, dir := offlineRun(t, false, "")
	recs := readAudit(t, dir)

	// Each call: the rule that decided it and how it ended, as the audit
	// log records them.
	for _, c := range []struct {
		callID, tool, decision, rule, outcome string
	}{
		{"call_search", "search_tickets", "allow", "read-tools", "ok"},
		{"call_resolve", "update_ticket", "allow", "update-own-tenant", "ok"},
		{"call_close_other", "update_ticket", "deny", "update-other-tenant", "denied"},
		{"call_email", "send_email", "approve", "email-needs-approval", "denied"},
	} {
		dec := record(t, recs, c.callID, audit.EventDecided)
		if dec.Tool != c.tool || dec.Decision != c.decision || dec.Rule != c.rule {
			t.Errorf("%s decided: tool %s, %s by %q; want %s, %s by %q", c.callID, dec.Tool, dec.Decision, dec.Rule, c.tool, c.decision, c.rule)
		}
		if o := record(t, recs, c.callID, audit.EventOutcome); o.Outcome != c.outcome || o.Rule != c.rule {
			t.Errorf("%s outcome: %s by %q, want %s by %q", c.callID, o.Outcome, o.Rule, c.outcome, c.rule)
		}
		if p := record(t, recs, c.callID, audit.EventProposed); p.Tenant != "acme" || p.User != "alice" || p.RequestID == "" {
			t.Errorf("%s proposed: attributed to %s/%s request %q", c.callID, p.Tenant, p.User, p.RequestID)
		}
	}
	if !errors.Is(errorOf(record(t, recs, "call_email", audit.EventOutcome)), tools.ErrApprovalRejected) {
		t.Errorf("the email's outcome does not say the approver rejected it")
	}

	// The desk: the own ticket changed, the other tenant's did not, and
	// no email left.
	if got, _ := d.get("acme-1"); got.Status != "resolved" || len(got.Notes) != 1 || got.Notes[0] != resolveNote {
		t.Errorf("acme-1 = %+v, want resolved with the note", got)
	}
	if got, _ := d.get("globex-7"); got.Status != "open" || len(got.Notes) != 0 {
		t.Errorf("globex-7 = %+v, want it untouched", got)
	}
	if sent := d.sent(); len(sent) != 0 {
		t.Errorf("emails sent without approval: %+v", sent)
	}

	// The log verifies, and every record was checked.
	rep, err := audit.Verify(context.Background(), dir, subKey(testKey, "audit-chain"), audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != uint64(len(recs)) || len(recs) < 12 {
		t.Errorf("verified %d records, the files hold %d (want at least 12: 4 calls × proposed, decided, outcome)", rep.Records, len(recs))
	}

	// No argument value reaches the audit files: neither the email address
	// and the note, nor any other string the model passed (but the
	// tenant, which records carry as the principal's).
	raw := auditBytes(t, dir)
	values := []string{"dana.reyes@northwind.example", resolveNote}
	for _, req := range model.Requests() {
		for _, m := range req.Messages {
			for _, c := range m.ToolCalls {
				values = append(values, stringValues(t, c.Arguments)...)
			}
		}
	}
	for _, v := range values {
		needle := v
		if len(v) < 8 {
			// Short values are words ("open") that may occur in the
			// policy's reasons: look for them as JSON strings.
			needle = `"` + v + `"`
		}
		if v != "acme" && bytes.Contains(raw, []byte(needle)) {
			t.Errorf("the audit log holds the argument value %q", v)
		}
	}
	for _, r := range recs {
		if r.Args != nil {
			t.Errorf("record %d holds full arguments", r.Seq)
		}
	}

	for _, want := range []string{
		`-> denied | policy: deny, rule "update-other-tenant"`,
		`-> denied | policy: approve, rule "email-needs-approval"`,
		"approver test-approver: rejected, not interactive",
		"outbox: 0 email(s)",
		"records verified (seq 1 to ",
		"matched true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// errorOf turns an outcome's error text back into the sentinel it names.
func errorOf(r audit.Record) error {
	if r.Error == tools.ErrApprovalRejected.Error() {
		return tools.ErrApprovalRejected
	}
	return errors.New(r.Error)
}

func auditBytes(t *testing.T, dir string) []byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// stringValues returns the string values in JSON arguments.
func stringValues(t *testing.T, args string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(args), &m); err != nil {
		t.Fatalf("arguments %s: %v", args, err)
	}
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestRunAtTerminal answers the email's approval prompt as a person
// would.
func TestRunAtTerminal(t *testing.T) {
	for _, c := range []struct {
		name, input string
		sent        bool
		reason      string
	}{
		{"yes", "y\n", true, "approved at the terminal"},
		{"YES", " YES \n", true, "approved at the terminal"},
		{"no", "n\n", false, "rejected at the terminal"},
		{"enter", "\n", false, "rejected at the terminal"},
		{"anything else", "sure\n", false, "rejected at the terminal"},
		{"end of input", "", false, "no answer: EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, d, _, dir := offlineRun(t, true, c.input)
			if !strings.Contains(out, "--- approval needed: send_email (risk external) for acme/alice") ||
				!strings.Contains(out, `to: "dana.reyes@northwind.example"`) {
				t.Errorf("the prompt does not show the call:\n%s", out)
			}
			if !strings.Contains(out, c.reason) {
				t.Errorf("output lacks the approver's reason %q:\n%s", c.reason, out)
			}
			sent := d.sent()
			if (len(sent) == 1) != c.sent {
				t.Fatalf("sent %d emails, want sent=%t", len(sent), c.sent)
			}
			recs := readAudit(t, dir)
			outcome := record(t, recs, "call_email", audit.EventOutcome)
			if c.sent {
				if sent[0].To != "dana.reyes@northwind.example" || outcome.Outcome != "ok" {
					t.Errorf("sent %+v, outcome %s", sent[0], outcome.Outcome)
				}
				if a := record(t, recs, "call_email", audit.EventApproval); a.Approver != "test-approver" || a.Decision != string(tools.Approved) {
					t.Errorf("approval record: %+v", a)
				}
			} else if outcome.Outcome != "denied" {
				t.Errorf("outcome %s, want denied", outcome.Outcome)
			}
		})
	}
}

// TestForgedTenantRefusedByTool: the model claims globex-7 is acme's. The
// policy compares the claim with the principal and allows it; the tool
// finds the ticket's real tenant and refuses.
func TestForgedTenantRefusedByTool(t *testing.T) {
	alice := llm.Principal{Tenant: "acme", User: "alice", Roles: []string{"agent"}}
	for _, c := range []struct {
		name, args string
		status     tools.Status
		rule       string
	}{
		{"forged tenant", `{"ticket_id":"globex-7","tenant":"acme","status":"closed"}`, tools.StatusFailed, "update-own-tenant"},
		{"no such ticket", `{"ticket_id":"acme-99","tenant":"acme","status":"closed"}`, tools.StatusFailed, "update-own-tenant"},
		{"honest other tenant", `{"ticket_id":"globex-7","tenant":"globex","status":"closed"}`, tools.StatusDenied, "update-other-tenant"},
		{"own ticket", `{"ticket_id":"acme-2","tenant":"acme","status":"pending"}`, tools.StatusOK, "update-own-tenant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDesk()
			exec, err := newExecutor(d, nil, nil, nil, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			call := &tools.Call{ID: "c1", Name: "update_ticket", Args: []byte(c.args), Principal: alice}
			r := exec.Execute(context.Background(), call)
			if r.Status != c.status || call.Decision == nil || call.Decision.Rule != c.rule {
				t.Fatalf("status %s, decision %+v; want %s by %q (%s)", r.Status, call.Decision, c.status, c.rule, r.Content)
			}
			if r.Status == tools.StatusFailed && !strings.Contains(r.Content, errNoTicket.Error()) {
				t.Errorf("content %q does not give the one not-found answer", r.Content)
			}
			if got, _ := d.get("globex-7"); got.Status != "open" {
				t.Errorf("globex-7 changed: %+v", got)
			}
		})
	}
}

// TestPolicy walks the embedded policy's decisions, untrusted context
// included.
func TestPolicy(t *testing.T) {
	pol, err := policy.ParseYAML(policyYAML)
	if err != nil {
		t.Fatal(err)
	}
	agent := llm.Principal{Tenant: "acme", User: "alice", Roles: []string{"agent"}}
	viewer := llm.Principal{Tenant: "acme", User: "vic"}
	own := map[string]any{"ticket_id": "acme-1", "tenant": "acme", "status": "closed"}
	other := map[string]any{"ticket_id": "globex-7", "tenant": "globex", "status": "closed"}
	mail := map[string]any{"to": "a@b.example", "subject": "s", "body": "b"}
	for _, c := range []struct {
		name      string
		p         llm.Principal
		tool      string
		risk      policy.Risk
		args      any
		untrusted bool
		effect    policy.Effect
		rule      string
	}{
		{"search", agent, "search_tickets", policy.RiskRead, map[string]any{"query": "x"}, false, policy.Allow, "read-tools"},
		{"search after reading tickets", agent, "search_tickets", policy.RiskRead, map[string]any{"query": "x"}, true, policy.Allow, "read-tools"},
		{"search without a role", viewer, "search_tickets", policy.RiskRead, map[string]any{"query": "x"}, false, policy.Allow, "read-tools"},
		{"search by nobody", llm.Principal{}, "search_tickets", policy.RiskRead, map[string]any{"query": "x"}, false, policy.Deny, policy.RuleDefaultDeny},
		{"update own", agent, "update_ticket", policy.RiskWrite, own, false, policy.Allow, "update-own-tenant"},
		{"update own after reading tickets", agent, "update_ticket", policy.RiskWrite, own, true, policy.Approve, policy.RuleUntrusted},
		{"update other", agent, "update_ticket", policy.RiskWrite, other, false, policy.Deny, "update-other-tenant"},
		{"update other after reading tickets", agent, "update_ticket", policy.RiskWrite, other, true, policy.Deny, "update-other-tenant"},
		{"update own without the agent role", viewer, "update_ticket", policy.RiskWrite, own, false, policy.Deny, policy.RuleDefaultDeny},
		{"update by nobody", llm.Principal{Roles: []string{"agent"}}, "update_ticket", policy.RiskWrite, own, false, policy.Deny, policy.RuleDefaultDeny},
		{"email", agent, "send_email", policy.RiskExternal, mail, false, policy.Approve, "email-needs-approval"},
		{"email after reading tickets", agent, "send_email", policy.RiskExternal, mail, true, policy.Approve, "email-needs-approval"},
		{"email without the agent role", viewer, "send_email", policy.RiskExternal, mail, false, policy.Deny, policy.RuleDefaultDeny},
		{"a tool the policy does not know", agent, "delete_ticket", policy.RiskExternal, own, false, policy.Deny, policy.RuleDefaultDeny},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := pol.Decide(&policy.Input{Principal: c.p, Tool: c.tool, Risk: c.risk, Args: c.args, Untrusted: c.untrusted})
			if d.Effect != c.effect || d.Rule != c.rule {
				t.Errorf("%s by %q (%s), want %s by %q", d.Effect, d.Rule, d.Reason, c.effect, c.rule)
			}
		})
	}
}

// TestApprover checks the approver's answers without a run: bound to the
// request, expiring after approvalTTL from the answer.
func TestApprover(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := &tools.ApprovalRequest{CallID: "c1", Tool: "send_email", Risk: tools.RiskExternal, Binding: "b1",
		Args: json.RawMessage(`{"to":"x@y.example","body":"line one\nline two \u001b[2J\u0007"}`),
		Rule: "email-needs-approval", Reason: "why", Principal: llm.Principal{Tenant: "acme", User: "alice"}}
	for _, c := range []struct {
		name        string
		interactive bool
		in          io.Reader
		status      tools.ApprovalStatus
		reason      string
	}{
		{"not interactive", false, strings.NewReader("y\n"), tools.Rejected, "not interactive"},
		{"no input", true, nil, tools.Rejected, "no input to read an answer from"},
		{"yes", true, strings.NewReader("y\n"), tools.Approved, "approved at the terminal"},
		{"no", true, strings.NewReader("no\n"), tools.Rejected, "rejected at the terminal"},
		{"endless line", true, strings.NewReader(strings.Repeat("y", 100_000)), tools.Rejected, "no answer: bufio.Scanner: token too long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			a := newTerminalApprover(c.in, &out, c.interactive, "tester", func() time.Time { return t0 })
			got, err := a.Approve(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			want := tools.Approval{Binding: "b1", Status: c.status, Approver: "tester", Reason: c.reason, ExpiresAt: t0.Add(10 * time.Minute)}
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
			if ans, ok := a.answer("c1"); !ok || ans != got {
				t.Errorf("answer kept: %+v %t", ans, ok)
			}
			prompt := out.String()
			if c.interactive && c.in != nil {
				if !strings.Contains(prompt, `body: "line one\nline two \x1b[2J\a"`) || strings.ContainsAny(prompt, "\x1b\x07") {
					t.Errorf("the prompt does not quote the arguments safely:\n%s", prompt)
				}
			} else if prompt != "" {
				t.Errorf("prompted without a terminal: %q", prompt)
			}
		})
	}
}

func TestApproverCanceled(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	a := newTerminalApprover(r, &bytes.Buffer{}, true, "tester", time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Approve(ctx, &tools.ApprovalRequest{CallID: "c1", Binding: "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Approve on a canceled context: %v", err)
	}
	// The input is abandoned to the blocked read: later requests are
	// rejected, not read concurrently.
	got, err := a.Approve(context.Background(), &tools.ApprovalRequest{CallID: "c2", Binding: "b"})
	if err != nil || got.Status != tools.Rejected {
		t.Fatalf("after cancellation: %+v, %v", got, err)
	}
}

func TestSearchStaysInTenant(t *testing.T) {
	d := newDesk()
	for _, c := range []struct {
		tenant string
		args   searchArgs
		want   []string
	}{
		{"acme", searchArgs{Query: "invoice"}, []string{"acme-2", "acme-3"}},
		{"acme", searchArgs{Query: "INVOICE", Status: "open"}, []string{"acme-2"}},
		{"globex", searchArgs{Query: "invoice"}, []string{"globex-7"}},
		{"acme", searchArgs{Query: "initech admin"}, nil},
		{"initech", searchArgs{Query: "invoice"}, nil},
	} {
		ctx := tools.ContextWithPrincipal(context.Background(), llm.Principal{Tenant: c.tenant})
		res, err := d.search(ctx, c.args)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range res.Tickets {
			ids = append(ids, tk.ID)
		}
		if strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s searching %+v: %v, want %v", c.tenant, c.args, ids, c.want)
		}
	}
	if _, err := d.search(context.Background(), searchArgs{Query: "invoice"}); !errors.Is(err, errNoTenant) {
		t.Errorf("search without a principal: %v", err)
	}
}

// TestAuditTamperDetected: the verification at the end is not vacuous.
func TestAuditTamperDetected(t *testing.T) {
	_, _, _, dir := offlineRun(t, false, "")
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`"outcome":"denied"`), []byte(`"outcome":"ok"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatal("no denied outcome to edit")
	}
	if err := os.WriteFile(files[0], edited, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = verify(context.Background(), &out, dir, subKey(testKey, "audit-chain"), &checkpoints{})
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Kind != audit.TamperMAC {
		t.Fatalf("verify after an edit: %v", err)
	}
}

func TestSummarizeArgs(t *testing.T) {
	long := strings.Repeat("é", 1000)
	for _, c := range []struct {
		name, args string
		want       []string
	}{
		{"sorted and quoted", `{"to":"a@b.example","n":12.50,"ok":true,"x":null}`, []string{"n: 12.50", "ok: true", `to: "a@b.example"`, "x: null"}},
		{"nested", `{"items":[{"sku":"A\u001b"}]}`, []string{`items: "[{\"sku\":\"A\\u001b\"}]"`}},
		{"odd key", `{"a b\n":"v"}`, []string{`"a b\n": "v"`}},
		{"not an object", `["x"]`, []string{`arguments (not a JSON object): "[\"x\"]"`}},
		{"not JSON", "\x00{", []string{`arguments (not a JSON object): "\x00{"`}},
		{"null", `null`, []string{`arguments (not a JSON object): "null"`}},
		{"long value", `{"body":"` + long + `"}`, []string{`body: "` + strings.Repeat("é", (maxSummaryValue-len(`"…"`))/2) + `…" (2000 bytes)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := summarizeArgs([]byte(c.args))
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	var args strings.Builder
	args.WriteString("{")
	for i := range 30 {
		if i > 0 {
			args.WriteString(",")
		}
		args.WriteString(`"f` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	args.WriteString("}")
	got := summarizeArgs([]byte(args.String()))
	if len(got) != maxSummaryFields+1 || got[maxSummaryFields] != "(10 more fields not shown)" {
		t.Errorf("30 fields: %d lines, last %q", len(got), got[len(got)-1])
	}
}

// FuzzSummarizeArgs: whatever the model sends, the approval prompt gets
// bounded, printable, valid UTF-8 lines.
func FuzzSummarizeArgs(f *testing.F) {
	for _, s := range []string{`{"to":"a@b.example","body":"hi"}`, `{"a":[1,{"b":"\u001b[31m"}]}`, "\xff\xfe", `{"x":"` + strings.Repeat("\\n", 500) + `"}`, `"str"`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		lines := summarizeArgs(args)
		if len(lines) == 0 || len(lines) > maxSummaryFields+1 {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8: %q", l)
			}
			for _, r := range l {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Fatalf("control character %U in %q", r, l)
				}
			}
			// A quoted key (up to the cap) and a quoted value (up to the
			// cap), the separator and the length note.
			if len(l) > 2*maxSummaryValue+64 {
				t.Fatalf("line of %d bytes", len(l))
			}
		}
	})
}

func TestParseAuditKey(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int // key length; 0 for an error
	}{
		{strings.Repeat("ab", 32), 32},
		{" " + strings.Repeat("AB", 16) + "\n", 16},
		{strings.Repeat("ab", 15), 0},
		{strings.Repeat("zz", 32), 0},
		{"abc", 0},
	} {
		k, err := parseAuditKey(c.in)
		if len(k) != c.want || (err != nil) != (c.want == 0) {
			t.Errorf("parseAuditKey(%q) = %d bytes, %v", c.in, len(k), err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(c.in)) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	opts, err := optionsFromEnv(getenv)
	if err != nil || opts.model != nil || opts.auditKey != nil {
		t.Fatalf("empty environment: %+v, %v", opts, err)
	}
	// openai.New reads the key from the process environment, and makes no
	// network call.
	t.Setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
	env["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
	env["KEEL_AUDIT_KEY"] = strings.Repeat("0f", 32)
	opts, err = optionsFromEnv(getenv)
	if err != nil || opts.model == nil || opts.modelName != "gpt-4o-mini" || len(opts.auditKey) != 32 {
		t.Fatalf("with a key: %+v, %v", opts, err)
	}
	env["KEEL_MODEL"] = "gpt-4.1-mini"
	if opts, err = optionsFromEnv(getenv); err != nil || opts.modelName != "gpt-4.1-mini" {
		t.Fatalf("KEEL_MODEL: %q, %v", opts.modelName, err)
	}
	env["KEEL_AUDIT_KEY"] = "not hex"
	if _, err := optionsFromEnv(getenv); err == nil {
		t.Fatal("a bad KEEL_AUDIT_KEY was accepted")
	}
}

func TestIsTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, f := range []*os.File{null, file} {
		if isTerminal(f) {
			t.Errorf("%s counts as a terminal", f.Name())
		}
	}
}

// TestAuditDirContinued: a second run continues the log with the same key
// and is refused, with a hint, under another.
func TestAuditDirContinued(t *testing.T) {
	dir := t.TempDir()
	runIn := func(key []byte) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), &out, options{auditDir: dir, auditKey: key, approver: "test-approver"})
		return out.String(), err
	}
	if _, err := runIn(testKey); err != nil {
		t.Fatal(err)
	}
	n1 := len(readAudit(t, dir))
	out, err := runIn(testKey)
	if err != nil {
		t.Fatal(err)
	}
	n2 := len(readAudit(t, dir))
	if want := fmt.Sprintf("%d records verified (seq 1 to %d)", n2, n2); n2 != 2*n1 || !strings.Contains(out, want) {
		t.Errorf("after two runs of %d records: %d in the files, output:\n%s", n1, n2, out)
	}
	_, err = runIn(bytes.Repeat([]byte{0x6b}, 32))
	if !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "KEEL_AUDIT_KEY") {
		t.Fatalf("another key: %v", err)
	}
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Done.\n- acme-1\tresolved", "Done.\n- acme-1\tresolved"},
		{"\x1b[2Jcleared\a", "\uFFFD[2Jcleared\uFFFD"},
		{"bad \xff byte, C1 \u009b31m", "bad \uFFFD byte, C1 \uFFFD31m"},
		{"", ""},
	} {
		if got := printable(c.in); got != c.want {
			t.Errorf("printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzPrintable: the model's answer reaches the terminal without control
// characters other than line breaks and tabs.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;title\a", "\xff\xfe\u009b", "a\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Fatalf("control character %U in %q", r, got)
			}
		}
	})
}
