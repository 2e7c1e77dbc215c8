package llm

import (
	"iter"
	"strings"
	"time"
)

// EventKind is the kind of a stream event.
type EventKind uint8

// The stream event kinds.
const (
	// EventStart carries response metadata known before any content:
	// Model, Provider, RequestID.
	EventStart EventKind = iota + 1
	// EventTextDelta carries a piece of answer text in Text.
	EventTextDelta
	// EventReasoningDelta carries a piece of reasoning content in Text.
	EventReasoningDelta
	// EventRefusalDelta carries a piece of refusal text in Text.
	EventRefusalDelta
	// EventToolCallDelta carries a piece of a tool call in ToolCall.
	EventToolCallDelta
	// EventUsage carries token usage in Usage (usually last).
	EventUsage
	// EventFinish carries FinishReason.
	EventFinish
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventStart:
		return "start"
	case EventTextDelta:
		return "text"
	case EventReasoningDelta:
		return "reasoning"
	case EventRefusalDelta:
		return "refusal"
	case EventToolCallDelta:
		return "tool_call"
	case EventUsage:
		return "usage"
	case EventFinish:
		return "finish"
	default:
		return "unknown"
	}
}

// ToolCallDelta is a fragment of a streamed tool call. Index identifies the
// call among parallel calls; ID and Name usually arrive in the first
// fragment and Arguments is appended across fragments.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// Event is one item of a stream. Which fields are set depends on Kind.
type Event struct {
	Kind         EventKind
	Text         string
	ToolCall     ToolCallDelta
	Usage        Usage
	FinishReason FinishReason

	// Set on EventStart (and repeated on later events by some providers).
	Model     string
	Provider  string
	RequestID string

	// Route, Target, Attempts and CacheHit annotate the first event a
	// middleware passes through, with the meaning they have on Response.
	Route    string
	Target   string
	Attempts int
	CacheHit bool
	// Cost and CostEstimated annotate the usage event, with the meaning
	// they have on Response.
	Cost          float64
	CostEstimated bool
}

// Stream is the iterator a Model's Stream method returns.
type Stream = iter.Seq2[Event, error]

// Accumulator assembles stream events into a Response. It tolerates the
// quirks of real streams: tool-call arguments split across many fragments,
// text before tool calls, parallel calls interleaved, and compatible servers
// that reuse index 0 for every parallel call (a new call ID at an index
// that already has one starts a new call). The zero value is ready to use;
// it is not safe for concurrent use.
type Accumulator struct {
	resp      Response
	text      strings.Builder
	reasoning strings.Builder
	refusal   strings.Builder
	calls     []accCall
	// byIndex maps a provider index to the position in calls of the call
	// currently receiving fragments for that index.
	byIndex map[int]int
}

type accCall struct {
	id, name string
	args     []byte
}

// Add folds one event into the response.
func (a *Accumulator) Add(ev Event) {
	if ev.Model != "" {
		a.resp.Model = ev.Model
	}
	if ev.Provider != "" {
		a.resp.Provider = ev.Provider
	}
	if ev.RequestID != "" {
		a.resp.RequestID = ev.RequestID
	}
	if ev.Route != "" {
		a.resp.Route = ev.Route
	}
	if ev.Target != "" {
		a.resp.Target = ev.Target
	}
	if ev.Attempts > 0 {
		a.resp.Attempts = ev.Attempts
	}
	if ev.CacheHit {
		a.resp.CacheHit = true
	}
	switch ev.Kind {
	case EventTextDelta:
		a.text.WriteString(ev.Text)
	case EventReasoningDelta:
		a.reasoning.WriteString(ev.Text)
	case EventRefusalDelta:
		a.refusal.WriteString(ev.Text)
	case EventToolCallDelta:
		a.addToolCall(ev.ToolCall)
	case EventUsage:
		a.resp.Usage = ev.Usage
		a.resp.Cost, a.resp.CostEstimated = ev.Cost, ev.CostEstimated
	case EventFinish:
		a.resp.FinishReason = ev.FinishReason
	}
}

func (a *Accumulator) addToolCall(d ToolCallDelta) {
	if a.byIndex == nil {
		a.byIndex = make(map[int]int)
	}
	pos, ok := a.byIndex[d.Index]
	if ok && d.ID != "" && a.calls[pos].id != "" && a.calls[pos].id != d.ID {
		ok = false // same index, different call: a server that does not index parallel calls
	}
	if !ok {
		a.calls = append(a.calls, accCall{})
		pos = len(a.calls) - 1
		a.byIndex[d.Index] = pos
	}
	c := &a.calls[pos]
	if d.ID != "" {
		c.id = d.ID
	}
	if d.Name != "" && c.name == "" {
		c.name = d.Name
	}
	c.args = append(c.args, d.Arguments...)
}

// Response returns the response assembled so far. It may be called more
// than once; each call returns a new value.
func (a *Accumulator) Response() *Response {
	r := a.resp
	r.Message = Message{Role: RoleAssistant}
	if a.text.Len() > 0 {
		r.Message.Parts = []Part{Text(a.text.String())}
	}
	r.Message.Reasoning = a.reasoning.String()
	r.Message.Refusal = a.refusal.String()
	if len(a.calls) > 0 {
		r.Message.ToolCalls = make([]ToolCall, len(a.calls))
		for i := range a.calls {
			c := &a.calls[i]
			r.Message.ToolCalls[i] = ToolCall{ID: c.id, Name: c.name, Arguments: string(c.args)}
		}
	}
	return &r
}

// Collect drains a stream and returns the Response Generate would have
// returned. On error it returns the partial response assembled so far along
// with the error, so callers can charge for or inspect what arrived.
// Latency is the time from the start of iteration to the end of the stream.
func Collect(s Stream) (*Response, error) {
	var acc Accumulator
	start := time.Now()
	for ev, err := range s {
		if err != nil {
			r := acc.Response()
			r.Latency = time.Since(start)
			return r, err
		}
		acc.Add(ev)
	}
	r := acc.Response()
	r.Latency = time.Since(start)
	return r, nil
}

// StreamResponse replays a complete Response as a stream: start, reasoning,
// text, refusal, tool calls, finish and usage events. Collect of the result
// gives back an equivalent Response. Caches and fakes use it to serve a
// stored answer to a streaming caller.
func StreamResponse(r *Response) Stream {
	return func(yield func(Event, error) bool) {
		meta := Event{Kind: EventStart, Model: r.Model, Provider: r.Provider, RequestID: r.RequestID,
			Route: r.Route, Target: r.Target, Attempts: r.Attempts, CacheHit: r.CacheHit}
		if !yield(meta, nil) {
			return
		}
		if r.Message.Reasoning != "" && !yield(Event{Kind: EventReasoningDelta, Text: r.Message.Reasoning}, nil) {
			return
		}
		if t := r.Message.Text(); t != "" && !yield(Event{Kind: EventTextDelta, Text: t}, nil) {
			return
		}
		if r.Message.Refusal != "" && !yield(Event{Kind: EventRefusalDelta, Text: r.Message.Refusal}, nil) {
			return
		}
		for i, tc := range r.Message.ToolCalls {
			d := ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments}
			if !yield(Event{Kind: EventToolCallDelta, ToolCall: d}, nil) {
				return
			}
		}
		if r.FinishReason != "" && !yield(Event{Kind: EventFinish, FinishReason: r.FinishReason}, nil) {
			return
		}
		yield(Event{Kind: EventUsage, Usage: r.Usage, Cost: r.Cost, CostEstimated: r.CostEstimated}, nil)
	}
}
