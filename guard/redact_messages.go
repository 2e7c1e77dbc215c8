package guard

import (
	"encoding/json"
	"strings"

	"github.com/keel-go/keel/guard/detect"
	"github.com/keel-go/keel/llm"
)

// RedactMessages returns copies of msgs with everything a provider would
// read as text redacted: text parts of every role, the arguments of the
// tool calls in assistant messages, refusals and reasoning. scan finds the
// sensitive values in one text (a set of detectors with their thresholds);
// nil finds nothing, which still pseudonymizes text shaped like a
// placeholder. msgs is never modified: the result has its own Parts and
// ToolCalls slices, and every other field (role, provenance and source of
// each part, tool call ids and names, Extra) is kept as it is.
//
// Tool-call arguments, and text parts that are a valid JSON object or
// array (tool results, usually), are redacted string by string on the
// decoded text, so the vault keeps the real value and RestoreJSON can
// write it back exactly. Not redacted: images, a message's Name (providers
// restrict it to an identifier), tool names and ids, and Extra, which holds
// provider fields replayed verbatim.
func (v *Vault) RedactMessages(msgs []llm.Message, scan func(text string) []detect.Finding) []llm.Message {
	if msgs == nil {
		return nil
	}
	out := make([]llm.Message, len(msgs))
	for i, m := range msgs {
		if m.Parts != nil {
			parts := make([]llm.Part, len(m.Parts))
			for j, p := range m.Parts {
				if p.Kind == llm.PartText && p.Text != "" {
					if vaultLooksJSON(p.Text) {
						p.Text = v.redactJSON(p.Text, scan)
					} else {
						p.Text = v.Redact(p.Text, vaultScan(scan, p.Text))
					}
				}
				parts[j] = p
			}
			m.Parts = parts
		}
		if m.ToolCalls != nil {
			calls := make([]llm.ToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				tc.Arguments = v.redactJSON(tc.Arguments, scan)
				calls[j] = tc
			}
			m.ToolCalls = calls
		}
		m.Refusal = v.Redact(m.Refusal, vaultScan(scan, m.Refusal))
		m.Reasoning = v.Redact(m.Reasoning, vaultScan(scan, m.Reasoning))
		out[i] = m
	}
	return out
}

// vaultLooksJSON reports whether s is a JSON object or array.
func vaultLooksJSON(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	return t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(s))
}

// vaultJSONFormat reports whether an answer in format is JSON.
func vaultJSONFormat(format *llm.ResponseFormat) bool {
	return format != nil && (format.Type == llm.FormatJSONObject || format.Type == llm.FormatJSONSchema)
}

// RestoreResponse returns a copy of r with the placeholders of the vault
// restored in the answer's text, reasoning, refusal and tool-call
// arguments. format is the request's ResponseFormat: when it asks for
// JSON the text is restored with RestoreJSON, otherwise with Restore.
// Pass a JSON format for any answer that will be parsed as JSON, such as
// a structured.Generator call in ModePrompt, which sets none. Tool-call
// arguments are always restored with RestoreJSON.
//
// r is not modified, nor are the slices it shares with a cache: the copy
// has its own Parts and ToolCalls. A nil r gives nil.
func (v *Vault) RestoreResponse(r *llm.Response, format *llm.ResponseFormat) *llm.Response {
	if r == nil {
		return nil
	}
	c := *r
	m := &c.Message
	asJSON := vaultJSONFormat(format)
	if m.Parts != nil {
		parts := make([]llm.Part, len(m.Parts))
		for j, p := range m.Parts {
			if p.Kind == llm.PartText {
				if asJSON {
					p.Text = v.RestoreJSON(p.Text)
				} else {
					p.Text = v.Restore(p.Text)
				}
			}
			parts[j] = p
		}
		m.Parts = parts
	}
	if m.ToolCalls != nil {
		calls := make([]llm.ToolCall, len(m.ToolCalls))
		for j, tc := range m.ToolCalls {
			tc.Arguments = v.RestoreJSON(tc.Arguments)
			calls[j] = tc
		}
		m.ToolCalls = calls
	}
	m.Refusal = v.Restore(m.Refusal)
	m.Reasoning = v.Restore(m.Reasoning)
	return &c
}

