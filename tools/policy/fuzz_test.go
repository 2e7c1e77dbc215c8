package policy

import (
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
)

// fuzzInputs are calls evaluated against whatever the fuzzer compiles, so
// that evaluation is fuzzed as well as parsing.
func fuzzInputs(t testing.TB) []Input {
	a := args(t, `{"amount": 100.5, "n": -3, "s": "Ada", "ok": true, "z": null,
		"ticket": {"tenant": "acme", "tags": ["a", "b"]}, "items": [{"sku": "A-1"}, 2, [3]], "e": []}`)
	p := llm.Principal{Tenant: "acme", User: "ada", Roles: []string{"admin"}, Groups: []string{"g"}}
	return []Input{
		{Principal: p, Tool: "refund", Risk: RiskExternal, Args: a},
		{Principal: p, Tool: "crm_x", Risk: RiskRead, Args: a, Untrusted: true},
		{Tool: "refund", Args: map[string]any{"amount": 1.5, "s": []string{"x"}, "ticket": "flat"}, SafeMode: true},
		{Tool: "t", Args: nil},
	}
}

// FuzzParseCondition compiles arbitrary conditions: an error or a
// condition, never a panic, and a compiled condition evaluates to one of
// the three results on any input.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"amount <= 100", "ticket.tenant == principal.tenant", "recipient in lists.l",
		"items[0].sku in ['A-1', \"B-2\", 3, true, null]", "!(a > 1) && (b < 2 || c != 'x')",
		"tags contains 'x'", "s matches '[A-Z].*'", "exists(args['first-name'])", "x not in []",
		"principal.roles contains 'admin'", "tool == 'refund'", "n >= -1.5e3", "'x' in principal.groups",
		"a == 1)", "((((", "x == 'unterminated", "x[99999999999] == 1", "\xff", "-", "1e", "a.b.c.d[0][1]['k'] == 0",
	} {
		f.Add(s)
	}
	lists := testLists(f)
	inputs := fuzzInputs(f)
	f.Fuzz(func(t *testing.T, cond string) {
		e, err := parseCondition(cond, lists)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for i := range inputs {
			if got := e.eval(&inputs[i]); got > triUnknown {
				t.Fatalf("eval returned %d", got)
			}
		}
	})
}

// The seeds are small policies that use every field: the fuzzer mutates
// and minimizes them much faster than the full test policies.
const seedYAML = `untrusted: {above_risk: write, effect: approve}
safe_mode: {above_risk: read}
lists:
  r: [a@x.example, 1, 2.5, true, null]
rules:
  - name: a
    effect: allow
    reason: why
    tools: [refund, crm_*]
    min_risk: read
    max_risk: external
    tenants: [acme]
    users: [ada]
    roles: [admin]
    groups: [g]
    when: [amount <= 100, s in lists.r, "!exists(z) || ticket.tenant == principal.tenant"]
  - {name: b, effect: deny, tools: ["*"], when: ["s matches '[A-Z].*'"]}
`

const seedJSON = `{"untrusted": {"above_risk": "write", "effect": "approve"},
"safe_mode": {"above_risk": "read"},
"lists": {"r": ["a@x.example", 1, 2.5, true, null]},
"rules": [
 {"name": "a", "effect": "allow", "reason": "why", "tools": ["refund", "crm_*"],
  "min_risk": "read", "max_risk": "external", "tenants": ["acme"], "users": ["ada"],
  "roles": ["admin"], "groups": ["g"],
  "when": ["amount <= 100", "s in lists.r", "!exists(z) || ticket.tenant == principal.tenant"]},
 {"name": "b", "effect": "deny", "tools": ["*"], "when": ["s matches '[A-Z].*'"]}]}`

func checkParsed(t *testing.T, p *Policy, err error, inputs []Input) {
	if err != nil {
		if !strings.HasPrefix(err.Error(), "policy: ") {
			t.Fatalf("error without the package prefix: %v", err)
		}
		return
	}
	for i := range inputs {
		d := p.Decide(&inputs[i])
		if d.Rule == "" || d.Reason == "" || !d.Effect.valid() {
			t.Fatalf("incomplete decision %+v", d)
		}
	}
}

// FuzzParseYAML loads arbitrary YAML: an error or a policy that decides.
func FuzzParseYAML(f *testing.F) {
	f.Add([]byte(seedYAML))
	f.Add([]byte(strings.Replace(seedYAML, "<=", "<==", 1)))
	f.Add([]byte("lists:\n  a: &x [1]\n  b: *x\n"))
	f.Add([]byte("rules:\n  - {name: a, effect: allow, tools: ['*'], when: ['x in [1, 2]']}\n"))
	inputs := fuzzInputs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseYAML(data)
		checkParsed(t, p, err, inputs)
	})
}

// FuzzParseJSON loads arbitrary JSON: an error or a policy that decides.
func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(seedJSON))
	f.Add([]byte(strings.Replace(seedJSON, "allow", "alow", 1)))
	f.Add([]byte(`{"rules": [{"name": "a", "effect": "approve", "tools": ["crm_*"], "when": ["exists(x)"]}]}`))
	f.Add([]byte(`{"lists": {"a": [1, "x", true, null]}, "rules": []}`))
	inputs := fuzzInputs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseJSON(data)
		checkParsed(t, p, err, inputs)
	})
}
