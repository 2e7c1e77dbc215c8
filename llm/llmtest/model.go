package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
)

// Provider is the provider name the fakes put on responses and errors.
const Provider = "llmtest"

// ErrNoMoreSteps is in the chain of the error a Model returns when a call
// arrives after every scripted Step has been served and no ReplyFunc is
// set. The error itself is an *llm.Error of kind llm.KindInvalidRequest, so
// retry and fallback middlewares pass it straight up to the test.
var ErrNoMoreSteps = errors.New("llmtest: no scripted reply left")

// ReplyFunc computes a reply from a request. It receives its own copy of
// the request, so it may keep or modify it without affecting the record.
// Empty fields of the reply get defaults as for Response.
type ReplyFunc func(ctx context.Context, req *llm.Request) (*llm.Response, error)

// Model is a scripted fake llm.Model. Each call (Generate, or one range over
// a Stream) takes the next Step from the queue; once the queue is empty,
// calls go to the ReplyFunc given to NewModelFunc, and without one they fail
// with ErrNoMoreSteps. Every request is recorded.
//
// A Model is safe for concurrent use. Under concurrency the order in which
// calls take steps is the order in which they reach the Model.
type Model struct {
	mu        sync.Mutex
	queue     []Step
	fn        ReplyFunc
	requests  []*llm.Request
	toolCalls int
}

var _ llm.Model = (*Model)(nil)

// NewModel returns a Model that serves steps in order, one per call.
func NewModel(steps ...Step) *Model {
	return &Model{queue: slices.Clone(steps)}
}

// NewModelFunc returns a Model that answers every call with fn, after any
// steps added with Enqueue have been served.
func NewModelFunc(fn ReplyFunc) *Model {
	return &Model{fn: fn}
}

// Enqueue appends steps to the queue. It returns m so that a Model can be
// built in one expression.
func (m *Model) Enqueue(steps ...Step) *Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(m.queue, steps...)
	return m
}

// Calls returns the number of calls the Model has received. A Stream
// counts when it is ranged over, not when Stream is called, just as a
// provider sends nothing until then.
func (m *Model) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.requests)
}

// Requests returns copies of the requests received, in arrival order. The
// copies are deep enough that callers changing their Request (messages,
// parts, tools, maps) after a call do not change the record.
func (m *Model) Requests() []*llm.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*llm.Request, len(m.requests))
	for i, r := range m.requests {
		out[i] = cloneRequest(r)
	}
	return out
}

// Pending returns the number of calls the queued steps will still serve
// (a step repeated with Times counts once per remaining call). Tests use it
// to check that every scripted step was consumed.
func (m *Model) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.queue {
		n += max(s.times, 1)
	}
	return n
}

// take records req and returns the step that serves it.
func (m *Model) take(req *llm.Request) (Step, *llm.Request, error) {
	if req == nil {
		return Step{}, nil, &llm.Error{Kind: llm.KindInvalidRequest, Provider: Provider, Message: "llmtest: nil request"}
	}
	rec := cloneRequest(req)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, rec)
	// The step works on its own copy, so that a ReplyFunc cannot alter
	// the record either.
	req = cloneRequest(rec)
	if len(m.queue) > 0 {
		s := m.queue[0]
		if s.times > 1 {
			m.queue[0].times--
		} else {
			m.queue = m.queue[1:]
		}
		return s, req, nil
	}
	if m.fn != nil {
		return Step{fn: m.fn}, req, nil
	}
	return Step{}, req, &llm.Error{
		Kind:     llm.KindInvalidRequest,
		Provider: Provider,
		Model:    req.Model,
		Message: fmt.Sprintf("llmtest: call %d has no scripted reply: every step was served and no ReplyFunc is set "+
			"(add steps to NewModel or Enqueue, or use NewModelFunc)", len(m.requests)),
		Err: ErrNoMoreSteps,
	}
}

func (m *Model) nextToolCallID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.toolCalls++
	return fmt.Sprintf("call_%d", m.toolCalls)
}

// Generate implements llm.Model.
func (m *Model) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	step, req, err := m.take(req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := sleep(ctx, step.delay+step.stall, req); err != nil {
		return nil, err
	}
	if step.fail != nil {
		if err := step.fail(ctx, req); err != nil {
			return nil, err
		}
	}
	var resp *llm.Response
	if step.events != nil {
		var acc llm.Accumulator
		for _, ev := range step.events {
			acc.Add(ev)
		}
		resp = acc.Response()
	} else if resp, err = m.response(ctx, step, req); err != nil {
		return nil, err
	}
	if step.cutOff {
		return nil, cutError(req, step.cutAt)
	}
	if err := ctx.Err(); err != nil {
		return nil, llm.TransportError(Provider, req.Model, err)
	}
	resp.Latency = time.Since(start)
	return resp, nil
}

