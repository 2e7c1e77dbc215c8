package structured

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keel-go/keel/llm"
)

// Mode says how a Generator asks for JSON.
type Mode uint8

// The modes.
const (
	// ModeAuto sends the schema as a JSON Schema response format (strict
	// when the schema has a strict form) and, if the provider rejects
	// that response format, switches to ModeJSON for the rest of the
	// call.
	ModeAuto Mode = iota
	// ModeSchema sends the schema as a JSON Schema response format only.
	ModeSchema
	// ModeJSON asks for JSON mode (any JSON object) and puts the schema
	// in the prompt, for models without JSON Schema support.
	ModeJSON
	// ModePrompt sets no response format and puts the schema in the
	// prompt; the JSON is extracted from whatever text comes back.
	ModePrompt
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeSchema:
		return "schema"
	case ModeJSON:
		return "json"
	case ModePrompt:
		return "prompt"
	default:
		return fmt.Sprintf("mode(%d)", uint8(m))
	}
}

// DefaultMaxRepairs is how many times a Generator sends the problems of an
// invalid answer back to the model when Options.MaxRepairs is 0.
const DefaultMaxRepairs = 2

// Options configures a Generator.
type Options struct {
	// Name and Description name the schema for the provider; see
	// SchemaOptions.
	Name        string
	Description string
	// Mode says how JSON is asked for; the zero value is ModeAuto.
	Mode Mode
	// MaxRepairs bounds the repair attempts after the first answer: 0
	// means DefaultMaxRepairs, a negative value none.
	MaxRepairs int
}

func (o Options) repairs() int {
	switch {
	case o.MaxRepairs < 0:
		return 0
	case o.MaxRepairs == 0:
		return DefaultMaxRepairs
	default:
		return o.MaxRepairs
	}
}

// Generator asks Models for values of type T. Build one per type with New
// (where a type that cannot be expressed fails) and reuse it: the schema
// is derived and compiled once. A Generator is safe for concurrent use.
type Generator[T any] struct {
	schema *Schema
	dec    *Decoder[T]
	opts   Options
	// prompt is the instruction that carries the schema in ModeJSON and
	// ModePrompt.
	prompt string
}

// New builds the Generator of T. It fails when T cannot be expressed as
// JSON Schema (see TypeError).
func New[T any](opts Options) (*Generator[T], error) {
	s, err := SchemaFor[T](SchemaOptions{Name: opts.Name, Description: opts.Description})
	if err != nil {
		return nil, err
	}
	if opts.Mode > ModePrompt {
		return nil, fmt.Errorf("structured: unknown mode %v", opts.Mode)
	}
	return &Generator[T]{schema: s, dec: newDecoder[T](s), opts: opts, prompt: schemaPrompt(s)}, nil
}

// MustNew is New for package-level Generators: it panics when T cannot be
// expressed, which then happens at program start.
func MustNew[T any](opts Options) *Generator[T] {
	g, err := New[T](opts)
	if err != nil {
		panic(err)
	}
	return g
}

// Schema returns the schema of T.
func (g *Generator[T]) Schema() *Schema { return g.schema }

// Result is a value and what it cost to get it.
type Result[T any] struct {
	Value T
	// Response is the model's last answer (the valid one).
	Response *llm.Response
	// Attempts counts the answers asked for: 1 when the first was valid.
	Attempts int
	// Usage and Cost add up every attempt.
	Usage llm.Usage
	Cost  float64
}

// Generate asks m for a value of type T in answer to req and returns it
// validated; see GenerateResult.
func (g *Generator[T]) Generate(ctx context.Context, m llm.Model, req *llm.Request) (T, error) {
	r, err := g.GenerateResult(ctx, m, req)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.Value, nil
}

