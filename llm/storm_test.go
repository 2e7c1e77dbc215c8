package llm_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// stormPhase says how the flaky primary behaves.
type stormPhase int32

const (
	phaseFlaky   stormPhase = iota // fails 30% of calls at random
	phaseDown                      // fails every call
	phaseHealthy                   // answers every call
)

// stormModel is the primary of TestFaultStorm: it counts calls per user (one
// user per request) and fails according to the phase, with a seeded source
// so the sequence of decisions is reproducible.
type stormModel struct {
	phase atomic.Int32
	calls sync.Map // user -> *atomic.Int32
	total atomic.Int64
	mu    sync.Mutex
	rng   *rand.Rand
	next  llm.Model
}

func (m *stormModel) count(req *llm.Request) {
	m.total.Add(1)
	c, _ := m.calls.LoadOrStore(req.Principal.User, new(atomic.Int32))
	c.(*atomic.Int32).Add(1)
}

func (m *stormModel) fail() bool {
	switch stormPhase(m.phase.Load()) {
	case phaseDown:
		return true
	case phaseHealthy:
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rng.Float64() < 0.3
}

func (m *stormModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	m.count(req)
	// Answers and failures take the same time, as a provider's 503 and
	// its answer both take a round trip; otherwise the first outcomes of
	// a burst would be biased towards whichever path is cheaper.
	resp, err := m.next.Generate(ctx, req)
	select {
	case <-time.After(stormLatency):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.fail() {
		return nil, &llm.Error{Kind: llm.KindUnavailable, Provider: "primary", Status: 503, Message: "injected outage"}
	}
	return resp, err
}

// stormLatency is the primary's round trip.
const stormLatency = 200 * time.Millisecond

func (m *stormModel) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	return llm.ModelFuncs{GenerateFunc: m.Generate}.Stream(ctx, req)
}

// countingModel counts calls per user in front of a healthy model.
type countingModel struct {
	calls sync.Map
	total atomic.Int64
	next  llm.Model
}

func (m *countingModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	m.total.Add(1)
	c, _ := m.calls.LoadOrStore(req.Principal.User, new(atomic.Int32))
	c.(*atomic.Int32).Add(1)
	return m.next.Generate(ctx, req)
}

func (m *countingModel) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	return llm.ModelFuncs{GenerateFunc: m.Generate}.Stream(ctx, req)
}

func maxCalls(m *sync.Map) int32 {
	var most int32
	m.Range(func(_, v any) bool {
		most = max(most, v.(*atomic.Int32).Load())
		return true
	})
	return most
}