// Stream implements llm.Model. Nothing happens until the caller ranges;
// then the step is taken and served as a stream (see Step).
func (m *Model) Stream(ctx context.Context, req *llm.Request) iter.Seq2[llm.Event, error] {
	return func(yield func(llm.Event, error) bool) {
		step, req, err := m.take(req)
		if err != nil {
			yield(llm.Event{}, err)
			return
		}
		if err := sleep(ctx, step.delay, req); err != nil {
			yield(llm.Event{}, err)
			return
		}
		if step.fail != nil {
			if err := step.fail(ctx, req); err != nil {
				yield(llm.Event{}, err)
				return
			}
		}
		events := step.events
		if events == nil {
			resp, err := m.response(ctx, step, req)
			if err != nil {
				yield(llm.Event{}, err)
				return
			}
			events = splitEvents(resp)
		}
		stallAt := min(step.stallAt, len(events)-1)
		for i, ev := range events {
			if step.cutOff && i == step.cutAt {
				yield(llm.Event{}, cutError(req, i))
				return
			}
			if step.stall > 0 && i == stallAt {
				if err := sleep(ctx, step.stall, req); err != nil {
					yield(llm.Event{}, err)
					return
				}
			}
			if err := ctx.Err(); err != nil {
				yield(llm.Event{}, llm.TransportError(Provider, req.Model, err))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		if step.cutOff && step.cutAt >= len(events) {
			yield(llm.Event{}, cutError(req, len(events)))
		}
	}
}

// response builds the reply of a non-event step, with defaults filled in.
func (m *Model) response(ctx context.Context, s Step, req *llm.Request) (*llm.Response, error) {
	var r *llm.Response
	if s.fn != nil {
		got, err := s.fn(ctx, req)
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, &llm.Error{Kind: llm.KindBadResponse, Provider: Provider, Model: req.Model,
				Message: "llmtest: ReplyFunc returned a nil response and a nil error"}
		}
		r = cloneResponse(got)
	} else if s.resp != nil {
		r = cloneResponse(s.resp)
	} else {
		r = &llm.Response{}
	}
	if r.Message.Role == "" {
		r.Message.Role = llm.RoleAssistant
	}
	if r.Model == "" {
		r.Model = req.Model
	}
	if r.Provider == "" {
		r.Provider = Provider
	}
	for i := range r.Message.ToolCalls {
		if r.Message.ToolCalls[i].ID == "" {
			r.Message.ToolCalls[i].ID = m.nextToolCallID()
		}
	}
	if r.FinishReason == "" {
		switch {
		case len(r.Message.ToolCalls) > 0:
			r.FinishReason = llm.FinishToolCalls
		case r.Message.Refusal != "":
			r.FinishReason = llm.FinishRefusal
		default:
			r.FinishReason = llm.FinishStop
		}
	}
	switch {
	case s.usage != nil:
		r.Usage = *s.usage
	case s.estimate:
		r.Usage = llm.Usage{InputTokens: requestTokens(req), OutputTokens: messageTokens(r.Message)}
	}
	return r, nil
}

// Step is one scripted answer of a Model: a reply, an error, or explicit
// stream events, optionally with faults (delays, a stall, a cut-off
// stream) and a repeat count. Build steps with Reply, ToolCall, ToolCalls,
// Refusal, Response, Respond, Events, Fail and the faults (RateLimited,
// QuotaExhausted, ServerError, HTTPFailure, Timeout), then refine them
// with the methods; each method returns a modified copy.
//
// Generate returns the reply. Stream serves the same reply as a stream:
// a start event, the reasoning, text and refusal split into several deltas
// of a few characters each, each tool call's arguments split into several
// fragments (ID and name on the first), then a finish and a usage event.
// Steps built with Events are streamed verbatim and collected for Generate.
//
// The zero Step answers with an empty assistant message.
type Step struct {
	resp     *llm.Response
	fn       ReplyFunc
	events   []llm.Event
	fail     func(ctx context.Context, req *llm.Request) error
	usage    *llm.Usage
	estimate bool
	delay    time.Duration
	stall    time.Duration
	stallAt  int
	cutOff   bool // end the stream with an error after cutAt events
	cutAt    int
	times    int
}

func newStep(r *llm.Response) Step {
	return Step{resp: r, estimate: true}
}

// Reply returns a step that answers with text (finish reason stop).
func Reply(text string) Step {
	return newStep(&llm.Response{Message: llm.AssistantText(text), FinishReason: llm.FinishStop})
}

// ToolCall returns a step that asks for one tool call with the given raw
// JSON arguments (finish reason tool_calls). The call ID is generated
// ("call_1", "call_2", ... per Model).
func ToolCall(name, arguments string) Step {
	return ToolCalls(llm.ToolCall{Name: name, Arguments: arguments})
}

// ToolCalls returns a step that asks for several tool calls in one turn
// (parallel calls). Calls without an ID get a generated one.
func ToolCalls(calls ...llm.ToolCall) Step {
	return newStep(&llm.Response{
		Message:      llm.Message{Role: llm.RoleAssistant, ToolCalls: slices.Clone(calls)},
		FinishReason: llm.FinishToolCalls,
	})
}

// Refusal returns a step in which the model declines: the message carries
// text as its Refusal, and the finish reason is llm.FinishRefusal.
func Refusal(text string) Step {
	return newStep(&llm.Response{
		Message:      llm.Message{Role: llm.RoleAssistant, Refusal: text},
		FinishReason: llm.FinishRefusal,
	})
}

// Response returns a step that answers with a copy of r. Empty fields get
// defaults: role assistant, the requested model, provider "llmtest", a
// finish reason matching the content, generated tool call IDs. Its Usage
// is served as given.
func Response(r *llm.Response) Step {
	s := newStep(cloneResponse(r))
	s.estimate = false
	return s
}

// Respond returns a step whose reply fn computes from the request, so that
// faults can be combined with a computed reply. Defaults are filled in as
// for Response.
func Respond(fn ReplyFunc) Step {
	return Step{fn: fn}
}

// Events returns a step that Stream serves verbatim, event by event, and
// that Generate collects with an llm.Accumulator. Use it to exercise
// consumers on unusual streams (interleaved parallel tool calls, usage
// before finish, no start event).
func Events(events ...llm.Event) Step {
	if events == nil {
		events = []llm.Event{}
	}
	return Step{events: slices.Clone(events)}
}

// Fail returns a step that fails with err: Generate returns it, and Stream
// yields it as its only pair.
func Fail(err error) Step {
	return Step{fail: func(context.Context, *llm.Request) error { return err }}
}

// WithUsage sets the usage the reply reports. Without it, steps built by
// Reply, ToolCall(s) and Refusal report an estimate (about four characters
// per token of the request's and the reply's text).
func (s Step) WithUsage(input, output int) Step {
	s.usage = &llm.Usage{InputTokens: input, OutputTokens: output}
	return s
}

// Times makes the step serve n consecutive calls (n < 1 counts as 1).
func (s Step) Times(n int) Step {
	s.times = n
	return s
}

// sleep waits d or until ctx is done, whichever comes first. It uses a
// time.Timer, so it takes no real time inside a testing/synctest bubble.
func sleep(ctx context.Context, d time.Duration, req *llm.Request) error {
	if err := ctx.Err(); err != nil {
		return llm.TransportError(Provider, req.Model, err)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return llm.TransportError(Provider, req.Model, ctx.Err())
	case <-t.C:
		return nil
	}
}

// splitEvents turns a response into the events a streaming provider would
// send, splitting text and arguments into several small pieces.
func splitEvents(r *llm.Response) []llm.Event {
	evs := []llm.Event{{Kind: llm.EventStart, Model: r.Model, Provider: r.Provider, RequestID: r.RequestID}}
	for _, c := range chunks(r.Message.Reasoning) {
		evs = append(evs, llm.Event{Kind: llm.EventReasoningDelta, Text: c})
	}
	for _, c := range chunks(r.Message.Text()) {
		evs = append(evs, llm.Event{Kind: llm.EventTextDelta, Text: c})
	}
	for _, c := range chunks(r.Message.Refusal) {
		evs = append(evs, llm.Event{Kind: llm.EventRefusalDelta, Text: c})
	}
	for i, tc := range r.Message.ToolCalls {
		parts := chunks(tc.Arguments)
		if len(parts) == 0 {
			parts = []string{""}
		}
		for j, p := range parts {
			d := llm.ToolCallDelta{Index: i, Arguments: p}
			if j == 0 {
				d.ID, d.Name = tc.ID, tc.Name
			}
			evs = append(evs, llm.Event{Kind: llm.EventToolCallDelta, ToolCall: d})
		}
	}
	if r.FinishReason != "" {
		evs = append(evs, llm.Event{Kind: llm.EventFinish, FinishReason: r.FinishReason})
	}
	return append(evs, llm.Event{Kind: llm.EventUsage, Usage: r.Usage})
}

// maxChunk is the longest delta, in runes, that splitEvents produces.
const maxChunk = 4

// chunks splits s into pieces of at most maxChunk runes, and into at least
// two pieces when s has two runes or more.
func chunks(s string) []string {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return nil
	}
	size := min(max(n/2, 1), maxChunk)
	var out []string
	for len(s) > 0 {
		end, count := 0, 0
		for end < len(s) && count < size {
			_, w := utf8.DecodeRuneInString(s[end:])
			end += w
			count++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// estimateTokens approximates a token count: about four characters each.
func estimateTokens(s string) int {
	return (utf8.RuneCountInString(s) + 3) / 4
}

func messageTokens(m llm.Message) int {
	n := estimateTokens(m.Text()) + estimateTokens(m.Refusal) + estimateTokens(m.Reasoning)
	for _, tc := range m.ToolCalls {
		n += estimateTokens(tc.Name) + estimateTokens(tc.Arguments)
	}
	return n
}

func requestTokens(r *llm.Request) int {
	n := 0
	for _, m := range r.Messages {
		n += 3 + messageTokens(m) // a few tokens of per-message framing
	}
	for _, t := range r.Tools {
		n += estimateTokens(t.Name) + estimateTokens(t.Description) + estimateTokens(string(t.Parameters))
	}
	return n
}

// cloneRequest copies r deeply enough that mutating the original's
// messages, parts, tools, pointers or maps leaves the copy unchanged.
// Values inside Extra are copied shallowly.
func cloneRequest(r *llm.Request) *llm.Request {
	if r == nil {
		return nil
	}
	c := *r
	if r.Messages != nil {
		c.Messages = make([]llm.Message, len(r.Messages))
		for i, m := range r.Messages {
			c.Messages[i] = cloneMessage(m)
		}
	}
	if r.Tools != nil {
		c.Tools = make([]llm.ToolDef, len(r.Tools))
		for i, t := range r.Tools {
			t.Parameters = slices.Clone(t.Parameters)
			c.Tools[i] = t
		}
	}
	c.ParallelToolCalls = clonePtr(r.ParallelToolCalls)
	if r.ResponseFormat != nil {
		f := *r.ResponseFormat
		f.Schema = slices.Clone(f.Schema)
		c.ResponseFormat = &f
	}
	c.Temperature = clonePtr(r.Temperature)
	c.TopP = clonePtr(r.TopP)
	c.Seed = clonePtr(r.Seed)
	c.Stop = slices.Clone(r.Stop)
	c.Principal.Roles = slices.Clone(r.Principal.Roles)
	c.Principal.Groups = slices.Clone(r.Principal.Groups)
	c.Prompt = clonePtr(r.Prompt)
	c.Extra = maps.Clone(r.Extra)
	return &c
}

func cloneMessage(m llm.Message) llm.Message {
	if m.Parts != nil {
		parts := make([]llm.Part, len(m.Parts))
		for i, p := range m.Parts {
			p.ImageData = slices.Clone(p.ImageData)
			parts[i] = p
		}
		m.Parts = parts
	}
	m.ToolCalls = slices.Clone(m.ToolCalls)
	if m.Extra != nil {
		extra := make(map[string]json.RawMessage, len(m.Extra))
		for k, v := range m.Extra {
			extra[k] = slices.Clone(v)
		}
		m.Extra = extra
	}
	return m
}

func cloneResponse(r *llm.Response) *llm.Response {
	if r == nil {
		return &llm.Response{}
	}
	c := *r
	c.Message = cloneMessage(r.Message)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cutError is the error of a stream cut off after n events.
func cutError(req *llm.Request, n int) error {
	return &llm.Error{
		Kind:     llm.KindUnavailable,
		Provider: Provider,
		Model:    req.Model,
		Message:  fmt.Sprintf("llmtest: stream cut off after %d events", n),
		Err:      io.ErrUnexpectedEOF,
	}
}

// lowerFields lower-cases s and collapses runs of white space to one space.
func lowerFields(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}
