package structured_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/llmtest"
	"github.com/keel-go/keel/llm/structured"
)

// textEvents streams text in chunks of n bytes, then a stop.
func textEvents(text string, n int) llmtest.Step {
	evs := []llm.Event{{Kind: llm.EventStart, Model: "gpt-4o-mini"}}
	for len(text) > 0 {
		k := min(n, len(text))
		evs = append(evs, llm.Event{Kind: llm.EventTextDelta, Text: text[:k]})
		text = text[k:]
	}
	evs = append(evs, llm.Event{Kind: llm.EventFinish, FinishReason: llm.FinishStop},
		llm.Event{Kind: llm.EventUsage, Usage: llm.Usage{InputTokens: 50, OutputTokens: 40}})
	return llmtest.Events(evs...)
}

func TestStreamPartials(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{})
	m := llmtest.NewModel(textEvents(validTicket, 3))
	var partials []structured.Partial[Ticket]
	for p, err := range gen.Stream(context.Background(), m, ticketRequest()) {
		if err != nil {
			t.Fatal(err)
		}
		partials = append(partials, p)
	}
	if len(partials) < 5 {
		t.Fatalf("%d values streamed, want several partial values and a final one", len(partials))
	}
	final := partials[len(partials)-1]
	if !final.Final || final.Value.Customer.Email != "ana@example.com" || final.Response == nil || final.Response.Usage.OutputTokens != 40 {
		t.Fatalf("final %+v", final)
	}
	// The title grows as it arrives and is never longer than the answer's.
	prev := ""
	sawPartialTitle := false
	for _, p := range partials[:len(partials)-1] {
		if p.Final || p.Attempt != 1 {
			t.Fatalf("partial %+v", p)
		}
		title := p.Value.Title
		if !strings.HasPrefix("Parcel not delivered", title) || len(title) < len(prev) {
			t.Fatalf("title %q after %q", title, prev)
		}
		if title != "" && title != "Parcel not delivered" {
			sawPartialTitle = true
		}
		prev = title
	}
	if !sawPartialTitle {
		t.Error("no partial title was streamed")
	}
	if m.Requests()[0].ResponseFormat == nil || !m.Requests()[0].ResponseFormat.Strict {
		t.Error("the stream did not ask for the strict schema")
	}
}

func TestStreamRepairAndErrors(t *testing.T) {
	gen := structured.MustNew[Ticket](structured.Options{})
	t.Run("repair restarts", func(t *testing.T) {
		m := llmtest.NewModel(textEvents(`{"title":"Help","priority":"urgent","customer":{"name":"Ana"}}`, 8), textEvents(validTicket, 8))
		attempts := map[int]bool{}
		var final structured.Partial[Ticket]
		for p, err := range gen.Stream(context.Background(), m, ticketRequest()) {
			if err != nil {
				t.Fatal(err)
			}
			attempts[p.Attempt] = true
			final = p
		}
		if !attempts[1] || !attempts[2] || !final.Final || final.Attempt != 2 || final.Value.Title != "Parcel not delivered" {
			t.Fatalf("attempts %v, final %+v", attempts, final)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		m := llmtest.NewModel(llmtest.Refusal("I can't help with that."))
		var last error
		for _, err := range gen.Stream(context.Background(), m, ticketRequest()) {
			last = err
		}
		if llm.KindOf(last) != llm.KindRefusal || m.Calls() != 1 {
			t.Fatalf("last error %v after %d calls", last, m.Calls())
		}
	})
	t.Run("stream cut off", func(t *testing.T) {
		m := llmtest.NewModel(textEvents(validTicket, 10).CutOffAfter(4))
		var last error
		for _, err := range gen.Stream(context.Background(), m, ticketRequest()) {
			last = err
		}
		if llm.KindOf(last) != llm.KindUnavailable {
			t.Fatalf("last error %v", last)
		}
	})
	t.Run("caller stops", func(t *testing.T) {
		m := llmtest.NewModel(textEvents(validTicket, 2))
		n := 0
		for range gen.Stream(context.Background(), m, ticketRequest()) {
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 || m.Calls() != 1 {
			t.Fatalf("%d values, %d calls", n, m.Calls())
		}
	})
	t.Run("invalid after repairs", func(t *testing.T) {
		g := structured.MustNew[Ticket](structured.Options{MaxRepairs: 1})
		m := llmtest.NewModel(textEvents(`{"title":"x"}`, 4), textEvents(`{"title":"y"}`, 4))
		var last error
		for _, err := range g.Stream(context.Background(), m, ticketRequest()) {
			last = err
		}
		if llm.KindOf(last) != llm.KindInvalidOutput || m.Calls() != 2 {
			t.Fatalf("last error %v after %d calls", last, m.Calls())
		}
	})
}
