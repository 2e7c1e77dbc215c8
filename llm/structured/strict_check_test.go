package structured

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stObj wraps properties (a JSON object body) in a strict object schema
// whose required lists the given names.
func stObj(props string, required ...string) string {
	req, _ := json.Marshal(required)
	if required == nil {
		req = []byte("[]")
	}
	return `{"type":"object","properties":{` + props + `},"required":` + string(req) + `,"additionalProperties":false}`
}

// stProblemKeys lists the problems of err as sorted "rule@path" strings.
func stProblemKeys(err error) []string {
	var se *StrictError
	if !errors.As(err, &se) {
		return nil
	}
	keys := make([]string, len(se.Problems))
	for i, p := range se.Problems {
		keys[i] = p.Rule + "@" + p.Path
	}
	slices.Sort(keys)
	return keys
}

func TestCheckStrict(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   []string // "rule@path", any order; nil means accepted
	}{
		// Accepted schemas.
		{"one string property", stObj(`"a":{"type":"string"}`, "a"), nil},
		{"no properties", `{"type":"object","properties":{},"required":[],"additionalProperties":false}`, nil},
		{"nested objects and arrays of objects", stObj(`"o":`+stObj(`"list":{"type":"array","items":`+stObj(`"n":{"type":"integer"}`, "n")+`}`, "list"), "o"), nil},
		{"nullable unions", stObj(`"s":{"type":["string","null"]},"n":{"type":["null","number"]},"o":{"type":["object","null"],"properties":{},"required":[],"additionalProperties":false},"l":{"type":["array","null"],"items":{"type":"boolean"}}`, "s", "n", "o", "l"), nil},
		{"anyOf of objects and null", stObj(`"v":{"description":"d","anyOf":[`+stObj(`"a":{"type":"string"}`, "a")+`,`+stObj(`"b":{"type":"number"}`, "b")+`,{"type":"null"}]}`, "v"), nil},
		{"nested anyOf", stObj(`"v":{"anyOf":[{"anyOf":[{"type":"string"},{"type":"integer"}]},{"type":"null"}]}`, "v"), nil},
		{"enums with and without type", stObj(`"a":{"type":"string","enum":["x","y"]},"b":{"enum":["x",1,true,null]},"c":{"type":["string","null"],"enum":["x",null]},"d":{"type":"integer","enum":[1,2.0]}`, "a", "b", "c", "d"), nil},
		{"const values", stObj(`"a":{"const":"fixed"},"b":{"type":"integer","const":3},"c":{"type":"boolean","const":false}`, "a", "b", "c"), nil},
		{"every supported format", stObj(`"a":{"type":"string","format":"date-time"},"b":{"type":"string","format":"time"},"c":{"type":"string","format":"date"},"d":{"type":"string","format":"duration"},"e":{"type":"string","format":"email"},"f":{"type":"string","format":"hostname"},"g":{"type":"string","format":"ipv4"},"h":{"type":"string","format":"ipv6"},"i":{"type":"string","format":"uuid"}`, "a", "b", "c", "d", "e", "f", "g", "h", "i"), nil},
		{"numeric, array and string constraints", stObj(`"n":{"type":"number","minimum":0,"maximum":10.5,"exclusiveMinimum":-1,"exclusiveMaximum":11,"multipleOf":0.5},"i":{"type":"integer","multipleOf":2},"l":{"type":"array","items":{"type":"string","pattern":"^[a-z]+$"},"minItems":1,"maxItems":3}`, "n", "i", "l"), nil},
		{"recursion through #", stObj(`"value":{"type":"number"},"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}`, "value", "next"), nil},
		{"recursion through $defs", `{"type":"object","properties":{"root":{"$ref":"#/$defs/Node"}},"required":["root"],"additionalProperties":false,"$defs":{"Node":` + stObj(`"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/Node"}}`, "name", "children") + `}}`, nil},
		{"mutual recursion", `{"type":"object","properties":{"a":{"$ref":"#/$defs/A"}},"required":["a"],"additionalProperties":false,"$defs":{"A":` + stObj(`"b":{"anyOf":[{"$ref":"#/$defs/B"},{"type":"null"}]}`, "b") + `,"B":` + stObj(`"a":{"anyOf":[{"$ref":"#/$defs/A"},{"type":"null"}]}`, "a") + `}}`, nil},
		{"draft-7 definitions", `{"type":"object","properties":{"p":{"$ref":"#/definitions/P"}},"required":["p"],"additionalProperties":false,"definitions":{"P":{"type":"string"}}}`, nil},
		{"escaped definition name", `{"type":"object","properties":{"p":{"$ref":"#/$defs/a~1b~0c"}},"required":["p"],"additionalProperties":false,"$defs":{"a/b~c":{"type":"string"}}}`, nil},
		{"root annotations", `{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://example.com/t","title":"T","description":"d","type":["object"],"properties":{},"required":[],"additionalProperties":false}`, nil},

		// Documents that are not schemas.
		{"malformed JSON", `{"type":`, []string{"invalid-json@"}},
		{"trailing data", `{} {}`, []string{"invalid-json@"}},
		{"empty input", ` `, []string{"invalid-json@"}},
		{"root is an array", `[]`, []string{"schema-not-object@"}},
		{"boolean subschema", stObj(`"a":true`, "a"), []string{"schema-not-object@/properties/a"}},

		// Root rules.
		{"root anyOf", `{"anyOf":[` + stObj(`"a":{"type":"string"}`, "a") + `]}`, []string{"root-type@", "root-type@"}},
		{"root string", `{"type":"string"}`, []string{"root-type@"}},
		{"root nullable", `{"type":["object","null"],"properties":{},"required":[],"additionalProperties":false}`, []string{"root-type@"}},
		{"root $ref", `{"$ref":"#/$defs/T","$defs":{"T":` + stObj(``) + `}}`, []string{"root-type@", "root-type@"}},

		// Objects.
		{"additionalProperties missing", `{"type":"object","properties":{"o":{"type":"object","properties":{},"required":[]}},"required":["o"],"additionalProperties":false}`, []string{"additional-properties@/properties/o"}},
		{"additionalProperties true", `{"type":"object","properties":{},"required":[],"additionalProperties":true}`, []string{"additional-properties@/additionalProperties"}},
		{"additionalProperties schema", `{"type":"object","properties":{},"required":[],"additionalProperties":{"type":"string"}}`, []string{"additional-properties@/additionalProperties"}},
		{"required misses a property", `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}`, []string{"required@/required"}},
		{"required lists an unknown name", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a","zz"],"additionalProperties":false}`, []string{"required@/required/1"}},
		{"required lists a name twice", `{"type":"object","properties":{"a":{"type":"string"}},"required":["a","a"],"additionalProperties":false}`, []string{"required@/required/1"}},
		{"required absent", `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`, []string{"required@"}},
		{"required not an array", `{"type":"object","properties":{},"required":"a","additionalProperties":false}`, []string{"required@/required"}},
		{"properties absent", `{"type":"object","required":[],"additionalProperties":false}`, []string{"properties@"}},

		// Unsupported keywords.
		{"oneOf", stObj(`"a":{"oneOf":[{"type":"string"},{"type":"number"}]}`, "a"), []string{"unsupported-keyword@/properties/a/oneOf", "missing-type@/properties/a"}},
		{"allOf, not, if/then/else", stObj(`"a":{"type":"string","allOf":[],"not":{},"if":{},"then":{},"else":{}}`, "a"), []string{"unsupported-keyword@/properties/a/allOf", "unsupported-keyword@/properties/a/else", "unsupported-keyword@/properties/a/if", "unsupported-keyword@/properties/a/not", "unsupported-keyword@/properties/a/then"}},
		{"default", stObj(`"a":{"type":"integer","default":10}`, "a"), []string{"unsupported-keyword@/properties/a/default"}},
		{"string length", stObj(`"a":{"type":"string","minLength":1,"maxLength":9}`, "a"), []string{"unsupported-keyword@/properties/a/maxLength", "unsupported-keyword@/properties/a/minLength"}},
		{"object keywords", `{"type":"object","properties":{},"required":[],"additionalProperties":false,"patternProperties":{},"unevaluatedProperties":false,"propertyNames":{},"minProperties":1,"maxProperties":2,"dependentRequired":{},"dependentSchemas":{}}`, []string{"unsupported-keyword@/dependentRequired", "unsupported-keyword@/dependentSchemas", "unsupported-keyword@/maxProperties", "unsupported-keyword@/minProperties", "unsupported-keyword@/patternProperties", "unsupported-keyword@/propertyNames", "unsupported-keyword@/unevaluatedProperties"}},
		{"array keywords", stObj(`"a":{"type":"array","items":{"type":"string"},"prefixItems":[],"uniqueItems":true,"contains":{}}`, "a"), []string{"unsupported-keyword@/properties/a/contains", "unsupported-keyword@/properties/a/prefixItems", "unsupported-keyword@/properties/a/uniqueItems"}},
		{"nested $id, $schema and $defs", stObj(`"a":{"type":"string","$id":"x","$schema":"y","$defs":{}}`, "a"), []string{"unsupported-keyword@/properties/a/$defs", "unsupported-keyword@/properties/a/$id", "unsupported-keyword@/properties/a/$schema"}},
		{"escaped path", stObj(`"a/b~":{"type":"string","minLength":1}`, "a/b~"), []string{"unsupported-keyword@/properties/a~1b~0/minLength"}},

		// Types and keyword values.
		{"unsupported format", stObj(`"u":{"type":"string","format":"uri"}`, "u"), []string{"format@/properties/u/format"}},
		{"pattern on an integer", stObj(`"n":{"type":"integer","pattern":"^1$"}`, "n"), []string{"keyword-for-type@/properties/n/pattern"}},
		{"items without type", stObj(`"l":{"items":{"type":"string"}}`, "l"), []string{"keyword-for-type@/properties/l/items", "missing-type@/properties/l"}},
		{"union of two types", stObj(`"v":{"type":["string","number"]}`, "v"), []string{"type-union@/properties/v/type"}},
		{"union listing a type twice", stObj(`"v":{"type":["string","string"]}`, "v"), []string{"type-union@/properties/v/type"}},
		{"null alone", stObj(`"v":{"type":"null"}`, "v"), []string{"null-type@/properties/v/type"}},
		{"unknown type", stObj(`"v":{"type":"date"}`, "v"), []string{"type@/properties/v/type"}},
		{"type not a string", stObj(`"v":{"type":3}`, "v"), []string{"type@/properties/v/type"}},
		{"no type", stObj(`"v":{"description":"anything"}`, "v"), []string{"missing-type@/properties/v"}},
		{"negative minItems", stObj(`"l":{"type":"array","items":{"type":"string"},"minItems":-1}`, "l"), []string{"keyword-value@/properties/l/minItems"}},
		{"zero multipleOf", stObj(`"n":{"type":"number","multipleOf":0}`, "n"), []string{"keyword-value@/properties/n/multipleOf"}},
		{"boolean exclusiveMaximum", stObj(`"n":{"type":"number","maximum":1,"exclusiveMaximum":true}`, "n"), []string{"keyword-value@/properties/n/exclusiveMaximum"}},
		{"description not a string", stObj(`"n":{"type":"number","description":5}`, "n"), []string{"keyword-value@/properties/n/description"}},

		// Arrays and anyOf.
		{"array without items", stObj(`"l":{"type":"array"}`, "l"), []string{"items@/properties/l"}},
		{"tuple items", stObj(`"l":{"type":"array","items":[{"type":"string"}]}`, "l"), []string{"items@/properties/l/items"}},
		{"empty anyOf", stObj(`"v":{"anyOf":[]}`, "v"), []string{"anyof@/properties/v/anyOf"}},
		{"anyOf next to type", stObj(`"v":{"type":"string","anyOf":[{"type":"string"}]}`, "v"), []string{"anyof@/properties/v/type"}},

		// References.
		{"external $ref", stObj(`"p":{"$ref":"https://example.com/p.json"}`, "p"), []string{"ref@/properties/p/$ref"}},
		{"unresolved $ref", `{"type":"object","properties":{"p":{"$ref":"#/$defs/Missing"}},"required":["p"],"additionalProperties":false,"$defs":{}}`, []string{"ref@/properties/p/$ref"}},
		{"$ref without $defs", stObj(`"p":{"$ref":"#/$defs/P"}`, "p"), []string{"ref@/properties/p/$ref"}},
		{"$ref into properties", stObj(`"a":{"type":"string"},"p":{"$ref":"#/properties/a"}`, "a", "p"), []string{"ref@/properties/p/$ref"}},
		{"$ref with a description", `{"type":"object","properties":{"p":{"$ref":"#/$defs/P","description":"d"}},"required":["p"],"additionalProperties":false,"$defs":{"P":{"type":"string"}}}`, []string{"ref-siblings@/properties/p/description"}},
		{"$defs not an object", `{"type":"object","properties":{},"required":[],"additionalProperties":false,"$defs":[]}`, []string{"defs@/$defs"}},
		{"problem inside a definition", `{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},"required":["p"],"additionalProperties":false,"$defs":{"P":{"type":"object","properties":{},"required":[]}}}`, []string{"additional-properties@/$defs/P"}},

		// Enum and const values.
		{"empty enum", stObj(`"e":{"type":"string","enum":[]}`, "e"), []string{"enum@/properties/e/enum"}},
		{"object in enum", stObj(`"e":{"enum":["a",{"b":1}]}`, "e"), []string{"enum@/properties/e/enum/1"}},
		{"enum value of the wrong type", stObj(`"e":{"type":"integer","enum":[1,1.5,"2"]}`, "e"), []string{"enum@/properties/e/enum/1", "enum@/properties/e/enum/2"}},
		{"const of the wrong type", stObj(`"c":{"type":"string","const":1}`, "c"), []string{"const@/properties/c/const"}},

		// Several problems at once: all are reported.
		{"problems everywhere", `{"type":"object","properties":{"a":{"type":"string","format":"uri"},"b":{"type":"object","properties":{"c":{"type":"array"}}},"d":{"oneOf":[]}},"required":["a"]}`, []string{
			"additional-properties@",
			"additional-properties@/properties/b",
			"format@/properties/a/format",
			"items@/properties/b/properties/c",
			"missing-type@/properties/d",
			"required@/properties/b",
			"required@/required",
			"unsupported-keyword@/properties/d/oneOf",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrict([]byte(tt.schema))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckStrict = %v, want nil", err)
				}
				return
			}
			var se *StrictError
			if !errors.As(err, &se) {
				t.Fatalf("CheckStrict = %v (%T), want *StrictError", err, err)
			}
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if got := stProblemKeys(err); !slices.Equal(got, want) {
				t.Errorf("problems (rule@path):\n got %q\nwant %q\nerror: %v", got, want, err)
			}
			for _, p := range se.Problems {
				if p.Message == "" {
					t.Errorf("problem %s@%s has no message", p.Rule, p.Path)
				}
			}
		})
	}
}

