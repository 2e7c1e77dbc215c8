package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

func TestFallbackOrder(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			primary, secondary := llmtest.NewModel(llmtest.Reply("one")), llmtest.NewModel(llmtest.Reply("two"))
			m := llm.Fallback(llm.FallbackOptions{},
				llm.Target{Name: "primary", Model: primary},
				llm.Target{Name: "secondary", Model: secondary})
			resp, err := brkCall(t.Context(), m, mode)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text() != "one" || resp.Target != "primary" || resp.Attempts != 1 {
				t.Errorf("text, target, attempts = %q, %q, %d; want one, primary, 1", resp.Text(), resp.Target, resp.Attempts)
			}
			if secondary.Calls() != 0 {
				t.Errorf("secondary calls = %d, want 0", secondary.Calls())
			}
		})
	}
}

func TestFallbackMovesOnPerKind(t *testing.T) {
	tests := []struct {
		name     string
		step     llmtest.Step
		kind     llm.Kind
		moveOn   bool
		attempts int // of the whole call
	}{
		{"unavailable 503", llmtest.ServerError(503), llm.KindUnavailable, true, 2},
		{"rate limited 429", llmtest.RateLimited("Retry-After", "3"), llm.KindRateLimited, true, 2},
		{"quota exhausted", llmtest.QuotaExhausted(), llm.KindQuotaExhausted, true, 2},
		{"timeout", llmtest.Timeout(time.Second), llm.KindTimeout, true, 2},
		{"bad response", llmtest.Fail(&llm.Error{Kind: llm.KindBadResponse}), llm.KindBadResponse, true, 2},
		{"auth 401", llmtest.HTTPFailure(401, "invalid_api_key", "no"), llm.KindAuth, true, 2},
		{"not found 404", llmtest.HTTPFailure(404, "model_not_found", "no"), llm.KindNotFound, true, 2},
		{"unknown error", llmtest.Fail(errors.New("boom")), llm.KindUnknown, true, 2},
		{"locally rate limited", llmtest.Fail(&llm.Error{Kind: llm.KindLocalRateLimited}), llm.KindLocalRateLimited, true, 1},
		{"stream cut off before first event", llmtest.Reply("x").CutOffAfter(0), llm.KindUnavailable, true, 2},
		{"invalid request 400", llmtest.HTTPFailure(400, "invalid_value", "bad"), llm.KindInvalidRequest, false, 1},
		{"context length", llmtest.HTTPFailure(400, "context_length_exceeded", "long"), llm.KindContextLength, false, 1},
		{"content filtered", llmtest.Fail(&llm.Error{Kind: llm.KindContentFiltered}), llm.KindContentFiltered, false, 1},
		{"guard blocked", llmtest.Fail(&llm.Error{Kind: llm.KindGuardBlocked}), llm.KindGuardBlocked, false, 1},
		{"budget exceeded", llmtest.Fail(&llm.Error{Kind: llm.KindBudgetExceeded}), llm.KindBudgetExceeded, false, 1},
		{"canceled", llmtest.Fail(&llm.Error{Kind: llm.KindCanceled}), llm.KindCanceled, false, 1},
	}
	for _, tt := range tests {
		for _, mode := range brkModes {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					primary, secondary := llmtest.NewModel(tt.step), llmtest.NewModel(llmtest.Reply("two"))
					m := llm.Fallback(llm.FallbackOptions{},
						llm.Target{Name: "primary", Model: primary},
						llm.Target{Name: "secondary", Model: secondary})
					resp, err := brkCall(t.Context(), m, mode)
					if !tt.moveOn {
						e := brkWantKind(t, err, tt.kind)
						var fe *llm.FallbackError
						if !errors.As(err, &fe) || len(fe.Attempts) != 1 || fe.Attempts[0].Target != "primary" {
							t.Fatalf("fallback error = %#v, want one attempt on primary", fe)
						}
						if e.Attempts != tt.attempts {
							t.Errorf("attempts = %d, want %d", e.Attempts, tt.attempts)
						}
						if secondary.Calls() != 0 {
							t.Errorf("secondary calls = %d, want 0", secondary.Calls())
						}
						return
					}
					if err != nil {
						t.Fatalf("err = %v, want the secondary's answer", err)
					}
					if resp.Text() != "two" || resp.Target != "secondary" || resp.Attempts != tt.attempts {
						t.Errorf("text, target, attempts = %q, %q, %d; want two, secondary, %d",
							resp.Text(), resp.Target, resp.Attempts, tt.attempts)
					}
				})
			})
		}
	}
}

