package policy

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/keel-go/keel/llm"
)

// supportConfig is testdata/support.yaml written in Go.
func supportConfig() Config {
	return Config{
		Untrusted: UntrustedConfig{AboveRisk: RiskRead, Effect: Deny},
		SafeMode:  SafeModeConfig{AboveRisk: RiskRead},
		Lists: map[string][]any{
			"approved_recipients":  {"billing@acme.example", "ops@acme.example", "finance@globex.example"},
			"supported_currencies": {"EUR", "USD"},
			"vip_customers":        {1001, int64(1002), 1003.0},
		},
		Rules: []Rule{
			{Name: "suspended-users", Effect: Deny, Reason: "Suspended accounts may not use tools.", Tools: []string{"*"}, Roles: []string{"suspended"}},
			{Name: "read-tools", Effect: Allow, Tools: []string{"*"}, MaxRisk: RiskRead, When: []string{"exists(principal.tenant)"}},
			{Name: "trainee-writes", Effect: Approve, Reason: "A trainee's changes are reviewed.", Tools: []string{"*"}, MinRisk: RiskWrite, Roles: []string{"trainee"}},
			{Name: "ticket-update-own-tenant", Effect: Allow, Tools: []string{"update_ticket"}, Roles: []string{"agent", "trainee"}, When: []string{"ticket.tenant == principal.tenant"}},
			{Name: "refund-small", Effect: Allow, Tools: []string{"refund"}, Roles: []string{"support", "admin"},
				When: []string{"amount <= 100", "currency in lists.supported_currencies", "ticket.tenant == principal.tenant"}},
			{Name: "refund-large", Effect: Approve, Reason: "Refunds above 100 need a second pair of eyes.", Tools: []string{"refund"}, Roles: []string{"support", "admin"},
				When: []string{"amount > 100 && amount <= 5000", "ticket.tenant == principal.tenant"}},
			{Name: "refund-vip", Effect: Allow, Tools: []string{"refund"}, Roles: []string{"support"}, When: []string{"customer_id in lists.vip_customers", "amount <= 500"}},
			{Name: "refund-over-limit", Effect: Deny, Tools: []string{"refund"}, When: []string{"amount > 5000"}},
			{Name: "mail-approved-recipients", Effect: Allow, Tools: []string{"send_email"}, When: []string{"to in lists.approved_recipients"}},
			{Name: "mail-internal-needs-approval", Effect: Approve, Tools: []string{"send_email"}, When: []string{`to matches '[a-z.]+@acme\.example'`}},
			{Name: "delete-admins", Effect: Approve, Tools: []string{"delete_record"}, Tenants: []string{"acme"}, Roles: []string{"admin"}},
			{Name: "delete-production", Effect: Deny, Tools: []string{"delete_record"}, When: []string{"environment == 'production'"}},
			{Name: "export-globex-carol", Effect: Allow, Tools: []string{"export_report"}, Tenants: []string{"globex"}, Users: []string{"carol"}},
			{Name: "kb-editors", Effect: Allow, Tools: []string{"kb_publish"}, Groups: []string{"editors"}, When: []string{"title matches '[A-Z].*'", "!exists(draft_of)"}},
			{Name: "order-items", Effect: Allow, Tools: []string{"place_order"}, When: []string{
				"items[0].sku in ['A-1', 'B-2']",
				"quantity >= 1 && quantity <= 10",
				`(country == 'DE' || country == "FR") && (!exists(express) || express == false)`,
			}},
			{Name: "crm-tools", Effect: Allow, Tools: []string{"crm_*"}, Roles: []string{"sales"}, When: []string{"account.owner == principal.user"}},
			{Name: "transfer-internal", Effect: Allow, Tools: []string{"transfer"}, Roles: []string{"treasury"}, When: []string{"amount <= 100.00", "tags contains 'internal'"}},
		},
	}
}

