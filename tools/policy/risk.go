package policy

import (
	"fmt"
	"strings"
)

// Risk is how much harm a tool can do if it is called when it should not
// be. The levels are ordered, so a policy can say "above RiskRead" and mean
// every tool that writes or has an external effect.
//
// The zero Risk is not a level: it means the tool did not declare one, and
// Decide treats it (and any value out of range) as RiskExternal, so a tool
// that forgot to declare its risk gets the strictest treatment rather than
// the most lenient.
type Risk int

// The risk levels, least harmful first.
const (
	// RiskRead: the tool only reads (search, look-up, fetch a record).
	RiskRead Risk = iota + 1
	// RiskWrite: the tool changes state inside the application (update a
	// ticket, create a draft), reversibly.
	RiskWrite
	// RiskExternal: the tool is destructive or has an effect outside the
	// application that cannot be taken back (sends a message, pays,
	// deletes).
	RiskExternal
)

// String returns "read", "write" or "external"; the zero Risk is
// "unspecified".
func (r Risk) String() string {
	switch r {
	case 0:
		return "unspecified"
	case RiskRead:
		return "read"
	case RiskWrite:
		return "write"
	case RiskExternal:
		return "external"
	}
	return fmt.Sprintf("Risk(%d)", int(r))
}

// valid reports whether r is one of the three levels.
func (r Risk) valid() bool { return r >= RiskRead && r <= RiskExternal }

// effective is the level Decide uses for r: undeclared or out-of-range
// risks count as RiskExternal.
func (r Risk) effective() Risk {
	if !r.valid() {
		return RiskExternal
	}
	return r
}

// ParseRisk parses a risk level. It accepts the names String returns and
// the synonyms "read-only" (RiskRead) and "destructive" (RiskExternal),
// in any letter case.
func ParseRisk(s string) (Risk, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read", "read-only", "readonly":
		return RiskRead, nil
	case "write":
		return RiskWrite, nil
	case "external", "destructive":
		return RiskExternal, nil
	}
	return 0, fmt.Errorf("policy: unknown risk %q (want read, write or external)", s)
}

// MarshalText returns the name of r. The zero Risk marshals as an empty
// string, so an unset level in a Config round-trips as unset.
func (r Risk) MarshalText() ([]byte, error) {
	if r == 0 {
		return []byte{}, nil
	}
	if !r.valid() {
		return nil, fmt.Errorf("policy: invalid risk %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses a risk with ParseRisk; empty text is the zero Risk.
func (r *Risk) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*r = 0
		return nil
	}
	v, err := ParseRisk(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Effect is what a policy decides for a tool call. The zero Effect is
// Deny, so a forgotten field never grants anything.
type Effect int

// The effects, in the order a Go switch usually lists them; precedence
// between matching rules is Deny, then Approve, then Allow.
const (
	// Deny refuses the call.
	Deny Effect = iota
	// Allow lets the call run.
	Allow
	// Approve lets the call run only after a person approves it.
	Approve
)

// String returns "deny", "allow" or "approve".
func (e Effect) String() string {
	switch e {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case Approve:
		return "approve"
	}
	return fmt.Sprintf("Effect(%d)", int(e))
}

// valid reports whether e is one of the three effects.
func (e Effect) valid() bool { return e >= Deny && e <= Approve }

// rank orders effects by precedence: a higher rank wins among matching
// rules.
func (e Effect) rank() int {
	switch e {
	case Allow:
		return 1
	case Approve:
		return 2
	}
	return 3
}

// ParseEffect parses "deny", "allow" or "approve" in any letter case.
func ParseEffect(s string) (Effect, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "deny":
		return Deny, nil
	case "allow":
		return Allow, nil
	case "approve":
		return Approve, nil
	}
	return 0, fmt.Errorf("policy: unknown effect %q (want allow, deny or approve)", s)
}

// MarshalText returns the name of e.
func (e Effect) MarshalText() ([]byte, error) {
	if !e.valid() {
		return nil, fmt.Errorf("policy: invalid effect %d", int(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText parses an effect with ParseEffect.
func (e *Effect) UnmarshalText(text []byte) error {
	v, err := ParseEffect(string(text))
	if err != nil {
		return err
	}
	*e = v
	return nil
}
