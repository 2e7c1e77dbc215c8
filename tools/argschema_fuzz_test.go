package tools_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keel-go/keel/tools"
)

// FuzzDecodeArgs feeds arbitrary bytes to the arguments decoder of three
// tools with nested objects, arrays of objects, optional pointers, enums,
// bounds, patterns and formats. DecodeArgs must never panic, and:
//
//   - a value it accepts, re-encoded with encoding/json, meets the schema
//     (the handler never receives arguments its schema forbids);
//   - it never accepts what Schema().Validate refuses;
//   - when Schema().Validate accepts, DecodeArgs succeeds exactly when
//     encoding/json (unknown fields refused) does, with a
//     reflect.DeepEqual value: the fast path decides as the reference
//     path would.
func FuzzDecodeArgs(f *testing.F) {
	type target struct {
		tool *tools.Tool
		typ  reflect.Type
	}
	var targets []target
	for _, tc := range argSchemaCases(f) {
		switch tc.tool.Name() {
		case "book_flight", "create_invoice", "search_products":
		default:
			continue
		}
		targets = append(targets, target{tool: tc.tool, typ: reflect.TypeOf(tc.valid[0].want)})
		for _, c := range tc.valid {
			f.Add([]byte(c.args))
		}
		for _, c := range tc.invalid {
			f.Add([]byte(c.args))
		}
	}
	if len(targets) != 3 {
		f.Fatalf("%d fuzz targets, want 3", len(targets))
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `{"query":`, "\xef\xbb\xbf{\"query\":\"bom\"}",
		`{"query":"a","query":"b"}`, `{"query":"a","Query":"b"}`, `{"QUERY":"a"}`, `{"qu\u0065ry":"x"}`,
		`{"query":"x","filters":{"min_rating":99},"filters":{}}`,
		strings.Replace(invoiceCall, `"send_at":"2026-01-15T08:00:00+01:00"`, `"send_at":"2026-01-15T08:00:00\u002B01:00"`, 1),
		`{"query":"x","filters":{"in_stock":true,"in_stock":false}}`,
		`{"query":"\ud800"}`, "{\"query\":\"\xff\xfe\"}", `{"query":"x","page":1e400}`,
		`{"query":"x","page":-0}`, `{"query":"x","page":2.0}`, `{"query":"x","page":9223372036854775808}`,
		`{"query":"x","filters":{"min_rating":4.99999999999999999999}}`,
		`{"query":"x","filters":{"min_rating":5.00000000000000000001}}`,
		`{"query":"x","filters":{"price_range":{"min":1e-400,"max":0}}}`,
		`{"query":"x","filters":null,"sort_by":null}`, `{"query":"x","filters":{"brands":[null]}}`,
		`{"query":"x"} {"query":"y"}`, `{"query":"x"}garbage`,
		`{"query":"x","filters":` + strings.Repeat(`{"price_range":`, 200) + `1` + strings.Repeat(`}`, 201),
		strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000),
		strings.Replace(invoiceCall, `"send_at":"2026-01-15T08:00:00+01:00"`, `"send_at":"2026-01-15T08:00:00.123456789012+01:00"`, 1),
		strings.Replace(invoiceCall, `"send_at":"2026-01-15T08:00:00+01:00"`, `"send_at":"2026-01-15T23:59:60Z"`, 1),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tg := range targets {
			msg, timeEscape := decodePropertyFailure(tg.tool, tg.typ, data)
			if msg != "" {
				t.Fatal(msg, timeEscape)
			}
		}
	})
}

// decodePropertyFailure checks the properties on data and says how they
// fail, "" when they hold. timeEscape reports a failure that is the
// escaped date-time bug: DecodeArgs accepting a call with escapes that
// time.Time.UnmarshalJSON refuses.
func decodePropertyFailure(tool *tools.Tool, typ reflect.Type, data []byte) (msg string, timeEscape bool) {
	v, generic, err := tool.DecodeArgs(data)
	if err == nil {
		if reflect.TypeOf(v) != typ || generic == nil {
			return fmt.Sprintf("%s: DecodeArgs returned %T and generic %T", tool.Name(), v, generic), false
		}
		enc, merr := json.Marshal(v)
		if merr != nil {
			return fmt.Sprintf("%s: the decoded value does not encode: %v", tool.Name(), merr), false
		}
		if verr := tool.Schema().Validate(enc); verr != nil {
			return fmt.Sprintf("%s: accepted %q as a value that fails the schema once re-encoded (%s): %v", tool.Name(), data, enc, verr), false
		}
	}
	if verr := tool.Schema().Validate(data); verr != nil {
		if err == nil {
			return fmt.Sprintf("%s: DecodeArgs accepts %q, Schema().Validate refuses it: %v", tool.Name(), data, verr), false
		}
		return "", false
	}
	ref := reflect.New(typ)
	jerr := argStrictUnmarshal(data, ref.Interface())
	if (err == nil) != (jerr == nil) {
		var pe *time.ParseError
		known := err == nil && errors.As(jerr, &pe) && bytes.IndexByte(data, '\\') >= 0
		return fmt.Sprintf("%s: on %q DecodeArgs says %v, encoding/json says %v", tool.Name(), data, err, jerr), known
	}
	if err == nil && !reflect.DeepEqual(v, ref.Elem().Interface()) {
		return fmt.Sprintf("%s: on %q DecodeArgs gives %#v, encoding/json %#v", tool.Name(), data, v, ref.Elem().Interface()), false
	}
	return "", false
}

// hasDuplicateKeys reports whether some object in the JSON text data
// repeats a key (false when data is not JSON).
func hasDuplicateKeys(data []byte) bool {
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool            // an object between members
	}
	var stack []*frame
	found := false
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return found && err == io.EOF && len(stack) == 0
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top == nil || top.keys == nil {
			continue // a scalar at the top or in an array
		}
		if top.wantKey {
			k, _ := tok.(string)
			found = found || top.keys[k]
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		top.wantKey = true // a scalar member value
	}
}

func TestHasDuplicateKeys(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want bool
	}{
		{`{"a":1,"b":2}`, false},
		{`{"a":1,"a":2}`, true},
		{`{"a":{"b":1},"c":{"b":2}}`, false},
		{`{"a":{"b":1,"b":2}}`, true},
		{`{"a":[{"b":1},{"b":2}],"b":3}`, false},
		{`[{"x":1},{"x":1,"y":[1,"x"],"x":2}]`, true},
		{`{"a":"a","b":"a"}`, false},
		{`{"a":{},"a":[]}`, true},
		{`{"a":1,"a":`, false},
	} {
		if got := hasDuplicateKeys([]byte(c.doc)); got != c.want {
			t.Errorf("hasDuplicateKeys(%s) = %v, want %v", c.doc, got, c.want)
		}
	}
}
