package policy

import (
	"fmt"
	"testing"

	"github.com/keel-go/keel/llm"
)

// benchTools are the 20 tools of the benchmark policy.
var benchTools = [...]string{
	"refund", "send_email", "update_ticket", "close_ticket", "create_invoice",
	"void_invoice", "transfer", "place_order", "cancel_order", "ship_order",
	"add_note", "assign_ticket", "export_report", "delete_record", "kb_publish",
	"schedule_call", "issue_coupon", "change_plan", "reset_password", "merge_accounts",
}

// benchConfig is a policy of 100 rules: two that cover every tool and
// five per tool (four for the last two) with one to three argument
// conditions each.
func benchConfig() Config {
	cfg := Config{
		Lists: map[string][]any{
			"currencies":          {"EUR", "USD", "GBP", "CHF"},
			"approved_recipients": {"billing@acme.example", "ops@acme.example", "finance@globex.example", "support@initech.example", "ap@umbrella.example", "legal@acme.example", "cfo@globex.example", "payables@initech.example", "treasury@umbrella.example", "audit@acme.example"},
		},
		Rules: []Rule{
			{Name: "suspended", Effect: Deny, Tools: []string{"*"}, Roles: []string{"suspended"}},
			{Name: "read-only", Effect: Allow, Tools: []string{"*"}, MaxRisk: RiskRead, When: []string{"exists(principal.tenant)"}},
		},
	}
	for _, tool := range benchTools {
		for _, r := range []Rule{
			{Name: tool + "-small", Effect: Allow, Roles: []string{"support", "admin"},
				When: []string{"amount <= 100", "currency in lists.currencies", "ticket.tenant == principal.tenant"}},
			{Name: tool + "-known-recipient", Effect: Allow,
				When: []string{"recipient in lists.approved_recipients", "items[0].sku matches 'SKU-[0-9]+'"}},
			{Name: tool + "-over-limit", Effect: Deny, When: []string{"amount > 5000"}},
			{Name: tool + "-large", Effect: Approve, Roles: []string{"support", "admin"},
				When: []string{"amount > 100 && amount <= 5000", "ticket.tenant == principal.tenant"}},
			{Name: tool + "-trainee", Effect: Approve, Tenants: []string{"acme", "globex"},
				When: []string{"principal.roles contains 'trainee'"}},
		} {
			if len(cfg.Rules) == 100 {
				break
			}
			r.Tools = []string{tool}
			cfg.Rules = append(cfg.Rules, r)
		}
	}
	return cfg
}

// benchInputs are refunds decided by four different rules.
func benchInputs(b *testing.B) ([]Input, []string) {
	agent := llm.Principal{Tenant: "acme", User: "u-1042", Roles: []string{"support"}, Groups: []string{"emea"}}
	call := func(amount, tenant string) Input {
		return Input{Principal: agent, Tool: "refund", Risk: RiskExternal, Args: args(b, fmt.Sprintf(`{
			"amount": %s, "currency": "EUR", "recipient": "billing@acme.example",
			"ticket": {"id": "T-1042", "tenant": %q, "priority": "high"},
			"items": [{"sku": "SKU-1001", "qty": 2}, {"sku": "SKU-2002", "qty": 1}],
			"note": "Customer reports a double charge on the March invoice."}`, amount, tenant))}
	}
	return []Input{call("42.50", "acme"), call("250", "acme"), call("6000", "acme"), call("42.50", "globex")},
		[]string{"refund-small", "refund-large", "refund-over-limit", "refund-known-recipient"}
}

func BenchmarkPolicyDecide(b *testing.B) {
	cfg := benchConfig()
	if len(cfg.Rules) != 100 {
		b.Fatalf("%d rules", len(cfg.Rules))
	}
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	inputs, rules := benchInputs(b)
	for i := range inputs {
		if d := p.Decide(&inputs[i]); d.Rule != rules[i] {
			b.Fatalf("input %d: got %s, want rule %s", i, d, rules[i])
		}
	}
	b.ReportAllocs()
	var d Decision
	for i := 0; b.Loop(); i++ {
		d = p.Decide(&inputs[i%len(inputs)])
	}
	_ = d
}

func BenchmarkParseCondition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseCondition("(amount > 100 && amount <= 5000) || ticket.tenant == principal.tenant", nil); err != nil {
			b.Fatal(err)
		}
	}
}
