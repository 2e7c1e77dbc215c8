package structured

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Problem is one way a JSON document fails its schema.
type Problem struct {
	// Path is the JSON pointer of the offending value in the document,
	// such as "/items/2/qty"; "" is the whole document.
	Path string
	// Message says what is wrong, in words a model can act on.
	Message string
}

// String returns "at <path>: <message>".
func (p Problem) String() string {
	path := p.Path
	if path == "" {
		path = "/"
	}
	return "at " + path + ": " + p.Message
}

// ValidationError lists every way a document fails its schema.
type ValidationError struct {
	Problems []Problem
}

// Error implements error.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("structured: the JSON does not match the schema: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Validate checks the JSON document doc against the original schema. A
// null given for an optional property (which is how the strict form says
// "absent") counts as absent. It returns a *ValidationError listing the
// problems, a *DuplicateKeyError if an object repeats a key, or an error
// if doc is not JSON.
func (s *Schema) Validate(doc []byte) error {
	_, err := s.ValidateValue(doc)
	return err
}

// ValidateValue is Validate that also returns the valid document as a
// generic value (map[string]any, []any, string, json.Number, bool or nil;
// nulls of optional properties removed), for callers that go on to read
// it, such as a tool with a raw JSON Schema.
func (s *Schema) ValidateValue(doc []byte) (any, error) {
	v, err := s.validatedTree(doc)
	var syntax *notJSONError
	if errors.As(err, &syntax) {
		return nil, fmt.Errorf("structured: not JSON: %w", syntax.err)
	}
	return v, err
}

// notJSONError carries the reference parser's syntax error, which each
// caller words for its reader.
type notJSONError struct{ err error }

func (e *notJSONError) Error() string { return e.err.Error() }

// validatedTree parses doc (the fast parser, or the reference one for
// what it refuses, which also says what is wrong), refuses repeated keys,
// and validates the value against the original schema.
func (s *Schema) validatedTree(doc []byte) (any, error) {
	v, ok := parseTree(string(doc))
	if !ok {
		var err error
		if v, err = sjs.UnmarshalJSON(bytes.NewReader(doc)); err != nil {
			return nil, &notJSONError{err}
		}
		if dup := findDuplicateKey(doc); dup != nil {
			return nil, dup
		}
	}
	if err := s.validateValue(v, bytes.Contains(doc, []byte("null"))); err != nil {
		return nil, err
	}
	return v, nil
}

// validateValue validates a value decoded by sjs.UnmarshalJSON; when the
// document may hold nulls, it first drops those of optional properties
// from v in place.
func (s *Schema) validateValue(v any, mayHoldNull bool) error {
	if mayHoldNull && len(s.nulls) > 0 {
		s.nulls.dropOptionalNulls(v, s.tree, s.tree, 0)
	}
	err := s.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *sjs.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("structured: validation: %w", err)
	}
	return &ValidationError{Problems: problemsOf(ve, message.NewPrinter(language.English))}
}

// problemsOf lists the leaf problems of a validation error (the causes
// that have no causes of their own), sorted by path, without repeats.
func problemsOf(ve *sjs.ValidationError, p *message.Printer) []Problem {
	seen := map[Problem]bool{}
	var ps []Problem
	var walk func(e *sjs.ValidationError, depth int)
	walk = func(e *sjs.ValidationError, depth int) {
		if len(e.Causes) == 0 || depth > maxNullWalk {
			pr := Problem{Path: jsonPointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(p)}
			if !seen[pr] {
				seen[pr] = true
				ps = append(ps, pr)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c, depth+1)
		}
	}
	walk(ve, 0)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// jsonPointer writes path tokens as a JSON pointer (RFC 6901).
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// maxNullWalk bounds how deep dropOptionalNulls follows a document, as a
// guard against hostile nesting (the decoder bounds it too).
const maxNullWalk = 512

// nullables maps each object schema of a document (by identity) to its
// properties that may be dropped when null: optional, and not accepting
// null themselves. It is computed once, when the schema is built.
type nullables map[*object]map[string]bool

// collectNullables walks the schema tree rooted at root.
func collectNullables(root *object) nullables {
	n := nullables{}
	seen := map[*object]bool{}
	var walk func(v any)
	walk = func(v any) {
		o, ok := v.(*object)
		if !ok {
			if list, ok := v.([]any); ok {
				for _, e := range list {
					walk(e)
				}
			}
			return
		}
		if seen[o] {
			return
		}
		seen[o] = true
		if props, ok := o.vals["properties"].(*object); ok {
			required := map[string]bool{}
			if list, ok := o.vals["required"].([]any); ok {
				for _, r := range list {
					if name, ok := r.(string); ok {
						required[name] = true
					}
				}
			}
			drop := map[string]bool{}
			for _, k := range props.keys {
				if ps, ok := props.vals[k].(*object); ok && !required[k] && !allowsNull(deref(ps, root)) {
					drop[k] = true
				}
			}
			if len(drop) > 0 {
				n[o] = drop
			}
		}
		for _, k := range o.keys {
			walk(o.vals[k])
		}
	}
	walk(root)
	return n
}

// dropOptionalNulls removes, from the objects in v, the properties whose
// value is null where the schema sch (inside root, for references) lists
// the property as optional and does not allow null: the strict form asks
// the model to write null for "absent".
func (n nullables) dropOptionalNulls(v any, sch *object, root *object, depth int) {
	if sch == nil || depth > maxNullWalk {
		return
	}
	sch = deref(sch, root)
	switch x := v.(type) {
	case map[string]any:
		props, _ := sch.vals["properties"].(*object)
		if props == nil {
			return
		}
		drop := n[sch]
		for k, val := range x {
			if val == nil {
				if drop[k] {
					delete(x, k)
				}
				continue
			}
			if ps, ok := props.vals[k].(*object); ok {
				n.dropOptionalNulls(val, ps, root, depth+1)
			}
		}
	case []any:
		items, _ := sch.vals["items"].(*object)
		if items == nil {
			return
		}
		for _, e := range x {
			n.dropOptionalNulls(e, items, root, depth+1)
		}
	}
}

// deref follows a local $ref to its definition (a few hops at most).
func deref(sch *object, root *object) *object {
	for range 8 {
		ref, ok := sch.vals["$ref"].(string)
		if !ok {
			return sch
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := root.vals["$defs"].(*object)
		if !ok || defs == nil {
			return sch
		}
		def, _ := defs.vals[name].(*object)
		if def == nil {
			return sch
		}
		sch = def
	}
	return sch
}

// allowsNull reports whether sch plainly accepts null.
func allowsNull(sch *object) bool {
	switch t := sch.vals["type"].(type) {
	case string:
		return t == "null"
	case []any:
		for _, e := range t {
			if e == "null" {
				return true
			}
		}
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if list, ok := sch.vals[k].([]any); ok {
			for _, e := range list {
				if e, ok := e.(*object); ok && allowsNull(e) {
					return true
				}
			}
		}
	}
	return false
}
