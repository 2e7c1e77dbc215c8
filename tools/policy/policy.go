package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keel-go/keel/llm"
)

// Names of the built-in decisions. A rule may not use them, so the Rule
// of a Decision always tells which part of the policy decided.
const (
	// RuleDefaultDeny decides when no rule matched.
	RuleDefaultDeny = "default-deny"
	// RuleSafeMode decides when safe mode refuses the tool's risk level.
	RuleSafeMode = "safe-mode"
	// RuleUntrusted decides when untrusted content in the conversation
	// tightened what a rule decided.
	RuleUntrusted = "untrusted-context"
	// RuleInvalidInput decides when Decide is given no input or no tool
	// name.
	RuleInvalidInput = "invalid-input"
)

func reservedRuleName(name string) bool {
	switch name {
	case RuleDefaultDeny, RuleSafeMode, RuleUntrusted, RuleInvalidInput:
		return true
	}
	return false
}

// maxRuleNameLen bounds rule names, which end up in audit records.
const maxRuleNameLen = 128

// Rule is one statement of a policy: for these tools, risk levels and
// principals, when these conditions hold, the effect applies. Every
// non-empty selector must match (Tools, MinRisk/MaxRisk, Tenants, Users,
// Roles, Groups), and every condition in When must hold.
type Rule struct {
	// Name identifies the rule in decisions and audit records. It is
	// required and unique within a policy.
	Name string `json:"name" yaml:"name"`
	// Effect is what the rule decides when it matches. In Go the zero
	// value is Deny; ParseJSON and ParseYAML require the field, since an
	// omitted effect in a file is more likely a mistake than a deny rule.
	Effect Effect `json:"effect" yaml:"effect"`
	// Reason is copied into the Decision when this rule decides, for the
	// approver and the audit trail. Optional.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Tools are the tool names the rule covers: exact names, "*" for
	// every tool, or a prefix followed by "*" ("crm_*"). Required.
	Tools []string `json:"tools" yaml:"tools"`
	// MinRisk and MaxRisk bound the risk level of the tools the rule
	// covers (inclusive); zero leaves that side open.
	MinRisk Risk `json:"min_risk,omitempty" yaml:"min_risk,omitempty"`
	// MaxRisk is the upper bound; see MinRisk.
	MaxRisk Risk `json:"max_risk,omitempty" yaml:"max_risk,omitempty"`
	// Tenants: the principal's tenant must be one of these. Empty: any.
	Tenants []string `json:"tenants,omitempty" yaml:"tenants,omitempty"`
	// Users: the principal's user must be one of these. Empty: any.
	Users []string `json:"users,omitempty" yaml:"users,omitempty"`
	// Roles: the principal must hold one of these roles. Empty: any.
	Roles []string `json:"roles,omitempty" yaml:"roles,omitempty"`
	// Groups: the principal must belong to one of these groups. Empty:
	// any.
	Groups []string `json:"groups,omitempty" yaml:"groups,omitempty"`
	// When are conditions on the arguments, the principal and the tool,
	// in the expression language of the package documentation. All must
	// hold.
	When []string `json:"when,omitempty" yaml:"when,omitempty"`
}

// UntrustedConfig says what happens to tools above a risk level once
// untrusted content (retrieved documents, tool outputs, user uploads) is
// in the conversation, so that an instruction injected into that content
// cannot trigger them.
type UntrustedConfig struct {
	// AboveRisk: tools with a higher risk are constrained. Zero means
	// RiskRead, so every tool that writes or acts outside is constrained;
	// RiskExternal turns the constraint off.
	AboveRisk Risk `json:"above_risk,omitempty" yaml:"above_risk,omitempty"`
	// Effect is Deny (the zero value) or Approve: what a rule's Allow
	// becomes. An Approve stays Approve unless Effect is Deny.
	Effect Effect `json:"effect" yaml:"effect"`
}

// SafeModeConfig says which tools are refused while the application's
// llm.SafeMode is on.
type SafeModeConfig struct {
	// AboveRisk: tools with a higher risk are refused. Zero means
	// RiskRead, so only read-only tools keep working.
	AboveRisk Risk `json:"above_risk,omitempty" yaml:"above_risk,omitempty"`
}

