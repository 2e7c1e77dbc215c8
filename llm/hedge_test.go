package llm_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// hedgeSpy wraps a Model and records how each of its calls ended: the
// error, or nil, once the call has returned or its stream was released.
type hedgeSpy struct {
	next llm.Model
	mu   sync.Mutex
	ends []error
}

func (s *hedgeSpy) record(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ends = append(s.ends, err)
}

func (s *hedgeSpy) ended() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.ends...)
}

func (s *hedgeSpy) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	resp, err := s.next.Generate(ctx, req)
	s.record(err)
	return resp, err
}

func (s *hedgeSpy) Stream(ctx context.Context, req *llm.Request) llm.Stream {
	return func(yield func(llm.Event, error) bool) {
		var last error
		defer func() { s.record(last) }()
		for ev, err := range s.next.Stream(ctx, req) {
			if err != nil {
				last = err
			}
			if !yield(ev, err) {
				return
			}
		}
	}
}

// hedgePair builds a Hedge over two scripted models with spies.
func hedgePair(opts llm.HedgeOptions, primary, secondary *llmtest.Model) (llm.Model, *hedgeSpy, *hedgeSpy) {
	ps, ss := &hedgeSpy{next: primary}, &hedgeSpy{next: secondary}
	return llm.Hedge(opts, llm.Target{Name: "primary", Model: ps}, llm.Target{Name: "secondary", Model: ss}), ps, ss
}

// hedgeInstant answers every call at once with text.
func hedgeInstant(text string) *llmtest.Model {
	return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Message: llm.AssistantText(text)}, nil
	})
}

func TestHedgeSlowPrimary(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pb := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1})
				primary := &hedgeSpy{next: llmtest.NewModel(llmtest.Reply("slow").Delay(10 * time.Second))}
				secondary := llmtest.NewModel(llmtest.Reply("fast").Delay(100 * time.Millisecond))
				m := llm.Hedge(llm.HedgeOptions{InitialDelay: time.Second},
					llm.Target{Name: "primary", Model: primary, Breaker: pb},
					llm.Target{Name: "secondary", Model: secondary})
				start := time.Now()
				resp, err := brkCall(t.Context(), m, mode)
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != 1100*time.Millisecond {
					t.Errorf("answered after %v, want 1.1s (hedge at 1s + 100ms)", got)
				}
				if resp.Text() != "fast" || resp.Target != "secondary" || resp.Attempts != 2 {
					t.Errorf("text, target, attempts = %q, %q, %d; want fast, secondary, 2", resp.Text(), resp.Target, resp.Attempts)
				}
				synctest.Wait()
				ends := primary.ended()
				if len(ends) != 1 || llm.KindOf(ends[0]) != llm.KindCanceled {
					t.Errorf("primary ended with %v, want one canceled call", ends)
				}
				if pb.State() != llm.BreakerClosed {
					t.Errorf("a canceled loser tripped its breaker")
				}
				if got := time.Since(start); got != 1100*time.Millisecond {
					t.Errorf("the loser was released after %v, want at once", got)
				}
			})
		})
	}
}

func TestHedgeFastPrimary(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _, secondary := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
					llmtest.NewModel(llmtest.Reply("quick").Delay(300*time.Millisecond)), hedgeInstant("hedge"))
				start := time.Now()
				resp, err := brkCall(t.Context(), m, mode)
				if err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != 300*time.Millisecond {
					t.Errorf("answered after %v, want 300ms", got)
				}
				if resp.Target != "primary" || resp.Attempts != 1 {
					t.Errorf("target, attempts = %q, %d; want primary, 1", resp.Target, resp.Attempts)
				}
				synctest.Wait()
				if n := len(secondary.ended()); n != 0 {
					t.Errorf("secondary calls = %d, want none", n)
				}
			})
		})
	}
}

