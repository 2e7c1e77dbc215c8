package guard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// Config configures a Guard.
type Config struct {
	// Policy holds the current policy. Required.
	Policy *PolicySource
	// Detectors is the set policies name checks from (by Detector.Name or
	// by a finding type they report). Required: DefaultDetectors gives
	// the PII, secret and injection detectors.
	Detectors []detect.Detector
	// Classifier, when set, is consulted for the "injection" detector
	// when its heuristics are unsure (see InjectionCheck).
	Classifier Classifier
	// Moderator scores input for Policy.Moderation.
	Moderator llm.Moderator
	// Redact says how each finding type is replaced: labels, masks and
	// the hash key. Its Default mode is replaced by the policy's
	// Redaction.
	Redact RedactConfig
	// Filters check every answer after the policy's Output checks:
	// Exfiltration and FormatGuard, for example.
	Filters []OutputFilter
	// SystemPromptLeak adds a SystemPromptLeak filter over each request's
	// system and developer text, with Canary when set (plant it in the
	// system prompt with Canary.Plant).
	SystemPromptLeak bool
	Canary           Canary
	// Events receives every safety event; nil drops them.
	Events Events
	// SafeMode, when active, applies Policy.Tightened.
	SafeMode *llm.SafeMode
}

// Guard applies a policy: to model requests and answers (Middleware), to
// tool calls (ToolMiddleware), to retrieved chunks (FilterHits), and to
// any text (Check). It is safe for concurrent use.
type Guard struct {
	cfg       Config
	byName    map[string]detect.Detector
	byType    map[string][]detect.Detector
	injection *detect.InjectionDetector
	// redactors serve each policy redaction mode; masking serves text
	// that leaves the request (see newRedactors).
	redactors, masking [RedactHash + 1]*Redactor
}

// New checks cfg and returns the Guard.
func New(cfg Config) (*Guard, error) {
	if cfg.Policy == nil || cfg.Policy.Load() == nil {
		return nil, errors.New("guard: Config.Policy is required")
	}
	if len(cfg.Detectors) == 0 {
		return nil, errors.New("guard: Config.Detectors is empty (DefaultDetectors gives the standard set)")
	}
	g := &Guard{cfg: cfg, byName: map[string]detect.Detector{}, byType: map[string][]detect.Detector{}}
	for _, d := range cfg.Detectors {
		if _, dup := g.byName[d.Name()]; dup {
			return nil, fmt.Errorf("guard: two detectors named %q", d.Name())
		}
		g.byName[d.Name()] = d
		for _, t := range d.Types() {
			g.byType[t] = append(g.byType[t], d)
		}
		if inj, ok := d.(*detect.InjectionDetector); ok {
			g.injection = inj
		}
	}
	if _, err := NewRedactor(cfg.Redact); err != nil {
		return nil, err
	}
	g.redactors, g.masking = newRedactors(cfg.Redact)
	if g.redactors[RedactMask] == nil || g.masking[RedactMask] == nil {
		return nil, errors.New("guard: Config.Redact cannot mask")
	}
	return g, nil
}

// policyFor returns the policy for a principal and feature, tightened in
// safe mode.
func (g *Guard) policyFor(tenant, feature string) *Policy {
	p := g.cfg.Policy.Load().For(tenant, feature)
	if g.cfg.SafeMode.Active() {
		p = p.Tightened()
	}
	return p
}

// redactor returns the Redactor of policy p (built once per mode, in New).
func (g *Guard) redactor(p *Policy) *Redactor {
	if p.Redaction <= RedactHash && g.redactors[p.Redaction] != nil {
		return g.redactors[p.Redaction]
	}
	return g.redactors[RedactMask]
}

// newRedactors builds the Redactor of each default mode from cfg, and the
// masking one for text that leaves the request (tool results, retrieved
// chunks: there is no answer to restore them in), where pseudonymizing
// rules of cfg.Types mask instead. A mode the config cannot serve (hash
// without a key) is left nil, and policies asking for it mask.
func newRedactors(cfg RedactConfig) (modes [RedactHash + 1]*Redactor, irreversible [RedactHash + 1]*Redactor) {
	for m := RedactPseudonymize; m <= RedactHash; m++ {
		c := cfg
		c.Default.Mode = m
		if r, err := NewRedactor(c); err == nil {
			modes[m] = r
		}
		leave := m
		if leave == RedactPseudonymize {
			leave = RedactMask
		}
		c.Default.Mode = leave
		c.Types = make(map[string]RedactRule, len(cfg.Types))
		for t, rule := range cfg.Types {
			if rule.Mode == RedactPseudonymize {
				rule.Mode = leave
			}
			c.Types[t] = rule
		}
		if r, err := NewRedactor(c); err == nil {
			irreversible[m] = r
		}
	}
	return modes, irreversible
}

