package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/keel-go/keel/llm"
	"github.com/keel-go/keel/llm/structured"
	"github.com/keel-go/keel/tools/policy"
)

// Risk is how much harm a tool can do: policies and llm.SafeMode refuse
// tools by it. It is policy.Risk, named here for callers of this package.
type Risk = policy.Risk

// The risk levels, in increasing order.
const (
	// RiskRead tools only read.
	RiskRead = policy.RiskRead
	// RiskWrite tools change state inside the application.
	RiskWrite = policy.RiskWrite
	// RiskExternal tools have effects outside it, or destroy: sending
	// email, paying, deleting.
	RiskExternal = policy.RiskExternal
)

// Defaults for a Spec's zero values.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxResultBytes = 16 << 10
)

// Spec describes a tool to the model and to the tool layer.
type Spec struct {
	// Name is what the model calls the tool: 1 to 64 letters, digits, _
	// or -.
	Name string
	// Description tells the model what the tool does and when to use it.
	Description string
	// Risk is the tool's risk level; policies and safe mode read it. A
	// tool that declares none is RiskExternal, the strictest.
	Risk Risk
	// Timeout bounds one call; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxResultBytes caps the result the model sees (longer results are
	// cut at a UTF-8 boundary and marked); 0 means DefaultMaxResultBytes.
	MaxResultBytes int
	// Idempotent says a call may run twice with the same effect as once,
	// so a call that timed out may be retried. Calls of other tools are
	// never retried by this package.
	Idempotent bool
}

var toolNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Spec) normalize() error {
	if !toolNamePattern.MatchString(s.Name) {
		return fmt.Errorf("tools: tool name %q: use 1 to 64 letters, digits, _ or -", s.Name)
	}
	switch {
	case s.Risk == 0:
		// Undeclared: the strictest level, as the policy treats it.
		s.Risk = RiskExternal
	case s.Risk < RiskRead || s.Risk > RiskExternal:
		return fmt.Errorf("tools: tool %s: unknown risk level %d", s.Name, int(s.Risk))
	}
	if s.Timeout < 0 || s.MaxResultBytes < 0 {
		return fmt.Errorf("tools: tool %s: negative timeout or result cap", s.Name)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.MaxResultBytes == 0 {
		s.MaxResultBytes = DefaultMaxResultBytes
	}
	return nil
}

// Tool is a function a model may propose to call, with the schema its
// arguments must match. Build one with New (typed arguments) or NewRaw (a
// JSON Schema from elsewhere); a Tool is immutable and safe for concurrent
// use. Tools run through an Executor, which validates, authorises, audits
// and runs them; never call a model's proposal directly.
type Tool struct {
	spec   Spec
	schema *structured.Schema
	def    llm.ToolDef
	// decode validates arguments and returns the value the handler takes
	// and the generic form policies read.
	decode func(args []byte) (value, tree any, err error)
	run    func(ctx context.Context, value any) (any, error)
}

// New defines a tool from a Go function whose arguments are the struct
// type A. The JSON Schema of A (invopop/jsonschema tags: descriptions,
// enums, bounds) is sent to the model in OpenAI's strict form, and the
// model's arguments are validated against it (jsonschema/v6) and decoded
// strictly, unknown fields rejected, before anything runs. The result R is
// given to the model as JSON, or as is when it is a string or a
// json.RawMessage.
func New[A, R any](spec Spec, fn func(ctx context.Context, args A) (R, error)) (*Tool, error) {
	if fn == nil {
		return nil, errors.New("tools: New: nil function")
	}
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	at := reflect.TypeFor[A]()
	for at.Kind() == reflect.Pointer {
		at = at.Elem()
	}
	if at.Kind() != reflect.Struct {
		return nil, fmt.Errorf("tools: tool %s: arguments must be a struct, not %v", spec.Name, reflect.TypeFor[A]())
	}
	dec, err := structured.NewDecoder[A](structured.SchemaOptions{Name: spec.Name, Description: spec.Description})
	if err != nil {
		return nil, fmt.Errorf("tools: tool %s: %w", spec.Name, err)
	}
	t := &Tool{spec: spec, schema: dec.Schema()}
	t.decode = func(args []byte) (any, any, error) {
		v, tree, err := dec.DecodeValue(args)
		return v, tree, err
	}
	t.run = func(ctx context.Context, v any) (any, error) { return fn(ctx, v.(A)) }
	t.def = definition(spec, t.schema)
	return t, nil
}

// NewRaw defines a tool from a JSON Schema for its arguments (an object
// schema) and a handler that receives the validated arguments: for tools
// described outside Go, such as MCP servers, OpenAPI operations or
// configuration. Validation, policy and audit are the same as for New.
func NewRaw(spec Spec, schema json.RawMessage, fn func(ctx context.Context, args json.RawMessage) (any, error)) (*Tool, error) {
	if fn == nil {
		return nil, errors.New("tools: NewRaw: nil function")
	}
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	s, err := structured.CompileSchema(spec.Name, schema)
	if err != nil {
		return nil, fmt.Errorf("tools: tool %s: %w", spec.Name, err)
	}
	var root struct {
		Type any `json:"type"`
	}
	if err := json.Unmarshal(schema, &root); err != nil || root.Type != "object" {
		return nil, fmt.Errorf(`tools: tool %s: the arguments schema must have "type": "object"`, spec.Name)
	}
	t := &Tool{spec: spec, schema: s}
	t.decode = func(args []byte) (any, any, error) {
		tree, err := s.ValidateValue(args)
		if err != nil {
			return nil, nil, err
		}
		return json.RawMessage(args), tree, nil
	}
	t.run = func(ctx context.Context, v any) (any, error) { return fn(ctx, v.(json.RawMessage)) }
	t.def = definition(spec, s)
	return t, nil
}

// definition is what a request tells the model about the tool: the strict
// form of the schema when it has one, the original otherwise.
func definition(spec Spec, s *structured.Schema) llm.ToolDef {
	def := llm.ToolDef{Name: spec.Name, Description: spec.Description, Parameters: s.JSON()}
	if strict, err := s.StrictJSON(); err == nil {
		def.Parameters, def.Strict = strict, true
	}
	return def
}

// Name returns the tool's name.
func (t *Tool) Name() string { return t.spec.Name }

// Spec returns the tool's description, defaults filled in.
func (t *Tool) Spec() Spec { return t.spec }

// Schema returns the schema arguments are validated against.
func (t *Tool) Schema() *structured.Schema { return t.schema }

// Definition returns the tool as an llm.Request lists it.
func (t *Tool) Definition() llm.ToolDef {
	d := t.def
	d.Parameters = append(json.RawMessage(nil), t.def.Parameters...)
	return d
}

// DecodeArgs validates arguments as the model sent them and returns the
// value the tool's function takes (the typed struct for New, the JSON for
// NewRaw) and their generic form (map[string]any and so on, numbers as
// json.Number) for policies. The error is a *structured.ValidationError
// or says why the text is not JSON; either way it is meant for the model.
func (t *Tool) DecodeArgs(args []byte) (value, generic any, err error) {
	return t.decode(args)
}

// encodeResult renders a tool's result for the model, capped at max bytes.
func encodeResult(v any, max int) (content string, truncated bool, err error) {
	switch x := v.(type) {
	case string:
		content = x
	case json.RawMessage:
		content = string(x)
	case nil:
		content = "null"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", false, fmt.Errorf("the tool's result does not encode as JSON: %w", err)
		}
		content = string(b)
	}
	if len(content) <= max {
		return content, false, nil
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(content[cut]) {
		cut--
	}
	return content[:cut] + fmt.Sprintf("\n[result truncated: %d of %d bytes shown]", cut, len(content)), true, nil
}
