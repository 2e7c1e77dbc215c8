package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// Action is what a guard does with a finding.
type Action string

// The actions, from the mildest.
const (
	// Allow ignores the finding.
	Allow Action = "allow"
	// Flag lets the content through and emits a safety event.
	Flag Action = "flag"
	// Redact replaces the finding (with a placeholder the answer is
	// restored from, or a mask or a keyed hash; see Policy.Redaction).
	Redact Action = "redact"
	// Block refuses the request or the answer (llm.KindGuardBlocked).
	Block Action = "block"
)

func (a Action) rank() int {
	switch a {
	case Allow:
		return 0
	case Flag:
		return 1
	case Redact:
		return 2
	case Block:
		return 3
	}
	return -1
}

// Check configures one detector in a policy.
type Check struct {
	// Detector names a detector of the Guard's set (see Config.Detectors)
	// or a finding type it reports ("EMAIL_ADDRESS"); "*" matches every
	// finding not matched by another check of the same list.
	Detector string `json:"detector" yaml:"detector"`
	// Action is what to do with its findings.
	Action Action `json:"action" yaml:"action"`
	// Threshold is the lowest score acted on; 0 means DefaultThreshold.
	Threshold float64 `json:"threshold,omitempty" yaml:"threshold,omitempty"`
}

// DefaultThreshold is a Check's threshold when it sets none.
const DefaultThreshold = 0.5

// Policy says which checks run where and what they do. Policies are data:
// load them with ParsePolicy or LoadPolicy, or write them in Go.
type Policy struct {
	// Name identifies the policy in events.
	Name string `json:"name" yaml:"name"`
	// Input checks the user's own text.
	Input []Check `json:"input,omitempty" yaml:"input,omitempty"`
	// Untrusted checks untrusted third-party content (retrieved
	// documents, tool results, uploads): usually stricter than Input.
	Untrusted []Check `json:"untrusted,omitempty" yaml:"untrusted,omitempty"`
	// Output checks the model's answer (after placeholders are restored).
	Output []Check `json:"output,omitempty" yaml:"output,omitempty"`
	// Redaction is how Redact replaces values by default ("pseudonymize",
	// the zero value, "mask" or "hash"; hash needs Config's hash key).
	Redaction RedactMode `json:"redaction,omitempty" yaml:"redaction,omitempty"`
	// Moderation, when set, blocks input whose moderation scores
	// violate it (needs Config.Moderator).
	Moderation *ModerationPolicy `json:"moderation,omitempty" yaml:"moderation,omitempty"`
	// Overrides replace this policy for a tenant, a feature or both; the
	// most specific match wins (tenant and feature, then tenant, then
	// feature).
	Overrides []Override `json:"overrides,omitempty" yaml:"overrides,omitempty"`
}

// Override is a policy for a tenant and/or a feature.
type Override struct {
	Tenant  string  `json:"tenant,omitempty" yaml:"tenant,omitempty"`
	Feature string  `json:"feature,omitempty" yaml:"feature,omitempty"`
	Policy  *Policy `json:"policy" yaml:"policy"`
}

// Validate checks the policy: known actions and modes, thresholds in
// [0, 1], overrides that name a tenant or a feature and hold a policy
// without overrides of their own.
func (p *Policy) Validate() error {
	return p.validate(true)
}