// TestCheckStrictTicketSchema checks the realistic schema the benchmark uses.
func TestCheckStrictTicketSchema(t *testing.T) {
	data := stReadTicket(t)
	if err := CheckStrict(data); err != nil {
		t.Fatalf("CheckStrict(ticket schema) = %v", err)
	}
}

func stReadTicket(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "strict_ticket_schema.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// stNested builds an object schema with levels object levels, the root
// included, each holding the next in property "n" (through an array when
// viaArray, which must not count as a level).
func stNested(levels int, viaArray bool) string {
	s := stObj(``)
	for i := 1; i < levels; i++ {
		child := s
		if viaArray {
			child = `{"type":"array","items":` + s + `}`
		}
		s = stObj(`"n":`+child, "n")
	}
	return s
}

// stRefChain builds a root whose property refers to $defs L1, which refers
// to L2, and so on: levels object levels in all, the root included.
func stRefChain(levels int) string {
	var defs []string
	for i := 1; i < levels; i++ {
		if i == levels-1 {
			defs = append(defs, fmt.Sprintf(`"L%d":%s`, i, stObj(``)))
			continue
		}
		defs = append(defs, fmt.Sprintf(`"L%d":%s`, i, stObj(fmt.Sprintf(`"n":{"$ref":"#/$defs/L%d"}`, i+1), "n")))
	}
	return `{"type":"object","properties":{"n":{"$ref":"#/$defs/L1"}},"required":["n"],"additionalProperties":false,"$defs":{` + strings.Join(defs, ",") + `}}`
}

// stManyProps builds a root with n boolean properties.
func stManyProps(n int) string {
	props := make([]string, n)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("p%d", i)
		props[i] = fmt.Sprintf(`"p%d":{"type":"boolean"}`, i)
	}
	return stObj(strings.Join(props, ","), names...)
}

