package llm_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
)

// stalledStart is a stream that sends EventStart and then stalls, as an
// OpenAI (or Azure) stream does when its first chunk carries no content.
func stalledStart() llmtest.Step {
	return llmtest.Reply("stalled").StallAfter(1, time.Hour)
}

// collectKinds ranges over s and returns its events' kinds, the answer
// text, the first event and the error.
func collectKinds(s llm.Stream) (kinds []llm.EventKind, text string, first llm.Event, err error) {
	for ev, e := range s {
		if e != nil {
			return kinds, text, first, e
		}
		if len(kinds) == 0 {
			first = ev
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == llm.EventTextDelta {
			text += ev.Text
		}
	}
	return kinds, text, first, nil
}

// checkOneStart checks that a stream carried exactly one start event, as
// its first event: the start events of failed attempts were dropped.
func checkOneStart(t *testing.T, kinds []llm.EventKind) {
	t.Helper()
	n := 0
	for _, k := range kinds {
		if k == llm.EventStart {
			n++
		}
	}
	if n != 1 || kinds[0] != llm.EventStart {
		t.Errorf("events %v: want exactly one start event, first", kinds)
	}
}

func TestRetryStreamRetriesAfterStartOnlyStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := llmtest.NewModel(stalledStart(), llmtest.Reply("hello world"))
		m := llm.Chain(fake,
			llm.Retry(llm.RetryOptions{Rand: func() float64 { return 0 }}),
			llm.Timeout(llm.TimeoutOptions{FirstToken: time.Second}))
		kinds, text, first, err := collectKinds(m.Stream(t.Context(), &llm.Request{Model: "m"}))
		if err != nil {
			t.Fatalf("stream failed: %v (events %v)", err, kinds)
		}
		if text != "hello world" || fake.Calls() != 2 || first.Attempts != 2 {
			t.Errorf("text %q, calls %d, first.Attempts %d; want the retry's answer after 2 calls", text, fake.Calls(), first.Attempts)
		}
		checkOneStart(t, kinds)
	})
}

func TestFallbackStreamFallsBackAfterStartOnlyStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary := llmtest.NewModel(stalledStart())
		secondary := llmtest.NewModel(llmtest.Reply("from secondary"))
		m := llm.Fallback(llm.FallbackOptions{},
			llm.Target{Name: "primary", Model: llm.Timeout(llm.TimeoutOptions{FirstToken: time.Second})(primary)},
			llm.Target{Name: "secondary", Model: secondary})
		kinds, text, first, err := collectKinds(m.Stream(t.Context(), &llm.Request{Model: "m"}))
		if err != nil {
			t.Fatalf("stream failed: %v", err)
		}
		if text != "from secondary" || first.Target != "secondary" || first.Attempts != 2 {
			t.Errorf("text %q, first event %+v; want the secondary's answer, 2 attempts", text, first)
		}
		checkOneStart(t, kinds)
	})
}

// TestCanonicalStackFirstTokenTimeout is the stack of the review:
// Fallback(Retry(Timeout{FirstToken})) over a primary whose streams send
// EventStart and stall. Retry retries the first-token timeouts and then
// the call falls back.
func TestCanonicalStackFirstTokenTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary := llmtest.NewModel(stalledStart().Times(3))
		secondary := llmtest.NewModel(llmtest.Reply("from secondary"))
		attempt := func(m llm.Model) llm.Model {
			return llm.Chain(m,
				llm.Retry(llm.RetryOptions{Rand: func() float64 { return 0 }}),
				llm.Timeout(llm.TimeoutOptions{FirstToken: time.Second}))
		}
		m := llm.Fallback(llm.FallbackOptions{},
			llm.Target{Name: "primary", Model: attempt(primary)},
			llm.Target{Name: "secondary", Model: attempt(secondary)})
		start := time.Now()
		kinds, text, first, err := collectKinds(m.Stream(t.Context(), &llm.Request{Model: "m"}))
		if err != nil {
			t.Fatalf("stream failed: %v", err)
		}
		if text != "from secondary" || first.Target != "secondary" || first.Attempts != 4 {
			t.Errorf("text %q, first event %+v; want the secondary's answer after 3+1 attempts", text, first)
		}
		if primary.Calls() != 3 {
			t.Errorf("primary called %d times, want 3 (first-token timeouts retried)", primary.Calls())
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("answer after %v, want 3s (three first-token timeouts)", d)
		}
		checkOneStart(t, kinds)
	})
}

func TestHedgeStreamRacesOnFirstContent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary := llmtest.NewModel(stalledStart())
		secondary := llmtest.NewModel(llmtest.Reply("from secondary"))
		m := llm.Hedge(llm.HedgeOptions{InitialDelay: 100 * time.Millisecond},
			llm.Target{Name: "primary", Model: primary},
			llm.Target{Name: "secondary", Model: secondary})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		kinds, text, first, err := collectKinds(m.Stream(ctx, &llm.Request{Model: "m"}))
		if err != nil {
			t.Fatalf("stream failed: %v", err)
		}
		if text != "from secondary" || first.Target != "secondary" || first.Attempts != 2 {
			t.Errorf("text %q, first event %+v; want the hedge (secondary) to win", text, first)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("answer after %v, want the hedge delay 100ms", d)
		}
		checkOneStart(t, kinds)
	})
}

// A stream without content (start, finish, usage) is an answer: its events
// are released at its end.
func TestStreamWithoutContentReleasedAtEnd(t *testing.T) {
	evs := []llm.Event{{Kind: llm.EventStart, Model: "m"}, {Kind: llm.EventFinish, FinishReason: llm.FinishStop}, {Kind: llm.EventUsage}}
	models := map[string]func(llm.Model) llm.Model{
		"retry": func(m llm.Model) llm.Model { return llm.Retry(llm.RetryOptions{})(m) },
		"fallback": func(m llm.Model) llm.Model {
			return llm.Fallback(llm.FallbackOptions{}, llm.Target{Name: "only", Model: m})
		},
		"hedge": func(m llm.Model) llm.Model {
			return llm.Hedge(llm.HedgeOptions{}, llm.Target{Name: "only", Model: m}, llm.Target{Name: "other", Model: llmtest.NewModel()})
		},
	}
	for name, wrap := range models {
		t.Run(name, func(t *testing.T) {
			m := wrap(llmtest.NewModel(llmtest.Events(evs...)))
			kinds, _, first, err := collectKinds(m.Stream(t.Context(), &llm.Request{Model: "m"}))
			if err != nil {
				t.Fatal(err)
			}
			if len(kinds) != 3 || kinds[0] != llm.EventStart || first.Attempts != 1 {
				t.Errorf("events %v, first %+v; want the three events, first with Attempts 1", kinds, first)
			}
		})
	}
}

// A failure after content still passes through: the caller has seen part
// of the answer.
func TestRetryStreamFailureAfterContentNotRetried(t *testing.T) {
	fake := llmtest.NewModel(llmtest.Reply("hello world").CutOffAfter(2), llmtest.Reply("again"))
	m := llm.Retry(llm.RetryOptions{Rand: func() float64 { return 0 }})(fake)
	_, _, _, err := collectKinds(m.Stream(t.Context(), &llm.Request{Model: "m"}))
	if err == nil || fake.Calls() != 1 {
		t.Errorf("err %v after %d calls; want the cut-off passed through after 1 call", err, fake.Calls())
	}
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindUnavailable {
		t.Errorf("err %v, want KindUnavailable", err)
	}
}