// TestFaultStorm sends 1,000 concurrent requests at the reliability stack
// while its primary fails 30% of calls at random and its secondary is
// healthy, then takes the primary down and brings it back. It asserts
// invariants rather than sequences: every request succeeds, no request
// exceeds its attempt limit on any Model, retries stay within the shared
// retry budget, and the primary's breaker opens once the primary fails
// continuously and closes after it recovers. testing/synctest makes the
// backoff waits and the breaker's cooldown cost no real time.
func TestFaultStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			requests    = 1000
			maxAttempts = 3
			ratio       = 0.1
			window      = 10 * time.Second
			floor       = 1.0 // retries per second allowed regardless of ratio
			cooldown    = 5 * time.Second
		)
		healthy := llmtest.NewModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
			return &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop, Model: req.Model}, nil
		})
		primary := &stormModel{rng: rand.New(rand.NewPCG(1, 2)), next: healthy}
		secondary := &countingModel{next: healthy}

		budget := llm.NewRetryBudget(ratio, window, floor)
		retry := llm.Retry(llm.RetryOptions{MaxAttempts: maxAttempts, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, Budget: budget})
		timeout := llm.Timeout(llm.TimeoutOptions{Total: 2 * time.Second})

		// The targets get the Fallback's default breakers: the defaults
		// must survive a 30% storm. Only the cooldown is shortened, and
		// OnStateChange records the primary's transitions (and so its
		// state).
		var transitions []llm.BreakerChange
		primaryState := llm.BreakerClosed
		var tmu sync.Mutex
		state := func() llm.BreakerState {
			tmu.Lock()
			defer tmu.Unlock()
			return primaryState
		}
		// firstAttempts counts the calls made to each target's Retry
		// layer, that is the requests the retry budget may count, kept
		// outside the budget so that a budget that over-counts cannot
		// raise its own allowance.
		var firstAttempts atomic.Int64
		countCalls := func(next llm.Model) llm.Model {
			return llm.ModelFuncs{GenerateFunc: func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
				firstAttempts.Add(1)
				return next.Generate(ctx, req)
			}}
		}
		stack := llm.Fallback(llm.FallbackOptions{Breaker: llm.BreakerOptions{
			Cooldown: cooldown,
			OnStateChange: func(c llm.BreakerChange) {
				if c.Name != "primary" {
					return
				}
				tmu.Lock()
				transitions = append(transitions, c)
				primaryState = c.To
				tmu.Unlock()
			},
		}},
			llm.Target{Name: "primary", Model: llm.Chain(primary, countCalls, retry, timeout)},
			llm.Target{Name: "secondary", Model: llm.Chain(secondary, countCalls, llm.Retry(llm.RetryOptions{MaxAttempts: maxAttempts, Budget: budget}), timeout)},
		)

		run := func(prefix string, n int) (failed int64, bySecondary int64) {
			var wg sync.WaitGroup
			var fails, second atomic.Int64
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := &llm.Request{
						Model:     "m",
						Messages:  []llm.Message{llm.UserText("hello")},
						Principal: llm.Principal{Tenant: "t", User: fmt.Sprintf("%s-%d", prefix, i)},
					}
					resp, err := stack.Generate(context.Background(), req)
					if err != nil {
						fails.Add(1)
						t.Errorf("request %s-%d failed: %v", prefix, i, err)
						return
					}
					if resp.Attempts < 1 || resp.Attempts > 2*maxAttempts {
						t.Errorf("request %s-%d reports %d attempts", prefix, i, resp.Attempts)
					}
					if resp.Target == "secondary" {
						second.Add(1)
					}
				}()
			}
			wg.Wait()
			return fails.Load(), second.Load()
		}

		// Phase 1: the storm. 30% of primary calls fail at random.
		failed, viaSecondary := run("storm", requests)
		if failed != 0 {
			t.Fatalf("%d of %d requests failed", failed, requests)
		}
		if got := maxCalls(&primary.calls); got > maxAttempts {
			t.Errorf("a request made %d attempts on the primary, limit %d", got, maxAttempts)
		}
		if got := maxCalls(&secondary.calls); got > maxAttempts {
			t.Errorf("a request made %d attempts on the secondary, limit %d", got, maxAttempts)
		}
		// The allowance is computed from what the test counted, not from
		// the budget's own statistics: requests are the calls made to
		// the targets' Retry layers, retries the calls the fakes received
		// beyond those.
		stats := budget.Stats()
		retryRequests := firstAttempts.Load()
		retries := primary.total.Load() + secondary.total.Load() - retryRequests
		allowed := int64(ratio*float64(retryRequests) + floor*window.Seconds())
		if retries > allowed {
			t.Errorf("retry budget broken: %d retries for %d requests to the Retry layers (allowed %d)", retries, retryRequests, allowed)
		}
		if stats.Requests != retryRequests || stats.Retries != retries {
			t.Errorf("budget counted %d requests and %d retries, the test %d and %d", stats.Requests, stats.Retries, retryRequests, retries)
		}
		if st := state(); st != llm.BreakerClosed {
			t.Errorf("breaker %s after a 30%% storm absorbed by retries", st)
		}
		t.Logf("storm: %d requests, %d primary calls, %d secondary calls, %d answered by the secondary, budget %+v",
			requests, primary.total.Load(), secondary.total.Load(), viaSecondary, stats)

		// Phase 2: the primary goes down. Once the breaker opens, the
		// primary costs nothing and the secondary serves everything.
		time.Sleep(window) // let the storm leave the windows
		primary.phase.Store(int32(phaseDown))
		for round := 0; round < 10 && state() != llm.BreakerOpen; round++ {
			if failed, _ := run(fmt.Sprintf("down%d", round), 20); failed != 0 {
				t.Fatalf("%d requests failed while the primary was down", failed)
			}
		}
		if state() != llm.BreakerOpen {
			t.Fatalf("breaker %s after the primary failed continuously", state())
		}
		before := primary.total.Load()
		if failed, served := run("open", 200); failed != 0 || served != 200 {
			t.Fatalf("with the breaker open: %d failed, %d of 200 served by the secondary", failed, served)
		}
		if after := primary.total.Load(); after != before {
			t.Errorf("open breaker let %d calls through to the primary", after-before)
		}

		// Phase 3: the primary recovers. After the cooldown a probe goes
		// through, succeeds, and the breaker closes.
		primary.phase.Store(int32(phaseHealthy))
		time.Sleep(cooldown + time.Second)
		if failed, _ := run("recovered", 50); failed != 0 {
			t.Fatalf("%d requests failed after recovery", failed)
		}
		if state() != llm.BreakerClosed {
			t.Fatalf("breaker %s after the primary recovered", state())
		}
		tmu.Lock()
		defer tmu.Unlock()
		var opened, closed int
		for _, c := range transitions {
			switch c.To {
			case llm.BreakerOpen:
				opened++
			case llm.BreakerClosed:
				closed++
			}
		}
		if opened != 1 || closed != 1 {
			t.Errorf("breaker transitions: %d opens, %d closes (want 1 and 1): %+v", opened, closed, transitions)
		}
	})
}