// stEnum builds a root with one string enum property per size in sizes;
// every value has valueLen characters (at least long enough to be unique).
func stEnum(valueLen int, sizes ...int) string {
	var props []string
	var names []string
	for k, size := range sizes {
		vals := make([]string, size)
		for i := range size {
			v := fmt.Sprintf("%d-%d", k, i)
			vals[i] = `"` + v + strings.Repeat("x", max(0, valueLen-len(v))) + `"`
		}
		name := fmt.Sprintf("e%d", k)
		names = append(names, name)
		props = append(props, `"`+name+`":{"type":"string","enum":[`+strings.Join(vals, ",")+`]}`)
	}
	return stObj(strings.Join(props, ","), names...)
}

// stSizedEnum builds a root with one string enum of n values whose strings
// add up to exactly total characters (total >= n*6).
func stSizedEnum(n, total int) string {
	vals := make([]string, n)
	left := total
	for i := range n {
		v := fmt.Sprintf("v%05d", i)
		if i == n-1 {
			v += strings.Repeat("x", left-len(v))
		} else {
			pad := min(left/(n-i)-len(v), 100)
			v += strings.Repeat("x", max(0, pad))
		}
		left -= len(v)
		vals[i] = `"` + v + `"`
	}
	return stObj(`"e":{"type":"string","enum":[`+strings.Join(vals, ",")+`]}`, "e")
}

