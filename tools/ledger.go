package tools

import (
	"context"
	"sync"
	"time"
)

// ApprovalLedger remembers the approvals that let a call run, so each is
// used once: resuming the same saved state twice with one approval runs
// the call once, and the second attempt is refused. Replicas that share
// paused runs need a shared ledger (a Redis SET NX with the approval's
// expiry is enough); the default is one in memory per Executor.
type ApprovalLedger interface {
	// Use marks the approval bound to binding as used, remembering it
	// until expires, and reports whether it was still unused.
	Use(ctx context.Context, binding string, expires time.Time) (bool, error)
}

// NewMemoryLedger returns an ApprovalLedger kept in memory, which forgets
// approvals once they expire (they could not be used anyway). It is safe
// for concurrent use.
func NewMemoryLedger() ApprovalLedger { return newMemoryLedger(time.Now) }

// newMemoryLedger returns a memory ledger on the clock now, which must be
// the clock approvals' expiry times are read on.
func newMemoryLedger(now func() time.Time) *memoryLedger {
	return &memoryLedger{used: map[string]time.Time{}, now: now}
}

type memoryLedger struct {
	mu   sync.Mutex
	used map[string]time.Time
	now  func() time.Time
	// uses counts calls since the last sweep of expired entries.
	uses int
}

func (l *memoryLedger) Use(_ context.Context, binding string, expires time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.uses++; l.uses >= 256 || len(l.used) >= 4096 {
		l.uses = 0
		for b, exp := range l.used {
			if !now.Before(exp) {
				delete(l.used, b)
			}
		}
	}
	if exp, ok := l.used[binding]; ok && now.Before(exp) {
		return false, nil
	}
	l.used[binding] = expires
	return true, nil
}
