package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewErrors(t *testing.T) {
	ok := func(r Rule) Rule {
		if r.Tools == nil {
			r.Tools = []string{"t"}
		}
		return r
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no name", Config{Rules: []Rule{ok(Rule{Effect: Allow})}}, "rule 1: name: a rule needs a name"},
		{"duplicate name", Config{Rules: []Rule{ok(Rule{Name: "a"}), ok(Rule{Name: "b"}), ok(Rule{Name: "a"})}}, `rule "a": name already used by rule 1`},
		{"reserved name", Config{Rules: []Rule{ok(Rule{Name: RuleDefaultDeny})}}, "reserved"},
		{"name with spaces", Config{Rules: []Rule{ok(Rule{Name: " a"})}}, "leading or trailing space"},
		{"long name", Config{Rules: []Rule{ok(Rule{Name: strings.Repeat("n", 200)})}}, "longer than 128"},
		{"bad effect", Config{Rules: []Rule{ok(Rule{Name: "a", Effect: 7})}}, `rule "a": effect: invalid effect 7`},
		{"no tools", Config{Rules: []Rule{{Name: "a", Effect: Allow}}}, `rule "a": tools: a rule names its tools`},
		{"bad pattern", Config{Rules: []Rule{{Name: "a", Tools: []string{"x", "*crm"}}}}, `rule "a": tools[1]: "*crm"`},
		{"two stars", Config{Rules: []Rule{{Name: "a", Tools: []string{"a*b*"}}}}, "a prefix followed by one"},
		{"empty tool", Config{Rules: []Rule{{Name: "a", Tools: []string{" "}}}}, "empty tool name"},
		{"bad min risk", Config{Rules: []Rule{ok(Rule{Name: "a", MinRisk: 5})}}, "min_risk: invalid risk 5"},
		{"bad max risk", Config{Rules: []Rule{ok(Rule{Name: "a", MaxRisk: -1})}}, "max_risk: invalid risk -1"},
		{"risks reversed", Config{Rules: []Rule{ok(Rule{Name: "a", MinRisk: RiskExternal, MaxRisk: RiskRead})}}, "below min_risk"},
		{"empty role", Config{Rules: []Rule{ok(Rule{Name: "a", Roles: []string{"x", ""}})}}, `rule "a": roles[1]: empty value`},
		{"empty tenant", Config{Rules: []Rule{ok(Rule{Name: "a", Tenants: []string{""}})}}, "tenants[0]: empty value"},
		{"bad condition", Config{Rules: []Rule{ok(Rule{Name: "a", When: []string{"amount <= 100", "amount <== 100"}})}}, `rule "a": when[1]: "amount <== 100": at character 10: unexpected character '='`},
		{"unknown list", Config{Rules: []Rule{ok(Rule{Name: "a", When: []string{"x in lists.nope"}})}}, `rule "a": when[0]: "x in lists.nope": at character 12: unknown list "nope"`},
		{"bad list item", Config{Lists: map[string][]any{"l": {"a", []string{"b"}}}}, `list "l": item 1: []string is not a string`},
		{"NaN in list", Config{Lists: map[string][]any{"l": {1.0, nanValue()}}}, `list "l": item 1`},
		{"bad list name", Config{Lists: map[string][]any{"a.b": {"x"}}}, `list "a.b": a list name`},
		{"untrusted allow", Config{Untrusted: UntrustedConfig{Effect: Allow}}, "untrusted.effect: must be deny or approve"},
		{"untrusted bad risk", Config{Untrusted: UntrustedConfig{AboveRisk: 9}}, "untrusted.above_risk: invalid risk 9"},
		{"safe mode bad risk", Config{SafeMode: SafeModeConfig{AboveRisk: -2}}, "safe_mode.above_risk: invalid risk -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
		})
	}
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", "", "empty"},
		{"comment only", "# nothing\n", "empty"},
		{"not a mapping", "- a\n- b\n", "policy: line 1, column 1: expected a mapping, found a list"},
		{"unknown top field", "rules: []\nrulez: []\n", `policy: line 2, column 1: unknown field "rulez"`},
		{"unknown rule field", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    efect: deny\n", `line 5, column 5: rule "a": unknown field "efect"`},
		{"repeated field", "rules:\n  - name: a\n    effect: allow\n    effect: deny\n    tools: [t]\n", `line 4, column 5: rule "a": "effect" is repeated`},
		{"missing effect", "rules:\n  - name: a\n    tools: [t]\n", `line 2, column 5: rule "a": effect is required`},
		{"bad effect", "rules:\n  - name: a\n    effect: permit\n    tools: [t]\n", `line 3, column 13: rule "a": effect: unknown effect "permit"`},
		{"effect not a string", "rules:\n  - name: a\n    effect: [allow]\n    tools: [t]\n", "expected allow, deny or approve, found a list"},
		{"bad risk", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    max_risk: low\n", `line 5, column 15: rule "a": max_risk: unknown risk "low"`},
		{"tools not a list", "rules:\n  - name: a\n    effect: allow\n    tools: t\n", "tools: expected a list of strings, found a string"},
		{"numeric user", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    users: [1001]\n", `line 5, column 13: rule "a": users[0]: expected a string, found a number (quote it)`},
		{"rules not a list", "rules: {a: 1}\n", "rules: expected a list"},
		{"rule not a mapping", "rules: [a]\n", "rule 1: expected a mapping, found a string"},
		{"name not a string", "rules:\n  - name: [a]\n    effect: allow\n    tools: [t]\n", "rule 1: name: expected a string"},
		{"bad condition", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    when:\n      - amount <= 100\n      - amount <== 100\n", `policy: line 7, column 9: rule "a": when[1]: "amount <== 100": at character 10: unexpected character '='`},
		{"unknown list", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    when: [x in lists.nope]\n", `policy: line 5, column 12: rule "a": when[0]`},
		{"duplicate rule name", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n  - name: a\n    effect: deny\n    tools: [t]\n", `policy: line 5, column 11: rule "a": name already used by rule 1`},
		{"bad tool pattern", "rules:\n  - name: a\n    effect: allow\n    tools: [x, '*y']\n", `policy: line 4, column 16: rule "a": tools[1]`},
		{"reserved rule name", "rules:\n  - name: safe-mode\n    effect: allow\n    tools: [t]\n", `policy: line 2, column 11: rule "safe-mode": name: "safe-mode" is reserved`},
		{"unquoted ! condition", "rules:\n  - name: a\n    effect: allow\n    tools: [t]\n    when:\n      - !exists(x)\n", "must be quoted"},
		{"alias", "lists:\n  a: &x [1]\n  b: *x\n", "line 3, column 6: YAML aliases are not supported"},
		{"merge key", "untrusted: &u {effect: deny}\nsafe_mode:\n  <<: *u\n", "merge keys"},
		{"list of mappings", "lists:\n  a: [{b: 1}]\n", `list "a": item 0: expected a string, number, boolean or null, found a mapping`},
		{"list not a list", "lists:\n  a: b\n", `list "a": expected a list`},
		{"bad list name", "lists:\n  a.b: [1]\n", `policy: line 2, column 8: list "a.b"`},
		{"hex number", "lists:\n  a: [0x1F]\n", `number "0x1F": write numbers in decimal`},
		{"infinity", "lists:\n  a: [.inf]\n", "write numbers in decimal"},
		{"untrusted allow", "untrusted:\n  effect: allow\n", "policy: line 2, column 11: untrusted.effect: must be deny or approve"},
		{"untrusted unknown field", "untrusted:\n  level: read\n", `untrusted: unknown field "level"`},
		{"safe mode bad risk", "safe_mode:\n  above_risk: 3\n", "safe_mode.above_risk: expected read, write or external, found a number"},
		{"two documents", "rules: []\n---\nrules: []\n", "more than one YAML document"},
		{"syntax", "rules: [\n", "yaml:"},
		{"too deep", "lists:\n  a: " + strings.Repeat("[", 20) + strings.Repeat("]", 20) + "\n", "nested deeper"},
		{"too large", "# " + strings.Repeat("x", maxFileSize) + "\n", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", "", "unexpected end of JSON"},
		{"not an object", "[1]", "policy: line 1, column 1: expected a mapping, found a list"},
		{"syntax", "{\n  \"rules\": [,]\n}", "line 2, column 13: invalid character ','"},
		{"truncated", `{"rules": [`, "unexpected end of JSON"},
		{"trailing data", "{}\n{}", "line 2, column 1: data after the policy object"},
		{"unknown field", "{\n  \"rules\": [],\n  \"Rules\": []\n}", `policy: line 3, column 3: unknown field "Rules"`},
		{"repeated field", "{\"rules\": [], \"rules\": []}", `policy: line 1, column 15: "rules" is repeated`},
		{"unknown rule field", "{\"rules\": [\n {\"name\": \"a\", \"effect\": \"allow\", \"tools\": [\"t\"], \"tool\": \"x\"}]}", `line 2, column 51: rule "a": unknown field "tool"`},
		{"missing effect", "{\"rules\": [{\"name\": \"a\", \"tools\": [\"t\"]}]}", "effect is required"},
		{"effect case", "{\"rules\": [{\"name\": \"a\", \"Effect\": \"allow\", \"tools\": [\"t\"]}]}", `unknown field "Effect"`},
		{"bad condition", "{\"rules\": [\n  {\"name\": \"a\", \"effect\": \"allow\", \"tools\": [\"t\"],\n   \"when\": [\"amount <==\"]}]}", `policy: line 3, column 13: rule "a": when[0]`},
		{"invalid UTF-8", "{\"rules\": [\"\xff\"]}", "UTF-8"},
		{"too deep", `{"lists": {"a": ` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}`, "nested deeper"},
		{"list of objects", `{"lists": {"a": [{}]}}`, "found a mapping"},
		{"bad effect type", `{"rules": [{"name": "a", "effect": 1, "tools": ["t"]}]}`, "expected allow, deny or approve, found a number"},
		{"null name", `{"rules": [{"name": null, "effect": "allow", "tools": ["t"]}]}`, "name: expected a string, found null"},
		{"boolean risk", `{"safe_mode": {"above_risk": true}}`, "found a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestParseListValues checks that list items of every type reach
// conditions with their type: numbers stay exact.
func TestParseListValues(t *testing.T) {
	const doc = `
lists:
  codes: [1, 2.50, "3", true, null, 2024-05-01]
rules:
  - {name: n, effect: allow, tools: [t], when: [v in lists.codes]}
`
	p, err := ParseYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		v    any
		want Effect
	}{
		{1, Allow}, {2.5, Allow}, {"2.50", Deny}, {"3", Allow}, {3, Deny}, {true, Allow}, {false, Deny}, {nil, Allow}, {"2024-05-01", Allow},
	} {
		if d := p.Decide(&Input{Tool: "t", Risk: RiskRead, Args: map[string]any{"v": tt.v}}); d.Effect != tt.want {
			t.Errorf("%T %v: got %s", tt.v, tt.v, d)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const yamlDoc = "rules:\n  - {name: r, effect: allow, tools: [t]}\n"
	for _, name := range []string{"p.yaml", "p.YML"} {
		if _, err := LoadFile(write(name, yamlDoc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadFile(write("p.json", `{"rules": [{"name": "r", "effect": "allow", "tools": ["t"]}]}`)); err != nil {
		t.Errorf("p.json: %v", err)
	}
	if _, err := LoadFile(write("p.toml", yamlDoc)); err == nil || !strings.Contains(err.Error(), "unknown extension") {
		t.Errorf("p.toml: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := write("bad.yaml", "rules:\n  - {name: r, effect: allow, tools: [t], when: ['x <']}\n")
	if _, err := LoadFile(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": policy: line 2") {
		t.Errorf("bad.yaml: %v", err)
	}
	if _, err := LoadFile(write("big.json", `{"rules": []}`+strings.Repeat(" ", maxFileSize))); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big.json: %v", err)
	}
}

func TestDecodeArgs(t *testing.T) {
	v, err := DecodeArgs([]byte(`{"amount": 100.10}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(map[string]any)["amount"].(interface{ Float64() (float64, error) }); !ok {
		t.Fatalf("amount decoded as %T, want json.Number", v.(map[string]any)["amount"])
	}
	for _, bad := range []string{``, `{`, `{} {}`, `{"a": 1,}`} {
		if _, err := DecodeArgs([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