// Config is a policy as data. Build it in Go or load it with ParseJSON,
// ParseYAML or LoadFile; New compiles it.
type Config struct {
	// Rules in order; the order decides which rule is named when several
	// rules of the winning effect match.
	Rules []Rule `json:"rules" yaml:"rules"`
	// Lists are named lists of strings, numbers, bools or nulls (in Go:
	// string, any Go number, json.Number, bool, nil), used in conditions
	// as lists.NAME: recipient in lists.approved_recipients.
	Lists map[string][]any `json:"lists,omitempty" yaml:"lists,omitempty"`
	// Untrusted is the constraint applied once untrusted content is in
	// the conversation.
	Untrusted UntrustedConfig `json:"untrusted" yaml:"untrusted"`
	// SafeMode says which tools safe mode refuses.
	SafeMode SafeModeConfig `json:"safe_mode" yaml:"safe_mode"`
}

// Input is one tool call to decide.
type Input struct {
	// Principal is who the call is made for.
	Principal llm.Principal
	// Tool is the tool's name.
	Tool string
	// Risk is the tool's declared risk level; zero counts as
	// RiskExternal.
	Risk Risk
	// Args are the call's arguments as a JSON decoder produces them into
	// an any: map[string]any, []any, string, bool, nil, and numbers as
	// json.Number (exact; see DecodeArgs), float64 or Go integers.
	// Undecoded JSON ([]byte, json.RawMessage) has no fields, so rules
	// with argument conditions do not match it.
	Args any
	// Untrusted reports that untrusted content is in the conversation.
	Untrusted bool
	// SafeMode reports that the application's safe mode is on (pass
	// safeMode.Active()).
	SafeMode bool
}

// Decision is the outcome of Decide.
type Decision struct {
	// Effect is Allow, Deny or Approve.
	Effect Effect
	// Rule names the rule that decided: a rule of the policy or one of
	// RuleDefaultDeny, RuleSafeMode, RuleUntrusted, RuleInvalidInput.
	Rule string
	// Reason explains the decision in one sentence, for the approver and
	// the audit trail.
	Reason string
}

// String formats d as "effect (rule): reason".
func (d Decision) String() string {
	return d.Effect.String() + " (" + d.Rule + "): " + d.Reason
}

// Policy is a compiled policy. It is immutable and safe for concurrent
// use.
type Policy struct {
	rules []rule
	// byTool lists, for each tool name that some rule names exactly, the
	// indexes of every rule that covers it (exact or by pattern), in
	// order.
	byTool map[string][]int32
	// patterns lists the rules with a "*" or prefix pattern, in order,
	// for tools no rule names exactly.
	patterns []int32

	untrustedAbove  Risk
	untrustedEffect Effect
	safeAbove       Risk
	safeReasons     [RiskExternal + 1]string
}

// rule is a compiled Rule.
type rule struct {
	name            string
	effect          Effect
	reason          string
	untrustedReason string
	exact           []string
	prefixes        []string
	anyTool         bool
	minRisk         Risk
	maxRisk         Risk
	tenants         []string
	users           []string
	roles           []string
	groups          []string
	when            []expr
}

// fieldError is a validation error located at a field of the Config; path
// is the field's path ("rules[2].when[0]"), which ParseJSON and ParseYAML
// turn into a line number.
type fieldError struct {
	path string
	what string
	err  error
}