func TestFallbackAlsoOn(t *testing.T) {
	tooLong := llmtest.HTTPFailure(400, "context_length_exceeded", "maximum context length is 8192 tokens")
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			for _, also := range [][]llm.Kind{nil, {llm.KindContextLength, llm.KindCanceled}} {
				short, long := llmtest.NewModel(tooLong), llmtest.NewModel(llmtest.Reply("long answer"))
				m := llm.Fallback(llm.FallbackOptions{AlsoOn: also},
					llm.Target{Name: "short", Model: short},
					llm.Target{Name: "long", Model: long})
				resp, err := brkCall(t.Context(), m, mode)
				if also == nil {
					brkWantKind(t, err, llm.KindContextLength)
					continue
				}
				if err != nil || resp.Target != "long" {
					t.Errorf("AlsoOn context length: %v, %v; want the long target's answer", resp, err)
				}
			}
			// KindCanceled never moves on, even when listed.
			canceled, next := llmtest.NewModel(llmtest.Fail(&llm.Error{Kind: llm.KindCanceled})), llmtest.NewModel(llmtest.Reply("x"))
			m := llm.Fallback(llm.FallbackOptions{AlsoOn: []llm.Kind{llm.KindCanceled}},
				llm.Target{Model: canceled}, llm.Target{Model: next})
			_, err := brkCall(t.Context(), m, mode)
			brkWantKind(t, err, llm.KindCanceled)
			if next.Calls() != 0 {
				t.Errorf("moved on after a cancellation")
			}
		})
	}
}

func TestFallbackStopsWhenContextDone(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				// The primary fails with a kind that would move on, but
				// the caller has gone.
				primary := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) {
					cancel()
					return nil, &llm.Error{Kind: llm.KindUnavailable}
				}}
				secondary := llmtest.NewModel(llmtest.Reply("two"))
				m := llm.Fallback(llm.FallbackOptions{}, llm.Target{Model: primary}, llm.Target{Model: secondary})
				_, err := brkCall(ctx, m, mode)
				brkWantKind(t, err, llm.KindUnavailable)
				if secondary.Calls() != 0 {
					t.Errorf("secondary calls = %d, want 0", secondary.Calls())
				}
			})
		})
	}
}

func TestFallbackSkipsOpenBreaker(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec brkRecorder
				primary := llmtest.NewModel(llmtest.ServerError(503), llmtest.Reply("one"))
				secondary := llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
					return &llm.Response{Message: llm.AssistantText("two")}, nil
				})
				m := llm.Fallback(llm.FallbackOptions{
					Breaker: llm.BreakerOptions{ConsecutiveFailures: 1, Cooldown: time.Minute, OnStateChange: rec.record},
				}, llm.Target{Name: "primary", Model: primary}, llm.Target{Name: "secondary", Model: secondary})

				resp, err := brkCall(t.Context(), m, mode)
				if err != nil || resp.Target != "secondary" || resp.Attempts != 2 {
					t.Fatalf("first call: %+v, %v; want secondary after 2 attempts", resp, err)
				}
				if len(rec.changes) != 1 || rec.changes[0].Name != "primary" || rec.changes[0].To != llm.BreakerOpen {
					t.Fatalf("changes = %+v, want the primary's breaker open", rec.changes)
				}
				for range 3 {
					resp, err = brkCall(t.Context(), m, mode)
					if err != nil || resp.Target != "secondary" || resp.Attempts != 1 {
						t.Fatalf("while open: %+v, %v; want secondary at the cost of 1 attempt", resp, err)
					}
				}
				if primary.Calls() != 1 {
					t.Errorf("primary calls = %d, want 1: an open breaker costs no call", primary.Calls())
				}
				time.Sleep(time.Minute)
				if resp, err = brkCall(t.Context(), m, mode); err != nil || resp.Target != "primary" {
					t.Errorf("after cooldown: %+v, %v; want the primary back", resp, err)
				}
			})
		})
	}
}

func TestFallbackOwnBreaker(t *testing.T) {
	b := llm.NewBreaker(llm.BreakerOptions{Name: "shared", ConsecutiveFailures: 1})
	if p, err := b.Allow(); err == nil {
		p.Done(&llm.Error{Kind: llm.KindUnavailable})
	}
	primary := llmtest.NewModel(llmtest.Reply("one"))
	m := llm.Fallback(llm.FallbackOptions{},
		llm.Target{Name: "primary", Model: primary, Breaker: b},
		llm.Target{Name: "secondary", Model: llmtest.NewModel(llmtest.Reply("two"))})
	resp, err := m.Generate(t.Context(), brkReq())
	if err != nil || resp.Target != "secondary" || primary.Calls() != 0 {
		t.Fatalf("resp, err, primary calls = %+v, %v, %d; want secondary, nil, 0", resp, err, primary.Calls())
	}
}