func TestCheckStrictLimits(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   []string
	}{
		{"5000 properties", stManyProps(5000), nil},
		{"5001 properties", stManyProps(5001), []string{"max-properties@"}},
		{"10 object levels", stNested(10, false), nil},
		{"11 object levels", stNested(11, false), []string{"max-depth@" + strings.Repeat("/properties/n", 10)}},
		{"10 object levels through arrays", stNested(10, true), nil},
		{"11 object levels through arrays", stNested(11, true), []string{"max-depth@" + strings.Repeat("/properties/n/items", 10)}},
		{"10 object levels through $refs", stRefChain(10), nil},
		{"11 object levels through $refs", stRefChain(11), []string{"max-depth@/$defs/L10"}},
		{"1000 enum values", stEnum(3, 500, 500), nil},
		{"1001 enum values", stEnum(3, 500, 501), []string{"max-enum-values@"}},
		{"251-value enum of 15000 characters", stSizedEnum(251, 15000), nil},
		{"251-value enum of 15001 characters", stSizedEnum(251, 15001), []string{"enum-string-length@/properties/e/enum"}},
		{"250-value enum of 20000 characters", stSizedEnum(250, 20000), nil},
		// One property name "c" plus the const value.
		{"120000 characters", stObj(`"c":{"const":"`+strings.Repeat("é", 119999)+`"}`, "c"), nil},
		{"120001 characters", stObj(`"c":{"const":"`+strings.Repeat("é", 120000)+`"}`, "c"), []string{"max-string-length@"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrict([]byte(tt.schema))
			got := stProblemKeys(err)
			if (err == nil) != (tt.want == nil) || !slices.Equal(got, tt.want) {
				t.Errorf("CheckStrict problems = %q, want %q (error: %v)", got, tt.want, err)
			}
		})
	}
}