// scope is where text is checked, and for whom.
type scope struct {
	where           string
	policy          *Policy
	tenant, feature string
	untrusted       bool
}

// Verdict is the outcome of checking one text.
type Verdict struct {
	// Action is the strongest action any check took.
	Action Action
	// Redact lists the findings to redact.
	Redact []detect.Finding
	// Events are the safety events of the check, emitted already.
	Events []Event
	// Reason says why a blocked text was blocked, without its content.
	Reason string
}

// Check runs the checks of list ("input", "untrusted" or "output") of the
// policy for tenant and feature over text, emits the safety events, and
// returns the verdict: a plain-function use of the guard, for pipelines,
// batch jobs and tests.
func (g *Guard) Check(ctx context.Context, text, list, tenant, feature string) (Verdict, error) {
	p := g.policyFor(tenant, feature)
	sc := scope{where: list, policy: p, tenant: tenant, feature: feature, untrusted: list == "untrusted"}
	switch list {
	case "input", "untrusted", "output":
	default:
		return Verdict{}, fmt.Errorf("guard: unknown check list %q (want input, untrusted or output)", list)
	}
	return g.check(ctx, sc, g.checks(sc), text, true), nil
}

func (g *Guard) checks(sc scope) []Check {
	switch sc.where {
	case "untrusted", "tool_result", "retrieval":
		return sc.policy.Untrusted
	case "output", "tool_arguments":
		return sc.policy.Output
	default:
		return sc.policy.Input
	}
}

// check runs checks over text, emitting events when emit is set.
func (g *Guard) check(ctx context.Context, sc scope, checks []Check, text string, emit bool) Verdict {
	v := Verdict{Action: Allow}
	if text == "" || len(checks) == 0 {
		return v
	}
	for _, d := range g.detectorsFor(checks) {
		var found []detect.Finding
		if d == detect.Detector(g.injection) && g.cfg.Classifier != nil {
			ic := InjectionCheck{Heuristics: g.injection, Classifier: g.cfg.Classifier}
			_, found, _, _ = ic.Check(ctx, text, sc.untrusted)
		} else {
			found = d.Detect(nil, text)
		}
		for _, f := range found {
			c, ok := matchCheck(checks, d.Name(), f)
			if !ok || c.Action == Allow {
				continue
			}
			e := Event{Type: f.Type, Detector: d.Name(), Rule: f.Rule, Score: f.Score, Action: c.Action, Where: sc.where,
				Policy: sc.policy.Name, Tenant: sc.tenant, Feature: sc.feature}
			v.Events = append(v.Events, e)
			if emit && g.cfg.Events != nil {
				g.cfg.Events.Emit(ctx, e)
			}
			if c.Action.rank() > v.Action.rank() {
				v.Action = c.Action
			}
			switch c.Action {
			case Redact:
				v.Redact = append(v.Redact, f)
			case Block:
				if v.Reason == "" {
					v.Reason = blockReason(sc.where, f, d.Name())
				}
			}
		}
	}
	return v
}

func blockReason(where string, f detect.Finding, detector string) string {
	r := fmt.Sprintf("guard: %s blocked: %s found by %s", where, f.Type, detector)
	if f.Rule != "" {
		r += " (rule " + f.Rule + ")"
	}
	if f.Reason != "" {
		r += ": " + f.Reason
	}
	return r
}

// detectorsFor returns the detectors a check list needs, in the order of
// Config.Detectors.
func (g *Guard) detectorsFor(checks []Check) []detect.Detector {
	need := map[string]bool{}
	for _, c := range checks {
		if c.Action == Allow {
			continue
		}
		switch {
		case c.Detector == "*":
			return g.cfg.Detectors
		case g.byName[c.Detector] != nil:
			need[c.Detector] = true
		default:
			for _, d := range g.byType[c.Detector] {
				need[d.Name()] = true
			}
		}
	}
	var out []detect.Detector
	for _, d := range g.cfg.Detectors {
		if need[d.Name()] {
			out = append(out, d)
		}
	}
	return out
}

// matchCheck finds the check for a finding of detector: by finding type
// first, then by detector name, then "*"; the finding must reach the
// check's threshold.
func matchCheck(checks []Check, detector string, f detect.Finding) (Check, bool) {
	for _, key := range []string{f.Type, detector, "*"} {
		i := slices.IndexFunc(checks, func(c Check) bool { return strings.EqualFold(c.Detector, key) })
		if i < 0 {
			continue
		}
		c := checks[i]
		th := c.Threshold
		if th == 0 {
			th = DefaultThreshold
		}
		return c, f.Score >= th
	}
	return Check{}, false
}

// blocked is the error a blocked request or answer returns.
func blocked(reason string) error {
	return &llm.Error{Kind: llm.KindGuardBlocked, Message: reason}
}
