package structured

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keel-go/keel/llm"
)

// SchemaOptions configures how a schema is derived from a Go type.
type SchemaOptions struct {
	// Name is the schema's name for the provider (letters, digits, _ and
	// -, at most 64 characters); empty means the Go type's name.
	Name string
	// Description tells the model what the value is for.
	Description string
}

// Schema is the JSON Schema of a Go type or a raw schema in two forms: the
// original, which answers are validated against, and OpenAI's strict
// subset, which is sent to the provider. It is immutable and safe for
// concurrent use.
//
// Schemas derived from Go types follow invopop/jsonschema: a field is
// required unless its json tag says omitempty or omitzero; jsonschema
// tags add descriptions, enums, formats and bounds. In the strict form
// every property is required and the optional ones accept null, which
// validation and decoding treat as absent.
type Schema struct {
	name, description string
	original          json.RawMessage
	tree              *object // the original, for reading optional properties
	nulls             nullables
	strict            json.RawMessage
	strictErr         error
	compiled          *sjs.Schema
	// wrapped: the type is not an object, so the strict form (whose root
	// must be an object) holds it as the property "value".
	wrapped bool
}

// schemaNamePattern is what OpenAI accepts as response_format.json_schema.name.
var (
	schemaNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	schemaNameStrip   = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
)

// wrapKey is the property that holds a non-object value in the strict form.
const wrapKey = "value"

// SchemaOf derives the schema of t. A type JSON Schema cannot express for
// a model (see TypeError) fails here, not at call time.
func SchemaOf(t reflect.Type, opts SchemaOptions) (s *Schema, err error) {
	if t == nil {
		return nil, errors.New("structured: SchemaOf: nil type")
	}
	if err := checkType(t); err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = typeSchemaName(t)
	}
	if !schemaNamePattern.MatchString(name) {
		return nil, fmt.Errorf("structured: schema name %q: use 1 to 64 letters, digits, _ or -", name)
	}
	defer func() {
		// invopop panics on a few types checkType should have refused;
		// a panic must not escape a schema build.
		if r := recover(); r != nil {
			s, err = nil, &TypeError{Type: t, Reason: fmt.Sprint(r)}
		}
	}()
	r := &jsonschema.Reflector{Anonymous: true}
	raw, err := json.Marshal(r.ReflectFromType(t))
	if err != nil {
		return nil, fmt.Errorf("structured: schema of %v: %w", t, err)
	}
	v, err := parseOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("structured: schema of %v: %w", t, err)
	}
	root := v.(*object)
	normalizeDefs(root)
	if opts.Description != "" {
		root.set("description", opts.Description)
	}
	return build(name, opts.Description, root, true)
}

// SchemaFor derives the schema of T; see SchemaOf.
func SchemaFor[T any](opts SchemaOptions) (*Schema, error) {
	return SchemaOf(reflect.TypeFor[T](), opts)
}

// CompileSchema compiles a raw JSON Schema (draft 2020-12 unless it says
// otherwise), for tools and outputs described outside Go: MCP servers,
// OpenAPI operations, configuration. Its strict form is derived as for
// Go types; a schema strict mode cannot express still compiles (see
// StrictJSON). Remote references are not fetched.
func CompileSchema(name string, schema json.RawMessage) (*Schema, error) {
	if !schemaNamePattern.MatchString(name) {
		return nil, fmt.Errorf("structured: schema name %q: use 1 to 64 letters, digits, _ or -", name)
	}
	v, err := parseOrdered(schema)
	if err != nil {
		return nil, fmt.Errorf("structured: schema %s: %w", name, err)
	}
	root, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("structured: schema %s: not a JSON object", name)
	}
	normalizeDefs(root)
	desc, _ := root.vals["description"].(string)
	return build(name, desc, root, false)
}