// GenerateResult asks m for a value of type T in answer to req. req is
// not modified: the Generator works on a copy whose response format (and,
// in ModeJSON and ModePrompt, an added system message) asks for T's
// schema. An answer that does not parse, validate or decode is sent back
// with its problems, up to Options.MaxRepairs times.
//
// Errors: the Model's errors as they are; a refusal as an *llm.Error of
// kind llm.KindRefusal and a filtered answer as llm.KindContentFiltered
// (neither is repaired); and an *OutputError (kind llm.KindInvalidOutput)
// when no attempt gave a valid value.
func (g *Generator[T]) GenerateResult(ctx context.Context, m llm.Model, req *llm.Request) (*Result[T], error) {
	if req == nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "structured: nil request"}
	}
	mode := g.opts.Mode
	work := g.prepare(req, mode)
	res := &Result[T]{}
	var failed []Attempt
	for attempt := 0; ; attempt++ {
		resp, err := m.Generate(ctx, work)
		if err != nil {
			if mode == ModeAuto && attempt == 0 && rejectsFormat(err) {
				// The provider does not take JSON Schema: ask again in
				// JSON mode, with the schema in the prompt.
				mode = ModeJSON
				work = g.prepare(req, mode)
				attempt--
				continue
			}
			return nil, err
		}
		res.Attempts++
		res.Usage = addUsage(res.Usage, resp.Usage)
		res.Cost += resp.Cost
		v, problem := g.decodeResponse(resp, g.wrappedAnswer(work.ResponseFormat))
		if problem == nil {
			res.Value, res.Response = v, resp
			return res, nil
		}
		var halt *llm.Error
		if errors.As(problem, &halt) {
			return nil, halt
		}
		text := resp.Message.Text()
		failed = append(failed, Attempt{Text: text, Err: problem})
		if attempt >= g.opts.repairs() {
			return nil, &OutputError{Schema: g.schema.name, Attempts: failed}
		}
		work = withRepair(work, text, problem)
	}
}

// prepare returns the request to send for mode: a copy of req asking for
// the schema.
func (g *Generator[T]) prepare(req *llm.Request, mode Mode) *llm.Request {
	work := req.Clone()
	switch mode {
	case ModeAuto, ModeSchema:
		work.ResponseFormat = g.schema.ResponseFormat()
	case ModeJSON:
		work.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
		work.Messages = withInstruction(work.Messages, g.prompt)
	case ModePrompt:
		work.ResponseFormat = nil
		work.Messages = withInstruction(work.Messages, g.prompt)
	}
	return work
}

// wrappedAnswer reports whether answers come in the strict form's wrapper
// object.
func (g *Generator[T]) wrappedAnswer(rf *llm.ResponseFormat) bool {
	return g.schema.wrapped && rf != nil && rf.Type == llm.FormatJSONSchema && rf.Strict
}

// decodeResponse turns an answer into a T. A refusal or a filtered answer
// is returned as an *llm.Error (not repaired); any other problem is an
// error describing it for the model.
func (g *Generator[T]) decodeResponse(resp *llm.Response, wrapped bool) (T, error) {
	var zero T
	if r := resp.Message.Refusal; r != "" || resp.FinishReason == llm.FinishRefusal {
		if r == "" {
			r = "the model declined to answer"
		}
		return zero, &llm.Error{Kind: llm.KindRefusal, Provider: resp.Provider, Model: resp.Model, RequestID: resp.RequestID, Message: r}
	}
	if resp.FinishReason == llm.FinishContentFilter {
		return zero, &llm.Error{Kind: llm.KindContentFiltered, Provider: resp.Provider, Model: resp.Model, RequestID: resp.RequestID,
			Message: "the provider's content filter stopped the answer"}
	}
	text := resp.Message.Text()
	if resp.FinishReason == llm.FinishLength {
		return zero, fmt.Errorf("the answer was cut off at the output token limit before the JSON was complete; answer more briefly")
	}
	return g.decodeText(text, wrapped)
}