var (
	alice     = llm.Principal{Tenant: "acme", User: "alice", Roles: []string{"support"}}
	bob       = llm.Principal{Tenant: "acme", User: "bob", Roles: []string{"agent"}}
	tina      = llm.Principal{Tenant: "acme", User: "tina", Roles: []string{"trainee"}}
	sam       = llm.Principal{Tenant: "acme", User: "sam", Roles: []string{"support", "suspended"}}
	root      = llm.Principal{Tenant: "acme", User: "root", Roles: []string{"admin"}}
	globexAdm = llm.Principal{Tenant: "globex", User: "gadmin", Roles: []string{"admin"}}
	carol     = llm.Principal{Tenant: "globex", User: "carol", Roles: []string{"analyst"}}
	dave      = llm.Principal{Tenant: "globex", User: "dave", Roles: []string{"analyst"}}
	acmeCarol = llm.Principal{Tenant: "acme", User: "carol", Roles: []string{"analyst"}}
	ed        = llm.Principal{Tenant: "acme", User: "ed", Groups: []string{"editors"}}
	sally     = llm.Principal{Tenant: "acme", User: "sally", Roles: []string{"sales"}}
	terry     = llm.Principal{Tenant: "acme", User: "terry", Roles: []string{"treasury"}}
	noTenant  = llm.Principal{User: "ghost", Roles: []string{"support"}}
	anonymous = llm.Principal{}
)