// build compiles the original schema and derives the strict form. wrap
// allows a non-object root to be wrapped (Go types, whose decoding
// unwraps it).
func build(name, description string, root *object, wrap bool) (*Schema, error) {
	original, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("structured: schema %s: %w", name, err)
	}
	compiled, err := compileOriginal(name, original)
	if err != nil {
		return nil, err
	}
	s := &Schema{name: name, description: description, original: original, tree: root, compiled: compiled, nulls: collectNullables(root)}
	strictRoot := root
	if wrap && !rootIsObject(root) {
		strictRoot, s.wrapped = wrapRoot(root), true
	}
	st, err := toStrict(strictRoot)
	if err != nil {
		s.strictErr = fmt.Errorf("structured: schema %s has no strict form: %w", name, err)
		s.wrapped = false // the original is sent, and answered, as is
		return s, nil
	}
	if s.strict, err = json.Marshal(st); err != nil {
		return nil, fmt.Errorf("structured: schema %s: %w", name, err)
	}
	return s, nil
}

// compileOriginal compiles the validation schema. Nothing is loaded from
// outside the document.
func compileOriginal(name string, doc []byte) (*sjs.Schema, error) {
	v, err := sjs.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("structured: schema %s: %w", name, err)
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	url := "keel:///schemas/" + name + ".json"
	if err := c.AddResource(url, v); err != nil {
		return nil, fmt.Errorf("structured: schema %s: %w", name, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("structured: schema %s does not compile: %w", name, err)
	}
	return compiled, nil
}

// noLoader refuses every remote reference: compiling a schema never
// touches the network or the file system.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("structured: schema references %s, which is not loaded", url)
}

// rootIsObject reports whether the root (or the definition it refers to)
// describes an object.
func rootIsObject(root *object) bool {
	if isObjectSchema(root) {
		return true
	}
	if ref, ok := root.vals["$ref"].(string); ok {
		if defs, ok := root.vals["$defs"].(*object); ok {
			if def, ok := defs.vals[strings.TrimPrefix(ref, "#/$defs/")].(*object); ok {
				return isObjectSchema(def)
			}
		}
	}
	return false
}

// wrapRoot returns {"type":"object","properties":{"value":root},...} with
// root's definitions moved to the wrapper.
func wrapRoot(root *object) *object {
	inner := clone(root).(*object)
	w := newObject()
	for _, k := range []string{"$schema", "$defs"} {
		if v, ok := inner.get(k); ok {
			w.set(k, v)
			inner.del(k)
		}
	}
	w.set("type", "object")
	props := newObject()
	props.set(wrapKey, inner)
	w.set("properties", props)
	w.set("required", []any{wrapKey})
	w.set("additionalProperties", false)
	return w
}

// typeSchemaName names the schema of t after the type, within OpenAI's
// rules for names.
func typeSchemaName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	n := t.Name()
	if i := strings.IndexByte(n, '['); i > 0 {
		n = n[:i] // a generic type: its base name
	}
	n = strings.Trim(schemaNameStrip.ReplaceAllString(n, "_"), "_")
	if n == "" {
		n = "output"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// Name returns the schema's name.
func (s *Schema) Name() string { return s.name }

// Description returns the schema's description, "" if none.
func (s *Schema) Description() string { return s.description }

// JSON returns the original schema, which answers are validated against.
// The caller must not modify it.
func (s *Schema) JSON() json.RawMessage { return s.original }

// StrictJSON returns the schema in OpenAI's strict subset, or an error
// saying why it has none (a map, an open object, any-value fields). The
// caller must not modify it.
func (s *Schema) StrictJSON() (json.RawMessage, error) { return s.strict, s.strictErr }

// ResponseFormat returns the response format that asks for this schema:
// the strict form with Strict set when there is one, else the original
// schema without it.
func (s *Schema) ResponseFormat() *llm.ResponseFormat {
	if s.strictErr == nil {
		return &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: s.name, Description: s.description, Schema: s.strict, Strict: true}
	}
	return &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: s.name, Description: s.description, Schema: s.original}
}