// decodeText extracts, unwraps, validates and decodes the JSON in text.
func (g *Generator[T]) decodeText(text string, wrapped bool) (T, error) {
	if !wrapped {
		// Most answers are exactly the JSON (strict mode, JSON mode): try
		// them as they are before looking for JSON in prose.
		if t := strings.TrimSpace(text); t != "" && (t[0] == '{' || t[0] == '[') {
			if v, _, ok := g.dec.decodeFast(t); ok {
				return v, nil
			}
		}
	}
	var zero T
	doc, err := ExtractJSON(text)
	if err != nil {
		return zero, err
	}
	if wrapped {
		if doc, err = unwrap(doc); err != nil {
			return zero, err
		}
	}
	return g.dec.Decode(doc)
}

// unwrap returns the "value" of the strict form's wrapper object.
func unwrap(doc []byte) ([]byte, error) {
	var w map[string]json.RawMessage
	if err := json.Unmarshal(doc, &w); err != nil {
		return nil, fmt.Errorf(`the answer must be an object with the single property %q: %w`, wrapKey, err)
	}
	v, ok := w[wrapKey]
	if !ok || len(w) != 1 {
		return nil, fmt.Errorf(`the answer must be an object with the single property %q`, wrapKey)
	}
	return v, nil
}

// rejectsFormat reports whether err says the provider does not accept the
// response format (a model without JSON Schema support).
func rejectsFormat(err error) bool {
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindInvalidRequest {
		return false
	}
	return strings.Contains(e.Param, "response_format") ||
		strings.Contains(strings.ToLower(e.Message), "response_format") ||
		strings.Contains(strings.ToLower(e.Message), "json_schema")
}

// schemaPrompt is the instruction that carries the schema when the
// provider does not enforce it.
func schemaPrompt(s *Schema) string {
	var b strings.Builder
	b.WriteString("Answer with a single JSON value and nothing else: no prose, no code fences. ")
	b.WriteString("It must match this JSON Schema")
	if s.description != "" {
		b.WriteString(" (")
		b.WriteString(s.description)
		b.WriteString(")")
	}
	b.WriteString(":\n")
	b.Write(s.original)
	return b.String()
}

// withInstruction returns msgs with a trusted system message holding
// instruction added after the leading system and developer messages.
func withInstruction(msgs []llm.Message, instruction string) []llm.Message {
	i := 0
	for i < len(msgs) && (msgs[i].Role == llm.RoleSystem || msgs[i].Role == llm.RoleDeveloper) {
		i++
	}
	out := make([]llm.Message, 0, len(msgs)+1)
	out = append(out, msgs[:i]...)
	out = append(out, llm.SystemMessage(instruction))
	return append(out, msgs[i:]...)
}

// withRepair returns req followed by the invalid answer and a message
// listing its problems. The instruction is the application's (trusted);
// the problems quote the model's output, so they stay untrusted.
func withRepair(req *llm.Request, answer string, problem error) *llm.Request {
	next := req.Clone()
	next.Messages = append(next.Messages,
		llm.AssistantText(answer),
		llm.Message{Role: llm.RoleUser, Parts: []llm.Part{
			{Kind: llm.PartText, Provenance: llm.Trusted,
				Text: "Your previous answer could not be used. Answer again with only the corrected JSON. The problems were:\n"},
			llm.UntrustedText(problemText(problem), "structured:validation"),
		}})
	return next
}

// problemText lists the problems of an answer, one per line.
func problemText(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		lines := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			lines[i] = "- " + p.String()
		}
		return strings.Join(lines, "\n")
	}
	return "- " + err.Error()
}

func addUsage(a, b llm.Usage) llm.Usage {
	a.InputTokens += b.InputTokens
	a.OutputTokens += b.OutputTokens
	a.CachedInputTokens += b.CachedInputTokens
	a.CacheWriteTokens += b.CacheWriteTokens
	a.ReasoningTokens += b.ReasoningTokens
	return a
}