// args decodes JSON the way a tool layer does (numbers as json.Number).
func args(t testing.TB, s string) any {
	t.Helper()
	v, err := DecodeArgs([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type decideCase struct {
	name     string
	in       Input
	argsJSON string // decoded into in.Args when set
	effect   Effect
	rule     string
	reason   string // a substring of the reason, when set
}

func supportCases() []decideCase {
	refund := func(p llm.Principal, a any) Input {
		return Input{Principal: p, Tool: "refund", Risk: RiskExternal, Args: a}
	}
	refundJSON := func(p llm.Principal) Input { return Input{Principal: p, Tool: "refund", Risk: RiskExternal} }
	ticketArgs := func(amount any, tenant string) map[string]any {
		return map[string]any{"amount": amount, "currency": "EUR", "ticket": map[string]any{"id": "T-1", "tenant": tenant}}
	}
	mail := func(to any) Input {
		return Input{Principal: bob, Tool: "send_email", Risk: RiskExternal, Args: map[string]any{"to": to, "subject": "Invoice"}}
	}
	order := func(a string) decideCase {
		return decideCase{in: Input{Principal: bob, Tool: "place_order", Risk: RiskExternal}, argsJSON: a}
	}
	with := func(c decideCase, name string, effect Effect, rule string) decideCase {
		c.name, c.effect, c.rule = name, effect, rule
		return c
	}
	untrusted := func(in Input) Input { in.Untrusted = true; return in }
	safe := func(in Input) Input { in.SafeMode = true; return in }
	search := Input{Principal: alice, Tool: "search_docs", Risk: RiskRead, Args: map[string]any{"query": "reset password"}}

	return []decideCase{
		// Read-only tools and built-in decisions.
		{name: "read tool for a tenant", in: search, effect: Allow, rule: "read-tools"},
		{name: "read tool for an anonymous caller", in: Input{Principal: anonymous, Tool: "search_docs", Risk: RiskRead}, effect: Deny, rule: RuleDefaultDeny},
		{name: "read tool with untrusted content", in: untrusted(search), effect: Allow, rule: "read-tools"},
		{name: "read tool in safe mode", in: safe(search), effect: Allow, rule: "read-tools"},
		{name: "read tool without a declared risk counts as external", in: Input{Principal: alice, Tool: "search_docs"}, effect: Deny, rule: RuleDefaultDeny},
		{name: "undeclared risk in safe mode", in: safe(Input{Principal: alice, Tool: "search_docs"}), effect: Deny, rule: RuleSafeMode, reason: "this tool: external"},
		{name: "unknown tool", in: Input{Principal: root, Tool: "launch_missiles", Risk: RiskExternal}, effect: Deny, rule: RuleDefaultDeny},
		{name: "no tool name", in: Input{Principal: root, Risk: RiskRead}, effect: Deny, rule: RuleInvalidInput},
		{name: "suspended user", in: Input{Principal: sam, Tool: "search_docs", Risk: RiskRead}, effect: Deny, rule: "suspended-users", reason: "Suspended accounts"},

		// Argument constraints: amount <= 100 and friends, every number type.
		{name: "refund 50 in own tenant", in: refund(alice, ticketArgs(json.Number("50"), "acme")), effect: Allow, rule: "refund-small"},
		{name: "refund exactly 100", in: refundJSON(alice), argsJSON: `{"amount": 100, "currency": "USD", "ticket": {"tenant": "acme"}}`, effect: Allow, rule: "refund-small"},
		{name: "refund 100.0 is 100", in: refundJSON(alice), argsJSON: `{"amount": 100.0, "currency": "USD", "ticket": {"tenant": "acme"}}`, effect: Allow, rule: "refund-small"},
		{name: "refund 100.5 needs approval", in: refund(alice, ticketArgs(json.Number("100.5"), "acme")), effect: Approve, rule: "refund-large", reason: "second pair of eyes"},
		{name: "refund a hair above 100 is compared exactly", in: refund(alice, ticketArgs(json.Number("100.000000000000000001"), "acme")), effect: Approve, rule: "refund-large"},
		{name: "refund float64", in: refund(alice, ticketArgs(99.99, "acme")), effect: Allow, rule: "refund-small"},
		{name: "refund int", in: refund(alice, ticketArgs(100, "acme")), effect: Allow, rule: "refund-small"},
		{name: "refund int64 above 100", in: refund(alice, ticketArgs(int64(101), "acme")), effect: Approve, rule: "refund-large"},
		{name: "refund above the limit", in: refund(alice, ticketArgs(json.Number("6000"), "acme")), effect: Deny, rule: "refund-over-limit"},
		{name: "refund in exponent form above the limit", in: refund(alice, ticketArgs(json.Number("6e3"), "acme")), effect: Deny, rule: "refund-over-limit"},
		{name: "refund amount as a string", in: refund(alice, ticketArgs("50", "acme")), effect: Deny, rule: RuleDefaultDeny},
		{name: "refund without an amount", in: refund(alice, map[string]any{"currency": "EUR", "ticket": map[string]any{"tenant": "acme"}}), effect: Deny, rule: RuleDefaultDeny},
		{name: "refund in an unsupported currency", in: refundJSON(alice), argsJSON: `{"amount": 10, "currency": "GBP", "ticket": {"tenant": "acme"}}`, effect: Deny, rule: RuleDefaultDeny},
		{name: "refund by an admin", in: refund(root, ticketArgs(json.Number("20"), "acme")), effect: Allow, rule: "refund-small"},
		{name: "refund by a role without refunds", in: refund(bob, ticketArgs(json.Number("20"), "acme")), effect: Deny, rule: RuleDefaultDeny},
		{name: "refund of a VIP: approve beats allow", in: refundJSON(alice), argsJSON: `{"amount": 300, "currency": "EUR", "customer_id": 1002, "ticket": {"tenant": "acme"}}`, effect: Approve, rule: "refund-large"},
		{name: "refund of a VIP outside the ticket rules", in: refundJSON(alice), argsJSON: `{"amount": 300, "customer_id": 1003.0}`, effect: Allow, rule: "refund-vip"},

		// Tenants: ticket.tenant == principal.tenant.
		{name: "refund of another tenant's ticket", in: refund(alice, ticketArgs(json.Number("50"), "globex")), effect: Deny, rule: RuleDefaultDeny},
		{name: "refund without a ticket", in: refund(alice, map[string]any{"amount": json.Number("50"), "currency": "EUR"}), effect: Deny, rule: RuleDefaultDeny},
		{name: "principal without a tenant never equals an empty tenant", in: refund(noTenant, ticketArgs(json.Number("50"), "")), effect: Deny, rule: RuleDefaultDeny},
		{name: "update own tenant's ticket", in: Input{Principal: bob, Tool: "update_ticket", Risk: RiskWrite, Args: map[string]any{"ticket": map[string]any{"tenant": "acme"}}}, effect: Allow, rule: "ticket-update-own-tenant"},
		{name: "update another tenant's ticket", in: Input{Principal: bob, Tool: "update_ticket", Risk: RiskWrite, Args: map[string]any{"ticket": map[string]any{"tenant": "globex"}}}, effect: Deny, rule: RuleDefaultDeny},
		{name: "delete by an admin of the tenant", in: Input{Principal: root, Tool: "delete_record", Risk: RiskExternal, Args: map[string]any{"environment": "staging"}}, effect: Approve, rule: "delete-admins"},
		{name: "delete by an admin of another tenant", in: Input{Principal: globexAdm, Tool: "delete_record", Risk: RiskExternal, Args: map[string]any{"environment": "staging"}}, effect: Deny, rule: RuleDefaultDeny},
		{name: "export for the named user and tenant", in: Input{Principal: carol, Tool: "export_report", Risk: RiskWrite}, effect: Allow, rule: "export-globex-carol"},
		{name: "export for another user of the tenant", in: Input{Principal: dave, Tool: "export_report", Risk: RiskWrite}, effect: Deny, rule: RuleDefaultDeny},
		{name: "export for the user name in another tenant", in: Input{Principal: acmeCarol, Tool: "export_report", Risk: RiskWrite}, effect: Deny, rule: RuleDefaultDeny},

		// Roles, groups and precedence between matching rules.
		{name: "trainee update: approve beats allow", in: Input{Principal: tina, Tool: "update_ticket", Risk: RiskWrite, Args: map[string]any{"ticket": map[string]any{"tenant": "acme"}}}, effect: Approve, rule: "trainee-writes"},
		{name: "trainee on a tool no other rule covers", in: Input{Principal: tina, Tool: "draft_reply", Risk: RiskWrite}, effect: Approve, rule: "trainee-writes"},
		{name: "suspended support: deny beats allow", in: refund(sam, ticketArgs(json.Number("10"), "acme")), effect: Deny, rule: "suspended-users"},
		{name: "delete in production: deny beats approve", in: Input{Principal: root, Tool: "delete_record", Risk: RiskExternal, Args: map[string]any{"environment": "production"}}, effect: Deny, rule: "delete-production"},
		{name: "publisher in the editors group", in: Input{Principal: ed, Tool: "kb_publish", Risk: RiskWrite, Args: map[string]any{"title": "Release notes"}}, effect: Allow, rule: "kb-editors"},
		{name: "publisher title must match the whole pattern", in: Input{Principal: ed, Tool: "kb_publish", Risk: RiskWrite, Args: map[string]any{"title": "release notes"}}, effect: Deny, rule: RuleDefaultDeny},
		{name: "publishing a draft", in: Input{Principal: ed, Tool: "kb_publish", Risk: RiskWrite, Args: map[string]any{"title": "Notes", "draft_of": nil}}, effect: Deny, rule: RuleDefaultDeny},
		{name: "crm prefix pattern", in: Input{Principal: sally, Tool: "crm_update_contact", Risk: RiskWrite, Args: map[string]any{"account": map[string]any{"owner": "sally"}}}, effect: Allow, rule: "crm-tools"},
		{name: "crm account of someone else", in: Input{Principal: sally, Tool: "crm_update_contact", Risk: RiskWrite, Args: map[string]any{"account": map[string]any{"owner": "bob"}}}, effect: Deny, rule: RuleDefaultDeny},

		// Lists: recipient in an allow-list, arrays, anchored patterns.
		{name: "mail to an approved recipient", in: mail("finance@globex.example"), effect: Allow, rule: "mail-approved-recipients"},
		{name: "mail to an approved internal address: approve beats allow", in: mail("billing@acme.example"), effect: Approve, rule: "mail-internal-needs-approval"},
		{name: "mail to another internal address", in: mail("someone@acme.example"), effect: Approve, rule: "mail-internal-needs-approval"},
		{name: "mail to a look-alike domain", in: mail("billing@acme.example.evil.example"), effect: Deny, rule: RuleDefaultDeny},
		{name: "mail to an outside recipient", in: mail("attacker@evil.example"), effect: Deny, rule: RuleDefaultDeny},
		{name: "mail to several approved recipients", in: mail([]any{"finance@globex.example", "ops@acme.example"}), effect: Allow, rule: "mail-approved-recipients"},
		{name: "mail to one approved and one outside recipient", in: mail([]any{"finance@globex.example", "attacker@evil.example"}), effect: Deny, rule: RuleDefaultDeny},
		{name: "mail to nobody", in: mail([]any{}), effect: Deny, rule: RuleDefaultDeny},

		// Array indexes, && || ! and parentheses.
		with(order(`{"items": [{"sku": "A-1"}], "quantity": 3, "country": "DE"}`), "order within limits", Allow, "order-items"),
		with(order(`{"items": [{"sku": "B-2"}, {"sku": "Z-9"}], "quantity": 10, "country": "FR", "express": false}`), "order checks the first item only", Allow, "order-items"),
		with(order(`{"items": [{"sku": "A-1"}], "quantity": 3, "country": "US"}`), "order to another country", Deny, RuleDefaultDeny),
		with(order(`{"items": [{"sku": "A-1"}], "quantity": 3, "country": "DE", "express": true}`), "express order", Deny, RuleDefaultDeny),
		with(order(`{"items": [{"sku": "A-1"}], "quantity": 11, "country": "DE"}`), "order too large", Deny, RuleDefaultDeny),
		with(order(`{"items": [], "quantity": 1, "country": "DE"}`), "order without items", Deny, RuleDefaultDeny),
		{name: "transfer of exactly 100.00", in: Input{Principal: terry, Tool: "transfer", Risk: RiskExternal}, argsJSON: `{"amount": 100.00, "tags": ["internal", "q3"]}`, effect: Allow, rule: "transfer-internal"},
		{name: "transfer a hair above 100 (equal as float64)", in: Input{Principal: terry, Tool: "transfer", Risk: RiskExternal}, argsJSON: `{"amount": 100.0000000000000001, "tags": ["internal"]}`, effect: Deny, rule: RuleDefaultDeny},
		{name: "transfer without the tag", in: Input{Principal: terry, Tool: "transfer", Risk: RiskExternal}, argsJSON: `{"amount": 1, "tags": ["external"]}`, effect: Deny, rule: RuleDefaultDeny},

		// Provenance: untrusted content tightens, never loosens.
		{name: "untrusted: allowed refund is denied", in: untrusted(refund(alice, ticketArgs(json.Number("50"), "acme"))), effect: Deny, rule: RuleUntrusted, reason: `overrides rule "refund-small" (allow)`},
		{name: "untrusted: refund needing approval is denied", in: untrusted(refund(alice, ticketArgs(json.Number("300"), "acme"))), effect: Deny, rule: RuleUntrusted, reason: `overrides rule "refund-large" (approve)`},
		{name: "untrusted: a deny keeps its rule", in: untrusted(refund(alice, ticketArgs(json.Number("6000"), "acme"))), effect: Deny, rule: "refund-over-limit"},
		{name: "untrusted: nothing matched is still default deny", in: untrusted(mail("attacker@evil.example")), effect: Deny, rule: RuleDefaultDeny},
		{name: "untrusted: write tool for a trainee", in: untrusted(Input{Principal: tina, Tool: "draft_reply", Risk: RiskWrite}), effect: Deny, rule: RuleUntrusted, reason: "trainee-writes"},

		// Safe mode comes first.
		{name: "safe mode: refund refused", in: safe(refund(alice, ticketArgs(json.Number("50"), "acme"))), effect: Deny, rule: RuleSafeMode, reason: "above read"},
		{name: "safe mode: before a matching deny rule", in: safe(refund(alice, ticketArgs(json.Number("6000"), "acme"))), effect: Deny, rule: RuleSafeMode},
		{name: "safe mode and untrusted: safe mode decides", in: safe(untrusted(refund(alice, ticketArgs(json.Number("50"), "acme")))), effect: Deny, rule: RuleSafeMode},
	}
}

func loadSupport(t testing.TB) map[string]*Policy {
	t.Helper()
	out := map[string]*Policy{}
	for _, f := range []string{"testdata/support.yaml", "testdata/support.json"} {
		p, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = p
	}
	p, err := New(supportConfig())
	if err != nil {
		t.Fatal(err)
	}
	out["Go"] = p
	return out
}

// TestDecideTable runs every case against the YAML, JSON and Go forms of
// the same policy.
func TestDecideTable(t *testing.T) {
	cases := supportCases()
	if len(cases) < 40 {
		t.Fatalf("the table has %d cases; the issue asks for at least 40", len(cases))
	}
	for form, p := range loadSupport(t) {
		for _, c := range cases {
			t.Run(form+"/"+c.name, func(t *testing.T) {
				in := c.in
				if c.argsJSON != "" {
					in.Args = args(t, c.argsJSON)
				}
				d := p.Decide(&in)
				if d.Effect != c.effect || d.Rule != c.rule {
					t.Fatalf("got %s, want %s (%s)", d, c.effect, c.rule)
				}
				if !strings.Contains(d.Reason, c.reason) {
					t.Fatalf("reason %q does not mention %q", d.Reason, c.reason)
				}
			})
		}
	}
}

func TestDecideNilInput(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(nil); d.Effect != Deny || d.Rule != RuleInvalidInput {
		t.Fatalf("got %s", d)
	}
	if d := p.Decide(&Input{Tool: "x", Risk: RiskRead}); d.Effect != Deny || d.Rule != RuleDefaultDeny {
		t.Fatalf("empty policy: got %s", d)
	}
}

// TestUntrustedAndSafeModeSettings covers the other settings of the two
// context constraints.
func TestUntrustedAndSafeModeSettings(t *testing.T) {
	rules := []Rule{
		{Name: "notes", Effect: Allow, Tools: []string{"add_note"}},
		{Name: "pay", Effect: Allow, Tools: []string{"pay"}},
		{Name: "pay-big", Effect: Approve, Tools: []string{"pay"}, When: []string{"amount > 10"}},
		{Name: "search", Effect: Allow, Tools: []string{"search"}},
	}
	type step struct {
		tool      string
		risk      Risk
		amount    int
		untrusted bool
		safe      bool
		effect    Effect
		rule      string
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "untrusted needs approval",
			cfg:  Config{Untrusted: UntrustedConfig{Effect: Approve}},
			steps: []step{
				{tool: "add_note", risk: RiskWrite, untrusted: true, effect: Approve, rule: RuleUntrusted},
				{tool: "pay", risk: RiskExternal, amount: 5, untrusted: true, effect: Approve, rule: RuleUntrusted},
				{tool: "pay", risk: RiskExternal, amount: 50, untrusted: true, effect: Approve, rule: "pay-big"},
				{tool: "search", risk: RiskRead, untrusted: true, effect: Allow, rule: "search"},
				{tool: "pay", risk: RiskExternal, amount: 5, effect: Allow, rule: "pay"},
			},
		},
		{
			name: "untrusted constrains only external tools",
			cfg:  Config{Untrusted: UntrustedConfig{AboveRisk: RiskWrite}},
			steps: []step{
				{tool: "add_note", risk: RiskWrite, untrusted: true, effect: Allow, rule: "notes"},
				{tool: "pay", risk: RiskExternal, amount: 5, untrusted: true, effect: Deny, rule: RuleUntrusted},
			},
		},
		{
			name: "untrusted constraint off",
			cfg:  Config{Untrusted: UntrustedConfig{AboveRisk: RiskExternal}},
			steps: []step{
				{tool: "pay", risk: RiskExternal, amount: 5, untrusted: true, effect: Allow, rule: "pay"},
				{tool: "pay", risk: 0, amount: 5, untrusted: true, effect: Allow, rule: "pay"},
			},
		},
		{
			name: "safe mode refuses only external tools",
			cfg:  Config{SafeMode: SafeModeConfig{AboveRisk: RiskWrite}},
			steps: []step{
				{tool: "add_note", risk: RiskWrite, safe: true, effect: Allow, rule: "notes"},
				{tool: "pay", risk: RiskExternal, amount: 5, safe: true, effect: Deny, rule: RuleSafeMode},
				{tool: "pay", risk: RiskExternal, amount: 5, effect: Allow, rule: "pay"},
			},
		},
		{
			name: "safe mode with the default level",
			cfg:  Config{},
			steps: []step{
				{tool: "add_note", risk: RiskWrite, safe: true, effect: Deny, rule: RuleSafeMode},
				{tool: "search", risk: RiskRead, safe: true, effect: Allow, rule: "search"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Rules = rules
			p, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				d := p.Decide(&Input{Tool: s.tool, Risk: s.risk, Args: map[string]any{"amount": s.amount}, Untrusted: s.untrusted, SafeMode: s.safe})
				if d.Effect != s.effect || d.Rule != s.rule {
					t.Errorf("step %d (%s): got %s, want %s (%s)", i, s.tool, d, s.effect, s.rule)
				}
			}
		})
	}
}

// TestFirstRuleOfWinningEffectDecides checks the naming half of the
// precedence: several rules of the winning effect match, the first in
// order is named, whatever the order of the effects.
func TestFirstRuleOfWinningEffectDecides(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		rule  string
	}{
		{"allows only", []Rule{
			{Name: "a1", Effect: Allow, Tools: []string{"*"}},
			{Name: "a2", Effect: Allow, Tools: []string{"t"}},
		}, "a1"},
		{"approve after allow", []Rule{
			{Name: "a1", Effect: Allow, Tools: []string{"t"}},
			{Name: "p1", Effect: Approve, Tools: []string{"t*"}},
			{Name: "p2", Effect: Approve, Tools: []string{"t"}},
		}, "p1"},
		{"deny last", []Rule{
			{Name: "p1", Effect: Approve, Tools: []string{"t"}},
			{Name: "a1", Effect: Allow, Tools: []string{"t"}},
			{Name: "d1", Effect: Deny, Tools: []string{"*"}},
			{Name: "d2", Effect: Deny, Tools: []string{"t"}},
		}, "d1"},
		{"non-matching deny is ignored", []Rule{
			{Name: "d1", Effect: Deny, Tools: []string{"t"}, When: []string{"x == 2"}},
			{Name: "a1", Effect: Allow, Tools: []string{"t"}, When: []string{"x == 1"}},
		}, "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{Rules: tt.rules})
			if err != nil {
				t.Fatal(err)
			}
			for _, tool := range []string{"t", "t"} {
				d := p.Decide(&Input{Tool: tool, Risk: RiskRead, Args: map[string]any{"x": 1}})
				if d.Rule != tt.rule {
					t.Fatalf("got %s, want rule %s", d, tt.rule)
				}
			}
		})
	}
}