func (e *fieldError) Error() string { return e.what + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// New compiles and validates cfg. Errors name the rule, list or field at
// fault.
func New(cfg Config) (*Policy, error) {
	p, err := compile(&cfg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

func compile(cfg *Config) (*Policy, error) {
	p := &Policy{
		untrustedAbove:  cfg.Untrusted.AboveRisk,
		untrustedEffect: cfg.Untrusted.Effect,
		safeAbove:       cfg.SafeMode.AboveRisk,
	}
	if p.untrustedAbove == 0 {
		p.untrustedAbove = RiskRead
	}
	if p.safeAbove == 0 {
		p.safeAbove = RiskRead
	}
	if !p.untrustedAbove.valid() {
		return nil, &fieldError{"untrusted.above_risk", "untrusted.above_risk", fmt.Errorf("invalid risk %d", int(cfg.Untrusted.AboveRisk))}
	}
	if p.untrustedEffect != Deny && p.untrustedEffect != Approve {
		return nil, &fieldError{"untrusted.effect", "untrusted.effect", fmt.Errorf("must be deny or approve, not %v (to turn the constraint off, set above_risk to external)", p.untrustedEffect)}
	}
	if !p.safeAbove.valid() {
		return nil, &fieldError{"safe_mode.above_risk", "safe_mode.above_risk", fmt.Errorf("invalid risk %d", int(cfg.SafeMode.AboveRisk))}
	}
	for r := RiskRead; r <= RiskExternal; r++ {
		p.safeReasons[r] = fmt.Sprintf("safe mode is on: tools above %s risk are refused (this tool: %s)", p.safeAbove, r)
	}

	lists := make(map[string]*valueSet, len(cfg.Lists))
	// In name order, so that the same mistakes give the same error.
	for _, name := range slices.Sorted(maps.Keys(cfg.Lists)) {
		items := cfg.Lists[name]
		path := "lists." + name
		if !validListName(name) {
			return nil, &fieldError{path, fmt.Sprintf("list %q", name), errors.New("a list name is letters, digits, _ and -, starting with a letter or _")}
		}
		set, err := newValueSet(items)
		if err != nil {
			return nil, &fieldError{path, fmt.Sprintf("list %q", name), err}
		}
		lists[name] = set
	}

	p.rules = make([]rule, len(cfg.Rules))
	seen := make(map[string]int, len(cfg.Rules))
	for i := range cfg.Rules {
		if err := compileRule(&p.rules[i], &cfg.Rules[i], i, lists, p); err != nil {
			return nil, err
		}
		name := p.rules[i].name
		if j, dup := seen[name]; dup {
			return nil, &fieldError{fmt.Sprintf("rules[%d].name", i), fmt.Sprintf("rule %q", name), fmt.Errorf("name already used by rule %d", j+1)}
		}
		seen[name] = i
	}
	p.index()
	return p, nil
}

func validListName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return true
}

func compileRule(dst *rule, r *Rule, i int, lists map[string]*valueSet, p *Policy) error {
	path := fmt.Sprintf("rules[%d]", i)
	what := fmt.Sprintf("rule %d", i+1)
	if r.Name != "" {
		what = fmt.Sprintf("rule %q", r.Name)
	}
	fail := func(field string, item int, err error) error {
		fp, fw := path, what
		if field != "" {
			fp += "." + field
			fw += ": " + field
			if item >= 0 {
				fp += fmt.Sprintf("[%d]", item)
				fw += fmt.Sprintf("[%d]", item)
			}
		}
		return &fieldError{fp, fw, err}
	}
	switch {
	case r.Name == "":
		return fail("name", -1, errors.New("a rule needs a name"))
	case len(r.Name) > maxRuleNameLen:
		return fail("name", -1, fmt.Errorf("longer than %d bytes", maxRuleNameLen))
	case strings.TrimSpace(r.Name) != r.Name || strings.ContainsFunc(r.Name, isControl):
		return fail("name", -1, errors.New("no leading or trailing space or control characters"))
	case reservedRuleName(r.Name):
		return fail("name", -1, fmt.Errorf("%q is reserved for the built-in decisions", r.Name))
	case !r.Effect.valid():
		return fail("effect", -1, fmt.Errorf("invalid effect %d", int(r.Effect)))
	case len(r.Tools) == 0:
		return fail("tools", -1, errors.New(`a rule names its tools; use ["*"] for every tool`))
	case r.MinRisk != 0 && !r.MinRisk.valid():
		return fail("min_risk", -1, fmt.Errorf("invalid risk %d", int(r.MinRisk)))
	case r.MaxRisk != 0 && !r.MaxRisk.valid():
		return fail("max_risk", -1, fmt.Errorf("invalid risk %d", int(r.MaxRisk)))
	case r.MinRisk != 0 && r.MaxRisk != 0 && r.MinRisk > r.MaxRisk:
		return fail("max_risk", -1, fmt.Errorf("max_risk %s is below min_risk %s", r.MaxRisk, r.MinRisk))
	}
	*dst = rule{
		name:    r.Name,
		effect:  r.Effect,
		reason:  r.Reason,
		minRisk: r.MinRisk,
		maxRisk: r.MaxRisk,
	}
	for j, t := range r.Tools {
		switch {
		case t == "*":
			dst.anyTool = true
		case strings.Count(t, "*") == 1 && strings.HasSuffix(t, "*"):
			dst.prefixes = append(dst.prefixes, strings.TrimSuffix(t, "*"))
		case strings.Contains(t, "*"):
			return fail("tools", j, fmt.Errorf("%q: a pattern is \"*\" or a prefix followed by one \"*\"", t))
		case strings.TrimSpace(t) == "":
			return fail("tools", j, errors.New("empty tool name"))
		default:
			dst.exact = append(dst.exact, t)
		}
	}
	for _, sel := range []struct {
		field string
		in    []string
		out   *[]string
	}{{"tenants", r.Tenants, &dst.tenants}, {"users", r.Users, &dst.users}, {"roles", r.Roles, &dst.roles}, {"groups", r.Groups, &dst.groups}} {
		for j, v := range sel.in {
			if v == "" {
				return fail(sel.field, j, errors.New("empty value"))
			}
		}
		*sel.out = append([]string(nil), sel.in...)
	}
	for j, c := range r.When {
		e, err := parseCondition(c, lists)
		if err != nil {
			return fail("when", j, fmt.Errorf("%q: %w", truncate(c, 80), err))
		}
		dst.when = append(dst.when, e)
	}
	if dst.reason == "" {
		switch r.Effect {
		case Allow:
			dst.reason = fmt.Sprintf("rule %q allows the call", r.Name)
		case Approve:
			dst.reason = fmt.Sprintf("rule %q requires approval", r.Name)
		default:
			dst.reason = fmt.Sprintf("rule %q denies the call", r.Name)
		}
	}
	if r.Effect != Deny {
		dst.untrustedReason = fmt.Sprintf("untrusted content is in the conversation and the tool's risk is above %s; overrides rule %q (%s)", p.untrustedAbove, r.Name, r.Effect)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// index builds the per-tool rule lists, so that Decide looks at the few
// rules that can match a tool instead of all of them.
func (p *Policy) index() {
	p.byTool = make(map[string][]int32)
	for i := range p.rules {
		r := &p.rules[i]
		for _, t := range r.exact {
			p.byTool[t] = nil
		}
		if r.anyTool || len(r.prefixes) > 0 {
			p.patterns = append(p.patterns, int32(i))
		}
	}
	for t := range p.byTool {
		var list []int32
		for i := range p.rules {
			if p.rules[i].coversTool(t) {
				list = append(list, int32(i))
			}
		}
		p.byTool[t] = list
	}
}

func (r *rule) coversTool(t string) bool {
	if r.anyTool {
		return true
	}
	for _, e := range r.exact {
		if e == t {
			return true
		}
	}
	return r.coversByPrefix(t)
}

func (r *rule) coversByPrefix(t string) bool {
	for _, pre := range r.prefixes {
		if strings.HasPrefix(t, pre) {
			return true
		}
	}
	return false
}

// Decide decides one tool call. It is safe for concurrent use and does not
// allocate. The order of precedence is in the package documentation.
func (p *Policy) Decide(in *Input) Decision {
	if in == nil {
		return Decision{Effect: Deny, Rule: RuleInvalidInput, Reason: "no input to decide"}
	}
	if in.Tool == "" {
		return Decision{Effect: Deny, Rule: RuleInvalidInput, Reason: "the call names no tool"}
	}
	risk := in.Risk.effective()
	if in.SafeMode && risk > p.safeAbove {
		return Decision{Effect: Deny, Rule: RuleSafeMode, Reason: p.safeReasons[risk]}
	}
	list, exact := p.byTool[in.Tool]
	if !exact {
		list = p.patterns
	}
	best := -1
	bestRank := 0
	for _, i := range list {
		r := &p.rules[i]
		if r.effect.rank() <= bestRank {
			// A rule that cannot beat the current winner need not be
			// evaluated.
			continue
		}
		if !exact && !r.anyTool && !r.coversByPrefix(in.Tool) {
			continue
		}
		if !r.matches(in, risk) {
			continue
		}
		best, bestRank = int(i), r.effect.rank()
		if r.effect == Deny {
			break
		}
	}
	if best < 0 {
		return Decision{Effect: Deny, Rule: RuleDefaultDeny, Reason: "no rule allows this call"}
	}
	r := &p.rules[best]
	if in.Untrusted && risk > p.untrustedAbove &&
		(r.effect == Allow || (r.effect == Approve && p.untrustedEffect == Deny)) {
		return Decision{Effect: p.untrustedEffect, Rule: RuleUntrusted, Reason: r.untrustedReason}
	}
	return Decision{Effect: r.effect, Rule: r.name, Reason: r.reason}
}

// matches reports whether r applies to in: risk, principal, then the
// conditions, cheapest first.
func (r *rule) matches(in *Input, risk Risk) bool {
	if (r.minRisk != 0 && risk < r.minRisk) || (r.maxRisk != 0 && risk > r.maxRisk) {
		return false
	}
	pr := &in.Principal
	if len(r.tenants) > 0 && !containsString(r.tenants, pr.Tenant) {
		return false
	}
	if len(r.users) > 0 && !containsString(r.users, pr.User) {
		return false
	}
	if len(r.roles) > 0 && !containsAny(r.roles, pr.Roles) {
		return false
	}
	if len(r.groups) > 0 && !containsAny(r.groups, pr.Groups) {
		return false
	}
	for i := range r.when {
		if r.when[i].eval(in) != triTrue {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsAny(list, have []string) bool {
	for _, h := range have {
		if containsString(list, h) {
			return true
		}
	}
	return false
}
