package llm

import (
	"errors"
	"reflect"
	"testing"
)

func seqOf(events []Event, err error) Stream {
	return func(yield func(Event, error) bool) {
		for _, ev := range events {
			if !yield(ev, nil) {
				return
			}
		}
		if err != nil {
			yield(Event{}, err)
		}
	}
}

func TestAccumulator(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   Message
		finish FinishReason
		usage  Usage
	}{
		{
			name: "text deltas and usage last",
			events: []Event{
				{Kind: EventStart, Model: "m-1", Provider: "p", RequestID: "r"},
				{Kind: EventTextDelta, Text: "Hel"}, {Kind: EventTextDelta, Text: "lo"},
				{Kind: EventFinish, FinishReason: FinishStop},
				{Kind: EventUsage, Usage: Usage{InputTokens: 5, OutputTokens: 2}},
			},
			want:   Message{Role: RoleAssistant, Parts: []Part{Text("Hello")}},
			finish: FinishStop, usage: Usage{InputTokens: 5, OutputTokens: 2},
		},
		{
			name: "arguments split across many fragments, text first",
			events: []Event{
				{Kind: EventTextDelta, Text: "Let me look."},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, ID: "call_1", Name: "search"}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, Arguments: `{"q"`}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, Arguments: `:"re`}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, Arguments: `funds"}`}},
				{Kind: EventFinish, FinishReason: FinishToolCalls},
			},
			want: Message{Role: RoleAssistant, Parts: []Part{Text("Let me look.")},
				ToolCalls: []ToolCall{{ID: "call_1", Name: "search", Arguments: `{"q":"refunds"}`}}},
			finish: FinishToolCalls,
		},
		{
			name: "two parallel calls interleaved",
			events: []Event{
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, ID: "a", Name: "f"}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 1, ID: "b", Name: "g"}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 1, Arguments: `{"y":2}`}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Index: 0, Arguments: `{"x":1}`}},
			},
			want: Message{Role: RoleAssistant, ToolCalls: []ToolCall{
				{ID: "a", Name: "f", Arguments: `{"x":1}`}, {ID: "b", Name: "g", Arguments: `{"y":2}`}}},
		},
		{
			name: "server reusing index 0 for every call",
			events: []Event{
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{ID: "a", Name: "f", Arguments: `{}`}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{ID: "b", Name: "g", Arguments: `{"k":`}},
				{Kind: EventToolCallDelta, ToolCall: ToolCallDelta{Arguments: `1}`}},
			},
			want: Message{Role: RoleAssistant, ToolCalls: []ToolCall{
				{ID: "a", Name: "f", Arguments: `{}`}, {ID: "b", Name: "g", Arguments: `{"k":1}`}}},
		},
		{
			name: "reasoning and refusal",
			events: []Event{
				{Kind: EventReasoningDelta, Text: "think "}, {Kind: EventReasoningDelta, Text: "more"},
				{Kind: EventRefusalDelta, Text: "I can't help with that."},
			},
			want: Message{Role: RoleAssistant, Reasoning: "think more", Refusal: "I can't help with that."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := Collect(seqOf(tt.events, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resp.Message, tt.want) {
				t.Errorf("message = %+v\nwant      %+v", resp.Message, tt.want)
			}
			if resp.FinishReason != tt.finish || resp.Usage != tt.usage {
				t.Errorf("finish %q usage %+v", resp.FinishReason, resp.Usage)
			}
		})
	}
}

func TestCollectReturnsPartialOnError(t *testing.T) {
	cut := &Error{Kind: KindUnavailable, Message: "stream cut"}
	resp, err := Collect(seqOf([]Event{{Kind: EventTextDelta, Text: "partial"}}, cut))
	if !errors.Is(err, KindUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if resp == nil || resp.Text() != "partial" {
		t.Fatalf("partial response lost: %+v", resp)
	}
}

func TestStreamResponseRoundTrip(t *testing.T) {
	orig := &Response{
		Message: Message{Role: RoleAssistant, Parts: []Part{Text("answer")}, Reasoning: "why",
			ToolCalls: []ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}, {ID: "c2", Name: "g", Arguments: `{}`}}},
		FinishReason: FinishToolCalls,
		Usage:        Usage{InputTokens: 10, OutputTokens: 3, ReasoningTokens: 1},
		Model:        "m", Provider: "p", RequestID: "req",
		Route: "canary", Target: "secondary", Attempts: 3, CacheHit: true, Cost: 0.0042, CostEstimated: true,
	}
	got, err := Collect(StreamResponse(orig))
	if err != nil {
		t.Fatal(err)
	}
	got.Latency = 0
	if !reflect.DeepEqual(got, orig) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, orig)
	}
	// A consumer that stops early must not be called again.
	n := 0
	for range StreamResponse(orig) {
		n++
		if n == 2 {
			break
		}
	}
}