// RestoreStream returns s with the placeholders of the vault restored in
// every delta, as RestoreResponse does for a whole answer: text (as JSON
// when format asks for JSON), reasoning and refusal each through their own
// StreamRestorer, and each tool call's arguments through a JSON one.
//
// A delta whose text is all held back is dropped (a tool-call delta is
// kept for its id and name). What is still held is sent as extra deltas
// before the finish event, before an error, and at the end of the stream,
// so Collect of the result equals RestoreResponse of Collect of s. A
// server that reuses one index for parallel calls is handled as
// llm.Accumulator handles it: the arguments held for the previous call
// are sent before the next call's first delta.
func (v *Vault) RestoreStream(s llm.Stream, format *llm.ResponseFormat) llm.Stream {
	return func(yield func(llm.Event, error) bool) {
		rs := vaultStreamState{v: v, asJSON: vaultJSONFormat(format)}
		for ev, err := range s {
			if err != nil {
				if rs.flush(yield) {
					yield(ev, err)
				}
				return
			}
			if !rs.event(ev, yield) {
				return
			}
		}
		rs.flush(yield)
	}
}

// vaultStreamState holds the restorers of one RestoreStream.
type vaultStreamState struct {
	v                        *Vault
	asJSON                   bool
	text, reasoning, refusal *StreamRestorer
	calls                    []*vaultCallRestorer // in order of first delta
	byIndex                  map[int]*vaultCallRestorer
}

// vaultCallRestorer restores the arguments of one streamed tool call.
type vaultCallRestorer struct {
	index int
	id    string
	r     *StreamRestorer
}

func (rs *vaultStreamState) restorer(p **StreamRestorer, asJSON bool) *StreamRestorer {
	if *p == nil {
		if asJSON {
			*p = rs.v.NewJSONStreamRestorer()
		} else {
			*p = rs.v.NewStreamRestorer()
		}
	}
	return *p
}

// event restores one event and yields what it gives; false means stop.
func (rs *vaultStreamState) event(ev llm.Event, yield func(llm.Event, error) bool) bool {
	var r *StreamRestorer
	switch ev.Kind {
	case llm.EventTextDelta:
		r = rs.restorer(&rs.text, rs.asJSON)
	case llm.EventReasoningDelta:
		r = rs.restorer(&rs.reasoning, false)
	case llm.EventRefusalDelta:
		r = rs.restorer(&rs.refusal, false)
	case llm.EventToolCallDelta:
		return rs.toolCall(ev, yield)
	case llm.EventFinish:
		if !rs.flush(yield) {
			return false
		}
		return yield(ev, nil)
	default:
		return yield(ev, nil)
	}
	ev.Text = r.Write(ev.Text)
	if ev.Text == "" && !vaultAnnotated(ev) {
		return true
	}
	return yield(ev, nil)
}

// vaultAnnotated reports whether a delta carries metadata besides its
// text, so that it must be passed on even when its text is held back.
func vaultAnnotated(ev llm.Event) bool {
	return ev.Model != "" || ev.Provider != "" || ev.RequestID != "" || ev.Route != "" ||
		ev.Target != "" || ev.Attempts != 0 || ev.CacheHit
}

func (rs *vaultStreamState) toolCall(ev llm.Event, yield func(llm.Event, error) bool) bool {
	d := ev.ToolCall
	c := rs.byIndex[d.Index]
	if c != nil && d.ID != "" && c.id != "" && c.id != d.ID {
		// The same index for a new call: finish the previous one first,
		// while its fragments still go to it.
		if !rs.flushCall(c, yield) {
			return false
		}
		c = nil
	}
	if c == nil {
		c = &vaultCallRestorer{index: d.Index, r: rs.v.NewJSONStreamRestorer()}
		if rs.byIndex == nil {
			rs.byIndex = make(map[int]*vaultCallRestorer)
		}
		rs.byIndex[d.Index] = c
		rs.calls = append(rs.calls, c)
	}
	if d.ID != "" {
		c.id = d.ID
	}
	ev.ToolCall.Arguments = c.r.Write(d.Arguments)
	return yield(ev, nil)
}

// flushCall yields what the restorer of one call still holds.
func (rs *vaultStreamState) flushCall(c *vaultCallRestorer, yield func(llm.Event, error) bool) bool {
	rest := c.r.Flush()
	if rest == "" {
		return true
	}
	return yield(llm.Event{Kind: llm.EventToolCallDelta, ToolCall: llm.ToolCallDelta{Index: c.index, Arguments: rest}}, nil)
}

// flush yields everything the restorers still hold.
func (rs *vaultStreamState) flush(yield func(llm.Event, error) bool) bool {
	for _, x := range []struct {
		r    *StreamRestorer
		kind llm.EventKind
	}{{rs.reasoning, llm.EventReasoningDelta}, {rs.text, llm.EventTextDelta}, {rs.refusal, llm.EventRefusalDelta}} {
		if x.r == nil {
			continue
		}
		if rest := x.r.Flush(); rest != "" && !yield(llm.Event{Kind: x.kind, Text: rest}, nil) {
			return false
		}
	}
	for _, c := range rs.calls {
		if rs.byIndex[c.index] != c {
			continue // flushed when its index was reused
		}
		if !rs.flushCall(c, yield) {
			return false
		}
	}
	return true
}
