package guard_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keel-go/keel/guard"
	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// redStreamVault returns a vault with a few placeholders, and the length
// of the longest.
func redStreamVault(t testing.TB) (*guard.Vault, int) {
	t.Helper()
	v := guard.NewVault()
	for typ, val := range map[string]string{
		"EMAIL":              "ann@example.com",
		"NAME":               `Ann "the hammer" O'Brien`,
		"CUSTOMER_REFERENCE": `C:\refs\7`,
	} {
		v.Redact(val, []detect.Finding{{Type: typ, Start: 0, End: len(val)}})
	}
	return v, len("<CUSTOMER_REFERENCE_1>")
}

// redSplits returns every way to cut s into two chunks, and, for short s,
// into three.
func redSplits(s string) [][]string {
	var out [][]string
	for i := 0; i <= len(s); i++ {
		out = append(out, []string{s[:i], s[i:]})
		if len(s) <= 40 {
			for j := i; j <= len(s); j++ {
				out = append(out, []string{s[:i], s[i:j], s[j:]})
			}
		}
	}
	return out
}

func TestStreamRestorerEverySplit(t *testing.T) {
	v, longest := redStreamVault(t)
	texts := []string{
		"Hello <NAME_1>, your mail <EMAIL_1> is on file.",
		"<EMAIL_1><NAME_1><CUSTOMER_REFERENCE_1>",
		"<<EMAIL_1>> <EMAIL_2> <EMAIL_1 <NAME_",
		`{"to":"<EMAIL_1>","name":"\u003cNAME_1\u003e","ref":<CUSTOMER_REFERENCE_1>,"q":"\"<NAME_1>\\"}`,
		"no placeholder at all, just < and > signs",
		"ends with a cut <CUSTOMER_REFERENCE_",
	}
	for _, text := range texts {
		for _, asJSON := range []bool{false, true} {
			want := v.Restore(text)
			newR := v.NewStreamRestorer
			if asJSON {
				want = v.RestoreJSON(text)
				newR = v.NewJSONStreamRestorer
			}
			for _, chunks := range redSplits(text) {
				r := newR()
				var got strings.Builder
				written := 0
				for _, c := range chunks {
					got.WriteString(r.Write(c))
					written += len(c)
					bound := longest - 1
					if asJSON {
						bound += 10
					}
					if r.Held() > bound {
						t.Fatalf("json=%v %q: holds %d bytes after %q, more than %d", asJSON, chunks, r.Held(), c, bound)
					}
				}
				got.WriteString(r.Flush())
				if got.String() != want {
					t.Fatalf("json=%v chunks %q:\n got %q\nwant %q", asJSON, chunks, got.String(), want)
				}
				if r.Held() != 0 {
					t.Fatalf("Held = %d after Flush", r.Held())
				}
			}
		}
	}
}

func TestStreamRestorerByteByByte(t *testing.T) {
	v, longest := redStreamVault(t)
	text := strings.Repeat("<NAME_1> and <CUSTOMER_REFERENCE_1>, <<<", 20)
	r := v.NewStreamRestorer()
	var got strings.Builder
	maxHeld := 0
	for i := range len(text) {
		got.WriteString(r.Write(text[i : i+1]))
		maxHeld = max(maxHeld, r.Held())
	}
	got.WriteString(r.Flush())
	if got.String() != v.Restore(text) {
		t.Fatalf("byte by byte: %q", got.String())
	}
	// The longest placeholder less one byte is held just before its ">".
	if maxHeld != longest-1 {
		t.Errorf("held at most %d bytes, want %d", maxHeld, longest-1)
	}
}

func TestStreamRestorerEmptyVault(t *testing.T) {
	v := guard.NewVault()
	r := v.NewStreamRestorer()
	for _, c := range []string{"<EMAIL_", "1> plain"} {
		if got := r.Write(c); got != c || r.Held() != 0 {
			t.Errorf("Write(%q) = %q, holding %d: an empty vault holds nothing", c, got, r.Held())
		}
	}
}