// TestCheckStrictRecursionDepth: a recursive definition is reached at a
// deep level but its cycle is not unrolled, and a fan-out of references is
// walked in bounded time.
func TestCheckStrictRecursionDepth(t *testing.T) {
	// Root -> 8 nested objects -> recursive Node (level 10) whose children
	// are Nodes: accepted, as the recursion is counted once.
	s := `{"type":"object","properties":{"n":{"$ref":"#/$defs/Node"}},"required":["n"],"additionalProperties":false,"$defs":{"Node":` +
		stObj(`"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}`, "kids") + `}}`
	for range 8 {
		s = strings.Replace(s, `"n":{"$ref":"#/$defs/Node"}`, `"n":`+stObj(`"n":{"$ref":"#/$defs/Node"}`, "n"), 1)
	}
	if err := CheckStrict([]byte(s)); err != nil {
		t.Errorf("recursive Node at level 10: %v", err)
	}

	// 40 definitions, each with 8 properties referring to the next: 8^40
	// paths, but each definition is walked once per level.
	var defs []string
	for i := range 40 {
		var props []string
		var names []string
		for j := range 8 {
			name := fmt.Sprintf("p%d", j)
			names = append(names, name)
			if i == 39 {
				props = append(props, `"`+name+`":{"type":"string"}`)
			} else {
				props = append(props, fmt.Sprintf(`"%s":{"$ref":"#/$defs/D%d"}`, name, i+1))
			}
		}
		defs = append(defs, fmt.Sprintf(`"D%d":%s`, i, stObj(strings.Join(props, ","), names...)))
	}
	fan := `{"type":"object","properties":{"d":{"$ref":"#/$defs/D0"}},"required":["d"],"additionalProperties":false,"$defs":{` + strings.Join(defs, ",") + `}}`
	got := stProblemKeys(CheckStrict([]byte(fan)))
	if want := []string{"max-depth@/$defs/D9"}; !slices.Equal(got, want) {
		t.Errorf("fan-out problems = %q, want %q", got, want)
	}
}