// TestDecideConcurrent shares one Policy between goroutines (run with
// -race).
func TestDecideConcurrent(t *testing.T) {
	p := loadSupport(t)["Go"]
	cases := supportCases()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := cases[(g+i)%len(cases)]
				if c.argsJSON != "" {
					continue
				}
				in := c.in
				if d := p.Decide(&in); d.Effect != c.effect || d.Rule != c.rule {
					t.Errorf("%s: got %s", c.name, d)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestPolicyKeepsNoReferenceToConfig changes the Config after New: the
// compiled policy must not see it.
func TestPolicyKeepsNoReferenceToConfig(t *testing.T) {
	cfg := Config{
		Lists: map[string][]any{"ok": {"a"}},
		Rules: []Rule{{Name: "r", Effect: Allow, Tools: []string{"t"}, Tenants: []string{"acme"}, When: []string{"v in lists.ok"}}},
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Lists["ok"][0] = "b"
	cfg.Rules[0].Tenants[0] = "globex"
	cfg.Rules[0].Tools[0] = "u"
	cfg.Rules[0].Effect = Deny
	d := p.Decide(&Input{Principal: llm.Principal{Tenant: "acme"}, Tool: "t", Risk: RiskRead, Args: map[string]any{"v": "a"}})
	if d.Effect != Allow || d.Rule != "r" {
		t.Fatalf("got %s", d)
	}
}

func TestDecisionString(t *testing.T) {
	d := Decision{Effect: Approve, Rule: "r", Reason: "because"}
	if got := d.String(); got != "approve (r): because" {
		t.Fatalf("got %q", got)
	}
}
