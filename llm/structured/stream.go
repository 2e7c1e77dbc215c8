package structured

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"

	"github.com/keel-go/keel/llm"
)

// Partial is one value a Generator's stream yields.
type Partial[T any] struct {
	// Value is the best-effort value of the answer so far: the fields
	// complete enough to show (a string as far as it has arrived, numbers
	// once they end), not validated. When Final is set it is the
	// validated value.
	Value T
	// Final marks the last value of the stream, the validated one.
	Final bool
	// Attempt counts the answers asked for, from 1. When it grows, a
	// repair has started and the value starts again from empty.
	Attempt int
	// Response is the model's answer, with usage and cost, on the Final
	// value only.
	Response *llm.Response
}

// Stream asks m for a value of type T in answer to req, as a stream: it
// yields a best-effort partial value each time the streamed JSON adds
// something, then the validated value with Final set. Invalid answers are
// repaired as in GenerateResult (a repair restarts the partial values,
// with Attempt counting up), and the errors are the same. Stopping the
// range stops the call.
func (g *Generator[T]) Stream(ctx context.Context, m llm.Model, req *llm.Request) iter.Seq2[Partial[T], error] {
	return func(yield func(Partial[T], error) bool) {
		if req == nil {
			yield(Partial[T]{}, &llm.Error{Kind: llm.KindInvalidRequest, Message: "structured: nil request"})
			return
		}
		mode := g.opts.Mode
		work := g.prepare(req, mode)
		var failed []Attempt
		for attempt := 1; ; attempt++ {
			s := streamAttempt[T]{g: g, wrapped: g.wrappedAnswer(work.ResponseFormat), attempt: attempt}
			resp, stopped, err := s.run(ctx, m, work, yield)
			if stopped {
				return
			}
			if err != nil {
				if mode == ModeAuto && attempt == 1 && !s.content && rejectsFormat(err) {
					mode = ModeJSON
					work = g.prepare(req, mode)
					attempt--
					continue
				}
				yield(Partial[T]{Attempt: attempt}, err)
				return
			}
			v, problem := g.decodeResponse(resp, s.wrapped)
			if problem == nil {
				yield(Partial[T]{Value: v, Final: true, Attempt: attempt, Response: resp}, nil)
				return
			}
			var halt *llm.Error
			if errors.As(problem, &halt) {
				yield(Partial[T]{Attempt: attempt}, halt)
				return
			}
			text := resp.Message.Text()
			failed = append(failed, Attempt{Text: text, Err: problem})
			if attempt > g.opts.repairs() {
				yield(Partial[T]{Attempt: attempt}, &OutputError{Schema: g.schema.name, Attempts: failed})
				return
			}
			work = withRepair(work, text, problem)
		}
	}
}

// streamAttempt is the state of one streamed answer.
type streamAttempt[T any] struct {
	g       *Generator[T]
	wrapped bool
	attempt int
	parser  PartialParser
	last    []byte // the last snapshot yielded
	content bool   // text has arrived
}

// run streams one answer, yielding partial values, and returns the whole
// answer; stopped reports that the caller stopped ranging.
func (s *streamAttempt[T]) run(ctx context.Context, m llm.Model, req *llm.Request, yield func(Partial[T], error) bool) (resp *llm.Response, stopped bool, err error) {
	var acc llm.Accumulator
	for ev, err := range m.Stream(ctx, req) {
		if err != nil {
			return nil, false, err
		}
		acc.Add(ev)
		if ev.Kind != llm.EventTextDelta || ev.Text == "" {
			continue
		}
		s.content = true
		s.parser.Write(ev.Text)
		snap, ok := s.parser.Snapshot()
		if !ok || bytes.Equal(snap, s.last) {
			continue
		}
		s.last = append(s.last[:0], snap...)
		v, ok := s.partial(snap)
		if !ok {
			continue
		}
		if !yield(Partial[T]{Value: v, Attempt: s.attempt}, nil) {
			return nil, true, nil
		}
	}
	return acc.Response(), false, nil
}

// partial decodes a snapshot leniently: what does not fit T yet is left
// at its zero value.
func (s *streamAttempt[T]) partial(snap []byte) (T, bool) {
	var v T
	if s.wrapped {
		var w struct {
			Value *T `json:"value"`
		}
		w.Value = &v
		if json.Unmarshal(snap, &w) != nil && w.Value == nil {
			return v, false
		}
		return v, true
	}
	// A type mismatch in one field still fills the others.
	_ = json.Unmarshal(snap, &v)
	return v, true
}
