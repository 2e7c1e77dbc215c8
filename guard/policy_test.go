package guard_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
)

const policyYAML = `
name: support
input:
  - {detector: secrets, action: block}
  - {detector: EMAIL_ADDRESS, action: redact}
  - {detector: injection, action: flag, threshold: 0.7}
untrusted:
  - {detector: injection, action: block, threshold: 0.4}
output:
  - {detector: "*", action: redact}
redaction: pseudonymize
moderation:
  thresholds: {"*": 0.6}
overrides:
  - tenant: acme
    policy:
      name: acme
      input: [{detector: "*", action: block}]
  - feature: search
    policy: {name: search}
  - tenant: acme
    feature: search
    policy: {name: acme-search}
`

const policyJSON = `{"name":"support",
 "input":[{"detector":"secrets","action":"block"},{"detector":"EMAIL_ADDRESS","action":"redact"},{"detector":"injection","action":"flag","threshold":0.7}],
 "untrusted":[{"detector":"injection","action":"block","threshold":0.4}],
 "output":[{"detector":"*","action":"redact"}],
 "redaction":"pseudonymize",
 "moderation":{"thresholds":{"*":0.6}},
 "overrides":[{"tenant":"acme","policy":{"name":"acme","input":[{"detector":"*","action":"block"}]}},
  {"feature":"search","policy":{"name":"search"}},
  {"tenant":"acme","feature":"search","policy":{"name":"acme-search"}}]}`

func TestParsePolicy(t *testing.T) {
	y, err := guard.ParsePolicy([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	j, err := guard.ParsePolicy([]byte(policyJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, j) {
		t.Errorf("YAML and JSON differ:\n%+v\n%+v", y, j)
	}
	for _, tt := range []struct{ tenant, feature, want string }{
		{"", "", "support"}, {"globex", "chat", "support"}, {"acme", "chat", "acme"},
		{"globex", "search", "search"}, {"acme", "search", "acme-search"},
	} {
		if got := y.For(tt.tenant, tt.feature).Name; got != tt.want {
			t.Errorf("For(%q, %q) = %s, want %s", tt.tenant, tt.feature, got, tt.want)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"unknown field yaml", "name: x\ninputs: []\n", "inputs"},
		{"unknown field json", `{"name":"x","inputs":[]}`, "inputs"},
		{"unknown action", "name: x\ninput: [{detector: email, action: shred}]\n", "unknown action"},
		{"no detector", "name: x\ninput: [{action: block}]\n", "no detector"},
		{"threshold", "name: x\noutput: [{detector: a, action: flag, threshold: 2}]\n", "outside"},
		{"redaction", "name: x\nredaction: shred\n", "unknown redaction"},
		{"override without target", "name: x\noverrides: [{policy: {name: y}}]\n", "neither"},
		{"nested override", "name: x\noverrides: [{tenant: a, policy: {name: y, overrides: [{tenant: b, policy: {name: z}}]}}]\n", "cannot have overrides"},
		{"trailing json", `{"name":"x"} {}`, "after"},
		{"not a policy", "[1, 2]", "guard: policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := guard.ParsePolicy([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTightened(t *testing.T) {
	p, err := guard.ParsePolicy([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	q := p.Tightened()
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if q.Input[2].Action != guard.Block || !near(q.Input[2].Threshold, 0.525) || !near(q.Input[0].Threshold, 0.375) {
		t.Errorf("tightened input checks: %+v", q.Input)
	}
	if !q.Moderation.Strict || !near(q.Moderation.Thresholds["*"], 0.45) {
		t.Errorf("tightened moderation: %+v", q.Moderation)
	}
	if p.Input[2].Action != guard.Flag || p.Moderation.Strict {
		t.Error("Tightened changed the original policy")
	}
}

func TestPolicySource(t *testing.T) {
	a := &guard.Policy{Name: "a"}
	s, err := guard.NewPolicySource(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store(&guard.Policy{Name: "bad", Input: []guard.Check{{Detector: "x", Action: "shred"}}}); err == nil {
		t.Error("Store took an invalid policy")
	}
	if s.Load() != a {
		t.Error("an invalid policy replaced the current one")
	}
	b := &guard.Policy{Name: "b"}
	if err := s.Store(b); err != nil || s.Load() != b {
		t.Errorf("Store: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(policyYAML))
	f.Add([]byte(policyJSON))
	f.Add([]byte("name: x\ninput: [{detector: a, action: block}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := guard.ParsePolicy(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy returned an invalid policy: %v", err)
		}
		_ = p.Tightened()
		_ = p.For("t", "f")
	})
}