// TestCheckStrictHostile feeds inputs that must not crash or hang.
func TestCheckStrictHostile(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		rule   string // the first problem's rule; "" for accepted
	}{
		{"JSON nested past the decoder's limit", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "invalid-json"},
		{"deep arrays of strings", stObj(`"l":`+strings.Repeat(`{"type":"array","items":`, 5000)+`{"type":"string"}`+strings.Repeat("}", 5000), "l"), ""},
		{"null", `null`, "schema-not-object"},
		{"number", `1e999`, "schema-not-object"},
		{"invalid UTF-8 in a name", "{\"type\":\"object\",\"properties\":{\"\xff\":{\"type\":\"string\"}},\"required\":[\"\xff\"],\"additionalProperties\":false}", ""},
		{"BOM", "\ufeff{}", "invalid-json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStrict([]byte(tt.schema))
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("CheckStrict = %v, want nil", err)
				}
				return
			}
			var se *StrictError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("CheckStrict = %v, want a *StrictError", err)
			}
			if se.Problems[0].Rule != tt.rule {
				t.Errorf("first rule = %q, want %q (%v)", se.Problems[0].Rule, tt.rule, err)
			}
		})
	}
}

// TestCheckStrictManyProblems: problems past the first 100 are counted,
// not kept, and a schema nested thousands of levels deep with a problem at
// every level is checked without building its long paths more than 100
// times.
func TestCheckStrictManyProblems(t *testing.T) {
	const levels = 4000
	schema := stObj(`"l":`+strings.Repeat(`{"type":"array","minLength":1,"items":`, levels)+`{"type":"string"}`+strings.Repeat("}", levels), "l")
	var se *StrictError
	if !errors.As(CheckStrict([]byte(schema)), &se) {
		t.Fatal("CheckStrict accepted a schema with minLength everywhere")
	}
	if len(se.Problems) != 100 || se.Omitted != levels-100 {
		t.Errorf("kept %d problems, omitted %d; want 100 and %d", len(se.Problems), se.Omitted, levels-100)
	}
	if want := fmt.Sprintf("%d problems", levels); !strings.Contains(se.Error(), want) {
		t.Errorf("Error() = %.200s, want it to count %s", se.Error(), want)
	}
	last := se.Problems[99]
	if want := "/properties/l" + strings.Repeat("/items", 99) + "/minLength"; last.Path != want || last.Rule != "unsupported-keyword" {
		t.Errorf("100th problem = %s@...%s (%d bytes), want unsupported-keyword@...%s (%d bytes)", last.Rule, last.Path[max(0, len(last.Path)-40):], len(last.Path), want[len(want)-40:], len(want))
	}
}

