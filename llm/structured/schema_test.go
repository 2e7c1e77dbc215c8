package structured_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keel-go/keel/llm/structured"
)

// The tricky types: every schema the package generates for them must be
// in the strict subset (TestGeneratedSchemasAreStrict) or say why not.

type node struct {
	Label    string  `json:"label"`
	Children []node  `json:"children,omitempty"`
	Parent   *parent `json:"parent,omitempty"`
}

type parent struct {
	Node *node `json:"node,omitempty"`
}

type page[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next,omitempty"`
}

type base struct {
	ID      string    `json:"id" jsonschema:"format=uuid"`
	Created time.Time `json:"created"`
}

type embedding struct {
	base
	Score    float64 `json:"score" jsonschema:"minimum=0,maximum=1"`
	Verdict  string  `json:"verdict" jsonschema:"enum=pass,enum=fail"`
	Internal string  `json:"-"`
	hidden   int
}

type withReasoning struct {
	Reasoning string    `json:"reasoning" jsonschema:"description=Think step by step first"`
	Answer    string    `json:"answer"`
	Count     int       `json:"count,omitzero" jsonschema:"minimum=1,maximum=10"`
	Flag      *bool     `json:"flag,omitempty"`
	Const     string    `json:"const" jsonschema:"const=v1"`
	Website   string    `json:"website,omitempty" jsonschema:"format=uri"`
	Labels    [3]string `json:"labels"`
	Blob      []byte    `json:"blob,omitempty"`
}

type withMap struct {
	Counts map[string]int `json:"counts"`
}

type withAny struct {
	Payload any `json:"payload"`
}

type withRaw struct {
	Payload json.RawMessage `json:"payload"`
}

type withChan struct {
	C chan int `json:"c"`
}

type withFunc struct {
	F func() `json:"f"`
}

type withIntMap struct {
	M map[int]string `json:"m"`
}

type withComplex struct {
	Z complex128 `json:"z"`
}

type selfMarshaler struct{ v string }

func (s selfMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal(s.v) }

type withMarshaler struct {
	S selfMarshaler `json:"s"`
}

// deep nests objects eleven levels: one more than strict mode allows.
type (
	deep   struct{ L2 deep2 }
	deep2  struct{ L3 deep3 }
	deep3  struct{ L4 deep4 }
	deep4  struct{ L5 deep5 }
	deep5  struct{ L6 deep6 }
	deep6  struct{ L7 deep7 }
	deep7  struct{ L8 deep8 }
	deep8  struct{ L9 deep9 }
	deep9  struct{ L10 deep10 }
	deep10 struct{ L11 deep11 }
	deep11 struct{ X string }
)

// ten nests objects exactly ten levels.
type ten struct{ L2 deep3 }

// schemaCases are the types TestSchemaOf and TestGeneratedSchemasAreStrict
// cover. noStrict says the type has a schema but no strict form.
var schemaCases = []struct {
	name     string
	typ      reflect.Type
	noStrict string // a fragment of StrictJSON's error, "" when strict
}{
	{"ticket", reflect.TypeFor[Ticket](), ""},
	{"recursive", reflect.TypeFor[node](), ""},
	{"mutually recursive", reflect.TypeFor[parent](), ""},
	{"generic", reflect.TypeFor[page[Customer]](), ""},
	{"embedded", reflect.TypeFor[embedding](), ""},
	{"keywords", reflect.TypeFor[withReasoning](), ""},
	{"slice root", reflect.TypeFor[[]Ticket](), ""},
	{"string root", reflect.TypeFor[string](), ""},
	{"pointer root", reflect.TypeFor[*Ticket](), ""},
	{"ten levels", reflect.TypeFor[ten](), ""},
	{"map", reflect.TypeFor[withMap](), "map"},
	{"map root", reflect.TypeFor[map[string]Customer](), "map"},
}