func (p *Policy) validate(top bool) error {
	for _, list := range []struct {
		name   string
		checks []Check
	}{{"input", p.Input}, {"untrusted", p.Untrusted}, {"output", p.Output}} {
		for i, c := range list.checks {
			switch {
			case c.Detector == "":
				return fmt.Errorf("guard: policy %q: %s[%d]: no detector", p.Name, list.name, i)
			case c.Action.rank() < 0:
				return fmt.Errorf("guard: policy %q: %s[%d] (%s): unknown action %q (want allow, flag, redact or block)", p.Name, list.name, i, c.Detector, c.Action)
			case c.Threshold < 0 || c.Threshold > 1:
				return fmt.Errorf("guard: policy %q: %s[%d] (%s): threshold %v is outside [0, 1]", p.Name, list.name, i, c.Detector, c.Threshold)
			}
		}
	}
	if p.Redaction > RedactHash {
		return fmt.Errorf("guard: policy %q: unknown redaction %v (want pseudonymize, mask or hash)", p.Name, p.Redaction)
	}
	for i, o := range p.Overrides {
		switch {
		case !top:
			return fmt.Errorf("guard: policy %q: an override cannot have overrides", p.Name)
		case o.Tenant == "" && o.Feature == "":
			return fmt.Errorf("guard: policy %q: overrides[%d] names neither a tenant nor a feature", p.Name, i)
		case o.Policy == nil:
			return fmt.Errorf("guard: policy %q: overrides[%d] has no policy", p.Name, i)
		}
		if err := o.Policy.validate(false); err != nil {
			return err
		}
	}
	return nil
}

// For returns the policy that applies to tenant and feature.
func (p *Policy) For(tenant, feature string) *Policy {
	best, score := p, 0
	for _, o := range p.Overrides {
		if (o.Tenant != "" && o.Tenant != tenant) || (o.Feature != "" && o.Feature != feature) {
			continue
		}
		s := 1
		if o.Tenant != "" {
			s = 2
		}
		if o.Tenant != "" && o.Feature != "" {
			s = 3
		}
		if s > score {
			best, score = o.Policy, s
		}
	}
	return best
}

// Tightened returns the policy safe mode applies: every Flag becomes
// Block, thresholds drop by a quarter, and moderation becomes strict.
func (p *Policy) Tightened() *Policy {
	q := *p
	tighten := func(cs []Check) []Check {
		out := slices.Clone(cs)
		for i := range out {
			if out[i].Action == Flag {
				out[i].Action = Block
			}
			th := out[i].Threshold
			if th == 0 {
				th = DefaultThreshold
			}
			out[i].Threshold = th * 0.75
		}
		return out
	}
	q.Input, q.Untrusted, q.Output = tighten(p.Input), tighten(p.Untrusted), tighten(p.Output)
	if p.Moderation != nil {
		q.Moderation = p.Moderation.tighten(0.75)
	}
	q.Overrides = nil
	return &q
}

// maxPolicyBytes bounds a policy document.
const maxPolicyBytes = 1 << 20

// ParsePolicy reads a policy in JSON or YAML (JSON is YAML, but a leading
// '{' is read with encoding/json for exact errors). Unknown fields are
// errors, so a typo cannot silently switch a check off.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > maxPolicyBytes {
		return nil, fmt.Errorf("guard: policy: %d bytes is more than %d", len(data), maxPolicyBytes)
	}
	var p Policy
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("guard: policy: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, errors.New("guard: policy: data after the JSON object")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("guard: policy: %w", err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadPolicy reads a policy file (.json, .yaml or .yml).
func LoadPolicy(path string) (*Policy, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".yaml", ".yml":
	default:
		return nil, fmt.Errorf("guard: %s: unknown extension (want .json, .yaml or .yml)", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// PolicySource holds the current policy and lets it be swapped at run
// time (from an admin endpoint or a file watcher) without a restart. It
// is safe for concurrent use.
type PolicySource struct {
	p atomic.Pointer[Policy]
}

// NewPolicySource returns a source holding p, which must be valid.
func NewPolicySource(p *Policy) (*PolicySource, error) {
	s := &PolicySource{}
	if err := s.Store(p); err != nil {
		return nil, err
	}
	return s, nil
}

// Store validates p and makes it current.
func (s *PolicySource) Store(p *Policy) error {
	if p == nil {
		return errors.New("guard: nil policy")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	s.p.Store(p)
	return nil
}

// Load returns the current policy.
func (s *PolicySource) Load() *Policy { return s.p.Load() }
