package llm

import (
	"sync/atomic"
	"time"
)

// SafeMode is a run-time switch that narrows behaviour during an incident:
// reliability middlewares force the fallback or cheap route and stop hedging,
// rate limits tighten, tools above a risk level are refused and guards apply
// their strictest policy. Each component that honours it says how in its own
// documentation.
//
// A SafeMode is an ordinary object (there is no global switch): create one
// with NewSafeMode, hand the same pointer to every component that should obey
// it, and flip it from an admin endpoint or a feature flag. It is safe for
// concurrent use, and a nil *SafeMode is valid and never active, so
// components can accept an optional one without nil checks.
type SafeMode struct {
	state atomic.Pointer[SafeModeState]
}

// SafeModeState is a snapshot of a SafeMode.
type SafeModeState struct {
	// Active reports whether safe mode is on.
	Active bool
	// Reason is the operator's explanation, for logs and audit records.
	Reason string
	// Since is when the state last changed.
	Since time.Time
}

// NewSafeMode returns an inactive SafeMode.
func NewSafeMode() *SafeMode {
	s := &SafeMode{}
	s.state.Store(&SafeModeState{Since: time.Now()})
	return s
}

// Enable turns safe mode on with a reason for operators and audit logs.
func (s *SafeMode) Enable(reason string) {
	s.state.Store(&SafeModeState{Active: true, Reason: reason, Since: time.Now()})
}

// Disable turns safe mode off.
func (s *SafeMode) Disable() {
	s.state.Store(&SafeModeState{Since: time.Now()})
}

// Active reports whether safe mode is on. It is a single atomic load, cheap
// enough for every call on a hot path.
func (s *SafeMode) Active() bool {
	if s == nil {
		return false
	}
	st := s.state.Load()
	return st != nil && st.Active
}

// State returns a snapshot of the current state.
func (s *SafeMode) State() SafeModeState {
	if s == nil {
		return SafeModeState{}
	}
	if st := s.state.Load(); st != nil {
		return *st
	}
	return SafeModeState{}
}