func TestHedgePrimaryFailsBeforeHedge(t *testing.T) {
	tests := []struct {
		name     string
		primary  llmtest.Step
		wantErr  llm.Kind // 0: the secondary answers
		wantTime time.Duration
	}{
		{"fallback kind starts the secondary at once", llmtest.ServerError(503).Delay(200 * time.Millisecond), 0, 300 * time.Millisecond},
		{"other kinds end the call", llmtest.HTTPFailure(400, "invalid_value", "bad").Delay(200 * time.Millisecond), llm.KindInvalidRequest, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		for _, mode := range brkModes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					m, _, secondary := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
						llmtest.NewModel(tt.primary), llmtest.NewModel(llmtest.Reply("two").Delay(100*time.Millisecond)))
					start := time.Now()
					resp, err := brkCall(t.Context(), m, mode)
					if got := time.Since(start); got != tt.wantTime {
						t.Errorf("returned after %v, want %v", got, tt.wantTime)
					}
					if tt.wantErr != 0 {
						e := brkWantKind(t, err, tt.wantErr)
						if e.Attempts != 1 || len(secondary.ended()) != 0 {
							t.Errorf("attempts, secondary calls = %d, %d; want 1, 0", e.Attempts, len(secondary.ended()))
						}
						return
					}
					if err != nil || resp.Target != "secondary" || resp.Attempts != 2 {
						t.Errorf("resp, err = %+v, %v; want secondary after 2 attempts", resp, err)
					}
				})
			})
		}
	}
}

func TestHedgeBothFail(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _, _ := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
					llmtest.NewModel(llmtest.ServerError(502).Delay(2*time.Second)),
					llmtest.NewModel(llmtest.QuotaExhausted().Delay(500*time.Millisecond)))
				start := time.Now()
				_, err := brkCall(t.Context(), m, mode)
				// The secondary fails at 1.5s; the call waits for the
				// primary, which fails at 2s.
				if got := time.Since(start); got != 2*time.Second {
					t.Errorf("returned after %v, want 2s", got)
				}
				e := brkWantKind(t, err, llm.KindUnavailable)
				var fe *llm.FallbackError
				if !errors.As(err, &fe) || len(fe.Attempts) != 2 ||
					fe.Attempts[0].Target != "secondary" || fe.Attempts[1].Target != "primary" || e.Attempts != 2 {
					t.Errorf("err = %v (attempts %d), want both attempts listed, secondary first", err, e.Attempts)
				}
			})
		})
	}
}

func TestHedgeDelayAdapts(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ms := time.Millisecond
				primary := llmtest.NewModel(
					llmtest.Reply("a").Delay(100*ms), llmtest.Reply("a").Delay(500*ms), llmtest.Reply("a").Delay(300*ms),
					llmtest.Reply("a").Delay(200*ms), llmtest.Reply("a").Delay(400*ms),
					llmtest.Reply("slow").Delay(time.Hour),
					llmtest.Reply("b").Delay(50*ms).Times(5),
					llmtest.Reply("slow").Delay(time.Hour),
				)
				m, _, _ := hedgePair(llm.HedgeOptions{InitialDelay: time.Second, MinSamples: 5, Samples: 5, Percentile: 0.95},
					primary, hedgeInstant("hedge"))
				call := func() (*llm.Response, time.Duration) {
					t.Helper()
					start := time.Now()
					resp, err := brkCall(t.Context(), m, mode)
					if err != nil {
						t.Fatal(err)
					}
					synctest.Wait() // let a canceled loser record its latency
					return resp, time.Since(start)
				}
				for range 5 { // below the initial 1s: no hedge
					if resp, _ := call(); resp.Target != "primary" {
						t.Fatalf("target = %q, want primary", resp.Target)
					}
				}
				// p95 of 100..500ms is 500ms.
				if resp, took := call(); resp.Target != "secondary" || took != 500*ms {
					t.Fatalf("hedged after %v by %q, want 500ms by secondary", took, resp.Target)
				}
				for range 5 {
					if resp, took := call(); resp.Target != "primary" || took != 50*ms {
						t.Fatalf("fast primary: %q after %v", resp.Target, took)
					}
				}
				// The ring now holds five 50ms latencies.
				if resp, took := call(); resp.Target != "secondary" || took != 50*ms {
					t.Fatalf("hedged after %v by %q, want 50ms by secondary", took, resp.Target)
				}
			})
		})
	}
}

func TestHedgeDelayBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary := llmtest.NewModel(llmtest.Reply("a").Times(3), llmtest.Reply("slow").Delay(time.Hour))
		m, _, _ := hedgePair(llm.HedgeOptions{MinSamples: 3, MinDelay: 200 * time.Millisecond}, primary, hedgeInstant("b"))
		for range 3 {
			_, _ = m.Generate(t.Context(), brkReq()) // instant answers: p95 is 0
		}
		start := time.Now()
		if resp, err := m.Generate(t.Context(), brkReq()); err != nil || resp.Target != "secondary" {
			t.Fatalf("%+v, %v", resp, err)
		}
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Errorf("hedged after %v, want MinDelay 200ms", got)
		}
	})
}

func TestHedgeSafeMode(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sm := llm.NewSafeMode()
				sm.Enable("incident: stop hedging")
				m, _, secondary := hedgePair(llm.HedgeOptions{InitialDelay: time.Second, SafeMode: sm},
					llmtest.NewModel(llmtest.Reply("slow").Delay(10*time.Second), llmtest.ServerError(503)), hedgeInstant("hedge"))
				start := time.Now()
				resp, err := brkCall(t.Context(), m, mode)
				if err != nil || resp.Target != "primary" || time.Since(start) != 10*time.Second {
					t.Fatalf("%+v, %v after %v; want primary after 10s", resp, err, time.Since(start))
				}
				if n := len(secondary.ended()); n != 0 {
					t.Fatalf("secondary calls = %d, want 0 in safe mode", n)
				}
				// Without hedging, a failure still moves on.
				if resp, err = brkCall(t.Context(), m, mode); err != nil || resp.Target != "secondary" || resp.Attempts != 2 {
					t.Fatalf("%+v, %v; want secondary after 2 attempts", resp, err)
				}
			})
		})
	}
}

func TestHedgeOpenBreaker(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				open := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1})
				p, _ := open.Allow()
				p.Done(&llm.Error{Kind: llm.KindUnavailable})

				// Primary open: the secondary serves at once, alone.
				primary := &hedgeSpy{next: hedgeInstant("one")}
				m := llm.Hedge(llm.HedgeOptions{InitialDelay: time.Second},
					llm.Target{Name: "primary", Model: primary, Breaker: open},
					llm.Target{Name: "secondary", Model: llmtest.NewModel(llmtest.Reply("two").Delay(3 * time.Second))})
				start := time.Now()
				resp, err := brkCall(t.Context(), m, mode)
				if err != nil || resp.Target != "secondary" || resp.Attempts != 1 || time.Since(start) != 3*time.Second {
					t.Fatalf("%+v, %v after %v; want secondary alone after 3s", resp, err, time.Since(start))
				}
				if len(primary.ended()) != 0 {
					t.Errorf("the primary was called through an open breaker")
				}

				// Secondary open: no hedge, the primary serves alone.
				m = llm.Hedge(llm.HedgeOptions{InitialDelay: time.Second},
					llm.Target{Name: "primary", Model: llmtest.NewModel(llmtest.Reply("one").Delay(3 * time.Second))},
					llm.Target{Name: "secondary", Model: primary, Breaker: open})
				start = time.Now()
				resp, err = brkCall(t.Context(), m, mode)
				if err != nil || resp.Target != "primary" || resp.Attempts != 1 || time.Since(start) != 3*time.Second {
					t.Fatalf("%+v, %v after %v; want primary alone after 3s", resp, err, time.Since(start))
				}
			})
		})
	}
}

func TestHedgeStreamCallerStopsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, primary, secondary := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
			llmtest.NewModel(llmtest.Reply("slow").Delay(time.Hour)),
			llmtest.NewModel(llmtest.Reply("a long answer from the secondary")))
		for ev, err := range m.Stream(t.Context(), brkReq()) {
			if err != nil || ev.Target != "secondary" || ev.Attempts != 2 {
				t.Fatalf("first pair = %+v, %v", ev, err)
			}
			break
		}
		synctest.Wait()
		if p, s := primary.ended(), secondary.ended(); len(p) != 1 || len(s) != 1 {
			t.Fatalf("released streams: primary %v, secondary %v; want both released", p, s)
		}
	})
}

func TestHedgeStreamWinnerFailsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, _, _ := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
			llmtest.NewModel(llmtest.Reply("slow").Delay(time.Hour)),
			llmtest.NewModel(llmtest.Reply("hello world").CutOffAfter(2)))
		resp, err := llm.Collect(m.Stream(t.Context(), brkReq()))
		brkWantKind(t, err, llm.KindUnavailable)
		if resp.Target != "secondary" || resp.Text() != "hell" {
			t.Errorf("partial response = %q from %q", resp.Text(), resp.Target)
		}
	})
}