// TestCheckStrictDeterministic: the same schema gives the same problems in
// the same order every time, although Go maps iterate at random.
func TestCheckStrictDeterministic(t *testing.T) {
	schema := []byte(`{"type":"object","properties":{"z":{"type":"string","minLength":1},"a":{"type":"number","default":1},"m":{"oneOf":[]},"b":{"type":"object","properties":{"y":{"not":{}},"x":{"allOf":[]}}}},"required":[]}`)
	first := CheckStrict(schema).Error()
	for range 50 {
		if got := CheckStrict(schema).Error(); got != first {
			t.Fatalf("run differs:\n%s\n%s", got, first)
		}
	}
}

func TestStrictErrorMessage(t *testing.T) {
	tests := []struct {
		name     string
		problems int
		want     string
	}{
		{"one", 1, "structured: schema is not valid in strict mode: 1 problem: /p0: m0 (r)"},
		{"five", 5, "structured: schema is not valid in strict mode: 5 problems: /p0: m0 (r); /p1: m1 (r); /p2: m2 (r); /p3: m3 (r); /p4: m4 (r)"},
		{"seven", 7, "structured: schema is not valid in strict mode: 7 problems: /p0: m0 (r); /p1: m1 (r); /p2: m2 (r); /p3: m3 (r); /p4: m4 (r); and 2 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &StrictError{}
			for i := range tt.problems {
				e.Problems = append(e.Problems, StrictProblem{Path: fmt.Sprintf("/p%d", i), Rule: "r", Message: fmt.Sprintf("m%d", i)})
			}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	omitted := &StrictError{Problems: []StrictProblem{{Path: "/a", Rule: "r", Message: "m"}}, Omitted: 3}
	if got, want := omitted.Error(), "structured: schema is not valid in strict mode: 4 problems: /a: m (r); and 3 more"; got != want {
		t.Errorf("Error() with Omitted = %q, want %q", got, want)
	}
	if got, want := (StrictProblem{Rule: "root-type", Message: "m"}).String(), "(root): m (root-type)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzCheckStrict(f *testing.F) {
	f.Add(stReadTicket(f))
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"type":"object"}`,
		stObj(`"a":{"type":"string"}`, "a"),
		stObj(`"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}`, "next"),
		`{"type":"object","properties":{"p":{"$ref":"#/$defs/P"}},"required":["p"],"additionalProperties":false,"$defs":{"P":{"$ref":"#/$defs/P"}}}`,
		`{"type":"object","properties":{"p":{"$ref":"#/$defs/a~1b"}},"required":["p"],"additionalProperties":false,"$defs":{"a/b":{"type":"string","enum":["x",null]}}}`,
		stNested(11, true),
		stRefChain(12),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckStrict(data)
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			return
		}
		var se *StrictError
		if !errors.As(err, &se) || len(se.Problems) == 0 {
			t.Fatalf("CheckStrict = %v (%T), want a *StrictError with problems", err, err)
		}
		for _, p := range se.Problems {
			if p.Rule == "" || p.Message == "" || (p.Path != "" && !strings.HasPrefix(p.Path, "/")) {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		_ = err.Error()
	})
}

func BenchmarkCheckStrict(b *testing.B) {
	data := stReadTicket(b)
	if err := CheckStrict(data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckStrict(data); err != nil {
			b.Fatal(err)
		}
	}
}