// redEvents is a stream that serves events, then err if not nil.
func redEvents(err error, evs ...llm.Event) llm.Stream {
	return func(yield func(llm.Event, error) bool) {
		for _, ev := range evs {
			if !yield(ev, nil) {
				return
			}
		}
		if err != nil {
			yield(llm.Event{}, err)
		}
	}
}

func TestRestoreStream(t *testing.T) {
	v, _ := redStreamVault(t)
	text := func(s string) llm.Event { return llm.Event{Kind: llm.EventTextDelta, Text: s} }
	call := func(idx int, id, name, args string) llm.Event {
		return llm.Event{Kind: llm.EventToolCallDelta, ToolCall: llm.ToolCallDelta{Index: idx, ID: id, Name: name, Arguments: args}}
	}
	events := []llm.Event{
		{Kind: llm.EventStart, Model: "m"},
		{Kind: llm.EventReasoningDelta, Text: "user is <NA"},
		text("Hi <NA"), text("ME_1>, I wrote to <EMA"),
		{Kind: llm.EventReasoningDelta, Text: "ME_1>"},
		text("IL_1"), text(">."),
		{Kind: llm.EventRefusalDelta, Text: "not for <EMAIL_"},
		{Kind: llm.EventRefusalDelta, Text: "1>"},
		// The first call's arguments end cut short, as when a model
		// stops mid-placeholder; what is held must still come out.
		call(0, "call_a", "send_email", `{"to":"<EMAIL`), call(0, "", "", `_1>","body":"Dear <NAME_1`),
		// A server that reuses index 0 for a parallel call, mid-placeholder.
		call(0, "call_b", "lookup", `{"ref":"<CUSTOMER_REFERENCE_`), call(0, "", "", `1>"}`),
		call(1, "call_c", "note", `{"who":"<NAME_1>"`), call(1, "", "", `}`),
		{Kind: llm.EventFinish, FinishReason: llm.FinishToolCalls},
		{Kind: llm.EventUsage, Usage: llm.Usage{InputTokens: 3}},
	}
	orig, err := llm.Collect(redEvents(nil, events...))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []*llm.ResponseFormat{nil, {Type: llm.FormatJSONObject}} {
		want := v.RestoreResponse(orig, format)
		got, err := llm.Collect(v.RestoreStream(redEvents(nil, events...), format))
		if err != nil {
			t.Fatal(err)
		}
		got.Latency, want.Latency = 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("format %v:\n got %+v\nwant %+v", format, got.Message, want.Message)
		}
		if got.Text() != `Hi Ann "the hammer" O'Brien, I wrote to ann@example.com.` && format == nil {
			t.Errorf("text = %q", got.Text())
		}
		if calls := got.Message.ToolCalls; len(calls) != 3 || calls[0].Arguments != `{"to":"ann@example.com","body":"Dear <NAME_1` ||
			calls[1].Arguments != `{"ref":"C:\\refs\\7"}` || calls[2].Arguments != `{"who":"Ann \"the hammer\" O'Brien"}` {
			t.Errorf("tool calls = %+v", got.Message.ToolCalls)
		}
	}

	t.Run("an error flushes first", func(t *testing.T) {
		boom := errors.New("boom")
		got, err := llm.Collect(v.RestoreStream(redEvents(boom, text("to <EMAIL_1"), text(">, <NAME_")), nil))
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if got.Text() != "to ann@example.com, <NAME_" {
			t.Errorf("partial text = %q", got.Text())
		}
	})

	t.Run("stops when the consumer stops", func(t *testing.T) {
		n := 0
		for range v.RestoreStream(redEvents(nil, events...), nil) {
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("got %d events", n)
		}
	})

	t.Run("held-back text delta keeps its metadata", func(t *testing.T) {
		var evs []llm.Event
		for ev, err := range v.RestoreStream(redEvents(nil, llm.Event{Kind: llm.EventTextDelta, Text: "<EMA", Model: "m"}, text("IL_1>")), nil) {
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		if len(evs) != 2 || evs[0].Model != "m" || evs[0].Text != "" || evs[1].Text != "ann@example.com" {
			t.Errorf("events = %+v", evs)
		}
	})
}
