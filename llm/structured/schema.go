package structured

import (
	"encoding/json"
	"errors"
	"reflect"

	"github.com/keel-go/keel/llm"
)

// SchemaOptions configures how a schema is derived from a Go type.
type SchemaOptions struct {
	// Name is the schema's name for the provider (a-z, A-Z, 0-9, _ and -,
	// at most 64 characters); empty means the Go type's name.
	Name string
	// Description tells the model what the value is for.
	Description string
}

// Schema is the JSON Schema of a Go type or a raw schema, compiled for
// validation. It is immutable and safe for concurrent use.
type Schema struct {
	name, description string
	original          json.RawMessage
	strict            json.RawMessage
	strictErr         error
}

// SchemaOf derives the schema of t.
func SchemaOf(t reflect.Type, opts SchemaOptions) (*Schema, error) {
	return nil, errors.New("structured: SchemaOf: being written")
}

// SchemaFor derives the schema of T.
func SchemaFor[T any](opts SchemaOptions) (*Schema, error) {
	return SchemaOf(reflect.TypeFor[T](), opts)
}

// CompileSchema compiles a raw JSON Schema.
func CompileSchema(name string, schema json.RawMessage) (*Schema, error) {
	return nil, errors.New("structured: CompileSchema: being written")
}

// Name returns the schema's name.
func (s *Schema) Name() string { return s.name }

// JSON returns the original schema, used for validation.
func (s *Schema) JSON() json.RawMessage { return s.original }

// StrictJSON returns the schema in OpenAI's strict subset, or why it has none.
func (s *Schema) StrictJSON() (json.RawMessage, error) { return s.strict, s.strictErr }

// Validate checks doc against the original schema.
func (s *Schema) Validate(doc []byte) error { return errors.New("structured: Validate: being written") }

// ResponseFormat returns the response format that asks for this schema.
func (s *Schema) ResponseFormat() *llm.ResponseFormat { return nil }