func TestSchemaOf(t *testing.T) {
	for _, tt := range schemaCases {
		t.Run(tt.name, func(t *testing.T) {
			s, err := structured.SchemaOf(tt.typ, structured.SchemaOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var orig any
			if err := json.Unmarshal(s.JSON(), &orig); err != nil {
				t.Fatalf("original schema is not JSON: %v", err)
			}
			strict, err := s.StrictJSON()
			if tt.noStrict != "" {
				if err == nil || !strings.Contains(err.Error(), tt.noStrict) {
					t.Fatalf("StrictJSON: %s, %v; want an error about %q", strict, err, tt.noStrict)
				}
				if rf := s.ResponseFormat(); rf.Strict || string(rf.Schema) != string(s.JSON()) {
					t.Errorf("response format of a non-strict schema %+v", rf)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rf := s.ResponseFormat(); !rf.Strict || string(rf.Schema) != string(strict) || rf.Name != s.Name() {
				t.Errorf("response format %+v", rf)
			}
		})
	}
}

// Properties keep the order of the struct's fields in both forms: a model
// writes them in that order, so "reasoning" before "answer" matters.
func TestSchemaPropertyOrder(t *testing.T) {
	s, err := structured.SchemaFor[withReasoning](structured.SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := s.StrictJSON()
	for _, doc := range []string{string(s.JSON()), string(strict)} {
		r, a := strings.Index(doc, `"reasoning"`), strings.Index(doc, `"answer"`)
		if r < 0 || a < 0 || r > a {
			t.Errorf("reasoning does not come before answer in %s", doc)
		}
	}
}

// Optional fields are nullable unions in the strict form, and a null for
// them validates and decodes as absent.
func TestSchemaOptionalNull(t *testing.T) {
	s, err := structured.SchemaFor[Ticket](structured.SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := s.StrictJSON()
	var root struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(strict, &root); err != nil {
		t.Fatal(err)
	}
	if strings.Join(root.Required, ",") != "title,priority,tags,customer,note" {
		t.Errorf("required %v: want every property", root.Required)
	}
	if !strings.Contains(string(root.Properties["tags"]), `"null"`) || strings.Contains(string(root.Properties["title"]), `"null"`) {
		t.Errorf("tags %s should be nullable, title %s not", root.Properties["tags"], root.Properties["title"])
	}
	if err := s.Validate([]byte(`{"title":"Parcel lost","priority":"low","customer":{"name":"A","email":null},"tags":null,"note":null}`)); err != nil {
		t.Errorf("nulls for optional fields: %v", err)
	}
	var ve *structured.ValidationError
	if err := s.Validate([]byte(`{"title":null,"priority":"low","customer":{"name":"A"}}`)); !errors.As(err, &ve) || ve.Problems[0].Path != "/title" {
		t.Errorf("null for a required field: %v", err)
	}
}

func TestSchemaTypeErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		typ  reflect.Type
		path string
		want string
	}{
		{"any field", reflect.TypeFor[withAny](), ".payload", "interface"},
		{"raw message", reflect.TypeFor[withRaw](), ".payload", "RawMessage"},
		{"channel", reflect.TypeFor[withChan](), ".c", "chan"},
		{"function", reflect.TypeFor[withFunc](), ".f", "func"},
		{"int map keys", reflect.TypeFor[withIntMap](), ".m", "map keys must be strings"},
		{"complex", reflect.TypeFor[withComplex](), ".z", "complex128"},
		{"self-marshaling", reflect.TypeFor[withMarshaler](), ".s", "MarshalJSON"},
		{"too deep", reflect.TypeFor[deep](), ".L2.L3.L4.L5.L6.L7.L8.L9.L10.L11", "more than 10 levels"},
		{"interface root", reflect.TypeFor[error](), "", "interface"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := structured.SchemaOf(tt.typ, structured.SchemaOptions{})
			var te *structured.TypeError
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T), want *TypeError", err, err)
			}
			if !strings.HasSuffix(te.Path, tt.path) || !strings.Contains(te.Error(), tt.want) {
				t.Errorf("error %q at %q, want %q at …%q", te.Error(), te.Path, tt.want, tt.path)
			}
			// New fails the same way: at build time, never at call time.
			if _, err := structured.SchemaOf(tt.typ, structured.SchemaOptions{}); err == nil {
				t.Error("second build succeeded")
			}
		})
	}
}

func TestSchemaNames(t *testing.T) {
	s, err := structured.SchemaFor[page[Customer]](structured.SchemaOptions{})
	if err != nil || s.Name() != "page" {
		t.Fatalf("generic type name %q, %v", s.Name(), err)
	}
	if _, err := structured.SchemaFor[Ticket](structured.SchemaOptions{Name: "bad name!"}); err == nil {
		t.Error("an invalid name was accepted")
	}
	if _, err := structured.SchemaFor[Ticket](structured.SchemaOptions{Name: strings.Repeat("x", 65)}); err == nil {
		t.Error("a 65-character name was accepted")
	}
}

func TestCompileSchema(t *testing.T) {
	for _, tt := range []struct {
		name, schema string
		err          string // fragment of the compile error
		strictErr    string // fragment of StrictJSON's error
		valid        string
		invalid      string
	}{
		{name: "object", schema: `{"type":"object","properties":{"city":{"type":"string","minLength":2},"days":{"type":"integer","maximum":14}},"required":["city"]}`,
			valid: `{"city":"Oslo"}`, invalid: `{"city":"O","days":30}`},
		{name: "draft-07 definitions", schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"to":{"$ref":"#/definitions/addr"}},"required":["to"],"definitions":{"addr":{"type":"string","format":"email"}}}`,
			valid: `{"to":"a@b.co"}`, invalid: `{"to":"nope"}`},
		{name: "open object", schema: `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":true}`, strictErr: "beyond the listed", valid: `{"a":"x","b":1}`},
		{name: "allOf", schema: `{"type":"object","allOf":[{"properties":{"a":{"type":"string"}}}]}`, strictErr: "allOf", valid: `{"a":"x"}`},
		{name: "not JSON", schema: `{"type":`, err: "schema"},
		{name: "duplicate key", schema: `{"type":"object","type":"string"}`, err: "duplicate key"},
		{name: "remote ref", schema: `{"$ref":"https://example.com/s.json"}`, err: "not loaded"},
		{name: "bad keyword value", schema: `{"type":"object","minProperties":"two"}`, err: "compile"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := structured.CompileSchema("test", json.RawMessage(tt.schema))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.StrictJSON(); (tt.strictErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.strictErr)) {
				t.Errorf("StrictJSON error %v, want %q", err, tt.strictErr)
			}
			if err := s.Validate([]byte(tt.valid)); err != nil {
				t.Errorf("valid %s: %v", tt.valid, err)
			}
			if tt.invalid != "" {
				if err := s.Validate([]byte(tt.invalid)); err == nil {
					t.Errorf("invalid %s accepted", tt.invalid)
				}
			}
		})
	}
}