func TestFallbackTotalFailure(t *testing.T) {
	const secret = "sk-proj-abcdef1234567890"
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := llm.Fallback(llm.FallbackOptions{},
					llm.Target{Name: "first", Model: llmtest.NewModel(llmtest.HTTPFailure(401, "invalid_api_key", "Incorrect API key provided: "+secret))},
					llm.Target{Name: "second", Model: llmtest.NewModel(llmtest.Fail(&llm.Error{Kind: llm.KindUnavailable, Attempts: 3, Message: "retried"}))},
					llm.Target{Name: "third", Model: llmtest.NewModel(llmtest.RateLimited("Retry-After", "7"))})
				_, err := brkCall(t.Context(), m, mode)
				e := brkWantKind(t, err, llm.KindRateLimited)
				if e.Attempts != 1+3+1 {
					t.Errorf("attempts = %d, want 5", e.Attempts)
				}
				if e.RetryAfter != 7*time.Second || !llm.Retryable(err) {
					t.Errorf("retry after, retryable = %v, %v; want the last attempt's", e.RetryAfter, llm.Retryable(err))
				}
				var fe *llm.FallbackError
				if !errors.As(err, &fe) {
					t.Fatalf("no *FallbackError in %v", err)
				}
				var names []string
				for _, a := range fe.Attempts {
					names = append(names, a.Target+"="+llm.KindOf(a.Err).String())
				}
				if got := strings.Join(names, " "); got != "first=auth second=unavailable third=rate_limited" {
					t.Errorf("attempts = %s", got)
				}
				msg := err.Error()
				for _, want := range []string{"rate_limited", "first: ", "auth", "second: ", "retried", "third: "} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q does not contain %q", msg, want)
					}
				}
				if strings.Contains(msg, "abcdef1234567890") {
					t.Errorf("message leaks the API key: %q", msg)
				}
				if !errors.Is(err, llm.KindAuth) || !errors.Is(err, llm.KindUnavailable) {
					t.Errorf("errors.Is does not reach every attempt's error")
				}
			})
		})
	}
}

func TestFallbackAttemptsFromInnerRetry(t *testing.T) {
	m := llm.Fallback(llm.FallbackOptions{},
		llm.Target{Name: "a", Model: llmtest.NewModel(llmtest.Fail(&llm.Error{Kind: llm.KindTimeout, Attempts: 3}))},
		llm.Target{Name: "b", Model: llmtest.NewModel(llmtest.Response(&llm.Response{Message: llm.AssistantText("ok"), Attempts: 2}))})
	resp, err := m.Generate(t.Context(), brkReq())
	if err != nil || resp.Attempts != 5 || resp.Target != "b" {
		t.Fatalf("resp, err = %+v, %v; want b after 5 attempts", resp, err)
	}
}

func TestFallbackStreams(t *testing.T) {
	tests := []struct {
		name          string
		primary       llmtest.Step
		wantText      string
		wantErr       llm.Kind // on Collect; 0 for none
		wantSecondary int
	}{
		{"cut before the first event", llmtest.Reply("hello world").CutOffAfter(0), "secondary", 0, 1},
		{"delayed then failed", llmtest.ServerError(502).Delay(time.Second), "secondary", 0, 1},
		{"cut after content", llmtest.Reply("hello world").CutOffAfter(3), "hello wo", llm.KindUnavailable, 0},
		{"whole", llmtest.Reply("hello world"), "hello world", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				secondary := llmtest.NewModel(llmtest.Reply("secondary"))
				m := llm.Fallback(llm.FallbackOptions{},
					llm.Target{Name: "primary", Model: llmtest.NewModel(tt.primary)},
					llm.Target{Name: "secondary", Model: secondary})
				var first llm.Event
				n := 0
				resp, err := llm.Collect(func(yield func(llm.Event, error) bool) {
					for ev, err := range m.Stream(t.Context(), brkReq()) {
						if n++; n == 1 {
							first = ev
						}
						if !yield(ev, err) {
							return
						}
					}
				})
				if tt.wantErr != 0 {
					e := brkWantKind(t, err, tt.wantErr)
					var fe *llm.FallbackError
					if errors.As(err, &fe) || e.Attempts != 0 {
						t.Errorf("an error after content must pass on as it is, got %v", err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if resp.Text() != tt.wantText {
					t.Errorf("text = %q, want %q", resp.Text(), tt.wantText)
				}
				if want := map[bool]string{true: "secondary", false: "primary"}[tt.wantSecondary > 0]; first.Target != want || first.Attempts != 1+tt.wantSecondary {
					t.Errorf("first event target, attempts = %q, %d; want %q, %d", first.Target, first.Attempts, want, 1+tt.wantSecondary)
				}
				if secondary.Calls() != tt.wantSecondary {
					t.Errorf("secondary calls = %d, want %d", secondary.Calls(), tt.wantSecondary)
				}
			})
		})
	}
}

func TestFallbackStreamCallerStopsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := llm.NewBreaker(llm.BreakerOptions{ConsecutiveFailures: 1})
		primary, secondary := llmtest.NewModel(llmtest.Reply("hello world")), llmtest.NewModel(llmtest.Reply("two"))
		m := llm.Fallback(llm.FallbackOptions{},
			llm.Target{Name: "primary", Model: primary, Breaker: b},
			llm.Target{Name: "secondary", Model: secondary})
		for ev, err := range m.Stream(t.Context(), brkReq()) {
			if err != nil || ev.Target != "primary" {
				t.Fatalf("first pair = %+v, %v", ev, err)
			}
			break
		}
		if secondary.Calls() != 0 || b.State() != llm.BreakerClosed {
			t.Errorf("secondary calls, breaker = %d, %v; want 0, closed", secondary.Calls(), b.State())
		}
	})
}

func TestFallbackSafeMode(t *testing.T) {
	for _, mode := range brkModes {
		t.Run(mode, func(t *testing.T) {
			sm := llm.NewSafeMode()
			reply := func(text string) *llmtest.Model {
				return llmtest.NewModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
					return &llm.Response{Message: llm.AssistantText(text)}, nil
				})
			}
			primary, secondary := reply("one"), reply("two")
			m := llm.Fallback(llm.FallbackOptions{SafeMode: sm},
				llm.Target{Name: "primary", Model: primary},
				llm.Target{Name: "secondary", Model: secondary})
			sm.Enable("incident 42: primary returns garbage")
			resp, err := brkCall(t.Context(), m, mode)
			if err != nil || resp.Target != "secondary" || primary.Calls() != 0 {
				t.Fatalf("safe mode: %+v, %v, primary calls %d; want secondary, no primary call", resp, err, primary.Calls())
			}
			sm.Disable()
			if resp, err = brkCall(t.Context(), m, mode); err != nil || resp.Target != "primary" {
				t.Fatalf("after safe mode: %+v, %v; want primary", resp, err)
			}

			// A single target keeps serving in safe mode.
			sm.Enable("x")
			single := llm.Fallback(llm.FallbackOptions{SafeMode: sm}, llm.Target{Model: reply("only")})
			if resp, err = brkCall(t.Context(), single, mode); err != nil || resp.Target != "target0" {
				t.Fatalf("single target in safe mode: %+v, %v", resp, err)
			}
		})
	}
}

func TestFallbackPanics(t *testing.T) {
	for name, fn := range map[string]func(){
		"no targets": func() { llm.Fallback(llm.FallbackOptions{}) },
		"nil model":  func() { llm.Fallback(llm.FallbackOptions{}, llm.Target{Name: "x"}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			fn()
		})
	}
}

func BenchmarkFallbackSuccess(b *testing.B) {
	resp := &llm.Response{Message: llm.AssistantText("ok"), FinishReason: llm.FinishStop}
	healthy := llm.ModelFuncs{GenerateFunc: func(context.Context, *llm.Request) (*llm.Response, error) { return resp, nil }}
	m := llm.Fallback(llm.FallbackOptions{SafeMode: llm.NewSafeMode()},
		llm.Target{Name: "primary", Model: healthy},
		llm.Target{Name: "secondary", Model: healthy})
	ctx, req := context.Background(), brkReq()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Generate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFallbackStreamSuccess(b *testing.B) {
	events := []llm.Event{{Kind: llm.EventStart}, {Kind: llm.EventTextDelta, Text: "ok"}, {Kind: llm.EventFinish, FinishReason: llm.FinishStop}}
	healthy := llm.ModelFuncs{StreamFunc: func(context.Context, *llm.Request) llm.Stream {
		return func(yield func(llm.Event, error) bool) {
			for _, ev := range events {
				if !yield(ev, nil) {
					return
				}
			}
		}
	}}
	m := llm.Fallback(llm.FallbackOptions{}, llm.Target{Name: "primary", Model: healthy}, llm.Target{Name: "secondary", Model: healthy})
	ctx, req := context.Background(), brkReq()
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range m.Stream(ctx, req) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
