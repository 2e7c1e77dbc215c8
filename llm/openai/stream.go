package openai

import (
	"context"
	"iter"
	"net/http"

	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/respjson"

	"github.com/keel-go/keel/llm"
)

// Stream sends req with stream: true and returns the answer as a lazy
// iterator of events. Nothing is sent until the caller ranges over it;
// breaking out of the loop closes the response body and releases the
// connection. stream_options.include_usage is always requested, so the last
// events are the finish reason and the token usage.
//
// The events are: one llm.EventStart (model, provider, request id) when the
// first chunk arrives. Its model is the chunk's, or the requested one when
// the chunk has none (Azure's first chunk carries only prompt filter
// results and "model":""); the served model is then reported in the Model
// field of the first event after a chunk that names it, so llm.Collect
// reports the same model as Generate. Then text, reasoning
// (reasoning_content or reasoning fields of the delta, as vLLM and
// DeepSeek-style servers send them), refusal and tool-call deltas in
// arrival order (a tool call's id and name come in its first fragment, its
// arguments in pieces keyed by index); then llm.EventFinish (tool_calls
// when the server said "stop" after tool calls, as Generate reports it) and
// llm.EventUsage.
//
// Every failure is yielded once, as the last pair, with an *llm.Error:
// HTTP errors before the stream starts as Generate reports them; an
// {"error":{...}} event in the stream mapped by its type and code; data that
// is not valid JSON as KindBadResponse; a connection dropped mid-stream, or
// a stream that ends without a finish reason, as KindUnavailable (or
// KindCanceled / KindTimeout when ctx ended). Events received before the
// failure (including a finish reason and usage already seen) are yielded
// first, so llm.Collect returns the partial answer with the error.
//
// llm.Collect(c.Stream(ctx, req)) gives the same Response as Generate for
// the same server output, except for Latency and Message.Extra (stream
// events carry no provider-specific message fields).
func (c *Client) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	return func(yield func(llm.Event, error) bool) {
		p, model, err := c.params(req, true)
		if err != nil {
			yield(llm.Event{}, err)
			return
		}
		var httpResp *http.Response
		s := c.chat.NewStreaming(ctx, p, option.WithResponseInto(&httpResp))
		defer s.Close()

		var (
			started, sawFinish, refused, haveUsage, toolCalls bool
			// modelKnown says a chunk has named the served model;
			// pendingModel is that model while no event has carried it.
			modelKnown   bool
			pendingModel string
			chunks       int
			finish       string
			u            llm.Usage
		)
		// emit yields ev, with the model learnt since the last event.
		emit := func(ev llm.Event) bool {
			if pendingModel != "" {
				ev.Model, pendingModel = pendingModel, ""
			}
			return yield(ev, nil)
		}
		for s.Next() {
			ch := s.Current()
			chunks++
			if !started {
				started = true
				modelKnown = ch.Model != ""
				ev := llm.Event{Kind: llm.EventStart, Model: ch.Model, Provider: c.cfg.provider}
				if ev.Model == "" {
					ev.Model = model
				}
				if httpResp != nil {
					ev.RequestID = llm.RequestIDFrom(httpResp.Header)
				}
				if !yield(ev, nil) {
					return
				}
			} else if !modelKnown && ch.Model != "" {
				modelKnown, pendingModel = true, ch.Model
			}
			for i := range ch.Choices {
				choice := &ch.Choices[i]
				if choice.Index != 0 {
					continue // n > 1 is not part of llm.Request
				}
				d := &choice.Delta
				if len(d.JSON.ExtraFields) > 0 {
					if r := deltaReasoning(d.JSON.ExtraFields); r != "" {
						if !emit(llm.Event{Kind: llm.EventReasoningDelta, Text: r}) {
							return
						}
					}
				}
				if d.Content != "" {
					if !emit(llm.Event{Kind: llm.EventTextDelta, Text: d.Content}) {
						return
					}
				}
				if d.Refusal != "" {
					refused = true
					if !emit(llm.Event{Kind: llm.EventRefusalDelta, Text: d.Refusal}) {
						return
					}
				}
				for j := range d.ToolCalls {
					toolCalls = true
					tc := &d.ToolCalls[j]
					ev := llm.Event{Kind: llm.EventToolCallDelta, ToolCall: llm.ToolCallDelta{
						Index:     int(tc.Index),
						ID:        tc.ID,
						Name:      tc.Function.Name,
						Arguments: tc.Function.Arguments,
					}}
					if !emit(ev) {
						return
					}
				}
				if choice.FinishReason != "" {
					finish, sawFinish = choice.FinishReason, true
				}
			}
			if ch.JSON.Usage.Valid() {
				u, haveUsage = mapUsage(&ch.Usage), true
			}
		}

		var failure error
		if err := s.Err(); err != nil {
			failure = c.mapError(ctx, err, httpResp, model)
		} else if !sawFinish {
			failure = c.truncated(ctx, httpResp, model, chunks)
		}
		if sawFinish {
			if !emit(llm.Event{Kind: llm.EventFinish, FinishReason: finishReason(finish, refused, toolCalls)}) {
				return
			}
		}
		if haveUsage {
			if !emit(llm.Event{Kind: llm.EventUsage, Usage: u}) {
				return
			}
		}
		if failure != nil {
			yield(llm.Event{}, failure)
		}
	}
}

// truncated is the error for a stream that ended cleanly but without a
// finish reason: cut off between two events, or not a chat stream at all.
func (c *Client) truncated(ctx context.Context, resp *http.Response, model string, chunks int) error {
	e := c.ended(ctx, model, nil)
	if e == nil {
		e = &llm.Error{Kind: llm.KindUnavailable, Provider: c.cfg.provider, Model: model}
	}
	e.Message = "stream ended before a finish reason"
	if chunks == 0 && e.Kind == llm.KindUnavailable {
		e.Kind, e.Message = llm.KindBadResponse, "stream contained no chunks"
	}
	if resp != nil {
		e.RequestID = llm.RequestIDFrom(resp.Header)
	}
	return e
}

// deltaReasoning returns the reasoning text of a delta: reasoning_content,
// else reasoning when it is a string.
func deltaReasoning(fields map[string]respjson.Field) string {
	if f, ok := fields["reasoning_content"]; ok {
		if s, ok := jsonString(f.Raw()); ok {
			return s
		}
	}
	if f, ok := fields["reasoning"]; ok {
		if s, ok := jsonString(f.Raw()); ok {
			return s
		}
	}
	return ""
}
