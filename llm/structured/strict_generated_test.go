package structured_test

import (
	"reflect"
	"testing"

	"github.com/keel-go/keel/llm/structured"
)

// Every strict schema the package generates passes CheckStrict, an
// independent implementation of OpenAI's rules: the transform cannot be
// trusted on the word of the API description, which accepts any schema.
func TestGeneratedSchemasAreStrict(t *testing.T) {
	types := []reflect.Type{reflect.TypeFor[benchOrder](), reflect.TypeFor[[]benchItem](), reflect.TypeFor[*benchRefund]()}
	for _, c := range schemaCases {
		types = append(types, c.typ)
	}
	for _, typ := range types {
		s, err := structured.SchemaOf(typ, structured.SchemaOptions{})
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		strict, err := s.StrictJSON()
		if err != nil {
			continue // the type has no strict form: TestSchemaOf checks which
		}
		if err := structured.CheckStrict(strict); err != nil {
			t.Errorf("%v: %v\n%s", typ, err, strict)
		}
	}
	// Raw schemas (tools described elsewhere) that have a strict form.
	for _, raw := range []string{
		`{"type":"object","properties":{"city":{"type":"string","minLength":2},"days":{"type":"integer","maximum":14}},"required":["city"]}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"to":{"$ref":"#/definitions/addr","description":"recipient"}},"required":["to"],"definitions":{"addr":{"type":"string","format":"email"}}}`,
		`{"type":"object","properties":{"kind":{"oneOf":[{"const":"a"},{"const":"b"}]},"at":{"type":"string","format":"uri","default":"x"},"n":{"type":"number","default":1}}}`,
	} {
		s, err := structured.CompileSchema("raw", []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		strict, err := s.StrictJSON()
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if err := structured.CheckStrict(strict); err != nil {
			t.Errorf("%s: %v\n%s", raw, err, strict)
		}
	}
}
