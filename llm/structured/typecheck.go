package structured

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
)

// maxObjectDepth is how deeply objects may nest in a schema: OpenAI's
// strict mode allows 10 levels, the root object being the first. A type
// nested deeper fails when its schema is built.
const maxObjectDepth = 10

// TypeError says why a Go type has no JSON Schema. It is returned when a
// schema is built (New, SchemaFor, SchemaOf), never at call time.
type TypeError struct {
	// Type is the type the schema was asked for.
	Type reflect.Type
	// Path locates the offending part, such as "Order.Items[].Meta".
	Path string
	// Reason says what cannot be expressed.
	Reason string
}

// Error implements error.
func (e *TypeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("structured: type %v: %s", e.Type, e.Reason)
	}
	return fmt.Sprintf("structured: type %v: %s: %s", e.Type, e.Path, e.Reason)
}

// Types with a fixed JSON shape, and the interfaces that let a type say
// its own schema.
var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	customSchemaType  = reflect.TypeFor[interface{ JSONSchema() *jsonschema.Schema }]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// checkType walks t the way invopop/jsonschema and encoding/json see it and
// reports the first part that JSON Schema cannot express for a model:
// channels, functions, complex numbers, unsafe pointers, maps whose keys
// are not strings, interfaces and json.RawMessage (any JSON: no schema to
// hold the model to), types that marshal themselves without saying their
// schema, and objects nested deeper than maxObjectDepth. Recursive types
// are fine: the schema refers back to the type's definition.
func checkType(root reflect.Type) error {
	c := typeChecker{root: root, onPath: map[reflect.Type]bool{}}
	return c.walk(root, root.String(), 0)
}

type typeChecker struct {
	root   reflect.Type
	onPath map[reflect.Type]bool
}

func (c *typeChecker) fail(path, reason string) error {
	return &TypeError{Type: c.root, Path: path, Reason: reason}
}

// walk checks t, reached at path inside depth enclosing objects.
func (c *typeChecker) walk(t reflect.Type, path string, depth int) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(customSchemaType) || reflect.PointerTo(t).Implements(customSchemaType) {
		return nil // the type says its own schema
	}
	switch t {
	case timeType:
		return nil
	case rawMessageType:
		return c.fail(path, "json.RawMessage holds any JSON, which has no schema to hold a model to; use a concrete type")
	}
	if t.Kind() != reflect.String && (t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		return c.fail(path, "the type marshals itself (MarshalJSON or MarshalText) but does not describe its schema; add a JSONSchema() *jsonschema.Schema method")
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 text
		}
		return c.walk(t.Elem(), path+"[]", depth)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return c.fail(path, fmt.Sprintf("map keys must be strings, not %v", t.Key()))
		}
		if depth+1 > maxObjectDepth {
			return c.fail(path, fmt.Sprintf("objects nest more than %d levels deep", maxObjectDepth))
		}
		return c.walk(t.Elem(), path+"[key]", depth+1)
	case reflect.Struct:
		if c.onPath[t] {
			return nil // recursion: a $ref to the type's definition
		}
		if depth+1 > maxObjectDepth {
			return c.fail(path, fmt.Sprintf("objects nest more than %d levels deep", maxObjectDepth))
		}
		c.onPath[t] = true
		defer delete(c.onPath, t)
		return c.fields(t, path, depth+1)
	case reflect.Interface:
		return c.fail(path, fmt.Sprintf("interface type %v has no schema; use a concrete type or give it a JSONSchema() method", t))
	default:
		return c.fail(path, fmt.Sprintf("%v values cannot be expressed in JSON", t.Kind()))
	}
}

// fields checks the fields encoding/json would marshal, embedded structs
// included at the same depth.
func (c *typeChecker) fields(t reflect.Type, path string, depth int) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && (tag == "" || strings.HasPrefix(tag, ",")) {
				if err := c.fields(ft, path, depth); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if err := c.walk(f.Type, path+"."+name, depth); err != nil {
			return err
		}
	}
	return nil
}