func TestHedgeCallerCancels(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, primary, secondary := hedgePair(llm.HedgeOptions{InitialDelay: time.Second},
					llmtest.NewModel(llmtest.Reply("slow").Delay(time.Hour)),
					llmtest.NewModel(llmtest.Reply("slow").Delay(time.Hour)))
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				_, err := brkCall(ctx, m, mode)
				brkWantKind(t, err, llm.KindTimeout)
				synctest.Wait()
				if len(primary.ended()) != 1 || len(secondary.ended()) != 1 {
					t.Errorf("calls still running after the caller gave up")
				}
			})
		})
	}
}

// Many concurrent hedged calls with every outcome: the bubble fails the
// test if any goroutine is left behind.
func TestHedgeNoLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []llmtest.Step{
			llmtest.Reply("fast"), llmtest.Reply("slow").Delay(3 * time.Second), llmtest.ServerError(503),
			llmtest.ServerError(503).Delay(2 * time.Second), llmtest.Reply("cut").CutOffAfter(2), llmtest.Timeout(0),
		}
		primary, secondary := llmtest.NewModel(), llmtest.NewModel()
		for i := range 60 {
			primary.Enqueue(steps[i%len(steps)])
			secondary.Enqueue(steps[(i/len(steps))%len(steps)])
		}
		m := llm.Hedge(llm.HedgeOptions{InitialDelay: time.Second, Breaker: llm.BreakerOptions{ConsecutiveFailures: -1, FailureRate: -1}},
			llm.Target{Name: "p", Model: primary}, llm.Target{Name: "s", Model: secondary})
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				if i%2 == 0 {
					_, _ = m.Generate(ctx, brkReq())
					return
				}
				for _, err := range m.Stream(ctx, brkReq()) {
					if err != nil || i%3 == 0 {
						break
					}
				}
			})
		}
		wg.Wait()
	})
}

func BenchmarkHedgeFastPrimary(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	healthy := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	m := llm.Hedge(llm.HedgeOptions{}, llm.Target{Name: "p", Model: healthy}, llm.Target{Name: "s", Model: healthy})
	ctx, req := context.Background(), brkReq()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// A Model that panics on a goroutine Hedge started fails that attempt with
// an *Error of KindUnknown ("panic: ..."), instead of crashing the process.
func TestHedgeRecoversPanic(t *testing.T) {
	panicky := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
		panic("boom")
	}}
	for _, stream := range []bool{false, true} {
		call := func(m llm.Model, ctx context.Context) (*llm.Response, error) {
			if stream {
				return llm.Collect(m.Stream(ctx, &llm.Request{Model: "m"}))
			}
			return m.Generate(ctx, &llm.Request{Model: "m"})
		}
		name := "generate"
		if stream {
			name = "stream"
		}
		t.Run(name+"/secondary answers", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Hedge(llm.HedgeOptions{},
					llm.Target{Name: "primary", Model: panicky},
					llm.Target{Name: "secondary", Model: llmtest.NewModel(llmtest.Reply("ok"))})
				resp, err := call(m, t.Context())
				if err != nil || resp.Target != "secondary" || resp.Message.Text() != "ok" {
					t.Fatalf("got %+v, %v; want the secondary's answer", resp, err)
				}
			})
		})
		t.Run(name+"/both panic", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Hedge(llm.HedgeOptions{},
					llm.Target{Name: "primary", Model: panicky},
					llm.Target{Name: "secondary", Model: panicky})
				_, err := call(m, t.Context())
				var fe *llm.FallbackError
				if llm.KindOf(err) != llm.KindUnknown || !errors.As(err, &fe) || len(fe.Attempts) != 2 {
					t.Fatalf("err = %v, want KindUnknown listing both attempts", err)
				}
				for _, a := range fe.Attempts {
					var e *llm.Error
					if !errors.As(a.Err, &e) || e.Kind != llm.KindUnknown || e.Message != "panic: boom" {
						t.Errorf("attempt %s: %v, want an *Error of KindUnknown with message \"panic: boom\"", a.Target, a.Err)
					}
				}
			})
		})
	}
}
