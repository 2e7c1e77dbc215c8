package structured

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path must decide exactly as the reference path (jsonschema/v6
// on the whole schema, then encoding/json) would: these tests run both on
// the same documents and compare.

type fpLevel string

// UnmarshalText makes fpLevel a TextUnmarshaler that normalises case.
func (l *fpLevel) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty level")
	}
	*l = fpLevel(strings.ToLower(string(b)))
	return nil
}

type fpTicket struct {
	ID       string            `json:"id" jsonschema:"pattern=^T-[0-9]+$"`
	Priority int               `json:"priority" jsonschema:"minimum=1,maximum=5"`
	Score    float64           `json:"score" jsonschema:"minimum=0,exclusiveMaximum=1"`
	Small    float32           `json:"small,omitempty"`
	Count    uint8             `json:"count,omitempty"`
	State    string            `json:"state" jsonschema:"enum=open,enum=closed"`
	Tags     []string          `json:"tags,omitempty" jsonschema:"maxItems=3"`
	Labels   map[string]int    `json:"labels,omitempty"`
	Owner    *fpPerson         `json:"owner,omitempty"`
	Watchers []fpPerson        `json:"watchers,omitempty"`
	Due      *time.Time        `json:"due,omitempty"`
	Level    fpLevel           `json:"level,omitempty"`
	Note     *string           `json:"note,omitempty" jsonschema:"minLength=2"`
	Extra    map[string]string `json:"extra,omitempty"`
	Done     bool              `json:"done"`
}

type fpPerson struct {
	Name  string `json:"name" jsonschema:"minLength=1,maxLength=5"`
	Email string `json:"email,omitempty" jsonschema:"format=email"`
}

type fpTree struct {
	Name     string   `json:"name"`
	Children []fpTree `json:"children,omitempty"`
}

// fpCases are documents for fpTicket, valid and not.
var fpCases = []struct {
	name string
	doc  string
	fast bool // the fast path decides it (accepts)
}{
	{"minimal", `{"id":"T-1","priority":1,"score":0,"state":"open","done":false}`, true},
	{"full", `{"id":"T-22","priority":5,"score":0.99,"small":1.5,"count":255,"state":"closed","tags":["a","b"],"labels":{"x":1},` +
		`"owner":{"name":"Ana","email":"a@example.com"},"watchers":[{"name":"Bo"}],"due":"2026-11-27T10:00:00Z","level":"HIGH",` +
		`"note":"ok","extra":{"k":"v"},"done":true}`, true},
	{"optional nulls", `{"id":"T-1","priority":2,"score":0.5,"small":null,"count":null,"state":"open","tags":null,"labels":null,"owner":null,"watchers":null,"due":null,"level":null,"note":null,"extra":null,"done":false}`, true},
	// fpTicket has a time.Time, whose UnmarshalJSON sees raw bytes with
	// their escapes: documents with escapes go to the reference path.
	{"escapes", `{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"note":"a\"b\\c\u00e9\ud83d\ude00\n"}`, false},
	{"escaped date-time", `{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"due":"2026-03-14T08:30:00\u002B01:00"}`, false},
	{"duplicate nested key", `{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"owner":{"name":"a"},"owner":{"name":"b","email":"x@example.com"}}`, false},
	{"whitespace", " \n{ \"id\" : \"T-1\" , \"priority\" : 3 , \"score\" : 1e-3 , \"state\" : \"open\" , \"done\" : true }\t", true},
	{"empty containers", `{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"tags":[],"labels":{},"watchers":[]}`, true},
	{"unicode lengths", `{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"owner":{"name":"ééééé"}}`, true},
	{"minimum edge int", `{"id":"T-1","priority":1,"score":0,"state":"open","done":false}`, true},
	{"float bound written differently", `{"id":"T-1","priority":1,"score":0.0e5,"state":"open","done":false}`, true},

	{"missing required", `{"id":"T-1","priority":1,"score":0,"done":false}`, false},
	{"pattern", `{"id":"X-1","priority":1,"score":0,"state":"open","done":false}`, false},
	{"enum", `{"id":"T-1","priority":1,"score":0,"state":"pending","done":false}`, false},
	{"below minimum", `{"id":"T-1","priority":0,"score":0,"state":"open","done":false}`, false},
	{"above maximum", `{"id":"T-1","priority":6,"score":0,"state":"open","done":false}`, false},
	{"exclusive maximum edge", `{"id":"T-1","priority":1,"score":1,"state":"open","done":false}`, false},
	{"exclusive maximum written 1.0", `{"id":"T-1","priority":1,"score":1.0,"state":"open","done":false}`, false},
	{"below exclusive maximum, rounds to it", `{"id":"T-1","priority":1,"score":0.99999999999999999999,"state":"open","done":false}`, true},
	{"negative zero meets minimum 0", `{"id":"T-1","priority":1,"score":-0,"state":"open","done":false}`, true},
	{"tiny negative score", `{"id":"T-1","priority":1,"score":-1e-400,"state":"open","done":false}`, false},
	{"integer as float", `{"id":"T-1","priority":2.0,"score":0,"state":"open","done":false}`, false},
	{"integer as exponent", `{"id":"T-1","priority":2e0,"score":0,"state":"open","done":false}`, false},
	{"fraction for int", `{"id":"T-1","priority":2.5,"score":0,"state":"open","done":false}`, false},
	{"uint overflow", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"count":256}`, false},
	{"float32 overflow", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"small":1e39}`, false},
	{"string for number", `{"id":"T-1","priority":"2","score":0,"state":"open","done":false}`, false},
	{"null for required", `{"id":null,"priority":2,"score":0,"state":"open","done":false}`, false},
	{"unknown field", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"zzz":1}`, false},
	{"case-folded field", `{"ID":"T-1","priority":2,"score":0,"state":"open","done":false}`, false},
	{"duplicate key", `{"id":"T-1","id":"T-2","priority":2,"score":0,"state":"open","done":false}`, false},
	{"too many tags", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"tags":["a","b","c","d"]}`, false},
	{"name too long", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"owner":{"name":"abcdef"}}`, false},
	{"empty name", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"watchers":[{"name":""}]}`, false},
	{"bad email", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"owner":{"name":"a","email":"nope"}}`, false},
	{"bad time", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"due":"tomorrow"}`, false},
	{"short note", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"note":"x"}`, false},
	{"text unmarshaler refuses", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"level":""}`, false},
	{"label not int", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"labels":{"x":"y"}}`, false},
	{"array for object", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"owner":[]}`, false},
	{"invalid utf8", "{\"id\":\"T-1\",\"priority\":2,\"score\":0,\"state\":\"open\",\"done\":false,\"note\":\"\xff\xfe\"}", false},
	{"lone surrogate", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,"note":"\ud800ab"}`, false},
	{"trailing comma", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false,}`, false},
	{"trailing data", `{"id":"T-1","priority":2,"score":0,"state":"open","done":false} {}`, false},
	{"truncated", `{"id":"T-1","priority":2,"score":0,"state":"open","done":fa`, false},
	{"leading zero", `{"id":"T-1","priority":02,"score":0,"state":"open","done":false}`, false},
	{"not an object", `[1,2]`, false},
	{"empty", ``, false},
}

