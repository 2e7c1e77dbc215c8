package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
)

func testLists(t testing.TB) map[string]*valueSet {
	t.Helper()
	lists := map[string]*valueSet{}
	for name, items := range map[string][]any{
		"recipients": {"a@x.example", "b@x.example"},
		"many":       {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10"},
		"codes":      {json.Number("1"), 2, 3.5, true, nil},
	} {
		s, err := newValueSet(items)
		if err != nil {
			t.Fatal(err)
		}
		lists[name] = s
	}
	return lists
}

// TestConditionEval checks the value of conditions, including the
// unknown results that keep allow rules closed.
func TestConditionEval(t *testing.T) {
	const T, F, U = triTrue, triFalse, triUnknown
	argsJSON := `{
		"amount": 100, "price": 19.99, "big": 1e400, "neg": -5, "zero": 0,
		"huge": 123456789012345678901234567890,
		"name": "Ada", "email": "ada@x.example", "date": "2024-05-01",
		"ok": true, "nothing": null,
		"ticket": {"tenant": "acme", "id": "T-7", "tags": ["vip", "eu"]},
		"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
		"to": ["a@x.example", "b@x.example"],
		"mixed": ["a@x.example", "z@x.example"],
		"nums": [1, 2.50, 3],
		"code": "s9", "first-name": "Ada", "in": "keyword", "tool": "arg-tool"
	}`
	a := args(t, argsJSON)
	pr := llm.Principal{Tenant: "acme", User: "ada", Roles: []string{"admin", "support"}, Groups: []string{"eng"}}
	tests := []struct {
		cond string
		want tri
	}{
		// Numbers, exactly.
		{"amount <= 100", T},
		{"amount < 100", F},
		{"amount == 100.0", T},
		{"amount == 1e2", T},
		{"amount != 100", F},
		{"100 >= amount", T},
		{"price > 19.98", T},
		{"price == 19.99", T},
		{"big > 1e399", T},
		{"neg < 0", T},
		{"neg < -5.0000001", F},
		{"zero == -0", T},
		{"huge > 123456789012345678901234567889", T},
		{"huge == 123456789012345678901234567890", T},
		{"nums[1] == 2.5", T},
		// Strings.
		{"name == 'Ada'", T},
		{`name == "Ada"`, T},
		{"name != 'ada'", T},
		{"date >= '2024-01-01' && date < '2025-01-01'", T},
		{"name == 5", F},
		{"name != 5", T},
		{"name < 5", U},
		{"amount < 'x'", U},
		// Booleans and null.
		{"ok == true", T},
		{"ok != false", T},
		{"nothing == null", T},
		{"exists(nothing)", T},
		{"nothing == 0", F},
		// Paths.
		{"ticket.tenant == principal.tenant", T},
		{"ticket['tenant'] == 'acme'", T},
		{"args.ticket.id == 'T-7'", T},
		{"items[0].sku == 'A-1'", T},
		{"items[1].qty == 1", T},
		{"items[2].sku == 'A-1'", U},
		{"items.sku == 'A-1'", U},
		{"ticket[0] == 'acme'", U},
		{"first-name == 'Ada'", T},
		{"args.in == 'keyword'", T},
		{"args.tool == 'arg-tool'", T},
		{"tool == 'my_tool'", T},
		// Missing values are unknown, also under ! and !=.
		{"missing == 1", U},
		{"missing != 1", U},
		{"!(missing > 100)", U},
		{"!(missing > 100) || amount == 100", T},
		{"missing > 100 && amount == 1", F},
		{"missing > 100 || amount == 1", U},
		{"!exists(missing)", T},
		{"exists(ticket.id)", T},
		{"exists(ticket.nope)", F},
		// Membership.
		{"email in ['ada@x.example', 'b@x.example']", T},
		{"email not in ['b@x.example']", T},
		{"email in lists.recipients", F},
		{"to in lists.recipients", T},
		{"to not in lists.recipients", F},
		{"mixed in lists.recipients", F},
		{"mixed not in lists.recipients", F},
		{"code in lists.many", T},
		{"name in lists.many", F},
		{"amount in [1, 100.0]", T},
		{"nums[2] in lists.codes", F},
		{"nums[0] in lists.codes", T},
		{"ok in lists.codes", T},
		{"nothing in lists.codes", T},
		{"'vip' in ticket.tags", T},
		{"'admin' in principal.roles", T},
		{"'eng' not in principal.groups", F},
		{"ticket in lists.recipients", U},
		{"missing in lists.recipients", U},
		{"'vip' in missing", U},
		{"'vip' in name", U},
		// contains and matches.
		{"ticket.tags contains 'eu'", T},
		{"ticket.tags contains 'us'", F},
		{"principal.roles contains 'support'", T},
		{"principal.groups contains 'ops'", F},
		{"email contains '@x.'", T},
		{"nums contains 2.5", T},
		{"name contains 1", U},
		{`email matches '[a-z]+@x\.example'`, T},
		{`email matches 'x\.example'`, F},
		{"amount matches '1.*'", U},
		{"principal.user matches 'a.a'", T},
		// Grouping.
		{"(amount == 1 || amount == 100) && !(name == 'Bob')", T},
		{"!!(amount == 100)", T},
		{"amount == 1 || amount == 2 || amount == 100", T},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			e, err := parseCondition(tt.cond, testLists(t))
			if err != nil {
				t.Fatal(err)
			}
			in := &Input{Principal: pr, Tool: "my_tool", Args: a}
			if got := e.eval(in); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestConditionValueTypes feeds every number and container type a caller
// might put in Args.
func TestConditionValueTypes(t *testing.T) {
	e, err := parseCondition("v <= 100", nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		v    any
		want tri
	}{
		{json.Number("100"), triTrue},
		{json.Number("100.0000000000000000000000001"), triFalse},
		{json.Number(strings.Repeat("0", 70) + "99"), triTrue},
		{json.Number("not a number"), triUnknown},
		{float64(100), triTrue},
		{float32(100.5), triFalse},
		{math.NaN(), triUnknown},
		{math.Inf(-1), triUnknown},
		{int(100), triTrue},
		{int8(-1), triTrue},
		{int16(101), triFalse},
		{int32(100), triTrue},
		{int64(math.MaxInt64), triFalse},
		{uint(5), triTrue},
		{uint8(5), triTrue},
		{uint16(500), triFalse},
		{uint32(5), triTrue},
		{uint64(math.MaxUint64), triFalse},
		{"100", triUnknown},
		{[]string{"a"}, triUnknown},
		{struct{}{}, triUnknown},
	}
	for _, tt := range tests {
		in := &Input{Args: map[string]any{"v": tt.v}}
		if got := e.eval(in); got != tt.want {
			t.Errorf("%T %v: got %d, want %d", tt.v, tt.v, got, tt.want)
		}
	}
	// Go maps of strings and slices of strings are walked as well.
	e, err = parseCondition("m.k == 'v' && s[1] == 'y' && s contains 'x'", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Args: map[string]any{"m": map[string]string{"k": "v"}, "s": []string{"x", "y"}}}
	if got := e.eval(in); got != triTrue {
		t.Fatalf("Go containers: got %d", got)
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct{ cond, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"amount", "compares two values"},
		{"amount <== 100", `unexpected character`},
		{"amount = 100", "unexpected character"},
		{"amount <= ", "expected a value"},
		{"amount <= 100 100", "unexpected number 100"},
		{"'amount' <= 100", "both sides are constants"},
		{"1 == 1", "both sides are constants"},
		{"amount <= [1, 2]", "only numbers and strings"},
		{"amount <= true", "only numbers and strings"},
		{"principal.roles == 'admin'", "use \"contains\""},
		{"principal.roles < 'admin'", "only numbers and strings"},
		{"x == [1]", `using "in"`},
		{"x in 'abc'", `"in" needs a list`},
		{"x in principal.tenant", `"in" needs a list`},
		{"[1] in x", "list can only follow"},
		{"x contains [1]", `use "in"`},
		{"'abc' contains x", "path on the left"},
		{"x matches y", "regular expression as a quoted string"},
		{"x matches '('", "bad regular expression"},
		{"principal.roles matches 'a'", "string path"},
		{"x not 5", `expected "in" after "not"`},
		{"x like 5", "expected an operator"},
		{"lists.nope contains 1", "unknown list"},
		{"x in lists.nope", "unknown list"},
		{"principal.email == 'x'", "principal has tenant, user, roles and groups"},
		{"principal == 'x'", `expected "."`},
		{"args == 1", "args needs a field"},
		{"args[0] == 1", "args is an object"},
		{"in == 1", "keyword"},
		{"exists == 1", "keyword"},
		{"exists(1)", "exists takes a path"},
		{"exists(x", `expected ")"`},
		{"(x == 1", `expected ")"`},
		{"x == 1)", `unexpected ")"`},
		{"x[-1] == 1", "an index is a whole number"},
		{"x[99999999999] == 1", "an index is a whole number"},
		{"x[a] == 1", "expected an index or a quoted key"},
		{"x. == 1", "expected a field name"},
		{"x == 'abc", "unterminated string"},
		{"x == 1.", "malformed number"},
		{"x == 01x", "malformed number"},
		{"x == 01", "malformed number"},
		{"x == 1.5.2", "malformed number"},
		{"x == 1e", "malformed number"},
		{"x in [1, y]", "list literal holds"},
		{"x in [1 2]", `expected "," or "]"`},
		{"x == @", "unexpected character"},
		{"x == 1 && ", "expected a value"},
		{"x == \xff", "UTF-8"},
		{strings.Repeat("(", 40) + "x == 1" + strings.Repeat(")", 40), "nested deeper"},
		{strings.Repeat("!", 40) + "x == 1", "nested deeper"},
		{"x" + strings.Repeat(".a", 40) + " == 1", "more than 32 steps"},
		{"x == '" + strings.Repeat("a", 3000) + "'", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			_, err := parseCondition(tt.cond, testLists(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestStringEscapes(t *testing.T) {
	tests := []struct{ cond, arg string }{
		{`v == 'it\'s'`, "it's"},
		{`v == "say \"hi\""`, `say "hi"`},
		{`v == 'back\\slash'`, `back\slash`},
		{`v == 'kept\d'`, `kept\d`},
		{`v matches 'INV-\d+'`, "INV-42"},
		{`v == "it's"`, "it's"},
	}
	for _, tt := range tests {
		e, err := parseCondition(tt.cond, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.cond, err)
		}
		if got := e.eval(&Input{Args: map[string]any{"v": tt.arg}}); got != triTrue {
			t.Errorf("%s with %q: got %d", tt.cond, tt.arg, got)
		}
	}
}

func TestDecimalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"0", "-0", 0},
		{"0.000", "0e10", 0},
		{"1", "1.0", 0},
		{"100", "1e2", 0},
		{"100", "1E+2", 0},
		{"0.01", "1e-2", 0},
		{"0.5", "0.49999999999999999999", 1},
		{"-0.5", "-0.49999999999999999999", -1},
		{"10", "9.99", 1},
		{"-10", "9", -1},
		{"123.456", "123.4560001", -1},
		{"1e1000000000000000000000", "1e999", 1},
		{"001.50", "1.5", 0},
		{"7", "70e-1", 0},
	}
	for _, tt := range tests {
		da, ok := parseDec([]byte(tt.a))
		if !ok {
			t.Fatalf("%s does not parse", tt.a)
		}
		db, ok := parseDec([]byte(tt.b))
		if !ok {
			t.Fatalf("%s does not parse", tt.b)
		}
		if got := cmpDec([]byte(tt.a), da, []byte(tt.b), db); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "-", ".5", "1.", "1e", "1e+", "+1", "1x", "0x10", "--1", "1.2.3"} {
		if _, ok := parseDec([]byte(bad)); ok {
			t.Errorf("%q parsed as a number", bad)
		}
	}
}

func TestRiskAndEffectText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Risk
	}{{"read", RiskRead}, {"Read-Only", RiskRead}, {"write", RiskWrite}, {"external", RiskExternal}, {"destructive", RiskExternal}} {
		got, err := ParseRisk(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRisk(%q) = %v, %v", tt.in, got, err)
		}
	}
	if _, err := ParseRisk("low"); err == nil {
		t.Error("ParseRisk(low) succeeded")
	}
	if !(RiskRead < RiskWrite && RiskWrite < RiskExternal) {
		t.Error("risk levels are not ordered")
	}
	if Risk(0).String() != "unspecified" || Risk(9).String() != "Risk(9)" {
		t.Error("String of invalid risks")
	}
	if _, err := Risk(9).MarshalText(); err == nil {
		t.Error("MarshalText of an invalid risk succeeded")
	}
	if _, err := Effect(9).MarshalText(); err == nil {
		t.Error("MarshalText of an invalid effect succeeded")
	}
	if Effect(9).String() != "Effect(9)" {
		t.Error("String of an invalid effect")
	}

	// JSON round trip through MarshalText and UnmarshalText.
	in := Config{
		Rules:     []Rule{{Name: "r", Effect: Approve, Tools: []string{"t"}, MinRisk: RiskWrite}},
		Untrusted: UntrustedConfig{AboveRisk: RiskWrite, Effect: Approve},
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"effect":"approve"`) || !strings.Contains(string(data), `"min_risk":"write"`) {
		t.Fatalf("marshalled as %s", data)
	}
	var out Config
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Rules[0].Effect != Approve || out.Rules[0].MinRisk != RiskWrite || out.Untrusted.Effect != Approve || out.SafeMode.AboveRisk != 0 {
		t.Fatalf("round trip: %+v", out)
	}
	var e Effect
	if err := e.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("UnmarshalText(maybe) succeeded")
	}
	var r Risk
	if err := r.UnmarshalText([]byte("extreme")); err == nil {
		t.Error("UnmarshalText(extreme) succeeded")
	}
}
