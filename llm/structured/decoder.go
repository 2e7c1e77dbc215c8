package structured

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

// Decoder validates JSON documents against the schema of T and decodes
// them into values of T, refusing unknown fields. Generators use one for
// answers, and the tools package for a model's tool arguments. Build it
// once per type (the schema is derived and compiled then); it is
// immutable and safe for concurrent use.
//
// A document is first tried on a fast path: one parse into a tree, a
// check against only the constraints the Go type does not already
// enforce, and a fill of T from the tree. Anything unusual (a null the
// schema does not drop, a number the field cannot hold, a key that is not
// exactly a field name, duplicate keys, invalid UTF-8, or any problem at
// all) goes to the reference path instead: jsonschema/v6 validation of the
// whole document against the whole schema, then encoding/json with
// DisallowUnknownFields. The fast path accepts only documents the
// reference path accepts, with the same result, so errors always come
// from the reference path and name every problem.
type Decoder[T any] struct {
	schema *Schema
	fast   *fastPath // nil: every document takes the reference path
}

// fastPath is what a Decoder needs for its fast path.
type fastPath struct {
	plan *fillNode
	// residual is the schema left to check after the plan; nil when the
	// plan enforces everything.
	residual *sjs.Schema
	// unmarshalsJSON says the plan calls a json.Unmarshaler somewhere.
	unmarshalsJSON bool
}

// NewDecoder derives and compiles the schema of T (see SchemaOf) and
// returns its Decoder.
func NewDecoder[T any](opts SchemaOptions) (*Decoder[T], error) {
	s, err := SchemaFor[T](opts)
	if err != nil {
		return nil, err
	}
	return newDecoder[T](s), nil
}

// newDecoder returns the Decoder of T for s, which must be T's schema.
func newDecoder[T any](s *Schema) *Decoder[T] {
	return &Decoder[T]{schema: s, fast: s.fastPathFor(reflect.TypeFor[T]())}
}

// Schema returns the schema documents are validated against.
func (d *Decoder[T]) Schema() *Schema { return d.schema }

// Decode validates doc, which must be exactly one JSON value, and decodes
// it into a T. A null given for an optional property counts as absent.
// It returns a *ValidationError listing every way doc fails the schema,
// or an error wrapping encoding/json's when doc is not JSON or does not
// fit T.
func (d *Decoder[T]) Decode(doc []byte) (T, error) {
	v, _, err := d.DecodeValue(doc)
	return v, err
}

// DecodeValue is Decode that also returns the document as a generic
// value (map[string]any, []any, string, json.Number, bool or nil; nulls
// of optional properties removed), for rules that inspect the document
// rather than the Go value, such as a tool policy's argument constraints.
func (d *Decoder[T]) DecodeValue(doc []byte) (T, any, error) {
	if out, tree, ok := d.decodeFast(string(doc)); ok {
		return out, tree, nil
	}
	return d.decodeReference(doc)
}

// decodeFast tries the fast path on doc.
func (d *Decoder[T]) decodeFast(doc string) (T, any, bool) {
	var out T
	if d.fast == nil {
		return out, nil, false
	}
	tree, ok := d.fast.decode(d.schema, doc, &out)
	if !ok {
		var zero T
		return zero, nil, false
	}
	return out, tree, true
}

// decodeReference decodes doc on the reference path.
func (d *Decoder[T]) decodeReference(doc []byte) (T, any, error) {
	var zero, out T
	v, err := d.schema.validatedTree(doc)
	var syntax *notJSONError
	if errors.As(err, &syntax) {
		return zero, nil, fmt.Errorf("the answer is not valid JSON: %w", syntax.err)
	}
	if err != nil {
		return zero, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return zero, nil, fmt.Errorf("the JSON does not decode into the expected type: %w", err)
	}
	return out, v, nil
}

// fastPathFor compiles the fast path of s for values of t, or returns nil
// when t is not one the fast path handles.
func (s *Schema) fastPathFor(t reflect.Type) *fastPath {
	if s.tree == nil {
		return nil
	}
	plan, res, ok := compileFast(s.tree, t)
	if !ok {
		return nil
	}
	f := &fastPath{plan: plan, unmarshalsJSON: plan.reaches(fillJSON, map[*fillNode]bool{})}
	if len(res.keys) == 0 {
		return f
	}
	doc, err := json.Marshal(res)
	if err != nil {
		return nil
	}
	if f.residual, err = compileOriginal(s.name, doc); err != nil {
		return nil
	}
	return f
}

// decode tries the fast path for doc into out, reporting whether it
// decided and returning the parsed document; out may be partly filled
// when it did not decide.
func (f *fastPath) decode(s *Schema, doc string, out any) (any, bool) {
	if f.unmarshalsJSON && strings.IndexByte(doc, '\\') >= 0 {
		// encoding/json hands an UnmarshalJSON method the raw bytes,
		// escapes included (time.Time refuses "\u002B"), and the fast
		// path only has the decoded string: let the reference path
		// decide.
		return nil, false
	}
	v, ok := parseTree(doc)
	if !ok {
		return nil, false
	}
	if len(s.nulls) > 0 && strings.Contains(doc, "null") {
		s.nulls.dropOptionalNulls(v, s.tree, s.tree, 0)
	}
	if f.residual != nil && f.residual.Validate(v) != nil {
		return nil, false
	}
	return v, f.plan.fill(reflect.ValueOf(out).Elem(), v)
}