func TestDecoderMatchesReference(t *testing.T) {
	d, err := NewDecoder[fpTicket](SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.fast == nil {
		t.Fatal("fpTicket has no fast path")
	}
	for _, c := range fpCases {
		t.Run(c.name, func(t *testing.T) {
			fast, _, fastOK := d.decodeFast(c.doc)
			if fastOK != c.fast {
				t.Errorf("fast path decided = %v, want %v", fastOK, c.fast)
			}
			ref, _, refErr := d.decodeReference([]byte(c.doc))
			if fastOK {
				if refErr != nil {
					t.Fatalf("fast path accepted what the reference path rejects: %v", refErr)
				}
				if !reflect.DeepEqual(fast, ref) {
					t.Fatalf("values differ:\nfast %+v\nref  %+v", fast, ref)
				}
			}
			got, gotErr := d.Decode([]byte(c.doc))
			if (gotErr == nil) != (refErr == nil) || (gotErr != nil && gotErr.Error() != refErr.Error()) {
				t.Fatalf("Decode error = %v, reference %v", gotErr, refErr)
			}
			if gotErr == nil && !reflect.DeepEqual(got, ref) {
				t.Fatalf("Decode value differs from the reference")
			}
			if c.fast && refErr != nil {
				t.Fatalf("case marked valid, but the reference path rejects it: %v", refErr)
			}
		})
	}
}

// TestDecoderDuplicateKeys: a repeated key is refused on both paths,
// because encoding/json would merge the copies into the struct while
// jsonschema/v6 validated only the last.
func TestDecoderDuplicateKeys(t *testing.T) {
	d, err := NewDecoder[fpTicket](SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"id":"T-1","priority":2,"score":0.5,"state":"open","done":false,"owner":{"name":"abcdefgh"},"owner":{"name":"b"}}`,
		"{\"id\":\"T-1\",\"priority\":2,\"score\":0.5,\"state\":\"open\",\"done\":false,\"note\":\"\xff\",\"watchers\":[{\"name\":\"a\",\"name\":\"abcdefgh\"}]}",
	} {
		_, err := d.Decode([]byte(doc))
		var dup *DuplicateKeyError
		if !errors.As(err, &dup) {
			t.Errorf("%s: error %v, want a *DuplicateKeyError", doc, err)
		}
	}
	s := d.Schema()
	if _, err := s.ValidateValue([]byte(`{"a":{"b":1,"b":2}}`)); err == nil {
		t.Error("ValidateValue accepted a repeated key")
	} else if dup := new(DuplicateKeyError); !errors.As(err, &dup) || dup.Path != "/a" || dup.Key != "b" {
		t.Errorf("ValidateValue: %v", err)
	}
}

// TestDecoderRecursive covers a recursive type, whose definition refers
// to itself.
func TestDecoderRecursive(t *testing.T) {
	d, err := NewDecoder[fpTree](SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`{"name":"a","children":[{"name":"b","children":[{"name":"c"}]},{"name":"d","children":[]}]}`,
		`{"name":"a","children":[{"name":"b","children":[{"nam":"c"}]}]}`,
		`{"name":"a","children":[{"children":[]}]}`,
	} {
		fast, _, ok := d.decodeFast(doc)
		ref, _, refErr := d.decodeReference([]byte(doc))
		if ok && (refErr != nil || !reflect.DeepEqual(fast, ref)) {
			t.Errorf("%s: fast path accepted %+v, reference %+v, %v", doc, fast, ref, refErr)
		}
		if !ok && refErr == nil {
			t.Errorf("%s: the fast path refused a valid document", doc)
		}
	}
}

// TestFastPathUnsupported lists types the fast path leaves to the
// reference path.
func TestFastPathUnsupported(t *testing.T) {
	type embedded struct{ fpPerson }
	type stringOpt struct {
		N int `json:"n,string"`
	}
	type anyField struct {
		V any `json:"v"`
	}
	type bytesField struct {
		B []byte `json:"b"`
	}
	for name, typ := range map[string]reflect.Type{
		"embedded":      reflect.TypeFor[embedded](),
		"string option": reflect.TypeFor[stringOpt](),
		"interface":     reflect.TypeFor[anyField](),
		"bytes":         reflect.TypeFor[bytesField](),
	} {
		if _, ok := planFill(typ); ok {
			t.Errorf("%s: planFill accepted %v", name, typ)
		}
	}
}

func TestParseTreeMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"a":[1,-2.5e3,true,false,null,"x"],"b":{"c":{}},"d":[]}`,
		`"\u00e9\ud83d\ude00\/\b\f\n\r\t"`, `0`, `-0.0E+1`, `[[[]]]`, ` {} `,
	} {
		got, ok := parseTree(doc)
		if !ok {
			t.Errorf("%s: parseTree refused", doc)
			continue
		}
		want, err := sjs.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", doc, got, want)
		}
	}
	for _, doc := range []string{`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `"\x"`, `"a`, `tru`, `{"a" 1}`, `{1:2}`, "\"\x01\"", `[1] x`, strings.Repeat("[", maxTreeDepth+1) + strings.Repeat("]", maxTreeDepth+1)} {
		if _, ok := parseTree(doc); ok {
			t.Errorf("%q: parseTree accepted", doc)
		}
	}
}

// FuzzParseTree checks that whatever parseTree accepts is JSON, parsed to
// the same value as the reference parser.
func FuzzParseTree(f *testing.F) {
	for _, c := range fpCases {
		f.Add(c.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := parseTree(doc)
		if !ok {
			return
		}
		want, err := sjs.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("parseTree accepted %q, encoding/json: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, want %#v", doc, got, want)
		}
	})
}

// FuzzDecoderMatchesReference checks that the fast path accepts only what
// the reference path accepts, with the same value.
func FuzzDecoderMatchesReference(f *testing.F) {
	for _, c := range fpCases {
		f.Add(c.doc)
	}
	d, err := NewDecoder[fpTicket](SchemaOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		fast, tree, ok := d.decodeFast(doc)
		if !ok {
			return
		}
		ref, refTree, err := d.decodeReference([]byte(doc))
		if err != nil {
			t.Fatalf("fast path accepted %q, reference: %v", doc, err)
		}
		if !reflect.DeepEqual(fast, ref) || !reflect.DeepEqual(tree, refTree) {
			t.Fatalf("%q: fast %+v, reference %+v", doc, fast, ref)
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(fast); err != nil {
			t.Fatal(err)
		}
	})
}
